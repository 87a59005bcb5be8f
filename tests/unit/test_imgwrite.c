/* test_imgwrite.c — our qcow2/VHD writer on small synthetic raw disks (holes,
 * explicit zero clusters, incompressible random clusters, compressible text,
 * a size that is not a multiple of the cluster or VHD block size), checked
 * from the outside by qemu-img (check, compare, info against qemu-img's own
 * vpc output), plus determinism across thread counts, the cluster cache
 * (miss, hit, corrupt entries, one changed cluster, pruning, two
 * conversions filling it at once), errors and interruption. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "imgwrite.h"
#include "testutil.h"
#include "util.h"

#define CLU 65536ULL

static char *dir;

static void pwrite_at(int fd, const void *p, size_t n, uint64_t off) {
        CHECK_INTEQ(pwrite(fd, p, n, (off_t)off), (long long)n);
}

/* Deterministic pseudo-random bytes (xorshift), incompressible. */
static void random_fill(unsigned char *p, size_t n, uint64_t seed) {
        uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[i] = (unsigned char)(x >> 24);
        }
}

static void text_fill(unsigned char *p, size_t n, unsigned salt) {
        static const char *words[] = { "kernel ", "initramfs ", "cloud-init ", "grub2 ", "virtio ", "ext4 " };
        size_t k = 0;
        for (unsigned i = salt; k < n; i++) {
                const char *w = words[(i * 7 + salt) % 6];
                for (size_t j = 0; w[j] && k < n; j++) p[k++] = (unsigned char)w[j];
        }
}

/* 9 MiB + 1.5 KiB (5 VHD blocks, the last one partial; the last cluster
 * partial):
 *   cluster 0        text            (compressible)
 *   cluster 1        random          (stored as is)
 *   clusters 2-3     explicit zeros  (data extent, skipped)
 *   cluster 5        half text, half hole
 *   2-4 MiB          hole            (an unallocated VHD block)
 *   cluster 70       random
 *   cluster 71       text
 *   last, partial    text up to the end of the disk */
static uint64_t raw_size = 9 * 1048576ULL + 1536;
static const int n_random = 2;

static char *make_raw(const char *name) {
        char *path = xasprintf("%s/%s", dir, name);
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0);
        CHECK_INTEQ(ftruncate(fd, (off_t)raw_size), 0);
        unsigned char *b = xmalloc(CLU);
        text_fill(b, CLU, 1);
        pwrite_at(fd, b, CLU, 0);
        random_fill(b, CLU, 1);
        pwrite_at(fd, b, CLU, CLU);
        memset(b, 0, CLU);
        pwrite_at(fd, b, CLU, 2 * CLU);
        pwrite_at(fd, b, CLU, 3 * CLU);
        text_fill(b, CLU / 2, 2);
        pwrite_at(fd, b, CLU / 2, 5 * CLU);
        random_fill(b, CLU, 2);
        pwrite_at(fd, b, CLU, 70 * CLU);
        text_fill(b, CLU, 3);
        pwrite_at(fd, b, CLU, 71 * CLU);
        uint64_t last = raw_size / CLU * CLU;
        text_fill(b, raw_size - last, 4);
        pwrite_at(fd, b, raw_size - last, last);
        free(b);
        close(fd);
        return path;
}

static bool same_file(const char *a, const char *b) { return sh("cmp -s '%s' '%s'", a, b) == 0; }

/* qemu-img's verdicts on one qcow2 + VHD pair made from raw. */
static void check_outputs(const char *raw, const char *qcow2, const char *vhd, bool fixed) {
        if (qcow2) {
                CHECK_INTEQ(sh("qemu-img check -q -f qcow2 '%s'", qcow2), 0);
                CHECK_INTEQ(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, qcow2), 0);
                CHECK_INTEQ(sh("qemu-img info -f qcow2 '%s' | grep -q '^    compat: 1.1$'", qcow2), 0);
                uint64_t vs = 0;
                CHECK_INTEQ(image_virtual_size(qcow2, "qcow2", &vs), 0);
                CHECK_INTEQ(vs, raw_size);
        }
        if (vhd) {
                CHECK_INTEQ(sh("qemu-img compare -q -f raw -F vpc '%s' '%s'", raw, vhd), 0);
                const char *fmt = NULL;
                CHECK_INTEQ(image_detect_format(vhd, &fmt), 0);
                CHECK_STREQ(fmt, "vpc");
                /* The virtual size qemu reports for qemu-img's own VHD of this
                 * disk (force_size), and for ours. */
                _cleanup_free_ char *ref = xasprintf("%s/ref.vhd", dir);
                CHECK_INTEQ(sh("qemu-img convert -f raw -O vpc -o subformat=%s,force_size=on '%s' '%s'",
                               fixed ? "fixed" : "dynamic", raw, ref), 0);
                uint64_t want = 0, got = 0;
                CHECK_INTEQ(image_virtual_size(ref, "vpc", &want), 0);
                CHECK_INTEQ(image_virtual_size(vhd, "vpc", &got), 0);
                CHECK_INTEQ(got, want);
                CHECK_INTEQ(got, raw_size);
                /* Same header layout as qemu's: the footer fields but
                 * timestamp (24), checksum (64) and UUID (68..83). */
                unsigned char a[512], b[512];
                int fa = open(vhd, O_RDONLY), fb = open(ref, O_RDONLY);
                struct stat sa, sb;
                fstat(fa, &sa);
                fstat(fb, &sb);
                CHECK_INTEQ(pread(fa, a, 512, sa.st_size - 512), 512);
                CHECK_INTEQ(pread(fb, b, 512, sb.st_size - 512), 512);
                memset(a + 24, 0, 4), memset(b + 24, 0, 4);
                memset(a + 64, 0, 20), memset(b + 64, 0, 20);
                CHECK(!memcmp(a, b, 512));
                if (!fixed) {   /* the dynamic header too, checksum apart */
                        unsigned char da[1024], db[1024];
                        CHECK_INTEQ(pread(fa, da, 1024, 512), 1024);
                        CHECK_INTEQ(pread(fb, db, 1024, 512), 1024);
                        memset(da + 36, 0, 4), memset(db + 36, 0, 4);
                        CHECK(!memcmp(da, db, 1024));
                } else {
                        CHECK_INTEQ(sa.st_size, (long long)raw_size + 512);
                }
                close(fa);
                close(fb);
                unlink(ref);
        }
}

static void test_formats(void) {
        _cleanup_free_ char *raw = make_raw("disk.raw");
        _cleanup_free_ char *q = xasprintf("%s/out.qcow2", dir), *vd = xasprintf("%s/out.vhd", dir),
                            *vf = xasprintf("%s/outf.vhd", dir);
        imgwrite_opts o = { .qcow2_path = q, .vhd_path = vd, .threads = 2 };
        imgwrite_stats st;
        char *err = NULL;
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, &err), 0);
        CHECK(err == NULL);
        CHECK_INTEQ(st.virtual_size, raw_size);
        CHECK_INTEQ(st.zero_clusters, 2);
        CHECK_INTEQ(st.data_clusters, 6);
        CHECK_INTEQ(st.uncompressed, n_random);
        CHECK_INTEQ(st.compressed, 4);
        CHECK_INTEQ(st.cache_hits + st.cache_misses, 0);
        check_outputs(raw, q, vd, false);
        /* Only the blocks with data are allocated: blocks 0, 2 (cluster
         * 70-71) and 4 (the tail): 3 of 5. */
        struct stat sb;
        CHECK_INTEQ(stat(vd, &sb), 0);
        CHECK_INTEQ(sb.st_size, 1536 + 512 + 3 * (512 + 2 * 1048576) + 512);
        /* compressed and raw clusters are both there */
        CHECK_INTEQ(sh("qemu-img check --output=json -f qcow2 '%s' | grep -q '\"compressed-clusters\": 4'", q), 0);

        o = (imgwrite_opts){ .vhd_path = vf, .vhd_fixed = true };
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        check_outputs(raw, NULL, vf, true);
        unlink(q), unlink(vd), unlink(vf);
}

/* The same bytes whatever the thread count and timing. */
static void test_deterministic(void) {
        _cleanup_free_ char *raw = make_raw("det.raw");
        setenv("SOURCE_DATE_EPOCH", "1560902400", 1);
        char *q[3], *v[3];
        unsigned threads[3] = { 1, 3, 8 };
        for (int i = 0; i < 3; i++) {
                q[i] = xasprintf("%s/det%d.qcow2", dir, i);
                v[i] = xasprintf("%s/det%d.vhd", dir, i);
                imgwrite_opts o = { .qcow2_path = q[i], .vhd_path = v[i], .threads = threads[i] };
                imgwrite_stats st;
                CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
                CHECK_INTEQ(st.threads, threads[i]);
        }
        for (int i = 1; i < 3; i++) {
                CHECK(same_file(q[0], q[i]));
                CHECK(same_file(v[0], v[i]));
        }
        /* timestamp = SOURCE_DATE_EPOCH - 2000-01-01 */
        unsigned char f[512];
        int fd = open(v[0], O_RDONLY);
        CHECK_INTEQ(pread(fd, f, 512, 0), 512);
        close(fd);
        uint32_t ts = (uint32_t)f[24] << 24 | (uint32_t)f[25] << 16 | (uint32_t)f[26] << 8 | f[27];
        CHECK_INTEQ(ts, 1560902400 - 946684800);
        unsetenv("SOURCE_DATE_EPOCH");
        for (int i = 0; i < 3; i++) unlink(q[i]), unlink(v[i]), free(q[i]), free(v[i]);
}

/* A bigger disk of mostly compressible clusters that compress to 0-40 KiB
 * (so many run into the next host cluster): qemu-img check, compare, and
 * the size against qemu-img convert -c
 * (same zlib parameters: within 1% and two clusters). */
static void test_ratio_vs_qemu(void) {
        _cleanup_free_ char *raw = xasprintf("%s/big.raw", dir), *q = xasprintf("%s/big.qcow2", dir),
                            *ref = xasprintf("%s/big-ref.qcow2", dir);
        int fd = open(raw, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK_INTEQ(ftruncate(fd, 64 << 20), 0);
        unsigned char *b = xmalloc(CLU);
        for (unsigned i = 0; i < 200; i++) {
                /* partly random, so compressed clusters run over host
                 * cluster boundaries */
                text_fill(b, CLU, i);
                random_fill(b, i % 10 == 9 ? CLU : (i * 977) % 40000, i);
                pwrite_at(fd, b, CLU, (uint64_t)i * 3 * CLU);
        }
        /* a run longer than the writer holds back: 70 uncompressible
         * clusters while a host cluster is half packed */
        for (unsigned i = 0; i < 71; i++) {
                if (i < 70) random_fill(b, CLU, 1000 + i);
                else text_fill(b, CLU, i);
                pwrite_at(fd, b, CLU, (uint64_t)(600 + i) * CLU);
        }
        free(b);
        close(fd);
        imgwrite_opts o = { .qcow2_path = q };
        imgwrite_stats st;
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.data_clusters, 271);
        CHECK_INTEQ(st.uncompressed, 90);
        CHECK_INTEQ(sh("qemu-img check -q -f qcow2 '%s'", q), 0);
        CHECK_INTEQ(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, q), 0);
        CHECK_INTEQ(sh("qemu-img convert -c -f raw -O qcow2 -o compat=1.1 '%s' '%s'", raw, ref), 0);
        struct stat a, r;
        CHECK_INTEQ(stat(q, &a), 0);
        CHECK_INTEQ(stat(ref, &r), 0);
        CHECK((double)a.st_size <= (double)r.st_size * 1.01 + 2.0 * CLU);
        unlink(raw), unlink(q), unlink(ref);
}

static size_t count_entries(const char *cache) {
        _cleanup_free_ char *cmd = xasprintf("find '%s' -type f -name '[0-9a-f]*' | wc -l > '%s/count'", cache, dir);
        CHECK_INTEQ(system(cmd), 0);
        _cleanup_free_ char *p = xasprintf("%s/count", dir), *data = NULL;
        if (read_file(p, &data, NULL) < 0) return 0;
        return (size_t)strtoul(data, NULL, 10);
}

static void test_cache(void) {
        _cleanup_free_ char *raw = make_raw("cache.raw");
        _cleanup_free_ char *cache = xasprintf("%s/cache", dir);
        _cleanup_free_ char *q0 = xasprintf("%s/nocache.qcow2", dir), *q = xasprintf("%s/c.qcow2", dir),
                            *v0 = xasprintf("%s/nocache.vhd", dir), *v = xasprintf("%s/c.vhd", dir);
        setenv("SOURCE_DATE_EPOCH", "1560902400", 1);
        imgwrite_opts o = { .qcow2_path = q0, .vhd_path = v0 };
        imgwrite_stats st;
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);

        /* cold: every cluster a miss, one entry each */
        o = (imgwrite_opts){ .qcow2_path = q, .vhd_path = v, .cache_dir = cache };
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_misses, 6);
        CHECK_INTEQ(st.cache_hits, 0);
        CHECK_INTEQ(count_entries(cache), 6);
        CHECK(same_file(q, q0));
        CHECK(same_file(v, v0));

        /* warm: every cluster a hit, the same bytes */
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_hits, 6);
        CHECK_INTEQ(st.cache_misses, 0);
        CHECK(same_file(q, q0));
        CHECK(same_file(v, v0));
        o.cache_verify = true;
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_hits, 6);
        CHECK(same_file(q, q0));
        o.cache_verify = false;

        /* corrupt entries: a flipped data byte, a truncated one, a bad
         * magic, an empty one — each detected, recompressed, replaced */
        CHECK_INTEQ(sh("cd '%s' && ls -S */*/[0-9a-f]* | head -n 4 > '%s/victims'", cache, dir), 0);
        _cleanup_free_ char *vp = xasprintf("%s/victims", dir), *victims = NULL;
        CHECK_INTEQ(read_file(vp, &victims, NULL), 0);
        char *save = NULL, *line = strtok_r(victims, "\n", &save);
        for (int i = 0; line && i < 4; i++, line = strtok_r(NULL, "\n", &save)) {
                _cleanup_free_ char *e = xasprintf("%s/%s", cache, line);
                int fd = open(e, O_RDWR);
                CHECK(fd >= 0);
                struct stat es;
                fstat(fd, &es);
                unsigned char c;
                if (i == 0) {
                        CHECK_INTEQ(pread(fd, &c, 1, es.st_size - 7), 1);
                        c ^= 0x20;
                        pwrite_at(fd, &c, 1, es.st_size - 7);
                } else if (i == 1) {
                        CHECK_INTEQ(ftruncate(fd, es.st_size - 100), 0);
                } else if (i == 2) {
                        pwrite_at(fd, "XXXX", 4, 0);
                } else {
                        CHECK_INTEQ(ftruncate(fd, 0), 0);
                }
                close(fd);
        }
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_bad, 4);
        CHECK_INTEQ(st.cache_hits, 2);
        CHECK(same_file(q, q0));
        check_outputs(raw, q, v, false);
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);       /* repaired */
        CHECK_INTEQ(st.cache_hits, 6);
        CHECK_INTEQ(st.cache_bad, 0);

        /* one changed cluster: one miss */
        int fd = open(raw, O_RDWR);
        pwrite_at(fd, "changed", 7, 71 * CLU + 100);
        close(fd);
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_misses, 1);
        CHECK_INTEQ(st.cache_hits, 5);
        check_outputs(raw, q, v, false);
        CHECK_INTEQ(count_entries(cache), 7);

        /* the bound: pruning keeps the cache under it, newest first */
        int k = imgwrite_cache_prune(cache, 3 * 4096);
        CHECK(k >= 4);
        CHECK(count_entries(cache) <= 3);
        CHECK_INTEQ(imgwrite_images(raw, &o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_hits + st.cache_misses, 6);
        CHECK(st.cache_misses >= 3);
        check_outputs(raw, q, v, false);
        unsetenv("SOURCE_DATE_EPOCH");
        unlink(q0), unlink(q), unlink(v0), unlink(v);
}

typedef struct run_args {
        const char *raw;
        imgwrite_opts o;
        int r;
        imgwrite_stats st;
} run_args;

static void *run_thread(void *arg) {
        run_args *a = arg;
        a->r = imgwrite_images(a->raw, &a->o, &a->st, NULL);
        return NULL;
}

/* Two conversions at once filling one cold cache: both images right and
 * equal, the cache consistent (a third run hits every cluster). */
static void test_cache_concurrent(void) {
        _cleanup_free_ char *raw = make_raw("conc.raw"), *cache = xasprintf("%s/conc-cache", dir);
        setenv("SOURCE_DATE_EPOCH", "1560902400", 1);
        char *q[2], *v[2];
        run_args a[2];
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
                q[i] = xasprintf("%s/conc%d.qcow2", dir, i);
                v[i] = xasprintf("%s/conc%d.vhd", dir, i);
                a[i] = (run_args){ .raw = raw, .o = { .qcow2_path = q[i], .vhd_path = v[i], .cache_dir = cache } };
                CHECK_INTEQ(pthread_create(&t[i], NULL, run_thread, &a[i]), 0);
        }
        for (int i = 0; i < 2; i++) {
                pthread_join(t[i], NULL);
                CHECK_INTEQ(a[i].r, 0);
                CHECK_INTEQ(a[i].st.cache_bad, 0);
        }
        CHECK(same_file(q[0], q[1]));
        CHECK(same_file(v[0], v[1]));
        check_outputs(raw, q[0], v[0], false);
        imgwrite_stats st;
        CHECK_INTEQ(imgwrite_images(raw, &a[0].o, &st, NULL), 0);
        CHECK_INTEQ(st.cache_hits, 6);
        CHECK(same_file(q[0], q[1]));
        CHECK_INTEQ(sh("test -z \"$(find '%s' -name '*.tmp')\"", cache), 0);
        unsetenv("SOURCE_DATE_EPOCH");
        for (int i = 0; i < 2; i++) unlink(q[i]), unlink(v[i]), free(q[i]), free(v[i]);
}

static void test_errors(void) {
        _cleanup_free_ char *q = xasprintf("%s/e.qcow2", dir), *missing = xasprintf("%s/missing.raw", dir),
                            *odd = xasprintf("%s/odd.raw", dir);
        imgwrite_opts o = { .qcow2_path = q };
        char *err = NULL;
        CHECK_INTEQ(imgwrite_images(missing, &o, NULL, &err), -ENOENT);
        CHECK(err && strstr(err, missing));
        free(err);
        err = NULL;
        CHECK_INTEQ(write_file_atomic(odd, "abc", 3, 0644), 0);
        CHECK_INTEQ(imgwrite_images(odd, &o, NULL, &err), -EINVAL);
        CHECK(err && strstr(err, "512"));
        free(err);
        CHECK(!path_exists(q));
        o = (imgwrite_opts){ 0 };
        CHECK_INTEQ(imgwrite_images(odd, &o, NULL, NULL), -EINVAL);
        /* an output directory that does not exist */
        _cleanup_free_ char *raw = make_raw("e.raw"), *bad = xasprintf("%s/nodir/x.qcow2", dir);
        o = (imgwrite_opts){ .qcow2_path = bad };
        err = NULL;
        CHECK_INTEQ(imgwrite_images(raw, &o, NULL, &err), -ENOENT);
        CHECK(err && strstr(err, bad));
        free(err);
}

/* Last: interrupted() stays set for the rest of the process. */
static void test_interrupt(void) {
        _cleanup_free_ char *raw = make_raw("i.raw"), *q = xasprintf("%s/i.qcow2", dir), *v = xasprintf("%s/i.vhd", dir);
        interrupt_raise();
        imgwrite_opts o = { .qcow2_path = q, .vhd_path = v };
        CHECK_INTEQ(imgwrite_images(raw, &o, NULL, NULL), ERR_INTERRUPTED);
        CHECK(!path_exists(q));
        CHECK(!path_exists(v));
}

static void setup(void) {
        dir = xstrdup("/tmp/test-imgwrite.XXXXXX");
        if (!mkdtemp(dir)) abort();
}

static void teardown(void) {
        rm_rf(dir);
        free(dir);
}

TEST_MAIN(setup, test_formats, test_deterministic, test_ratio_vs_qemu, test_cache, test_cache_concurrent, test_errors, test_interrupt,
          teardown)
