/* Unit tests: payload re-framing (stored blocks that rpm's own readers and
 * the compression libraries take back to the same bytes) and the feeder. */
#include <fcntl.h>
#include <lzma.h>
#include <rpm/rpmio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "payload.h"
#include "testutil.h"
#include "util.h"

/* A package's lead, a signature header (one entry, 5 data bytes: padded
 * to 8) and a header (no entries, 3 data bytes): what rpm reads first. */
static size_t fake_headers(unsigned char *b) {
        memset(b, 0, 96);
        memcpy(b, "\xed\xab\xee\xdb", 4);
        size_t n = 96;
        static const unsigned char sig[16 + 16 + 5 + 3] = { 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5,
                                                            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                            's', 'i', 'g', '!', '!', 0, 0, 0 };
        static const unsigned char hdr[16 + 3] = { 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3,
                                                   'h', 'd', 'r' };
        memcpy(b + n, sig, sizeof sig), n += sizeof sig;
        memcpy(b + n, hdr, sizeof hdr), n += sizeof hdr;
        return n;
}

static unsigned char *compress_as(const char *kind, const unsigned char *d, size_t n, size_t *ret_len) {
        size_t cap = n + n / 2 + 1024;
        unsigned char *c = xmalloc(cap);
        if (!strcmp(kind, "zstd")) {
                ZSTD_CCtx *z = ZSTD_createCCtx();      /* with its checksum: damage shows */
                ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
                *ret_len = ZSTD_compress2(z, c, cap, d, n);
                ZSTD_freeCCtx(z);
        } else if (!strcmp(kind, "xz")) {
                size_t pos = 0;
                CHECK(lzma_easy_buffer_encode(2, LZMA_CHECK_CRC64, NULL, d, n, c, &pos, cap) == LZMA_OK);
                *ret_len = pos;
        } else {
                z_stream z = { 0 };
                CHECK(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
                z.next_in = (unsigned char *)d, z.avail_in = (uInt)n, z.next_out = c, z.avail_out = (uInt)cap;
                CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
                *ret_len = z.total_out;
                deflateEnd(&z);
        }
        return c;
}

static int memfd_with(const void *a, size_t an, const void *b, size_t bn) {
        int fd = memfd_create("t", 0);
        CHECK(fd >= 0 && write(fd, a, an) == (ssize_t)an && write(fd, b, bn) == (ssize_t)bn);
        lseek(fd, 0, SEEK_SET);
        return fd;
}

static unsigned char *slurp(int fd, size_t *ret_len) {
        off_t end = lseek(fd, 0, SEEK_END);
        unsigned char *b = xmalloc((size_t)end + 1);
        CHECK(pread(fd, b, (size_t)end, 0) == end);
        *ret_len = (size_t)end;
        return b;
}

/* The payload of a re-framed package at fd, read back the way rpm does
 * (rpmio's reader for the compressor named in the header). */
static unsigned char *rpm_reads(int fd, size_t skip, const char *kind, size_t want, size_t *ret_len) {
        lseek(fd, (off_t)skip, SEEK_SET);
        char *mode = xasprintf("r.%s", kind);
        FD_t f = Fdopen(fdDup(fd), mode);
        free(mode);
        unsigned char *b = xmalloc(want + 64);
        size_t n = 0;
        ssize_t k;
        while (f && (k = Fread(b + n, 1, want + 64 - n, f)) > 0) n += (size_t)k;
        CHECK(f && !Ferror(f));
        if (f) Fclose(f);
        *ret_len = n;
        return b;
}

/* Sizes around the block limits (64 KiB for xz and gzip, 128 KiB for
 * zstd); half random, half zeros, so the stored form is far from the
 * compressed one. */
static void test_round_trip(void) {
        static const size_t sizes[] = { 1, 65535, 65536, 65537, 131072, 131073, 300001 };
        static const char *kinds[] = { "zstd", "xz", "gzip" };
        unsigned char head[256];
        size_t hn = fake_headers(head);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
                size_t n = sizes[s];
                unsigned char *d = xmalloc(n);
                uint32_t x = 12345u + (uint32_t)n;
                for (size_t i = 0; i < n; i++)
                        d[i] = i < n / 2 ? (unsigned char)((x = x * 1103515245u + 12345u) >> 24) : 0;
                for (size_t k = 0; k < 3; k++) {
                        size_t cn;
                        unsigned char *c = compress_as(kinds[k], d, n, &cn);
                        int in = memfd_with(head, hn, c, cn), out = memfd_create("out", 0);
                        char *err = NULL;
                        CHECK_INTEQ(payload_reframe(in, out, kinds[k], &err), 0);
                        CHECK(err == NULL);
                        size_t on;
                        unsigned char *o = slurp(out, &on);
                        CHECK(on >= hn + n && on <= hn + n + n / 1000 + 128);   /* stored, not compressed */
                        CHECK(memcmp(o, head, hn) == 0);                        /* headers as they were */
                        size_t rn;
                        unsigned char *r = rpm_reads(out, hn, kinds[k], n, &rn);
                        CHECK_INTEQ(rn, n);
                        CHECK(rn == n && memcmp(r, d, n) == 0);
                        if (rn != n) fprintf(stderr, "  (%s, %zu bytes)\n", kinds[k], n);
                        free(r);
                        free(o);
                        free(c);
                        close(in);
                        close(out);
                }
                free(d);
        }
}

static char *reframe_error(const unsigned char *head, size_t hn, const unsigned char *c, size_t cn, const char *kind) {
        int in = memfd_with(head, hn, c, cn), out = memfd_create("out", 0);
        char *err = NULL;
        CHECK_INTEQ(payload_reframe(in, out, kind, &err), -1);
        close(in);
        close(out);
        return err ? err : xstrdup("");
}

static void test_errors(void) {
        unsigned char head[256], d[4096];
        size_t hn = fake_headers(head);
        for (size_t i = 0; i < sizeof d; i++) d[i] = (unsigned char)(i * 7 + i / 13);
        static const char *kinds[] = { "zstd", "xz", "gzip" };
        for (size_t k = 0; k < 3; k++) {
                size_t cn;
                unsigned char *c = compress_as(kinds[k], d, sizeof d, &cn);
                char *e = reframe_error(head, hn, c, cn - 9, kinds[k]);
                CHECK(strstr(e, "ends early") != NULL);
                free(e);
                c[cn / 2] ^= 0x55;
                c[cn / 2 + 1] ^= 0xaa;
                e = reframe_error(head, hn, c, cn, kinds[k]);
                CHECK(strstr(e, "damaged") != NULL || strstr(e, "ends early") != NULL);
                free(e);
                free(c);
        }
        char *e = reframe_error(head, 40, NULL, 0, "zstd");
        CHECK(strstr(e, "ends inside its header") != NULL);
        free(e);
        head[0] = 'X';
        e = reframe_error(head, hn, d, 10, "zstd");
        CHECK_STREQ(e, "not an rpm package (no lead)");
        free(e);
        CHECK(payload_can_feed("zstd") && payload_can_feed("xz") && payload_can_feed("gzip") && payload_can_feed(NULL));
        CHECK(!payload_can_feed("bzip2") && !payload_can_feed("lzma"));
}

/* The feeder: packages queued, taken in rpm's order (one never queued),
 * one left behind at the end; a budget smaller than one package. */
static void test_feeder(void) {
        char dir[] = "/tmp/imgbuild-payload-XXXXXX";
        CHECK(mkdtemp(dir) != NULL);
        unsigned char head[256], d[200000];
        size_t hn = fake_headers(head);
        for (size_t i = 0; i < sizeof d; i++) d[i] = (unsigned char)(i % 251);
        char *paths[4];
        for (int p = 0; p < 4; p++) {
                paths[p] = xasprintf("%s/p%d.rpm", dir, p);
                size_t cn;
                unsigned char *c = compress_as(p % 2 ? "xz" : "zstd", d, sizeof d - (size_t)p, &cn);
                int fd = open(paths[p], O_CREAT | O_WRONLY | O_TRUNC, 0644);
                CHECK(fd >= 0 && write(fd, head, hn) == (ssize_t)hn && write(fd, c, cn) == (ssize_t)cn);
                close(fd);
                free(c);
        }
        payload_feeder *f = payload_feeder_new(5, 1000);
        CHECK(payload_feeder_queue(f, 2, paths[2], "zstd"));
        CHECK(payload_feeder_queue(f, 1, paths[1], "xz"));
        CHECK(!payload_feeder_queue(f, 1, paths[1], "xz"));              /* queued already */
        CHECK(!payload_feeder_queue(f, 3, paths[3], "bzip2"));           /* no stored form */
        CHECK(!payload_feeder_queue(f, 4, "/nonexistent/p.rpm", "zstd"));
        CHECK(payload_feeder_queue(f, 0, paths[0], "zstd"));
        CHECK(payload_feeder_queue(f, 3, paths[3], "xz"));
        /* package 2 is skipped (rpm never opens a package whose install
         * it skips): with the budget held by it, taking 1 still works */
        size_t order[] = { 1, 0 };
        for (size_t k = 0; k < 2; k++) {
                size_t p = order[k];
                char *err = NULL;
                int fd = payload_feeder_take(f, p, &err);
                CHECK(fd >= 0 && err == NULL);
                if (fd < 0) continue;
                CHECK_INTEQ(lseek(fd, 0, SEEK_CUR), 0);
                size_t rn;
                unsigned char *r = rpm_reads(fd, hn, p % 2 ? "xz" : "zstd", sizeof d, &rn);
                CHECK_INTEQ(rn, sizeof d - p);
                CHECK(rn == sizeof d - p && memcmp(r, d, rn) == 0);
                free(r);
                close(fd);
        }
        char *err = NULL;
        CHECK_INTEQ(payload_feeder_take(f, 4, &err), -1);               /* never queued */
        CHECK(err == NULL);
        CHECK_INTEQ(payload_feeder_take(f, 1, &err), -1);               /* taken already */
        payload_feeder_free(f);                                         /* 2 and 3: done or running, not taken */
        payload_feeder_free(NULL);
        for (int p = 0; p < 4; p++) free(paths[p]);
        sh("rm -rf %s", dir);
}

TEST_MAIN(test_round_trip, test_errors, test_feeder)
