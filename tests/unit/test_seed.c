/* test_seed.c — user-data classification, YAML checks and the seed image
 * itself (iso9660 and vfat, label cidata, files readable back). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seed.h"
#include "testutil.h"
#include "util.h"

static char *dir;

static char *put(const char *name, const char *text) {
        char *p = xasprintf("%s/%s", dir, name);
        if (write_file_atomic(p, text, strlen(text), 0644) < 0) abort();
        return p;
}

static const char *type_of(const char *text) {
        const char *why = NULL;
        return seed_user_data_type(text, strlen(text), &why);
}

static void test_user_data_types(void) {
        CHECK_STREQ(type_of("#cloud-config\nruncmd: [ls]\n"), "cloud-config");
        CHECK_STREQ(type_of("#Cloud-Config\n"), "cloud-config");        /* cloud-init lower-cases */
        CHECK_STREQ(type_of("\n  #cloud-config\n"), "cloud-config");    /* and left-strips */
        CHECK_STREQ(type_of("#cloud-config-archive\n- type: text/x-shellscript\n"), "cloud-config-archive");
        CHECK_STREQ(type_of("#!/bin/sh\necho hi\n"), "script");
        CHECK_STREQ(type_of("#include\nhttp://example.com/ud\n"), "include");
        CHECK_STREQ(type_of("#include-once\nhttp://example.com/ud\n"), "include-once");
        CHECK_STREQ(type_of("#cloud-boothook\n#!/bin/sh\n"), "cloud-boothook");
        CHECK_STREQ(type_of("#part-handler\n"), "part-handler");
        CHECK_STREQ(type_of("## template: jinja\n#cloud-config\n"), "jinja");
        CHECK_STREQ(type_of("Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\n"),
                    "mime-multipart");
        CHECK_STREQ(type_of("MIME-Version: 1.0\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n"), "mime");
        const char gz[] = { 0x1f, (char)0x8b, 8, 0, 0 };
        const char *why = NULL;
        CHECK_STREQ(seed_user_data_type(gz, sizeof gz, &why), "gzip");

        /* What cloud-init would silently ignore. */
        why = NULL;
        CHECK(seed_user_data_type("hostname: x\n", 12, &why) == NULL);
        CHECK(why && strstr(why, "#cloud-config"));
        why = NULL;
        CHECK(seed_user_data_type("", 0, &why) == NULL);
        CHECK(why && strstr(why, "empty"));
        why = NULL;
        CHECK(seed_user_data_type("  \n\t\n", 5, &why) == NULL);
        CHECK(why && strstr(why, "empty"));
        why = NULL;
        CHECK(seed_user_data_type("# cloud-config\n", 15, &why) == NULL);      /* the space matters */
        CHECK(seed_user_data_type("cloud-config\n", 13, &why) == NULL);
        CHECK(seed_user_data_type("MIME-Version: 1.0\n\nbody\n", 24, &why) == NULL);
        const char bin[] = { 'x', 0, 'y' };
        why = NULL;
        CHECK(seed_user_data_type(bin, sizeof bin, &why) == NULL);
        CHECK(why && strstr(why, "binary"));
}

static int make(const char *ud, const char *md, const char *nc, const char *vd, seed_fs fs, const char *out,
                char **ret_error) {
        _cleanup_free_ char *u = put("user-data.in", ud);
        _cleanup_free_ char *m = put("meta-data.in", md);
        _cleanup_free_ char *n = nc ? put("network-config.in", nc) : NULL;
        _cleanup_free_ char *v = vd ? put("vendor-data.in", vd) : NULL;
        seed_files f = { u, m, n, v };
        *ret_error = NULL;
        return seed_make(&f, fs, out, ret_error);
}

/* No ".*.tmp.*" left next to the output. */
static int stray_temps(void) {
        _cleanup_free_ char *cmd = xasprintf("ls -A '%s' | grep -c '\\.tmp\\.' >/dev/null", dir);
        return system(cmd) == 0;
}

static char *run_capture(const char *cmd) {
        _cleanup_free_ char *out = xasprintf("%s/cmd.out", dir);
        _cleanup_free_ char *full = xasprintf("%s > '%s' 2>&1", cmd, out);
        if (system(full) != 0) return NULL;
        char *data = NULL;
        if (read_file(out, &data, NULL) < 0) return NULL;
        return data;
}

static void test_refusals(void) {
        _cleanup_free_ char *out = xasprintf("%s/refused.img", dir);
        char *err;
        int r = make("hello world\n", "instance-id: a\n", NULL, NULL, SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "user-data") && strstr(err, "ignore"));
        CHECK(!path_exists(out));
        free(err);

        /* #cloud-config must be YAML, and a mapping. */
        r = make("#cloud-config\nruncmd: [ls,\n", "instance-id: a\n", NULL, NULL, SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "not valid YAML") && strstr(err, "line "));
        CHECK(!path_exists(out));
        free(err);
        r = make("#cloud-config\n- a\n- b\n", "instance-id: a\n", NULL, NULL, SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "mapping") && strstr(err, "list"));
        free(err);

        /* meta-data and network-config: YAML mappings. */
        r = make("#!/bin/sh\n", "just words\n", NULL, NULL, SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "meta-data") && strstr(err, "plain value"));
        free(err);
        r = make("#!/bin/sh\n", "a: [\n", NULL, NULL, SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "meta-data"));
        free(err);
        r = make("#!/bin/sh\n", "instance-id: a\n", "network:\n  version: 2\n  ethernets: {\n", NULL, SEED_FS_VFAT, out,
                 &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "network-config"));
        free(err);
        r = make("#!/bin/sh\n", "instance-id: a\n", NULL, "plain text\n", SEED_FS_VFAT, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "vendor-data"));
        free(err);

        /* Missing file: named. */
        seed_files f = { "/nonexistent/user-data", "/nonexistent/meta-data", NULL, NULL };
        err = NULL;
        r = seed_make(&f, SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, ERR_INPUT);
        CHECK(err && strstr(err, "/nonexistent/user-data"));
        free(err);
        CHECK(!path_exists(out));
        CHECK(!stray_temps());
}

static const char *UD = "#cloud-config\nruncmd:\n  - [ sh, -c, 'echo seed-ok > /dev/ttyS0' ]\n";
static const char *MD = "instance-id: unit-1\nlocal-hostname: unit\n";
static const char *NC = "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n";

static void test_iso(void) {
        _cleanup_free_ char *out = xasprintf("%s/seed.iso", dir);
        char *err;
        /* Empty meta-data is valid (cloud-init uses a default instance-id). */
        int r = make(UD, MD, NC, "#cloud-config\n{}\n", SEED_FS_ISO9660, out, &err);
        CHECK_INTEQ(r, 0);
        if (r) fprintf(stderr, "seed_make: %s\n", err);
        free(err);
        _cleanup_free_ char *cmd = xasprintf("blkid -o value -s LABEL '%s'", out);
        _cleanup_free_ char *label = run_capture(cmd);
        CHECK_STREQ(label, "cidata\n");
        free(cmd);
        cmd = xasprintf("blkid -o value -s TYPE '%s'", out);
        _cleanup_free_ char *type = run_capture(cmd);
        CHECK_STREQ(type, "iso9660\n");
        free(cmd);
        cmd = xasprintf("isoinfo -i '%s' -J -x /user-data", out);
        _cleanup_free_ char *ud = run_capture(cmd);
        CHECK_STREQ(ud, UD);
        free(cmd);
        cmd = xasprintf("isoinfo -i '%s' -R -x /network-config", out);
        _cleanup_free_ char *nc = run_capture(cmd);
        CHECK_STREQ(nc, NC);
        free(cmd);
        cmd = xasprintf("isoinfo -i '%s' -R -f | sort | tr '\\n' ' '", out);
        _cleanup_free_ char *list = run_capture(cmd);
        CHECK_STREQ(list, "/meta-data /network-config /user-data /vendor-data ");
        CHECK(!stray_temps());
}

static void test_vfat(void) {
        _cleanup_free_ char *out = xasprintf("%s/seed.vfat", dir);
        char *err;
        int r = make(UD, "", NULL, NULL, SEED_FS_VFAT, out, &err);
        CHECK_INTEQ(r, 0);
        free(err);
        _cleanup_free_ char *cmd = xasprintf("blkid -o value -s LABEL '%s'", out);
        _cleanup_free_ char *label = run_capture(cmd);
        CHECK_STREQ(label, "cidata\n");
        free(cmd);
        cmd = xasprintf("mtype -i '%s' ::user-data", out);
        _cleanup_free_ char *ud = run_capture(cmd);
        CHECK_STREQ(ud, UD);
        free(cmd);
        cmd = xasprintf("mdir -b -i '%s' :: | sort | tr '\\n' ' '", out);
        _cleanup_free_ char *list = run_capture(cmd);
        CHECK_STREQ(list, "::/meta-data ::/user-data ");
        /* Replacing an existing seed works and stays atomic. */
        r = make("#!/bin/sh\necho two\n", MD, NULL, NULL, SEED_FS_VFAT, out, &err);
        CHECK_INTEQ(r, 0);
        free(err);
        free(cmd);
        cmd = xasprintf("mtype -i '%s' ::user-data", out);
        _cleanup_free_ char *ud2 = run_capture(cmd);
        CHECK_STREQ(ud2, "#!/bin/sh\necho two\n");
        CHECK(!stray_temps());
}

static void setup(void) {
        dir = xstrdup("/tmp/test_seed.XXXXXX");
        if (!mkdtemp(dir)) abort();
}

static void teardown(void) {
        rm_rf(dir);
        free(dir);
}

TEST_MAIN(setup, test_user_data_types, test_refusals, test_iso, test_vfat, teardown)
