/* initramfs.c — a newc cpio walker over (compressed) initramfs segments. */
#include "initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define CPIO_HDR_LEN 110
#define CPIO_MAX_NAME 4096
#define KEEP_MAX (16u << 20)

struct reader {
        FILE *f;
        uint64_t pos;
};

struct walk {
        initramfs_listing *l;
        char *const *keep;
        char *reason;
        unsigned archives;      /* trailers seen in the current stream */
};

static size_t rd_read(struct reader *r, void *buf, size_t n) {
        size_t got = fread(buf, 1, n, r->f);
        r->pos += got;
        return got;
}

static int rd_skip(struct reader *r, uint64_t n) {
        char buf[65536];
        while (n > 0) {
                size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
                if (rd_read(r, buf, k) != k) return -1;
                n -= k;
        }
        return 0;
}

static int fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct walk *w, const char *fmt, ...) {
        if (!w->reason) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&w->reason, fmt, ap) < 0) abort();
                va_end(ap);
        }
        return ERR_BAD_IMAGE;
}

static bool parse_hex8(const char *s, uint32_t *ret) {
        uint32_t v = 0;
        for (int i = 0; i < 8; i++) {
                char c = s[i];
                int d;
                if (c >= '0' && c <= '9') d = c - '0';
                else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
                else return false;
                v = v << 4 | (uint32_t)d;
        }
        *ret = v;
        return true;
}

static bool keep_wanted(char *const *keep, const char *name) {
        for (size_t i = 0; keep && keep[i]; i++) {
                size_t n = strlen(name), k = strlen(keep[i]);
                if (n >= k && !strcmp(name + n - k, keep[i]) && (n == k || name[n - k - 1] == '/'))
                        return true;
        }
        return false;
}

/* One archive; the 6 magic bytes of its first header are already read. */
static int walk_archive(struct reader *r, struct walk *w) {
        bool first = true;
        for (;;) {
                if (interrupted()) return ERR_INTERRUPTED;
                uint64_t at = r->pos - (first ? 6 : 0);
                char hdr[CPIO_HDR_LEN + 1];
                size_t off = first ? 6 : 0;
                if (rd_read(r, hdr + off, CPIO_HDR_LEN - off) != CPIO_HDR_LEN - off)
                        return fail(w, "cpio archive truncated at offset %llu", (unsigned long long)at);
                if (!first && (memcmp(hdr, "07070", 5) || (hdr[5] != '1' && hdr[5] != '2')))
                        return fail(w, "corrupt cpio header at offset %llu (no newc magic)",
                                    (unsigned long long)at);
                first = false;
                uint32_t f[13];
                for (int i = 0; i < 13; i++)
                        if (!parse_hex8(hdr + 6 + 8 * i, &f[i]))
                                return fail(w, "corrupt cpio header at offset %llu (bad hex field)",
                                            (unsigned long long)at);
                uint32_t mode = f[1], filesize = f[6], namesize = f[11];
                if (namesize == 0 || namesize > CPIO_MAX_NAME)
                        return fail(w, "corrupt cpio header at offset %llu (name size %u)",
                                    (unsigned long long)at, namesize);
                char name[CPIO_MAX_NAME + 4];
                size_t npad = (4 - (CPIO_HDR_LEN + namesize) % 4) % 4;
                if (rd_read(r, name, namesize + npad) != namesize + npad)
                        return fail(w, "cpio archive truncated at offset %llu", (unsigned long long)at);
                if (name[namesize - 1] != '\0')
                        return fail(w, "corrupt cpio entry name at offset %llu", (unsigned long long)at);
                if (!strcmp(name, "TRAILER!!!")) {
                        w->archives++;
                        return 0;
                }
                const char *n = name;
                while (n[0] == '.' && n[1] == '/') n += 2;
                while (n[0] == '/') n++;
                size_t dpad = (4 - filesize % 4) % 4;
                bool keep = (mode & 0170000) == 0100000 && filesize <= KEEP_MAX && keep_wanted(w->keep, n);
                if (keep) {
                        char *data = xmalloc((size_t)filesize + 1);
                        if (rd_read(r, data, filesize) != filesize) {
                                free(data);
                                return fail(w, "cpio archive truncated in %s", n);
                        }
                        data[filesize] = '\0';
                        strv_push(&w->l->kept_names, xstrdup(n));
                        strv_push(&w->l->kept_data, data);
                        if (rd_skip(r, dpad) < 0)
                                return fail(w, "cpio archive truncated in %s", n);
                } else if (rd_skip(r, (uint64_t)filesize + dpad) < 0) {
                        return fail(w, "cpio archive truncated in %s", n);
                }
                if (*n) strv_push(&w->l->names, xstrdup(n));
        }
}

static const struct compressor {
        const char *name;
        const unsigned char magic[6];
        size_t len;
        const char *argv[5];
} compressors[] = {
        { "gzip", { 0x1f, 0x8b }, 2, { "gzip", "-dc", NULL } },
        { "gzip", { 0x1f, 0x9e }, 2, { "gzip", "-dc", NULL } },
        { "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4, { "zstd", "-dcq", NULL } },
        { "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6, { "xz", "-dc", NULL } },
        { "lzma", { 0x5d, 0x00, 0x00 }, 3, { "xz", "--format=lzma", "-dc", NULL } },
        { "bzip2", { 'B', 'Z', 'h' }, 3, { "bzip2", "-dc", NULL } },
        { "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4, { "lz4", "-dc", NULL } },
        { "lz4", { 0x04, 0x22, 0x4d, 0x18 }, 4, { "lz4", "-dc", NULL } },
        { "lzo", { 0x89, 'L', 'Z', 'O', 0x00 }, 5, { "lzop", "-dc", NULL } },
};

static int walk_stream(struct reader *r, int fd, struct walk *w);

/* Decompress from offset `start` of fd through the host tool, walk the
 * output.  The decompressed stream must hold cpio archives only. */
static int walk_compressed(int fd, uint64_t start, const struct compressor *c, struct walk *w) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) return -errno;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                signal(SIGPIPE, SIG_DFL);
                int devnull = open("/dev/null", O_WRONLY);
                if (lseek(fd, (off_t)start, SEEK_SET) < 0 || dup2(fd, 0) < 0 || dup2(p[1], 1) < 0)
                        _exit(126);
                if (devnull >= 0) dup2(devnull, 2);
                execvp(c->argv[0], (char *const *)c->argv);
                _exit(127);
        }
        close(p[1]);
        FILE *pf = fdopen(p[0], "r");
        if (!pf) {
                int r = -errno;
                close(p[0]);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return r;
        }
        struct reader sub = { pf, 0 };
        unsigned before = w->archives;
        int r = walk_stream(&sub, -1, w);
        fclose(pf);
        if (r < 0) kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (r == ERR_BAD_IMAGE && w->reason) {
                char *old = w->reason;
                w->reason = xasprintf("%s part at offset %llu: %s", c->name,
                                      (unsigned long long)start, old);
                free(old);
        }
        if (r < 0) return r;
        if (w->archives == before) {
                if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                        return fail(w, "cannot decompress the %s part at offset %llu: %s is not installed",
                                    c->name, (unsigned long long)start, c->argv[0]);
                return fail(w, "the %s part at offset %llu holds no cpio archive (%s exited with status %d)",
                            c->name, (unsigned long long)start, c->argv[0],
                            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
        /* A decompressor complaining about the zero padding after its stream
         * (gzip: "trailing garbage ignored") is fine once the cpio parsed. */
        strv_push(&w->l->segments, xasprintf("%s+cpio", c->name));
        return 0;
}

static int walk_stream(struct reader *r, int fd, struct walk *w) {
        for (;;) {
                int c;
                do {
                        c = getc(r->f);
                        if (c != EOF) r->pos++;
                } while (c == 0);
                if (c == EOF) return ferror(r->f) ? -EIO : 0;
                unsigned char magic[6] = { (unsigned char)c };
                size_t got = 1 + rd_read(r, magic + 1, 5);
                if (got == 6 && !memcmp(magic, "07070", 5) && (magic[5] == '1' || magic[5] == '2')) {
                        int k = walk_archive(r, w);
                        if (k < 0) return k;
                        if (fd >= 0) strv_push(&w->l->segments, xstrdup("cpio"));
                        continue;
                }
                if (got == 6 && !memcmp(magic, "07070", 5) && magic[5] == '7')
                        return fail(w, "old-style (odc) cpio archive at offset %llu: the kernel reads newc only",
                                    (unsigned long long)(r->pos - got));
                for (size_t i = 0; i < sizeof compressors / sizeof compressors[0]; i++) {
                        const struct compressor *cp = &compressors[i];
                        if (got < cp->len || memcmp(magic, cp->magic, cp->len)) continue;
                        if (fd < 0)
                                return fail(w, "%s data inside a compressed part", cp->name);
                        return walk_compressed(fd, r->pos - got, cp, w);
                }
                return fail(w, "unrecognised data at offset %llu (neither cpio nor a known compression)",
                            (unsigned long long)(r->pos - got));
        }
}

void initramfs_listing_free(initramfs_listing *l) {
        if (!l) return;
        strv_free(l->names);
        strv_free(l->segments);
        strv_free(l->kept_names);
        strv_free(l->kept_data);
        free(l);
}

int initramfs_list_stream(FILE *f, int fd, char *const *keep_suffixes,
                          initramfs_listing **ret, char **ret_reason) {
        initramfs_listing *l = xcalloc(1, sizeof *l);
        l->names = xcalloc(1, sizeof(char *));
        l->segments = xcalloc(1, sizeof(char *));
        l->kept_names = xcalloc(1, sizeof(char *));
        l->kept_data = xcalloc(1, sizeof(char *));
        struct walk w = { .l = l, .keep = keep_suffixes };
        struct reader r = { f, 0 };
        int k = walk_stream(&r, fd, &w);
        if (k == 0 && w.archives == 0)
                k = fail(&w, r.pos == 0 ? "empty file" : "no cpio archive found");
        if (k < 0) {
                initramfs_listing_free(l);
                if (ret_reason) *ret_reason = w.reason ? w.reason : xstrdup(strerror(-k));
                else free(w.reason);
                return k;
        }
        free(w.reason);
        *ret = l;
        return 0;
}

int initramfs_list(const char *path, char *const *keep_suffixes,
                   initramfs_listing **ret, char **ret_reason) {
        FILE *f = fopen(path, "re");
        if (!f) return -errno;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                fclose(f);
                return r;
        }
        int r = initramfs_list_stream(f, fd, keep_suffixes, ret, ret_reason);
        close(fd);
        fclose(f);
        return r;
}
