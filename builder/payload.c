/* payload.c — re-framing package payloads with stored blocks on a helper
 * thread (see payload.h). */
#include "payload.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "util.h"

typedef enum { KIND_NONE, KIND_ZSTD, KIND_XZ, KIND_GZIP } kind;

static kind kind_of(const char *compressor) {
        if (!compressor || !strcmp(compressor, "gzip")) return KIND_GZIP;    /* rpm's default */
        if (!strcmp(compressor, "zstd")) return KIND_ZSTD;
        if (!strcmp(compressor, "xz")) return KIND_XZ;
        return KIND_NONE;
}

bool payload_can_feed(const char *compressor) {
        return kind_of(compressor) != KIND_NONE;
}

/* ---- buffered input and output ---- */

typedef struct {
        int fd;
        unsigned char buf[256 << 10];
        size_t pos, len;
        bool eof;
} input;

typedef struct {
        int fd;
        unsigned char buf[256 << 10];
        size_t len;
        bool stopped;           /* the feeder stops: the copy is dropped, not an error */
        char *error;
        atomic_bool *stop;
} output;

/* Refill in->buf once it is used up; false at end of file or on error. */
static bool in_fill(input *in, char **ret_error) {
        if (in->pos < in->len) return true;
        if (in->eof) return false;
        ssize_t n;
        do n = read(in->fd, in->buf, sizeof in->buf);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                *ret_error = xasprintf("cannot read the package: %s", strerror(errno));
                return false;
        }
        in->pos = 0;
        in->len = (size_t)n;
        in->eof = n == 0;
        return n > 0;
}

static int out_flush(output *o) {
        size_t done = 0;
        if (o->stop && atomic_load(o->stop)) o->stopped = true;
        while (done < o->len && !o->stopped && !o->error) {
                ssize_t n = write(o->fd, o->buf + done, o->len - done);
                if (n > 0) done += (size_t)n;
                else if (!(n < 0 && errno == EINTR)) o->error = xasprintf("cannot write the copy: %s", strerror(errno));
        }
        o->len = 0;
        return o->stopped || o->error ? -1 : 0;
}

static int out_put(output *o, const void *data, size_t n) {
        const unsigned char *p = data;
        while (n > 0) {
                if (o->len == sizeof o->buf && out_flush(o) < 0) return -1;
                size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
                memcpy(o->buf + o->len, p, k);
                o->len += k;
                p += k;
                n -= k;
        }
        return 0;
}

/* Copy n bytes of input to output unchanged. */
static int copy_bytes(input *in, output *o, size_t n, char **ret_error) {
        while (n > 0) {
                if (!in_fill(in, ret_error)) {
                        if (!*ret_error) *ret_error = xstrdup("the package ends inside its header");
                        return -1;
                }
                size_t k = in->len - in->pos < n ? in->len - in->pos : n;
                if (out_put(o, in->buf + in->pos, k) < 0) return -1;
                in->pos += k;
                n -= k;
        }
        return 0;
}

static uint32_t be32(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Take exactly n bytes of input into dst (and pass them on). */
static int copy_exact(input *in, output *o, unsigned char *dst, size_t n, char **ret_error) {
        for (size_t got = 0; got < n;) {
                if (!in_fill(in, ret_error)) {
                        if (!*ret_error) *ret_error = xstrdup("the package ends inside its header");
                        return -1;
                }
                size_t k = in->len - in->pos < n - got ? in->len - in->pos : n - got;
                memcpy(dst + got, in->buf + in->pos, k);
                in->pos += k;
                got += k;
        }
        return out_put(o, dst, n);
}

/* The lead, the signature header (padded to 8 bytes) and the header, as
 * they are: what rpm reads before the payload. */
static int copy_headers(input *in, output *o, char **ret_error) {
        static const unsigned char header_magic[4] = { 0x8e, 0xad, 0xe8, 0x01 };
        unsigned char lead[96], intro[16];
        if (copy_exact(in, o, lead, sizeof lead, ret_error) < 0) return -1;
        if (be32(lead) != 0xedabeedbu) {
                *ret_error = xstrdup("not an rpm package (no lead)");
                return -1;
        }
        for (int k = 0; k < 2; k++) {
                if (copy_exact(in, o, intro, sizeof intro, ret_error) < 0) return -1;
                uint32_t entries = be32(intro + 8), data = be32(intro + 12);
                if (memcmp(intro, header_magic, 4) || entries > 0xffff || data > (256u << 20)) {
                        *ret_error = xstrdup("the package's header is damaged");
                        return -1;
                }
                size_t len = 16 * (size_t)entries + data;
                if (k == 0) len += (8 - (16 + len) % 8) % 8;
                if (copy_bytes(in, o, len, ret_error) < 0) return -1;
        }
        return 0;
}

/* ---- the stored-block writers ---- */

typedef struct {
        kind kind;
        output *o;
        uint32_t crc;           /* gzip: CRC-32 of the data */
        uint64_t total;         /* bytes of data */
        uint64_t block_bytes;   /* xz: the block so far, its header included */
} framer;

static void le32(unsigned char *p, uint32_t v) {
        for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t crc(const unsigned char *p, size_t n) {
        return (uint32_t)crc32(crc32(0, Z_NULL, 0), p, (uInt)n);
}

static int frame_begin(framer *f) {
        if (f->kind == KIND_ZSTD) {
                /* magic; no content size, checksum or dictionary; a 128 KiB
                 * window (window log 17), which is also the largest block */
                static const unsigned char h[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, (17 - 10) << 3 };
                return out_put(f->o, h, sizeof h);
        }
        if (f->kind == KIND_XZ) {
                /* stream header, check type none; then one block with one
                 * filter, LZMA2 with a 1 MiB dictionary (property 16) */
                unsigned char h[12 + 12] = { 0xfd, '7', 'z', 'X', 'Z', 0, 0, 0 };
                le32(h + 8, crc(h + 6, 2));
                unsigned char *b = h + 12;
                b[0] = 12 / 4 - 1;
                b[1] = 0x00;
                b[2] = 0x21;
                b[3] = 0x01;
                b[4] = 16;
                le32(b + 8, crc(b, 8));
                f->block_bytes = 12;
                return out_put(f->o, h, sizeof h);
        }
        static const unsigned char h[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
        f->crc = (uint32_t)crc32(0, Z_NULL, 0);
        return out_put(f->o, h, sizeof h);
}

static int frame_data(framer *f, const unsigned char *p, size_t n) {
        size_t max = f->kind == KIND_ZSTD ? 128 << 10 : f->kind == KIND_XZ ? 64 << 10 : 65535;
        if (f->kind == KIND_GZIP) f->crc = (uint32_t)crc32(f->crc, p, (uInt)n);
        while (n > 0) {
                size_t k = n < max ? n : max;
                unsigned char h[5];
                size_t hn;
                if (f->kind == KIND_ZSTD) {            /* raw block, not the last */
                        uint32_t v = (uint32_t)k << 3;
                        h[0] = v & 0xff, h[1] = (v >> 8) & 0xff, h[2] = (v >> 16) & 0xff, hn = 3;
                } else if (f->kind == KIND_XZ) {       /* uncompressed chunk; the first resets the dictionary */
                        h[0] = f->total == 0 ? 0x01 : 0x02, h[1] = (unsigned char)((k - 1) >> 8),
                        h[2] = (unsigned char)(k - 1), hn = 3;
                        f->block_bytes += hn + k;
                } else {                                /* stored block, not the final one */
                        h[0] = 0, h[1] = k & 0xff, h[2] = k >> 8, h[3] = ~k & 0xff, h[4] = (~k >> 8) & 0xff, hn = 5;
                }
                if (out_put(f->o, h, hn) < 0 || out_put(f->o, p, k) < 0) return -1;
                f->total += k;
                p += k;
                n -= k;
        }
        return 0;
}

static size_t put_vli(unsigned char *p, uint64_t v) {
        size_t n = 0;
        while (v >= 0x80) p[n++] = (unsigned char)(v | 0x80), v >>= 7;
        p[n++] = (unsigned char)v;
        return n;
}

static int frame_end(framer *f) {
        if (f->kind == KIND_ZSTD) {
                static const unsigned char last[] = { 0x01, 0, 0 };     /* an empty last raw block */
                return out_put(f->o, last, sizeof last);
        }
        if (f->kind == KIND_GZIP) {
                unsigned char t[5 + 8] = { 0x01, 0, 0, 0xff, 0xff };    /* an empty final stored block */
                le32(t + 5, f->crc);
                le32(t + 9, (uint32_t)f->total);
                return out_put(f->o, t, sizeof t);
        }
        /* xz: LZMA2's end marker, the block padding, the index (one
         * record: the block's unpadded and uncompressed sizes), the footer */
        unsigned char t[64];
        size_t n = 0;
        t[n++] = 0x00;
        uint64_t unpadded = f->block_bytes + 1;
        while ((unpadded + n - 1) % 4) t[n++] = 0;
        size_t index = n;
        t[n++] = 0x00;
        n += put_vli(t + n, 1);
        n += put_vli(t + n, unpadded);
        n += put_vli(t + n, f->total);
        while ((n - index) % 4) t[n++] = 0;
        le32(t + n, crc(t + index, n - index));
        n += 4;
        size_t footer = n;
        le32(t + n + 4, (uint32_t)((n - index) / 4 - 1));
        t[n + 8] = 0, t[n + 9] = 0, t[n + 10] = 'Y', t[n + 11] = 'Z';
        le32(t + footer, crc(t + footer + 4, 6));
        return out_put(f->o, t, n + 12);
}

/* ---- the decoders: input's payload to the framer ---- */

static char *truncated(const char *what) {
        return xasprintf("the %s payload ends early (truncated package)", what);
}

static int decode_zstd(input *in, framer *f, char **ret_error) {
        ZSTD_DStream *z = ZSTD_createDStream();
        unsigned char *buf = xmalloc(128 << 10);
        size_t left = 1;        /* ZSTD's hint: 0 once a frame is complete */
        int r = 0;
        while (r == 0 && in_fill(in, ret_error)) {
                ZSTD_inBuffer ib = { in->buf, in->len, in->pos };
                while (ib.pos < ib.size && r == 0) {
                        ZSTD_outBuffer ob = { buf, 128 << 10, 0 };
                        left = ZSTD_decompressStream(z, &ob, &ib);
                        if (ZSTD_isError(left)) {
                                *ret_error = xasprintf("the zstd payload is damaged: %s", ZSTD_getErrorName(left));
                                r = -1;
                        } else if (ob.pos && frame_data(f, buf, ob.pos) < 0)
                                r = -1;
                }
                in->pos = ib.pos;
        }
        /* data the decoder holds back once the input is all in */
        for (bool more = r == 0 && left != 0; more;) {
                ZSTD_inBuffer ib = { NULL, 0, 0 };
                ZSTD_outBuffer ob = { buf, 128 << 10, 0 };
                left = ZSTD_decompressStream(z, &ob, &ib);
                more = !ZSTD_isError(left) && ob.pos == ob.size;
                if (!ZSTD_isError(left) && ob.pos && frame_data(f, buf, ob.pos) < 0) r = -1;
        }
        if (r == 0 && !*ret_error && left != 0)
                *ret_error = ZSTD_isError(left) ? xasprintf("the zstd payload is damaged: %s", ZSTD_getErrorName(left))
                                                : truncated("zstd");
        if (*ret_error) r = -1;
        free(buf);
        ZSTD_freeDStream(z);
        return r;
}

static int decode_xz(input *in, framer *f, char **ret_error) {
        lzma_stream s = LZMA_STREAM_INIT;
        if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
                *ret_error = xstrdup("cannot set up the xz decoder");
                return -1;
        }
        unsigned char *buf = xmalloc(64 << 10);
        int r = 0;
        lzma_ret lr = LZMA_OK;
        while (r == 0 && lr == LZMA_OK) {
                bool more = in_fill(in, ret_error);
                if (*ret_error) break;
                s.next_in = in->buf + in->pos;
                s.avail_in = more ? in->len - in->pos : 0;
                do {
                        s.next_out = buf;
                        s.avail_out = 64 << 10;
                        lr = lzma_code(&s, more ? LZMA_RUN : LZMA_FINISH);
                        size_t got = (64 << 10) - s.avail_out;
                        if (got && frame_data(f, buf, got) < 0) r = -1;
                } while (r == 0 && lr == LZMA_OK && (s.avail_in > 0 || s.avail_out == 0));
                in->pos = more ? in->len - s.avail_in : in->pos;
                if (!more && lr == LZMA_OK) lr = LZMA_BUF_ERROR;
        }
        if (r == 0 && !*ret_error && lr != LZMA_STREAM_END)
                *ret_error = lr == LZMA_BUF_ERROR ? truncated("xz")
                                                  : xasprintf("the xz payload is damaged (liblzma error %d)", lr);
        if (*ret_error) r = -1;
        free(buf);
        lzma_end(&s);
        return r;
}

static int decode_gzip(input *in, framer *f, char **ret_error) {
        z_stream z = { 0 };
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
                *ret_error = xstrdup("cannot set up the gzip decoder");
                return -1;
        }
        unsigned char *buf = xmalloc(64 << 10);
        int r = 0, zr = Z_OK;
        while (r == 0 && in_fill(in, ret_error)) {
                z.next_in = in->buf + in->pos;
                z.avail_in = (uInt)(in->len - in->pos);
                while (r == 0 && z.avail_in > 0) {
                        if (zr == Z_STREAM_END) inflateReset(&z);      /* a further gzip member */
                        z.next_out = buf;
                        z.avail_out = 64 << 10;
                        zr = inflate(&z, Z_NO_FLUSH);
                        if (zr != Z_OK && zr != Z_STREAM_END) {
                                *ret_error = xasprintf("the gzip payload is damaged: %s",
                                                       z.msg ? z.msg : "inflate failed");
                                r = -1;
                        } else if (z.avail_out < (64u << 10) && frame_data(f, buf, (64 << 10) - z.avail_out) < 0)
                                r = -1;
                }
                in->pos = in->len - z.avail_in;
        }
        if (r == 0 && !*ret_error && zr != Z_STREAM_END) *ret_error = truncated("gzip");
        if (*ret_error) r = -1;
        free(buf);
        inflateEnd(&z);
        return r;
}

static int reframe(int in_fd, int out_fd, const char *compressor, atomic_bool *stop, char **ret_error) {
        kind k = kind_of(compressor);
        if (k == KIND_NONE) {
                *ret_error = xasprintf("payload compressor %s has no stored form", compressor);
                return -1;
        }
        input *in = xcalloc(1, sizeof *in);
        output *o = xcalloc(1, sizeof *o);
        in->fd = in_fd;
        o->fd = out_fd;
        o->stop = stop;
        framer f = { .kind = k, .o = o };
        char *err = NULL;
        int r = copy_headers(in, o, &err);
        if (r == 0) r = frame_begin(&f);
        if (r == 0) r = k == KIND_ZSTD ? decode_zstd(in, &f, &err) : k == KIND_XZ ? decode_xz(in, &f, &err) :
                                                                          decode_gzip(in, &f, &err);
        if (r == 0) r = frame_end(&f);
        if (r == 0 || !err) out_flush(o);
        if (!err && o->error) err = xstrdup(o->error);
        r = err ? -1 : 0;
        if (err) *ret_error = err;
        free(o->error);
        free(o);
        free(in);
        return r;
}

int payload_reframe(int in_fd, int out_fd, const char *compressor, char **ret_error) {
        return reframe(in_fd, out_fd, compressor, NULL, ret_error);
}

/* ---- the helper thread ---- */

typedef enum { FEED_NONE, FEED_QUEUED, FEED_DONE, FEED_TAKEN } feed_state;

typedef struct {
        feed_state state;
        int in_fd;              /* FEED_QUEUED: the package file */
        char *compressor;
        int fd;                 /* FEED_DONE: the re-framed package (a memfd), or -1 */
        size_t bytes;
        char *error;
} feed_job;

struct payload_feeder {
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t changed;         /* a job queued, done or taken; stop */
        feed_job *jobs;
        size_t n;
        size_t *queue, queued, next;    /* job indexes in the order queued; the next to do */
        size_t held, budget;            /* bytes done and not taken yet; the most to hold */
        size_t takers;                  /* waiting in take: the budget does not hold the helper back */
        atomic_bool stop;
};

/* The re-framed package in a fresh memfd, at offset 0; -1 with *ret_error. */
static int feed_one(payload_feeder *f, feed_job *j, size_t *ret_bytes, char **ret_error) {
        int fd = memfd_create("imgbuild-payload", MFD_CLOEXEC);
        if (fd < 0) {
                *ret_error = xasprintf("cannot make a memfd: %s", strerror(errno));
                return -1;
        }
        int r = reframe(j->in_fd, fd, j->compressor, &f->stop, ret_error);
        off_t end = lseek(fd, 0, SEEK_CUR);
        if (r == 0 && !atomic_load(&f->stop) && end >= 0 && lseek(fd, 0, SEEK_SET) == 0) {
                *ret_bytes = (size_t)end;
                return fd;
        }
        if (r == 0 && !*ret_error) *ret_error = xstrdup(atomic_load(&f->stop) ? "stopped" : "cannot rewind the memfd");
        close(fd);
        return -1;
}

static void *feeder_main(void *data) {
        payload_feeder *f = data;
        pthread_mutex_lock(&f->lock);
        for (;;) {
                /* (a package rpm skips is never taken: its bytes stay held) */
                while (!atomic_load(&f->stop) && (f->next == f->queued || (f->held >= f->budget && !f->takers)))
                        pthread_cond_wait(&f->changed, &f->lock);
                if (atomic_load(&f->stop)) break;
                feed_job *j = &f->jobs[f->queue[f->next++]];
                pthread_mutex_unlock(&f->lock);
                size_t bytes = 0;
                char *err = NULL;
                int fd = feed_one(f, j, &bytes, &err);
                pthread_mutex_lock(&f->lock);
                close(j->in_fd);
                j->in_fd = -1;
                j->fd = fd;
                j->bytes = bytes;
                j->error = err;
                j->state = FEED_DONE;
                f->held += bytes;
                pthread_cond_broadcast(&f->changed);
        }
        pthread_mutex_unlock(&f->lock);
        return NULL;
}

payload_feeder *payload_feeder_new(size_t n, size_t budget) {
        payload_feeder *f = xcalloc(1, sizeof *f);
        f->n = n;
        f->jobs = xcalloc(n ? n : 1, sizeof *f->jobs);
        f->queue = xcalloc(n ? n : 1, sizeof *f->queue);
        f->budget = budget;
        atomic_init(&f->stop, false);
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->changed, NULL);
        /* every signal stays with the main thread (rpm's handlers, ours) */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        f->started = pthread_create(&f->thread, NULL, feeder_main, f) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return f;
}

bool payload_feeder_queue(payload_feeder *f, size_t i, const char *path, const char *compressor) {
        if (!f || !f->started || i >= f->n || !payload_can_feed(compressor)) return false;
        /* opened here: rpm chroots the whole process now and then */
        int in_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0) return false;
        pthread_mutex_lock(&f->lock);
        feed_job *j = &f->jobs[i];
        bool fresh = j->state == FEED_NONE;
        if (fresh) {
                j->state = FEED_QUEUED;
                j->in_fd = in_fd;
                j->compressor = compressor ? xstrdup(compressor) : NULL;
                f->queue[f->queued++] = i;
                pthread_cond_broadcast(&f->changed);
        }
        pthread_mutex_unlock(&f->lock);
        if (!fresh) close(in_fd);
        return fresh;
}

int payload_feeder_take(payload_feeder *f, size_t i, char **ret_error) {
        if (!f || i >= f->n) return -1;
        pthread_mutex_lock(&f->lock);
        feed_job *j = &f->jobs[i];
        f->takers++;
        pthread_cond_broadcast(&f->changed);
        while (j->state == FEED_QUEUED) pthread_cond_wait(&f->changed, &f->lock);
        f->takers--;
        int fd = -1;
        if (j->state == FEED_DONE) {
                fd = j->fd;
                j->state = FEED_TAKEN;
                f->held -= j->bytes;
                if (fd < 0) *ret_error = j->error, j->error = NULL;
                pthread_cond_broadcast(&f->changed);
        }
        pthread_mutex_unlock(&f->lock);
        return fd;
}

void payload_feeder_free(payload_feeder *f) {
        if (!f) return;
        if (f->started) {
                pthread_mutex_lock(&f->lock);
                atomic_store(&f->stop, true);
                pthread_cond_broadcast(&f->changed);
                pthread_mutex_unlock(&f->lock);
                pthread_join(f->thread, NULL);
        }
        for (size_t i = 0; i < f->n; i++) {
                feed_job *j = &f->jobs[i];
                if (j->state == FEED_DONE && j->fd >= 0) close(j->fd);
                if (j->state == FEED_QUEUED) close(j->in_fd);
                free(j->compressor);
                free(j->error);
        }
        pthread_cond_destroy(&f->changed);
        pthread_mutex_destroy(&f->lock);
        free(f->queue);
        free(f->jobs);
        free(f);
}
