/* test_manifest.c — convert + manifest on a small raw disk with a
 * hand-built plan and lock: qemu-img's own view of the outputs (qcow2
 * compat 1.1 with compressed clusters, VHD byte-identical to the raw with
 * the exact virtual size), SHA256SUMS checked by sha256sum, manifest fields
 * against the lock, the SBOM against the SPDX 2.3 rules
 * (tests/integration/spdx23_check.py), atomicity on failure and on SIGINT. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "context.h"
#include "convert.h"
#include "lock.h"
#include "manifest.h"
#include "plan.h"
#include "testutil.h"
#include "util.h"

#define RAW_SIZE (64ull << 20)

static char *dir, *raw;

static json_object *sh_json(const char *fmt, const char *arg) {
        _cleanup_free_ char *out = xasprintf("%s/json.out", dir);
        _cleanup_free_ char *cmd = xasprintf(fmt, arg);
        if (sh("%s > '%s' 2>/dev/null", cmd, out) > 2) return NULL;     /* check exits 2/3 on findings */
        return json_object_from_file(out);
}

static json_object *path_get(json_object *o, const char *a, const char *b, const char *c) {
        const char *keys[] = { a, b, c };
        for (size_t i = 0; i < 3 && keys[i] && o; i++)
                if (!json_object_object_get_ex(o, keys[i], &o)) return NULL;
        return o;
}

static void make_raw(void) {
        raw = xasprintf("%s/disk.raw", dir);
        int fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate(fd, RAW_SIZE) < 0) abort();
        /* An MBR-ish start, 1 MiB of noise, 4 MiB of text, the rest holes. */
        unsigned char noise[1 << 16];
        unsigned x = 12345;
        for (int blk = 0; blk < 16; blk++) {
                for (size_t i = 0; i < sizeof noise; i++) noise[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
                if (pwrite(fd, noise, sizeof noise, (off_t)blk * (off_t)sizeof noise) < 0) abort();
        }
        const char *text = "imgbuild test disk: compressible text line, repeated many times.\n";
        for (off_t off = 8 << 20; off < (12 << 20); off += (off_t)strlen(text))
                if (pwrite(fd, text, strlen(text), off) < 0) abort();
        if (pwrite(fd, "end", 3, (off_t)RAW_SIZE - 512) < 0) abort();
        close(fd);
}

static void plan_init(plan *p, const char *out, char **formats, const char *vhd_type) {
        memset(p, 0, sizeof *p);
        p->profile = "demo";
        p->kickstart = "/src/kickstart/demo.ks";
        p->kickstart_sha256 = "ab12";
        p->release = "20190619";
        p->image_name = "aliyun_2_1903_64_20G_alibase_20190619";
        p->output_dir = (char *)out;
        p->formats = formats;
        p->vhd_type = (char *)vhd_type;
        p->arch = "x86_64";
        p->releasever = "2.1903";
}

static lock *make_lock(void) {
        lock *l = lock_new();
        l->release = xstrdup("20190619");
        l->arch = xstrdup("x86_64");
        static const struct { const char *n; unsigned e; const char *v, *r, *a; } pk[] = {
                { "kernel-headers", 0, "4.19.91", "18.al7", "x86_64" },
                { "bash", 0, "4.2.46", "34.al7", "x86_64" },
                { "kernel", 0, "4.19.91", "18.al7", "x86_64" },
                { "gcc-c++", 0, "4.8.5", "44.al7", "x86_64" },
                { "shadow-utils", 2, "4.6", "5.al7", "x86_64" },
        };
        for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++) {
                lock_package *p = lock_add_package(l);
                p->name = xstrdup(pk[i].n);
                p->epoch = pk[i].e;
                p->version = xstrdup(pk[i].v);
                p->release = xstrdup(pk[i].r);
                p->arch = xstrdup(pk[i].a);
                p->repo_id = xstrdup(i == 2 ? "kernel" : "os");
                p->baseurl = xstrdup(i == 1 ? "https://mirrors.example.com/alinux/2.1903/os/x86_64/" : "file:///srv/repo");
                p->location = xasprintf("Packages/%s-%s-%s.%s.rpm", pk[i].n, pk[i].v, pk[i].r, pk[i].a);
                p->checksum_type = xstrdup(i == 3 ? "sha" : "sha256");
                p->checksum = i == 3 ? xasprintf("%040zx", i + 1) : xasprintf("%064zx", i + 1);
                p->size = 1000 + i;
        }
        lock_add_input(l, "repomd", "os", "cafe");
        lock_add_input(l, "kickstart", "/src/kickstart/demo.ks", "ab12");
        return l;
}

static build_ctx *new_ctx(void) {
        build_ctx *ctx;
        if (ctx_new(dir, false, &ctx) < 0) abort();
        return ctx;
}

static int count_temps(const char *d) {
        return sh("ls -A '%s' | grep -q '\\.tmp\\.'", d) == 0;
}

static void test_detect(void) {
        const char *f = NULL;
        CHECK_INTEQ(image_detect_format(raw, &f), 0);
        CHECK_STREQ(f, "raw");
        CHECK_INTEQ(image_detect_format("/nonexistent.img", &f), -ENOENT);
        _cleanup_free_ char *tiny = xasprintf("%s/tiny", dir);
        write_file_atomic(tiny, "x", 1, 0644);
        CHECK_INTEQ(image_detect_format(tiny, &f), ERR_BAD_IMAGE);
        CHECK_INTEQ(image_detect_format(dir, &f), ERR_BAD_IMAGE);
        CHECK_STREQ(convert_format_ext("vhd"), "vhd");
        CHECK_STREQ(convert_format_ext("vpc"), "vhd");
        CHECK(convert_format_ext("vmdk") == NULL);
}

static void test_convert_and_manifest(void) {
        _cleanup_free_ char *out = xasprintf("%s/images", dir);
        char *formats[] = { "qcow2", "vhd", "raw", NULL };
        plan p;
        plan_init(&p, out, formats, NULL);
        build_ctx *ctx = new_ctx();
        ctx_stage_begin(ctx, "install");
        ctx_stage_begin(ctx, "convert");
        char **outputs = NULL;
        int r = convert_images(ctx, &p, raw, &outputs);
        CHECK_INTEQ(r, 0);
        if (r) {
                ctx_free(ctx);
                return;
        }
        CHECK_INTEQ(strv_length(outputs), 3);
        _cleanup_free_ char *q = xasprintf("%s/%s.qcow2", out, p.image_name);
        _cleanup_free_ char *v = xasprintf("%s/%s.vhd", out, p.image_name);
        _cleanup_free_ char *rw = xasprintf("%s/%s.raw", out, p.image_name);
        CHECK_STREQ(outputs[0], q);
        CHECK_STREQ(outputs[1], v);
        CHECK_STREQ(outputs[2], rw);
        CHECK(!count_temps(out));
        _cleanup_free_ char *logp = xasprintf("%s/convert.log", ctx->work_dir);
        _cleanup_free_ char *logt = NULL;
        CHECK(read_file(logp, &logt, NULL) == 0 && strstr(logt, "$ qemu-img convert -p"));

        /* qcow2: compat 1.1, zlib, clean, compressed clusters present. */
        json_object *info = sh_json("qemu-img info --output=json -f qcow2 '%s'", q);
        CHECK_STREQ(json_object_get_string(path_get(info, "format-specific", "data", "compat")), "1.1");
        CHECK_STREQ(json_object_get_string(path_get(info, "format-specific", "data", "compression-type")), "zlib");
        CHECK_INTEQ(json_object_get_int64(path_get(info, "virtual-size", NULL, NULL)), RAW_SIZE);
        json_object_put(info);
        json_object *chk = sh_json("qemu-img check --output=json -f qcow2 '%s'", q);
        CHECK(chk != NULL);
        CHECK_INTEQ(json_object_get_int64(path_get(chk, "check-errors", NULL, NULL)), 0);
        CHECK(json_object_get_int64(path_get(chk, "compressed-clusters", NULL, NULL)) > 0);
        CHECK(path_get(chk, "corruptions", NULL, NULL) == NULL);
        json_object_put(chk);
        CHECK_INTEQ(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, q), 0);

        /* VHD: exact size, same bytes through the vpc driver. */
        const char *f = NULL;
        CHECK_INTEQ(image_detect_format(v, &f), 0);
        CHECK_STREQ(f, "vpc");
        uint64_t vs = 0;
        CHECK_INTEQ(image_virtual_size(v, "vpc", &vs), 0);
        CHECK_INTEQ(vs, RAW_SIZE);
        CHECK_INTEQ(sh("qemu-img compare -q -f raw -F vpc '%s' '%s'", raw, v), 0);
        CHECK_INTEQ(image_detect_format(q, &f), 0);
        CHECK_STREQ(f, "qcow2");
        CHECK_INTEQ(sh("cmp -s '%s' '%s'", raw, rw), 0);

        /* A comparison that must fail, so the ones above mean something. */
        _cleanup_free_ char *other = xasprintf("%s/other.raw", dir);
        CHECK_INTEQ(sh("cp --sparse=always '%s' '%s' && printf X | dd of='%s' bs=1 seek=4096 conv=notrunc status=none",
                       raw, other, other), 0);
        CHECK(sh("qemu-img compare -q -f raw -F vpc '%s' '%s'", other, v) != 0);

        lock *l = make_lock();
        r = manifest_write(ctx, &p, l, outputs);
        CHECK_INTEQ(r, 0);
        CHECK_INTEQ(sh("cd '%s' && sha256sum --quiet -c SHA256SUMS", out), 0);
        CHECK_INTEQ(sh("test $(wc -l < '%s/SHA256SUMS') -eq 5", out), 0);
        CHECK_INTEQ(sh("grep -q '  %s.manifest.json$' '%s/SHA256SUMS' && grep -q '  %s.spdx.json$' '%s/SHA256SUMS'",
                       p.image_name, out, p.image_name, out), 0);
        /* Tampering is caught. */
        CHECK_INTEQ(sh("cp '%s/SHA256SUMS' '%s/sums.bak' && sed -i '1{s/^0/X/;s/^[1-9a-f]/0/;s/^X/1/}' '%s/SHA256SUMS' && "
                       "cd '%s' && ! sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1; r=$?; mv '%s/sums.bak' '%s/SHA256SUMS'; exit $r",
                       out, dir, out, out, dir, out), 0);

        _cleanup_free_ char *mpath = xasprintf("%s/%s.manifest.json", out, p.image_name);
        json_object *m = json_object_from_file(mpath);
        CHECK(m != NULL);
        CHECK_STREQ(json_object_get_string(path_get(m, "release", NULL, NULL)), "20190619");
        CHECK_STREQ(json_object_get_string(path_get(m, "kernel", "nevra", NULL)), "kernel-4.19.91-18.al7.x86_64");
        json_object *imgs = path_get(m, "images", NULL, NULL);
        CHECK_INTEQ(json_object_array_length(imgs), 3);
        for (size_t i = 0; i < json_object_array_length(imgs); i++) {
                json_object *im = json_object_array_get_idx(imgs, i);
                CHECK_INTEQ(json_object_get_int64(path_get(im, "virtual_size", NULL, NULL)), RAW_SIZE);
                char hex[SHA256_HEX_LEN + 1];
                sha256_file(outputs[i], hex);
                CHECK_STREQ(json_object_get_string(path_get(im, "sha256", NULL, NULL)), hex);
        }
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(imgs, 1), "format", NULL, NULL)), "vhd");
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(imgs, 1), "vhd_type", NULL, NULL)), "dynamic");
        json_object *pk = path_get(m, "packages", NULL, NULL);
        CHECK_INTEQ(json_object_array_length(pk), l->n_packages);
        CHECK_INTEQ(json_object_get_int64(path_get(m, "package_count", NULL, NULL)), l->n_packages);
        for (size_t i = 0; i < l->n_packages && i < json_object_array_length(pk); i++) {
                _cleanup_free_ char *nevra = lock_package_nevra(&l->packages[i]);
                json_object *e = json_object_array_get_idx(pk, i);
                CHECK_STREQ(json_object_get_string(path_get(e, "nevra", NULL, NULL)), nevra);
                CHECK_STREQ(json_object_get_string(path_get(e, "checksum", NULL, NULL)), l->packages[i].checksum);
        }
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(pk, 4), "nevra", NULL, NULL)),
                    "shadow-utils-2:4.6-5.al7.x86_64");
        _cleanup_free_ char *lt = lock_to_json(l);
        char ld[SHA256_HEX_LEN + 1];
        sha256_buf(lt, strlen(lt), ld);
        CHECK_STREQ(json_object_get_string(path_get(m, "inputs", "lock", "sha256")), ld);
        CHECK_STREQ(json_object_get_string(path_get(m, "inputs", "kickstart", "sha256")), "ab12");
        CHECK_INTEQ(json_object_array_length(path_get(m, "inputs", "lock_inputs", NULL)), 2);
        json_object *st = path_get(m, "stages", NULL, NULL);
        CHECK_INTEQ(json_object_array_length(st), 2);
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(st, 0), "name", NULL, NULL)), "install");
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(st, 1), "name", NULL, NULL)), "convert");
        json_object_put(m);

        /* SBOM: SPDX 2.3 rules, and what it lists. */
        _cleanup_free_ char *spath = xasprintf("%s/%s.spdx.json", out, p.image_name);
        CHECK_INTEQ(sh("python3 tests/integration/spdx23_check.py '%s' %zu", spath, l->n_packages), 0);
        json_object *s = json_object_from_file(spath);
        CHECK_STREQ(json_object_get_string(path_get(s, "spdxVersion", NULL, NULL)), "SPDX-2.3");
        json_object *sp = path_get(s, "packages", NULL, NULL);
        CHECK_INTEQ(json_object_array_length(sp), l->n_packages + 1);
        json_object *cxx = json_object_array_get_idx(sp, 4);
        CHECK_STREQ(json_object_get_string(path_get(cxx, "name", NULL, NULL)), "gcc-c++");
        json_object *ref = json_object_array_get_idx(path_get(cxx, "externalRefs", NULL, NULL), 0);
        CHECK_STREQ(json_object_get_string(path_get(ref, "referenceLocator", NULL, NULL)),
                    "pkg:rpm/gcc-c%2B%2B@4.8.5-44.al7?arch=x86_64");
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(path_get(cxx, "checksums", NULL, NULL), 0),
                                                    "algorithm", NULL, NULL)), "SHA1");
        json_object *shadow = json_object_array_get_idx(sp, 5);
        CHECK_STREQ(json_object_get_string(path_get(shadow, "versionInfo", NULL, NULL)), "2:4.6-5.al7");
        ref = json_object_array_get_idx(path_get(shadow, "externalRefs", NULL, NULL), 0);
        CHECK_STREQ(json_object_get_string(path_get(ref, "referenceLocator", NULL, NULL)),
                    "pkg:rpm/shadow-utils@4.6-5.al7?arch=x86_64&epoch=2");
        json_object *bash = json_object_array_get_idx(sp, 2);
        CHECK_STREQ(json_object_get_string(path_get(bash, "downloadLocation", NULL, NULL)),
                    "https://mirrors.example.com/alinux/2.1903/os/x86_64/Packages/bash-4.2.46-34.al7.x86_64.rpm");
        CHECK_STREQ(json_object_get_string(path_get(json_object_array_get_idx(sp, 1), "downloadLocation", NULL, NULL)),
                    "NOASSERTION");
        json_object_put(s);

        /* A broken SBOM must be caught by the checker. */
        CHECK_INTEQ(sh("sed 's/\"SPDX-2.3\"/\"SPDX-2.2\"/' '%s' > '%s/bad.spdx.json' && "
                       "! python3 tests/integration/spdx23_check.py '%s/bad.spdx.json' >/dev/null 2>&1",
                       spath, dir, dir), 0);
        CHECK_INTEQ(sh("sed 's/\"relationshipType\": \"CONTAINS\"/\"relationshipType\": \"HOLDS\"/' '%s' > '%s/bad.spdx.json' && "
                       "! python3 tests/integration/spdx23_check.py '%s/bad.spdx.json' >/dev/null 2>&1",
                       spath, dir, dir), 0);

        /* Committed: freeing the context keeps everything. */
        ctx_free(ctx);
        CHECK(path_exists(q) && path_exists(v) && path_exists(rw));
        lock_free(l);
        strv_free(outputs);
        sh("rm -rf '%s'", out);
}

static void test_fixed_vhd_and_uncommitted(void) {
        _cleanup_free_ char *out = xasprintf("%s/fixed", dir);
        char *formats[] = { "vhd", "vhd", NULL };
        plan p;
        plan_init(&p, out, formats, "fixed");
        build_ctx *ctx = new_ctx();
        char **outputs = NULL;
        int r = convert_images(ctx, &p, raw, &outputs);
        CHECK_INTEQ(r, 0);
        CHECK_INTEQ(strv_length(outputs), 1);
        const char *v = outputs ? outputs[0] : "";
        struct stat st;
        CHECK(stat(v, &st) == 0 && (uint64_t)st.st_size == RAW_SIZE + 512);   /* data + footer */
        const char *f = NULL;
        CHECK_INTEQ(image_detect_format(v, &f), 0);
        CHECK_STREQ(f, "vpc");
        uint64_t vs = 0;
        CHECK_INTEQ(image_virtual_size(v, NULL, &vs), 0);
        CHECK_INTEQ(vs, RAW_SIZE);
        CHECK_INTEQ(sh("qemu-img compare -q -f raw -F vpc '%s' '%s'", raw, v), 0);
        /* Not committed by manifest_write: a failed build leaves nothing. */
        _cleanup_free_ char *vcopy = xstrdup(v);
        ctx_free(ctx);
        CHECK(!path_exists(vcopy));
        strv_free(outputs);
}

/* A qemu-img that writes half a file and fails, or hangs. */
static char *fake_bin;
static void fake_qemu_img(const char *body) {
        free(fake_bin);
        fake_bin = xasprintf("%s/fakebin", dir);
        mkdir_p(fake_bin, 0755);
        _cleanup_free_ char *path = xasprintf("%s/qemu-img", fake_bin);
        _cleanup_free_ char *script = xasprintf("#!/bin/sh\nfor a; do last=$a; done\n%s\n", body);
        write_file_atomic(path, script, strlen(script), 0755);
}

static void test_failure_leaves_nothing(void) {
        _cleanup_free_ char *out = xasprintf("%s/failed", dir);
        char *formats[] = { "vhd", "qcow2", NULL };
        plan p;
        plan_init(&p, out, formats, NULL);

        /* Not a whole number of sectors. */
        _cleanup_free_ char *odd = xasprintf("%s/odd.raw", dir);
        write_file_atomic(odd, "abc", 3, 0644);
        build_ctx *ctx = new_ctx();
        char **outputs = NULL;
        CHECK_INTEQ(convert_images(ctx, &p, odd, &outputs), ERR_IMAGE);
        char *bad[] = { "vmdk", NULL };
        p.formats = bad;
        CHECK_INTEQ(convert_images(ctx, &p, raw, &outputs), ERR_INPUT);
        p.formats = formats;

        /* qemu-img fails on the second format after the first succeeded. */
        fake_qemu_img("case \"$*\" in *qcow2*) echo partial > \"$last\"; echo 'qemu-img: No space left on device' >&2; "
                      "exit 1;; esac\nexec /usr/bin/qemu-img \"$@\"");
        const char *old = getenv("PATH");
        _cleanup_free_ char *oldpath = xstrdup(old);
        _cleanup_free_ char *np = xasprintf("%s:%s", fake_bin, old);
        setenv("PATH", np, 1);
        CHECK_INTEQ(convert_images(ctx, &p, raw, &outputs), ERR_IMAGE);
        setenv("PATH", oldpath, 1);
        CHECK_INTEQ(sh("test -z \"$(ls -A '%s')\"", out), 0);
        CHECK(outputs == NULL);
        ctx_free(ctx);
}

static void on_alarm(int sig) {
        (void)sig;
        raise(SIGINT);
}

/* Last: the interrupt flag stays set for the rest of the process. */
static void test_sigint(void) {
        _cleanup_free_ char *out = xasprintf("%s/interrupted", dir);
        char *formats[] = { "qcow2", NULL };
        plan p;
        plan_init(&p, out, formats, NULL);
        fake_qemu_img("echo partial > \"$last\"; exec sleep 31.5");
        _cleanup_free_ char *oldpath = xstrdup(getenv("PATH"));
        _cleanup_free_ char *np = xasprintf("%s:%s", fake_bin, oldpath);
        setenv("PATH", np, 1);
        interrupt_install_handlers();
        signal(SIGALRM, on_alarm);
        build_ctx *ctx = new_ctx();
        char **outputs = NULL;
        double t0 = now_seconds();
        alarm(1);
        int r = convert_images(ctx, &p, raw, &outputs);
        double took = now_seconds() - t0;
        setenv("PATH", oldpath, 1);
        CHECK_INTEQ(r, ERR_INTERRUPTED);
        CHECK(took < 10);                       /* the child was killed, not waited for */
        CHECK_INTEQ(sh("test -z \"$(ls -A '%s')\"", out), 0);
        CHECK_INTEQ(sh("! pgrep -fx 'sleep 31.5' >/dev/null"), 0);
        ctx_free(ctx);
}

static void setup(void) {
        dir = xstrdup("/var/tmp/test_manifest.XXXXXX");
        if (!mkdtemp(dir)) abort();
        make_raw();
}

static void test_kernel_and_timestamp(void) {
        lock *l = make_lock();
        const lock_package *k = manifest_find_kernel(l);
        CHECK(k && !strcmp(k->name, "kernel"));
        free(l->packages[2].name);
        l->packages[2].name = xstrdup("linux-image-6.1.0-18-amd64");
        k = manifest_find_kernel(l);
        CHECK(k && !strcmp(k->name, "linux-image-6.1.0-18-amd64"));     /* kernel-headers skipped */
        lock_free(l);
        setenv("SOURCE_DATE_EPOCH", "1560902400", 1);
        char ts[32];
        manifest_timestamp(ts, sizeof ts);
        CHECK_STREQ(ts, "2019-06-19T00:00:00Z");
        unsetenv("SOURCE_DATE_EPOCH");
}

static void teardown(void) {
        rm_rf(dir);
        free(dir);
        free(raw);
        free(fake_bin);
}

TEST_MAIN(setup, test_detect, test_kernel_and_timestamp, test_convert_and_manifest, test_fixed_vhd_and_uncommitted,
          test_failure_leaves_nothing, test_sigint, teardown)
