/* imgwrite.c — see imgwrite.h.
 *
 * Shape: the calling thread walks the raw disk's data extents cluster by
 * cluster, drops all-zero clusters and puts the rest into a ring of slots in
 * guest order; workers take slots in that order, hash them, look them up in
 * the cluster cache or deflate them; the calling thread writes finished
 * slots strictly in sequence, so the output never depends on timing.
 *
 * qcow2 layout (all offsets decided as we go, metadata written last):
 *   cluster 0: header; then compressed clusters packed byte by byte (a
 *   compressed cluster may run into the next host cluster, as the format
 *   allows) with uncompressible clusters in whole host clusters in between
 *   (held back until the host cluster being packed is full); then
 *   the L2 tables, the L1 table, the refcount table and refcount blocks.
 * A host cluster's refcount is the number of guest clusters whose data
 * touches it, counting a compressed cluster up to the end of its last
 * 512-byte sector — exactly what qemu-img check recomputes.
 *
 * VHD dynamic layout (qemu's): footer copy, dynamic header at 512, BAT at
 * 1536, then 2 MiB blocks (512-byte sector bitmap, all ones, + data) in the
 * order they are first written, then the footer.  Unwritten parts of a
 * block stay holes in the file and read as zeros. */
#include "imgwrite.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <rpm/rpmio.h>
#include <rpm/rpmpgp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "progress.h"
#include "util.h"

#define CL              IMGWRITE_CLUSTER_SIZE
#define CL_BITS         16
#define L2_ENTRIES      (CL / 8)
#define RC_ENTRIES      (CL / 2)        /* refcount_order 4: 16-bit refcounts */
#define QCOW2_HDR_LEN   112             /* v3 header incl. compression_type, padded */
#define CSIZE_SHIFT     (62 - (CL_BITS - 8))
#define OFLAG_COPIED    (1ULL << 63)
#define OFLAG_COMPRESSED (1ULL << 62)

#define VHD_BLOCK       IMGWRITE_VHD_BLOCK_SIZE
#define VHD_BAT_OFFSET  1536
#define VHD_TIMESTAMP_BASE 946684800LL  /* 2000-01-01T00:00:00Z */
#define VHD_MAX_SIZE    (2040ULL << 30) /* qemu's VHD_MAX_SECTORS limit */

#define CACHE_MAGIC     "IWC1"
#define CACHE_HDR       12              /* magic, be32 length, be32 crc */
#define HASH_LEN        32

/* ---- byte order ------------------------------------------------------------ */

static void be16(unsigned char *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void be32(unsigned char *p, uint32_t v) { for (int i = 3; i >= 0; i--, v >>= 8) p[i] = v; }
static void be64(unsigned char *p, uint64_t v) { for (int i = 7; i >= 0; i--, v >>= 8) p[i] = v; }
static uint32_t rd32(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

static bool all_zero(const unsigned char *p, size_t n) {
        /* First 16 bytes by hand, then the buffer against itself shifted. */
        size_t k = n < 16 ? n : 16;
        for (size_t i = 0; i < k; i++)
                if (p[i]) return false;
        return n <= 16 || !memcmp(p, p + 16, n - 16);
}

static void hash_cluster(const unsigned char *data, unsigned char ret[HASH_LEN]) {
        DIGEST_CTX c = rpmDigestInit(PGPHASHALGO_SHA256, RPMDIGEST_NONE);
        rpmDigestUpdate(c, data, CL);
        void *d = NULL;
        size_t dl = 0;
        rpmDigestFinal(c, &d, &dl, 0);
        memset(ret, 0, HASH_LEN);
        if (d) memcpy(ret, d, dl < HASH_LEN ? dl : HASH_LEN);
        free(d);
}


static int pread_all(int fd, void *buf, size_t n, uint64_t off, size_t *ret_got) {
        unsigned char *p = buf;
        size_t got = 0;
        while (got < n) {
                ssize_t k = pread(fd, p + got, n - got, (off_t)(off + got));
                if (k < 0) {
                        if (errno == EINTR) continue;
                        return -errno;
                }
                if (k == 0) break;
                got += (size_t)k;
        }
        *ret_got = got;
        return 0;
}

/* ---- the compressed-cluster cache -------------------------------------------
 * One file per entry, <ns>/<2 hex>/<64 hex>: "IWC1", be32 length, be32 CRC-32
 * of (hash, data), data.  Length 0 records "does not compress": stored as
 * is.  The namespace names zlib's version and the level, so a hit gives the
 * same bytes a fresh compression would.  Entries appear by rename only;
 * anything that does not check out is a miss. */

enum { CACHE_MISS = 0, CACHE_HIT = 1, CACHE_BAD = 2 };

static void hex(const unsigned char *h, char out[HASH_LEN * 2 + 1]) {
        static const char d[] = "0123456789abcdef";
        for (int i = 0; i < HASH_LEN; i++) {
                out[2 * i] = d[h[i] >> 4];
                out[2 * i + 1] = d[h[i] & 15];
        }
        out[HASH_LEN * 2] = '\0';
}

static uint32_t entry_crc(const unsigned char *hash, const unsigned char *data, uint32_t len) {
        uLong c = crc32(0L, hash, HASH_LEN);
        if (len) c = crc32(c, data, len);
        return (uint32_t)c;
}

/* Inflates data (raw deflate, 4 KiB window) and compares with raw. */
static bool inflates_to(const unsigned char *data, uint32_t len, const unsigned char *raw, unsigned char *scratch) {
        z_stream zs = { 0 };
        if (inflateInit2(&zs, -12) != Z_OK) return false;
        zs.next_in = (unsigned char *)data;
        zs.avail_in = len;
        zs.next_out = scratch;
        zs.avail_out = CL;
        int r = inflate(&zs, Z_FINISH);
        bool ok = (r == Z_STREAM_END || (r == Z_BUF_ERROR && zs.avail_out == 0)) && zs.avail_out == 0 &&
                  !memcmp(scratch, raw, CL);
        inflateEnd(&zs);
        return ok;
}

/* CACHE_HIT with *ret_len (0 = store as is) and out filled, CACHE_MISS, or
 * CACHE_BAD (the entry is removed so the store that follows replaces it). */
static int cache_lookup(const char *ns, const unsigned char *hash, const unsigned char *raw, bool verify,
                        unsigned char *out, unsigned char *scratch, uint32_t *ret_len) {
        char hx[HASH_LEN * 2 + 1], path[4096];
        hex(hash, hx);
        snprintf(path, sizeof path, "%s/%.2s/%s", ns, hx, hx);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return CACHE_MISS;
        unsigned char hdr[CACHE_HDR];
        size_t got = 0;
        int verdict = CACHE_BAD;
        struct stat st;
        if (fstat(fd, &st) < 0 || pread_all(fd, hdr, CACHE_HDR, 0, &got) < 0 || got != CACHE_HDR) goto out;
        uint32_t len = rd32(hdr + 4);
        if (memcmp(hdr, CACHE_MAGIC, 4) || len >= CL || (uint64_t)st.st_size != CACHE_HDR + (uint64_t)len) goto out;
        if (len && (pread_all(fd, out, len, CACHE_HDR, &got) < 0 || got != len)) goto out;
        if (entry_crc(hash, out, len) != rd32(hdr + 8)) goto out;
        if (verify && len && !inflates_to(out, len, raw, scratch)) goto out;
        /* Least recently used goes first when pruning: mark use, at most
         * hourly so a warm build does not rewrite every inode. */
        if (st.st_mtime < time(NULL) - 3600) futimens(fd, NULL);
        *ret_len = len;
        verdict = CACHE_HIT;
out:
        close(fd);
        if (verdict == CACHE_BAD) unlink(path);
        return verdict;
}

/* Best effort: a failed store only costs a later miss. */
static void cache_store(const char *ns, const unsigned char *hash, const unsigned char *data, uint32_t len) {
        char hx[HASH_LEN * 2 + 1], dir[4096], path[4200], tmp[4300];
        hex(hash, hx);
        snprintf(dir, sizeof dir, "%s/%.2s", ns, hx);
        snprintf(path, sizeof path, "%s/%s", dir, hx);
        /* unique per thread: two builds (or two conversions in one
         * process) may store the same cluster at once */
        snprintf(tmp, sizeof tmp, "%s/.%s.%d.%d.tmp", dir, hx, (int)getpid(), (int)gettid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 && errno == ENOENT && mkdir(dir, 0755) == 0)
                fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) return;
        unsigned char hdr[CACHE_HDR];
        memcpy(hdr, CACHE_MAGIC, 4);
        be32(hdr + 4, len);
        be32(hdr + 8, entry_crc(hash, data, len));
        bool ok = pwrite_all(fd, hdr, CACHE_HDR, 0) == 0 && (len == 0 || pwrite_all(fd, data, len, CACHE_HDR) == 0);
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) < 0) unlink(tmp);
}

static char *cache_ns(const char *cache_dir, int level) {
        return xasprintf("%s/zlib-%s-l%d-w12", cache_dir, zlibVersion(), level);
}

typedef struct cache_file {
        char *path;
        time_t mtime;
        uint64_t bytes;
} cache_file;

static int cmp_mtime(const void *a, const void *b) {
        const cache_file *x = a, *y = b;
        if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
        return strcmp(x->path, y->path);
}

int imgwrite_cache_prune(const char *cache_dir, uint64_t max_bytes) {
        if (!max_bytes) max_bytes = IMGWRITE_CACHE_MAX_DEFAULT;
        _cleanup_free_ char *lockp = xasprintf("%s/.prune.lock", cache_dir);
        int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lfd < 0) return -errno;
        if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
                close(lfd);
                return 0;
        }
        cache_file *files = NULL;
        size_t n = 0, cap = 0;
        uint64_t total = 0;
        time_t now = time(NULL);
        int removed = 0;
        /* Every namespace counts against the bound (an old zlib's entries
         * are simply old). */
        DIR *top = opendir(cache_dir);
        if (!top) {
                int r = -errno;
                close(lfd);
                return r;
        }
        struct dirent *ns;
        while ((ns = readdir(top))) {
                if (ns->d_name[0] == '.') continue;
                _cleanup_free_ char *nsp = xasprintf("%s/%s", cache_dir, ns->d_name);
                DIR *d1 = opendir(nsp);
                if (!d1) continue;
                struct dirent *sub;
                while ((sub = readdir(d1))) {
                        if (sub->d_name[0] == '.') continue;
                        _cleanup_free_ char *subp = xasprintf("%s/%s", nsp, sub->d_name);
                        DIR *d2 = opendir(subp);
                        if (!d2) continue;
                        struct dirent *e;
                        while ((e = readdir(d2))) {
                                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                                struct stat st;
                                char *p = xasprintf("%s/%s", subp, e->d_name);
                                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
                                        free(p);
                                        continue;
                                }
                                /* A temp file an hour old belongs to a dead build. */
                                if (e->d_name[0] == '.') {
                                        if (st.st_mtime < now - 3600 && unlink(p) == 0) removed++;
                                        free(p);
                                        continue;
                                }
                                if (n == cap) {
                                        cap = cap ? cap * 2 : 1024;
                                        files = xrealloc(files, cap * sizeof *files);
                                }
                                files[n++] = (cache_file){ p, st.st_mtime, (uint64_t)st.st_blocks * 512 };
                                total += (uint64_t)st.st_blocks * 512;
                        }
                        closedir(d2);
                }
                closedir(d1);
        }
        closedir(top);
        if (total > max_bytes) {
                qsort(files, n, sizeof *files, cmp_mtime);
                for (size_t i = 0; i < n && total > max_bytes; i++)
                        if (unlink(files[i].path) == 0) {
                                total -= files[i].bytes;
                                removed++;
                        }
        }
        for (size_t i = 0; i < n; i++) free(files[i].path);
        free(files);
        close(lfd);
        return removed;
}

/* ---- the pipeline ----------------------------------------------------------- */

enum { SLOT_FREE, SLOT_FILLED, SLOT_DONE };

typedef struct slot {
        int state;
        uint64_t cluster;               /* guest cluster index */
        uint32_t raw_len;               /* valid bytes (the last cluster may be short) */
        uint32_t out_len;               /* compressed length; 0: store raw */
        int cache;                      /* CACHE_* verdict, -1: no cache */
        unsigned char hash[HASH_LEN];
        unsigned char *raw, *out;
} slot;

typedef struct pipeline {
        pthread_mutex_t mu;
        pthread_cond_t work_cv, main_cv;
        slot *slots;
        size_t n_slots;
        uint64_t read_seq, work_seq, write_seq;
        bool input_done, stop;
        int worker_error;
        const char *ns;                 /* cache namespace dir, NULL: none */
        bool compress;                  /* false: VHD only, hash alone */
        bool verify;
} pipeline;

typedef struct worker {
        pipeline *pl;
        pthread_t thread;
        z_stream zs;
        unsigned char *scratch;
} worker;

/* Deflate as qemu's qcow2 does (raw deflate, window 4 KiB, memLevel 9): the
 * result is 0 < len < CL, or 0 for "store as is". */
static int compress_cluster(z_stream *zs, const unsigned char *raw, unsigned char *out, uint32_t *ret_len) {
        if (deflateReset(zs) != Z_OK) return -EIO;
        zs->next_in = (unsigned char *)raw;
        zs->avail_in = CL;
        zs->next_out = out;
        zs->avail_out = CL - 1;
        int r = deflate(zs, Z_FINISH);
        if (r == Z_STREAM_END) {
                *ret_len = (uint32_t)(CL - 1 - zs->avail_out);
                return 0;
        }
        if (r == Z_OK || r == Z_BUF_ERROR) {    /* out of room: did not compress */
                *ret_len = 0;
                return 0;
        }
        return -EIO;
}

static void *worker_main(void *arg) {
        worker *w = arg;
        pipeline *pl = w->pl;
        pthread_mutex_lock(&pl->mu);
        for (;;) {
                while (!pl->stop && pl->work_seq == pl->read_seq && !pl->input_done)
                        pthread_cond_wait(&pl->work_cv, &pl->mu);
                if (pl->stop || pl->work_seq == pl->read_seq) break;
                slot *s = &pl->slots[pl->work_seq % pl->n_slots];
                pl->work_seq++;
                pthread_mutex_unlock(&pl->mu);

                int r = 0;
                hash_cluster(s->raw, s->hash);
                s->cache = -1;
                s->out_len = 0;
                if (!pl->compress) goto done;
                if (pl->ns) {
                        s->cache = cache_lookup(pl->ns, s->hash, s->raw, pl->verify, s->out, w->scratch, &s->out_len);
                        if (s->cache == CACHE_HIT) goto done;
                }
                r = compress_cluster(&w->zs, s->raw, s->out, &s->out_len);
                if (r == 0 && pl->ns) cache_store(pl->ns, s->hash, s->out, s->out_len);
done:
                pthread_mutex_lock(&pl->mu);
                if (r < 0 && !pl->worker_error) pl->worker_error = r;
                s->state = SLOT_DONE;
                pthread_cond_signal(&pl->main_cv);
        }
        pthread_mutex_unlock(&pl->mu);
        return NULL;
}

/* ---- qcow2 writer ------------------------------------------------------------ */

#define QBUF  (4u << 20)
#define QHELD 64

typedef struct qcow2_w {
        int fd;
        uint64_t size;
        uint32_t l1_size;
        uint64_t **l2;                  /* l1_size tables of L2_ENTRIES host-order entries */
        uint16_t *rc;                   /* refcounts of host clusters 0 .. n_rc-1 */
        size_t n_rc;
        uint64_t pos;                   /* next free byte in the data area */
        unsigned char *buf;             /* pending bytes for [buf_off, pos) */
        size_t buf_len;
        uint64_t buf_off;
        /* Uncompressed clusters wait here while a compressed cluster's
         * host cluster is still being filled (see q_put). */
        unsigned char *held;
        uint64_t held_cluster[QHELD];
        size_t n_held;
} qcow2_w;


static int q_flush(qcow2_w *q) {
        int r = q->buf_len ? pwrite_all(q->fd, q->buf, q->buf_len, q->buf_off) : 0;
        q->buf_off += q->buf_len;
        q->buf_len = 0;
        return r;
}

static int q_append(qcow2_w *q, const void *data, size_t n) {
        const unsigned char *p = data;
        while (n > 0) {
                if (q->buf_len == QBUF) {
                        int r = q_flush(q);
                        if (r < 0) return r;
                }
                size_t k = QBUF - q->buf_len < n ? QBUF - q->buf_len : n;
                if (p) {
                        memcpy(q->buf + q->buf_len, p, k);
                        p += k;
                } else {
                        memset(q->buf + q->buf_len, 0, k);
                }
                q->buf_len += k;
                q->pos += k;
                n -= k;
        }
        return 0;
}

static int q_ref(qcow2_w *q, uint64_t first, uint64_t last) {
        if (last >= q->n_rc) {
                size_t n = q->n_rc ? q->n_rc : 1024;
                while (n <= last) n *= 2;
                q->rc = xrealloc(q->rc, n * sizeof *q->rc);
                memset(q->rc + q->n_rc, 0, (n - q->n_rc) * sizeof *q->rc);
                q->n_rc = n;
        }
        for (uint64_t c = first; c <= last; c++) {
                if (q->rc[c] == UINT16_MAX) return -EOVERFLOW;
                q->rc[c]++;
        }
        return 0;
}

static void q_set_l2(qcow2_w *q, uint64_t cluster, uint64_t entry) {
        uint64_t i1 = cluster / L2_ENTRIES;
        if (!q->l2[i1]) q->l2[i1] = xcalloc(L2_ENTRIES, sizeof(uint64_t));
        q->l2[i1][cluster % L2_ENTRIES] = entry;
}

static int q_put_raw(qcow2_w *q, uint64_t cluster, const unsigned char *raw) {
        uint64_t off = q->pos;          /* cluster-aligned here */
        int r = q_append(q, raw, CL);
        if (r == 0) r = q_ref(q, off / CL, off / CL);
        if (r == 0) q_set_l2(q, cluster, OFLAG_COPIED | off);
        return r;
}

/* Closes the host cluster compressed data is being packed into (its tail
 * stays zero) and writes the held uncompressed clusters after it. */
static int q_release_held(qcow2_w *q) {
        int r = q_append(q, NULL, align_up(q->pos, CL) - q->pos);
        for (size_t i = 0; r == 0 && i < q->n_held; i++) r = q_put_raw(q, q->held_cluster[i], q->held + i * CL);
        q->n_held = 0;
        return r;
}

/* Compressed clusters are packed back to back and may run into the next
 * host cluster.  An uncompressed cluster needs a whole host cluster: rather
 * than wasting the rest of the one being packed (as many times as there
 * are such clusters), it is held until that host cluster is full, and only
 * a compressed cluster that would run into the next one while some are held
 * wastes the tail — once per run of uncompressible clusters, like qemu. */
static int q_put(qcow2_w *q, const slot *s) {
        int r;
        if (!s->out_len) {
                if (q->pos % CL == 0) return q_put_raw(q, s->cluster, s->raw);
                memcpy(q->held + q->n_held * CL, s->raw, CL);
                q->held_cluster[q->n_held++] = s->cluster;
                return q->n_held == QHELD ? q_release_held(q) : 0;
        }
        if (q->n_held && q->pos + s->out_len > align_up(q->pos + 1, CL) && (r = q_release_held(q)) < 0) return r;
        uint64_t off = q->pos;
        uint64_t sectors = ((off + s->out_len - 1) >> 9) - (off >> 9) + 1;
        /* what a reader (and qemu-img check) counts: up to the end of the
         * last sector */
        uint64_t end = (off & ~511ULL) + sectors * 512;
        if ((r = q_append(q, s->out, s->out_len)) < 0) return r;
        if ((r = q_ref(q, off / CL, (end - 1) / CL)) < 0) return r;
        q_set_l2(q, s->cluster, OFLAG_COMPRESSED | (sectors - 1) << CSIZE_SHIFT | off);
        if (q->n_held && q->pos % CL == 0) return q_release_held(q);
        return 0;
}

/* L2 tables, L1 table, refcount table and blocks after the data, then the
 * header: the file is a valid image only once this has run. */
static int q_finish(qcow2_w *q, uint64_t *ret_file_size) {
        int r = q->n_held ? q_release_held(q) : 0;
        if (r == 0) r = q_flush(q);
        if (r < 0) return r;
        uint64_t next = align_up(q->pos, CL) / CL;     /* next free host cluster */
        uint64_t n_l2 = 0;
        for (uint32_t i = 0; i < q->l1_size; i++) n_l2 += q->l2[i] != NULL;
        uint64_t l2_first = next;
        uint64_t l1_at = l2_first + n_l2;
        uint64_t l1_clusters = align_up((uint64_t)q->l1_size * 8, CL) / CL;
        uint64_t base = l1_at + l1_clusters;            /* clusters before the refcount structures */
        uint64_t rt = 0, rb = 0;
        for (;;) {
                uint64_t total = base + rt + rb;
                uint64_t nrb = (total + RC_ENTRIES - 1) / RC_ENTRIES;
                uint64_t nrt = align_up(nrb * 8, CL) / CL;
                if (nrb == rb && nrt == rt) break;
                rb = nrb;
                rt = nrt;
        }
        uint64_t rt_at = base, rb_at = base + rt, total = base + rt + rb;
        if ((r = q_ref(q, 0, 0)) < 0) return r;                         /* header */
        if (total > 0 && (r = q_ref(q, l2_first, total - 1)) < 0) return r; /* metadata */

        unsigned char *cbuf = xmalloc(CL);
        /* L2 tables */
        uint64_t *l1 = xcalloc(l1_clusters * L2_ENTRIES, sizeof(uint64_t));
        uint64_t at = l2_first;
        for (uint32_t i = 0; i < q->l1_size && r == 0; i++) {
                if (!q->l2[i]) continue;
                for (uint32_t k = 0; k < L2_ENTRIES; k++) be64(cbuf + 8 * k, q->l2[i][k]);
                r = pwrite_all(q->fd, cbuf, CL, at * CL);
                l1[i] = OFLAG_COPIED | at * CL;
                at++;
        }
        /* L1 table */
        for (uint64_t c = 0; c < l1_clusters && r == 0; c++) {
                for (uint32_t k = 0; k < L2_ENTRIES; k++) be64(cbuf + 8 * k, l1[c * L2_ENTRIES + k]);
                r = pwrite_all(q->fd, cbuf, CL, (l1_at + c) * CL);
        }
        free(l1);
        /* refcount table */
        for (uint64_t c = 0; c < rt && r == 0; c++) {
                memset(cbuf, 0, CL);
                for (uint32_t k = 0; k < L2_ENTRIES; k++) {
                        uint64_t b = c * L2_ENTRIES + k;
                        if (b < rb) be64(cbuf + 8 * k, (rb_at + b) * CL);
                }
                r = pwrite_all(q->fd, cbuf, CL, (rt_at + c) * CL);
        }
        /* refcount blocks */
        for (uint64_t b = 0; b < rb && r == 0; b++) {
                memset(cbuf, 0, CL);
                for (uint32_t k = 0; k < RC_ENTRIES; k++) {
                        uint64_t c = b * RC_ENTRIES + k;
                        if (c < total && c < q->n_rc) be16(cbuf + 2 * k, q->rc[c]);
                }
                r = pwrite_all(q->fd, cbuf, CL, (rb_at + b) * CL);
        }
        /* header + end of the header extensions */
        if (r == 0) {
                memset(cbuf, 0, CL);
                memcpy(cbuf, "QFI\xfb", 4);
                be32(cbuf + 4, 3);
                be32(cbuf + 20, CL_BITS);
                be64(cbuf + 24, q->size);
                be32(cbuf + 36, q->l1_size);
                be64(cbuf + 40, l1_at * CL);
                be64(cbuf + 48, rt_at * CL);
                be32(cbuf + 56, (uint32_t)rt);
                be32(cbuf + 96, 4);             /* refcount_order: 16 bits */
                be32(cbuf + 100, QCOW2_HDR_LEN);
                /* 104: compression_type 0 = zlib; QCOW2_HDR_LEN..+8: end marker */
                r = pwrite_all(q->fd, cbuf, QCOW2_HDR_LEN + 8, 0);
        }
        free(cbuf);
        if (r == 0) *ret_file_size = total * CL;
        return r;
}

/* ---- VHD writer --------------------------------------------------------------- */

typedef struct vhd_w {
        int fd;
        bool fixed;
        uint64_t size;
        uint32_t n_bat;
        uint32_t *bat;                  /* sector of each block's bitmap, UINT32_MAX: none */
        uint64_t next;                  /* where the next block (or the footer) goes */
} vhd_w;

static uint32_t vhd_checksum(const unsigned char *p, size_t n) {
        uint32_t sum = 0;
        for (size_t i = 0; i < n; i++) sum += p[i];
        return ~sum;
}

static int v_put(vhd_w *v, uint64_t off, const unsigned char *data, uint32_t len) {
        if (v->fixed) return pwrite_all(v->fd, data, len, off);
        /* A cluster never straddles blocks: 2 MiB is a multiple of 64 KiB. */
        uint32_t b = (uint32_t)(off / VHD_BLOCK);
        int r;
        if (v->bat[b] == UINT32_MAX) {
                unsigned char bitmap[512];
                memset(bitmap, 0xff, sizeof bitmap);    /* every sector present */
                if ((r = pwrite_all(v->fd, bitmap, sizeof bitmap, v->next)) < 0) return r;
                v->bat[b] = (uint32_t)(v->next / 512);
                v->next += 512 + VHD_BLOCK;
        }
        return pwrite_all(v->fd, data, len, (uint64_t)v->bat[b] * 512 + 512 + off % VHD_BLOCK);
}

static int v_finish(vhd_w *v, const unsigned char uuid[16], uint32_t timestamp, uint64_t *ret_file_size) {
        unsigned char foot[512] = { 0 };
        memcpy(foot, "conectix", 8);
        be32(foot + 8, 2);                              /* features: reserved bit */
        be32(foot + 12, 0x00010000);                    /* format version */
        be64(foot + 16, v->fixed ? UINT64_MAX : 512);   /* data offset */
        be32(foot + 24, timestamp);
        memcpy(foot + 28, "qem2", 4);                   /* force_size: use current size */
        be16(foot + 32, 5);                             /* creator version */
        be16(foot + 34, 3);
        memcpy(foot + 36, "Wi2k", 4);
        be64(foot + 40, v->size);                       /* original size */
        be64(foot + 48, v->size);                       /* current size */
        be16(foot + 56, 65535);                         /* maximum CHS: size is current size */
        foot[58] = 16;
        foot[59] = 255;
        be32(foot + 60, v->fixed ? 2 : 3);
        memcpy(foot + 68, uuid, 16);
        be32(foot + 64, vhd_checksum(foot, sizeof foot));
        int r;
        if (v->fixed) {
                if ((r = pwrite_all(v->fd, foot, sizeof foot, v->size)) < 0) return r;
                *ret_file_size = v->size + 512;
                return 0;
        }
        unsigned char dyn[1024] = { 0 };
        memcpy(dyn, "cxsparse", 8);
        be64(dyn + 8, UINT64_MAX);
        be64(dyn + 16, VHD_BAT_OFFSET);
        be32(dyn + 24, 0x00010000);
        be32(dyn + 28, v->n_bat);
        be32(dyn + 32, VHD_BLOCK);
        be32(dyn + 36, vhd_checksum(dyn, sizeof dyn));
        size_t bat_bytes = align_up((uint64_t)v->n_bat * 4, 512);
        unsigned char *bat = xmalloc(bat_bytes);
        memset(bat, 0xff, bat_bytes);
        for (uint32_t i = 0; i < v->n_bat; i++) be32(bat + 4 * i, v->bat[i]);
        r = pwrite_all(v->fd, bat, bat_bytes, VHD_BAT_OFFSET);
        free(bat);
        if (r == 0) r = pwrite_all(v->fd, foot, sizeof foot, 0);
        if (r == 0) r = pwrite_all(v->fd, dyn, sizeof dyn, 512);
        if (r == 0) r = pwrite_all(v->fd, foot, sizeof foot, v->next);
        if (r == 0) *ret_file_size = v->next + 512;
        return r;
}

/* ---- input ---------------------------------------------------------------------- */

typedef struct extent {
        uint64_t start, end;
} extent;

/* The data extents of fd (one extent for the whole file where SEEK_DATA is
 * not supported). */
static int data_extents(int fd, uint64_t size, extent **ret, size_t *ret_n, uint64_t *ret_bytes) {
        extent *e = NULL;
        size_t n = 0, cap = 0;
        uint64_t pos = 0, bytes = 0;
        while (pos < size) {
                off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
                if (d < 0) {
                        if (errno == ENXIO) break;
                        if (errno == EINVAL && n == 0) { /* no SEEK_DATA here */
                                d = 0;
                        } else {
                                int r = -errno;
                                free(e);
                                return r;
                        }
                }
                off_t h = lseek(fd, d, SEEK_HOLE);
                if (h < 0) h = (off_t)size;
                if ((uint64_t)h > size) h = (off_t)size;
                if (h <= d) break;
                if (n == cap) {
                        cap = cap ? cap * 2 : 64;
                        e = xrealloc(e, cap * sizeof *e);
                }
                e[n++] = (extent){ (uint64_t)d, (uint64_t)h };
                bytes += (uint64_t)(h - d);
                pos = (uint64_t)h;
        }
        *ret = e;
        *ret_n = n;
        *ret_bytes = bytes;
        return 0;
}

typedef struct input {
        int fd;
        uint64_t size;
        extent *ext;
        size_t n_ext, i;
        uint64_t next;                  /* first cluster not yet read */
} input;

/* The next cluster overlapping a data extent; false at the end. */
static bool next_cluster(input *in, uint64_t *ret) {
        while (in->i < in->n_ext) {
                uint64_t lo = in->ext[in->i].start / CL, hi = (in->ext[in->i].end - 1) / CL;
                if (lo < in->next) lo = in->next;
                if (lo <= hi) {
                        in->next = lo + 1;
                        *ret = lo;
                        return true;
                }
                in->i++;
        }
        return false;
}

/* ---- driver ---------------------------------------------------------------------- */

static char *errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *errf(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0) s = NULL;
        va_end(ap);
        return s;
}

static uint32_t vhd_timestamp(void) {
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        long long t = (long long)time(NULL);
        if (sde && *sde) {
                char *end;
                errno = 0;
                long long v = strtoll(sde, &end, 10);
                if (!errno && !*end && v >= 0) t = v;
        }
        t -= VHD_TIMESTAMP_BASE;
        if (t < 0) t = 0;
        if (t > UINT32_MAX) t = UINT32_MAX;
        return (uint32_t)t;
}

int imgwrite_images(const char *raw_path, const imgwrite_opts *o, imgwrite_stats *ret_stats, char **ret_error) {
        double t0 = now_seconds();
        imgwrite_stats st = { 0 };
        char *err = NULL;
        int r = 0;
        int level = o->level > 0 && o->level <= 9 ? o->level : Z_DEFAULT_COMPRESSION;
        int level_id = o->level > 0 && o->level <= 9 ? o->level : 6; /* zlib's default is 6 */
        input in = { .fd = -1 };
        qcow2_w q = { .fd = -1 };
        vhd_w v = { .fd = -1 };
        pipeline pl = { 0 };
        worker *workers = NULL;
        unsigned n_workers = 0;
        bool sync_init = false;
        progress *pr = NULL;
        _cleanup_free_ char *ns = NULL;
        DIGEST_CTX content = NULL;

        if (!o->qcow2_path && !o->vhd_path) {
                err = errf("no output requested");
                r = -EINVAL;
                goto out;
        }
        in.fd = open(raw_path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (in.fd < 0 || fstat(in.fd, &sb) < 0) {
                r = -errno;
                err = errf("cannot read the raw disk %s: %s", raw_path, strerror(-r));
                goto out;
        }
        in.size = (uint64_t)sb.st_size;
        st.virtual_size = in.size;
        if (in.size == 0 || in.size % 512) {
                r = -EINVAL;
                err = errf("raw disk %s is %" PRIu64 " bytes, not a non-zero multiple of 512", raw_path, in.size);
                goto out;
        }
        if (o->vhd_path && in.size > VHD_MAX_SIZE) {
                r = -EFBIG;
                err = errf("raw disk %s is larger than a VHD can be (2040 GiB)", raw_path);
                goto out;
        }
        if ((r = data_extents(in.fd, in.size, &in.ext, &in.n_ext, &st.data_bytes)) < 0) {
                err = errf("cannot map the data of %s: %s", raw_path, strerror(-r));
                goto out;
        }
        posix_fadvise(in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);

        if (o->qcow2_path) {
                q.size = in.size;
                q.l1_size = (uint32_t)((in.size + (uint64_t)CL * L2_ENTRIES - 1) / ((uint64_t)CL * L2_ENTRIES));
                q.l2 = xcalloc(q.l1_size, sizeof *q.l2);
                q.buf = xmalloc(QBUF);
                q.held = xmalloc((size_t)QHELD * CL);
                q.pos = q.buf_off = CL;         /* cluster 0: the header */
                q.fd = open(o->qcow2_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (q.fd < 0) {
                        r = -errno;
                        err = errf("cannot create %s: %s", o->qcow2_path, strerror(-r));
                        goto out;
                }
        }
        if (o->vhd_path) {
                v.fixed = o->vhd_fixed;
                v.size = in.size;
                v.n_bat = (uint32_t)((in.size + VHD_BLOCK - 1) / VHD_BLOCK);
                if (!v.fixed) {
                        v.bat = xmalloc((size_t)v.n_bat * sizeof *v.bat);
                        memset(v.bat, 0xff, (size_t)v.n_bat * sizeof *v.bat);
                        v.next = VHD_BAT_OFFSET + align_up((uint64_t)v.n_bat * 4, 512);
                }
                v.fd = open(o->vhd_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (v.fd < 0) {
                        r = -errno;
                        err = errf("cannot create %s: %s", o->vhd_path, strerror(-r));
                        goto out;
                }
                /* A fixed VHD is the raw disk plus a footer: size it now so the
                 * holes stay holes. */
                if (v.fixed && ftruncate(v.fd, (off_t)in.size) < 0) {
                        r = -errno;
                        err = errf("cannot size %s: %s", o->vhd_path, strerror(-r));
                        goto out;
                }
        }
        if (o->cache_dir) {
                ns = cache_ns(o->cache_dir, level_id);
                if (mkdir_p(ns, 0755) < 0) {
                        free(ns);       /* no cache, not an error */
                        ns = NULL;
                }
        }

        /* The pool.  Slots: enough that every worker always has work queued
         * while the writer drains. */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned want = o->threads ? o->threads : (cpus > 0 ? (unsigned)cpus : 1);
        if (want > 64) want = 64;
        pl.n_slots = 16 * (size_t)want < 32 ? 32 : 16 * (size_t)want;
        pl.slots = xcalloc(pl.n_slots, sizeof *pl.slots);
        for (size_t i = 0; i < pl.n_slots; i++) {
                pl.slots[i].raw = xmalloc(CL);
                pl.slots[i].out = xmalloc(CL);
        }
        pl.ns = o->qcow2_path ? ns : NULL;
        pl.compress = o->qcow2_path != NULL;
        pl.verify = o->cache_verify;
        pthread_mutex_init(&pl.mu, NULL);
        pthread_cond_init(&pl.work_cv, NULL);
        pthread_cond_init(&pl.main_cv, NULL);
        sync_init = true;
        workers = xcalloc(want, sizeof *workers);
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);         /* signals go to this thread */
        for (unsigned i = 0; i < want; i++) {
                worker *w = &workers[i];
                w->pl = &pl;
                w->scratch = xmalloc(CL);
                if (deflateInit2(&w->zs, level, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
                        free(w->scratch);
                        r = -ENOMEM;
                        break;
                }
                int e = pthread_create(&w->thread, NULL, worker_main, w);
                if (e) {
                        deflateEnd(&w->zs);
                        free(w->scratch);
                        r = -e;
                        break;
                }
                n_workers++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        st.threads = n_workers;
        if (r < 0) {
                err = errf("cannot start the compression threads: %s", strerror(-r));
                goto stop;
        }

        content = rpmDigestInit(PGPHASHALGO_SHA256, RPMDIGEST_NONE);
        {
                unsigned char seed[16];
                be64(seed, in.size);
                be64(seed + 8, v.fixed ? 2 : 3);
                rpmDigestUpdate(content, seed, sizeof seed);
        }
        if (o->progress_label) pr = progress_new(o->progress_label, st.data_bytes, "B");

        uint64_t scanned = 0;   /* clusters read, for progress */
        uint64_t last_progress = 0;
        pthread_mutex_lock(&pl.mu);
        for (;;) {
                if (interrupted()) {
                        r = ERR_INTERRUPTED;
                        break;
                }
                if (pl.worker_error) {
                        r = pl.worker_error;
                        err = errf("cannot compress %s: zlib error", raw_path);
                        break;
                }
                /* 1: write what is done, strictly in order. */
                slot *s = &pl.slots[pl.write_seq % pl.n_slots];
                if (pl.write_seq < pl.read_seq && s->state == SLOT_DONE) {
                        pthread_mutex_unlock(&pl.mu);
                        if (s->out_len) st.compressed++;
                        else if (o->qcow2_path) st.uncompressed++;
                        if (s->cache == CACHE_HIT) st.cache_hits++;
                        else if (s->cache == CACHE_MISS) st.cache_misses++;
                        else if (s->cache == CACHE_BAD) st.cache_bad++, st.cache_misses++;
                        st.data_clusters++;
                        unsigned char idx[8];
                        be64(idx, s->cluster);
                        rpmDigestUpdate(content, idx, sizeof idx);
                        rpmDigestUpdate(content, s->hash, HASH_LEN);
                        if (o->qcow2_path && (r = q_put(&q, s)) < 0)
                                err = errf("cannot write %s: %s", o->qcow2_path, strerror(-r));
                        if (r == 0 && o->vhd_path && (r = v_put(&v, s->cluster * CL, s->raw, s->raw_len)) < 0)
                                err = errf("cannot write %s: %s", o->vhd_path, strerror(-r));
                        pthread_mutex_lock(&pl.mu);
                        if (r < 0) break;
                        s->state = SLOT_FREE;
                        pl.write_seq++;
                        continue;
                }
                /* 2: read ahead while a slot is free. */
                if (!pl.input_done && pl.read_seq - pl.write_seq < pl.n_slots) {
                        slot *f = &pl.slots[pl.read_seq % pl.n_slots];
                        pthread_mutex_unlock(&pl.mu);
                        bool found = false;
                        uint64_t c;
                        while (r == 0 && next_cluster(&in, &c)) {
                                size_t want_len = in.size - c * CL < CL ? (size_t)(in.size - c * CL) : CL, got = 0;
                                if ((r = pread_all(in.fd, f->raw, want_len, c * CL, &got)) < 0 ||
                                    (got != want_len && (r = -EIO))) {
                                        err = errf("cannot read the raw disk %s at offset %" PRIu64 ": %s", raw_path,
                                                   c * CL, strerror(-r));
                                        break;
                                }
                                if (got < CL) memset(f->raw + got, 0, CL - got);
                                scanned++;
                                if (all_zero(f->raw, CL)) {
                                        st.zero_clusters++;
                                        if (interrupted()) break;
                                        continue;
                                }
                                f->cluster = c;
                                f->raw_len = (uint32_t)want_len;
                                found = true;
                                break;
                        }
                        if (pr && (scanned - last_progress) * CL >= (8u << 20)) {
                                last_progress = scanned;
                                progress_update(pr, scanned * CL > st.data_bytes ? st.data_bytes : scanned * CL, NULL);
                        }
                        pthread_mutex_lock(&pl.mu);
                        if (r < 0) break;
                        if (found) {
                                f->state = SLOT_FILLED;
                                pl.read_seq++;
                                pthread_cond_signal(&pl.work_cv);
                        } else if (!interrupted()) {
                                pl.input_done = true;
                                pthread_cond_broadcast(&pl.work_cv);
                        }
                        continue;
                }
                if (pl.input_done && pl.write_seq == pl.read_seq) break;
                /* 3: wait for a worker, waking now and then for Ctrl-C. */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 200 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
                pthread_cond_timedwait(&pl.main_cv, &pl.mu, &ts);
        }
        pthread_mutex_unlock(&pl.mu);

stop:
        pthread_mutex_lock(&pl.mu);
        pl.stop = true;
        pthread_cond_broadcast(&pl.work_cv);
        pthread_mutex_unlock(&pl.mu);
        for (unsigned i = 0; i < n_workers; i++) {
                pthread_join(workers[i].thread, NULL);
                deflateEnd(&workers[i].zs);
                free(workers[i].scratch);
        }
        if (r < 0) goto out;

        {
                /* A content-derived VHD UUID: equal disks, equal images. */
                void *d = NULL;
                size_t dl = 0;
                unsigned char uuid[16] = { 0 };
                rpmDigestFinal(content, &d, &dl, 0);
                content = NULL;
                if (d) memcpy(uuid, d, dl < 16 ? dl : 16);
                free(d);
                uuid[6] = (uuid[6] & 0x0f) | 0x40;
                uuid[8] = (uuid[8] & 0x3f) | 0x80;
                if (o->qcow2_path && (r = q_finish(&q, &st.qcow2_size)) < 0) {
                        err = errf("cannot write %s: %s", o->qcow2_path, strerror(-r));
                        goto out;
                }
                if (o->vhd_path && (r = v_finish(&v, uuid, vhd_timestamp(), &st.vhd_size)) < 0) {
                        err = errf("cannot write %s: %s", o->vhd_path, strerror(-r));
                        goto out;
                }
        }
        if (q.fd >= 0 && close(q.fd) < 0) {
                q.fd = -1;
                r = -errno;
                err = errf("cannot write %s: %s", o->qcow2_path, strerror(-r));
                goto out;
        }
        q.fd = -1;
        if (v.fd >= 0 && close(v.fd) < 0) {
                v.fd = -1;
                r = -errno;
                err = errf("cannot write %s: %s", o->vhd_path, strerror(-r));
                goto out;
        }
        v.fd = -1;
        if (pr) progress_update(pr, st.data_bytes, NULL);
        if (ns && st.cache_misses > 0) {
                int k = imgwrite_cache_prune(o->cache_dir, o->cache_max_bytes);
                if (k > 0) st.cache_pruned = (uint64_t)k;
        }

out:
        if (content) {
                void *d = NULL;
                rpmDigestFinal(content, &d, NULL, 0);
                free(d);
        }
        progress_free(pr);
        if (sync_init) {
                pthread_mutex_destroy(&pl.mu);
                pthread_cond_destroy(&pl.work_cv);
                pthread_cond_destroy(&pl.main_cv);
        }
        for (size_t i = 0; pl.slots && i < pl.n_slots; i++) {
                free(pl.slots[i].raw);
                free(pl.slots[i].out);
        }
        free(pl.slots);
        free(workers);
        for (uint32_t i = 0; q.l2 && i < q.l1_size; i++) free(q.l2[i]);
        free(q.l2);
        free(q.rc);
        free(q.buf);
        free(q.held);
        free(v.bat);
        free(in.ext);
        if (in.fd >= 0) close(in.fd);
        if (q.fd >= 0) close(q.fd);
        if (v.fd >= 0) close(v.fd);
        if (r < 0) {
                if (o->qcow2_path) unlink(o->qcow2_path);
                if (o->vhd_path) unlink(o->vhd_path);
                if (ret_error) *ret_error = err ? err : (r == ERR_INTERRUPTED ? xstrdup("interrupted") : errf("%s", strerror(-r)));
                else free(err);
                return r;
        }
        free(err);
        st.seconds = now_seconds() - t0;
        if (ret_stats) *ret_stats = st;
        return 0;
}
