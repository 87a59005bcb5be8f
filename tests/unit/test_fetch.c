/* test_fetch.c — cache naming, size/checksum verification, keyring loading,
 * and a whole fetch_packages run over file:// and a missing package. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "fetch.h"
#include "testutil.h"
#include "util.h"

static char *tmpdir(void) {
        char *d = xstrdup("/tmp/test_fetch.XXXXXX");
        return mkdtemp(d);
}

static void test_cache_path(void) {
        lock_package p = { .checksum_type = "SHA256", .checksum = "ABCdef0123" };
        char *s = fetch_cache_path("/c", &p);
        CHECK_STREQ(s, "/c/sha256/abcdef0123.rpm");
        free(s);
        p.checksum = "../../etc/passwd";     /* never a path out of the cache */
        CHECK(fetch_cache_path("/c", &p) == NULL);
        p.checksum = "abcd";
        p.checksum_type = "crc32";
        CHECK(fetch_cache_path("/c", &p) == NULL);
}

static void test_verify(void) {
        char *d = tmpdir();
        char *f = xasprintf("%s/x", d);
        write_file_atomic(f, "hello\n", 6, 0644);
        /* sha256("hello\n") */
        const char *sum = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        char *err = NULL;
        CHECK_INTEQ(fetch_verify_file(f, 6, "sha256", sum, &err), 0);
        CHECK_INTEQ(fetch_verify_file(f, 7, "sha256", sum, &err), ERR_FETCH);
        CHECK(err && strstr(err, "size 6 bytes"));
        free(err);
        err = NULL;
        CHECK_INTEQ(fetch_verify_file(f, 6, "sha256", "00", &err), ERR_FETCH);
        CHECK(err && strstr(err, "checksum mismatch"));
        free(err);
        err = NULL;
        CHECK_INTEQ(fetch_verify_file(f, 6, "sha1", "f572d396fae9206628714fb2ce00f72e94f2258f", &err), 0);
        CHECK_INTEQ(fetch_verify_file(f, 6, "whirlpool", sum, &err), ERR_FETCH);
        free(err);
        err = NULL;
        CHECK(fetch_verify_file("/nonexistent/x", 6, "sha256", sum, &err) < 0);
        rm_rf(d);
        free(f);
        free(d);
}

/* A package's layout: a 96-byte lead, the signature header padded to 8,
 * the header; each header is 16 bytes of intro (magic, il, dl), il index
 * entries of 16 bytes and dl bytes of data. */
static void put_header(unsigned char *at, uint32_t il, uint32_t dl) {
        static const unsigned char magic[8] = { 0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0 };
        memcpy(at, magic, 8);
        for (int k = 0; k < 4; k++) {
                at[8 + k] = (unsigned char)(il >> (24 - 8 * k));
                at[12 + k] = (unsigned char)(dl >> (24 - 8 * k));
        }
}

static void test_header_end(void) {
        unsigned char buf[512] = { 0xed, 0xab, 0xee, 0xdb };
        put_header(buf + 96, 2, 5);             /* 16 + 32 + 5 = 53, padded to 56 */
        put_header(buf + 152, 3, 100);          /* 16 + 48 + 100 */
        CHECK(fetch_rpm_header_end(buf, sizeof buf) == 316);
        CHECK(fetch_rpm_header_end(buf, 316) == 316);
        CHECK(fetch_rpm_header_end(buf, 167) == 0);     /* the header's intro is not in yet */
        CHECK(fetch_rpm_header_end(buf, 100) == 0);
        CHECK(fetch_rpm_header_end(buf, 3) == 0);
        put_header(buf + 96, 2, 8);             /* 56 exactly: no padding */
        CHECK(fetch_rpm_header_end(buf, sizeof buf) == 316);
        buf[152] = 0;                           /* no header magic where it belongs */
        CHECK(fetch_rpm_header_end(buf, sizeof buf) == -1);
        buf[0] = 'P';                           /* not an rpm at all (an HTML error page) */
        CHECK(fetch_rpm_header_end(buf, sizeof buf) == -1);
}

static void test_keyring(void) {
        char *d = tmpdir();
        char *f = xasprintf("%s/k.asc", d);
        write_file_atomic(f, "not a key\n", 10, 0644);
        char *paths[] = { f, NULL };
        struct rpmKeyring_s *kr = NULL;
        char *err = NULL;
        CHECK_INTEQ(fetch_keyring_load(paths, &kr, &err), ERR_FETCH);
        CHECK(err && strstr(err, "no usable OpenPGP public key"));
        CHECK(kr == NULL);
        free(err);
        err = NULL;
        char *none[] = { NULL };
        CHECK_INTEQ(fetch_keyring_load(none, &kr, &err), ERR_FETCH);
        CHECK(err && strstr(err, "names no gpgkey"));
        free(err);
        rm_rf(d);
        free(f);
        free(d);
}

/* fetch_packages over a file:// "repo": read in place, and an error for a
 * package whose file is missing. */
static void test_fetch_file_repo(void) {
        char *d = tmpdir();
        char *f = xasprintf("%s/a.rpm", d);
        write_file_atomic(f, "hello\n", 6, 0644);
        char *cache = xasprintf("%s/cache", d);
        setenv("IMGBUILD_CACHE_DIR", cache, 1);
        build_ctx *ctx = NULL;
        CHECK_INTEQ(ctx_new(d, false, &ctx), 0);
        plan p = { .arch = "x86_64" };
        lock *l = lock_new();
        lock_package *a = lock_add_package(l);
        a->name = xstrdup("a"); a->version = xstrdup("1"); a->release = xstrdup("1"); a->arch = xstrdup("noarch");
        a->repo_id = xstrdup("r"); a->baseurl = xasprintf("file://%s", d); a->location = xstrdup("a.rpm");
        a->checksum_type = xstrdup("sha256");
        a->checksum = xstrdup("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
        a->size = 6;
        char **paths = NULL;
        CHECK_INTEQ(fetch_packages(ctx, &p, l, &paths), 0);
        CHECK(paths && paths[0] && !paths[1]);
        if (paths) CHECK_STREQ(paths[0], f);   /* in place, not copied */
        strv_free(paths);
        paths = NULL;
        free(a->location);
        a->location = xstrdup("missing.rpm");
        CHECK_INTEQ(fetch_packages(ctx, &p, l, &paths), ERR_FETCH);
        CHECK(paths == NULL);
        lock_free(l);
        ctx_free(ctx);
        rm_rf(d);
        free(cache);
        free(f);
        free(d);
}

TEST_MAIN(test_cache_path, test_verify, test_header_end, test_keyring, test_fetch_file_repo)
