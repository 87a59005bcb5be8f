/* test_plan.c — plan_load(): the aliyun2 plan, options (--mirror,
 * --repo-url, --set, --disk-size, --release), partition layout, kernel-config
 * switches, overlay checks, and errors found before any build starts. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kickstart.h"
#include "options.h"
#include "realdata.h"
#include "testutil.h"
#include "util.h"

static char tmpdir[] = "/tmp/imgbuild-test-plan.XXXXXX";

static plan_options base(void) {
        return (plan_options){ .command = "build", .release = "20240101", .datadir = test_topdir(), .dry_run = true };
}

static plan *load(plan_options *o, char **err) {
        plan *p = NULL;
        char **w = NULL;
        *err = NULL;
        if (plan_load(o, &p, &w, err) < 0) p = NULL;
        strv_free(w);
        return p;
}

static void expect_error(plan_options *o, const char *want) {
        char *err;
        plan *p = load(o, &err);
        CHECK(p == NULL);
        test_checks++;
        if (!err || !strstr(err, want)) {
                test_failures++;
                fprintf(stderr, "expected an error with \"%s\", got \"%s\"\n", want, err ? err : "(none)");
        }
        plan_free(p);
        free(err);
}

static char *put(const char *name, const char *text) {
        char *p = xasprintf("%s/%s", tmpdir, name);
        CHECK_INTEQ(write_file_atomic(p, text, strlen(text), 0644), 0);
        return p;
}

static void test_aliyun2(void) {
        plan_options o = base();
        char *err;
        plan *p = load(&o, &err);
        if (!p) {
                fprintf(stderr, "%s\n", err);
                free(err);
                CHECK(0);
                return;
        }
        CHECK_STREQ(p->image_name, "aliyun_2_1903_64_20G_alibase_20240101");
        CHECK(strstr(p->image_id, "image_name=\"aliyun_2_1903_64_20G_alibase_20240101\"\n") != NULL);
        CHECK(strstr(p->image_id, "release_date=\"20240101\"") != NULL);
        CHECK_INTEQ(p->disk_size_bytes, 20ull << 30);
        CHECK_STREQ(p->releasever, "2.1903");
        CHECK_STREQ(p->rpmdb_format, "bdb");
        CHECK_INTEQ(p->n_partitions, 1);
        CHECK_INTEQ(p->partitions[0].start_mib, 1);
        CHECK_INTEQ(p->partitions[0].final_size_mib, 20 * 1024 - 1);
        CHECK_STREQ(p->partitions[0].fstype, "ext4");
        CHECK_INTEQ(p->n_repos, 5);
        CHECK_STREQ(p->repos[0].baseurls[0], "https://mirrors.aliyun.com/alinux/2.1903/os/x86_64/");
        CHECK_STREQ(p->repos[4].id, "cloud-kernel");
        CHECK(strv_contains(p->repos[4].includes, "kernel"));
        CHECK(strv_contains(p->packages.implicit, "grub2"));
        CHECK(strv_contains(p->packages.implicit, "kernel"));
        CHECK(p->packages.n_groups == 1 && !strcmp(p->packages.groups[0].id, "core"));
        CHECK(strv_contains(p->packages.excludes, "NetworkManager*"));
        CHECK_STREQ(p->system.selinux, "disabled");
        CHECK(!p->system.firewall_enabled);
        CHECK(p->system.rootpw_lock && !p->system.rootpw);
        CHECK(strv_contains(p->system.services_enabled, "network"));
        CHECK(strv_contains(p->system.services_enabled, "sshd"));
        CHECK(strv_contains(p->system.services_enabled, "kdump"));
        CHECK(p->tuning.kdump);
        CHECK_STREQ(p->tuning.cmdline[0], "crashkernel=0M-2G:0M,2G-8G:192M,8G-:256M");
        CHECK(strv_contains(p->tuning.cmdline, "cryptomgr.notests"));
        CHECK(strv_contains(p->tuning.cmdline, "cgroup.memory=nokmem"));
        CHECK(strv_contains(p->tuning.cmdline, "rcupdate.rcu_cpu_stall_timeout=300"));
        CHECK(!strv_contains(p->tuning.cmdline, "cgwb_v1"));
        CHECK(strv_contains(p->tuning.initramfs_drivers, "virtio_blk"));
        CHECK(strv_contains(p->tuning.initramfs_drivers, "ext4"));
        CHECK(p->tuning.sysctl_files && str_endswith(p->tuning.sysctl_files[0], "/50-aliyun.conf"));
        CHECK(p->n_overlays == 1 && str_endswith(p->overlays[0].dir, "/overlays/aliyun2"));
        CHECK(p->n_posts == 1 && p->posts[0].erroronfail);
        CHECK(strv_contains(p->formats, "qcow2") && strv_contains(p->formats, "vhd"));
        CHECK_INTEQ(strlen(p->kickstart_sha256), 64);
        CHECK(p->check && p->dry_run);
        plan_free(p);
}

static void test_options(void) {
        plan_options o = base();
        char *err;
        o.disk_size = "40G";
        o.mirror = "file:///srv/mirror/";
        strv_push(&o.repo_urls, xstrdup("cloud-kernel=file:///srv/kernel"));
        strv_push(&o.disable_repos, xstrdup("plus"));
        strv_push(&o.sets, xstrdup("cgwb_v1=on"));
        strv_push(&o.sets, xstrdup("psi=on"));
        strv_push(&o.sets, xstrdup("tcp_tw_timeout=600"));
        strv_push(&o.sets, xstrdup("kdump=off"));
        o.formats = "raw,qcow2,raw";
        plan *p = load(&o, &err);
        if (!p) fprintf(stderr, "%s\n", err), free(err);
        CHECK(p != NULL);
        if (p) {
                CHECK_STREQ(p->image_name, "aliyun_2_1903_64_40G_alibase_20240101");
                CHECK_INTEQ(p->partitions[0].final_size_mib, 40 * 1024 - 1);
                CHECK_STREQ(p->repos[0].baseurls[0], "file:///srv/mirror/alinux/2.1903/os/x86_64/");
                CHECK_STREQ(p->repos[0].gpgkeys[0], "file:///srv/mirror/alinux/RPM-GPG-KEY-ALIYUN");
                CHECK_STREQ(p->repos[4].baseurls[0], "file:///srv/kernel");
                CHECK(!p->repos[3].enabled);
                CHECK(strv_contains(p->tuning.cmdline, "cgwb_v1"));
                CHECK(strv_contains(p->tuning.cmdline, "psi=1") && strv_contains(p->tuning.cmdline, "psi_v1=1"));
                CHECK_INTEQ(p->tuning.tcp_tw_timeout, 600);
                CHECK(!p->tuning.kdump && !p->tuning.crashkernel);
                CHECK(!strv_contains(p->tuning.cmdline, "crashkernel=0M-2G:0M,2G-8G:192M,8G-:256M"));
                CHECK(strv_contains(p->system.services_disabled, "kdump"));
                CHECK(!strv_contains(p->system.services_enabled, "kdump"));
                CHECK_INTEQ(strv_length(p->formats), 2);
        }
        plan_free(p);
        plan_options_clear(&o);
}

static void test_errors(void) {
        plan_options o = base();
        o.release = "20230229";
        expect_error(&o, "--release 20230229: not a real date");
        o = base();
        o.release = "20240229";         /* a leap day is real */
        char *err;
        plan *p = load(&o, &err);
        CHECK(p != NULL);
        plan_free(p);
        free(err);
        o = base();
        strv_push(&o.sets, xstrdup("tcp_tw_timeout=601"));
        expect_error(&o, "--set tcp_tw_timeout: '601' is out of range");
        plan_options_clear(&o);
        o = base();
        strv_push(&o.sets, xstrdup("turbo=on"));
        expect_error(&o, "unknown switch 'turbo'");
        plan_options_clear(&o);
        o = base();
        strv_push(&o.repo_urls, xstrdup("nosuch=http://x/"));
        expect_error(&o, "--repo-url: unknown repo 'nosuch'");
        plan_options_clear(&o);
        o = base();
        strv_push(&o.disable_repos, xstrdup("nosuch"));
        expect_error(&o, "--disable-repo: unknown repo 'nosuch'");
        plan_options_clear(&o);
        o = base();
        o.profile = "nosuch";
        expect_error(&o, "--profile nosuch: unknown profile");
        o = base();
        o.disk_size = "1G";
        expect_error(&o, "aliyun2.ks:35: the partitions need 2049 MiB but the disk is 1024 MiB");
        o = base();
        o.kernel_rpm = "/nonexistent/kernel.rpm";
        expect_error(&o, "--kernel-rpm /nonexistent/kernel.rpm");

        CHECK(mkdtemp(tmpdir) != NULL);
        o = base();
        o.kickstart = put("two.ks", "part / --size=4096\npart /boot --size=512\npart / --size=4096\n%packages\n@core\n%end\n");
        expect_error(&o, "two.ks:3: a second root partition: / is already defined at");
        free((char *)o.kickstart);
        o.kickstart = put("small.ks", "part / --size=1000\n%packages\n@core\n%end\n");
        expect_error(&o, "small.ks:1: the root partition (1000 MiB) cannot hold");
        free((char *)o.kickstart);
        o.kickstart = put("noroot.ks", "part /boot --size=1000\n%packages\n@core\n%end\n");
        expect_error(&o, "no root partition");
        free((char *)o.kickstart);
        o.kickstart = put("nopkgs.ks", "part / --size=3000\n");
        expect_error(&o, "nopkgs.ks: no %packages section");
        free((char *)o.kickstart);
        o.kickstart = put("big.ks", "part / --size=30000\n%packages\n@core\n%end\n");
        o.disk_size = "20G";
        expect_error(&o, "the partitions need 30001 MiB but the disk is 20480 MiB");
        free((char *)o.kickstart);
        /* without --disk-size the disk grows to the partitions, in whole GiB */
        o = base();
        o.kickstart = put("big.ks", "part / --size=30000\n%packages\n@core\n%end\n");
        p = load(&o, &err);
        CHECK(p && !strcmp(p->image_name, "aliyun_2_1903_64_30G_alibase_20240101"));
        plan_free(p);
        free(err);
        free((char *)o.kickstart);

        /* overlays: a datadir whose overlay escapes the root */
        char *dd = xasprintf("%s/data", tmpdir);
        mkdir(dd, 0755);
        const char *links[] = { "kickstart", "repos", "kernel-config", NULL };
        for (size_t i = 0; links[i]; i++) {
                char *src = xasprintf("%s/%s", test_topdir(), links[i]), *dst = xasprintf("%s/%s", dd, links[i]);
                CHECK_INTEQ(symlink(src, dst), 0);
                free(src);
                free(dst);
        }
        o = base();
        o.datadir = dd;
        expect_error(&o, "overlays/aliyun2: overlay directory missing");
        char *ov = xasprintf("%s/overlays/aliyun2/etc", dd);
        CHECK_INTEQ(mkdir_p(ov, 0755), 0);
        char *ln = xasprintf("%s/shadow", ov);
        CHECK_INTEQ(symlink("../../../../etc/shadow", ln), 0);
        expect_error(&o, "etc/shadow: symlink to '../../../../etc/shadow' escapes the image root");
        unlink(ln);
        CHECK_INTEQ(symlink("/usr/share/zoneinfo/UTC", ln), 0);     /* absolute: fine, resolved in the image */
        free(put("data/overlays/aliyun2.manifest", "/etc/shadow root root 0640\n/etc/../../x root root 0644\n"));
        expect_error(&o, "aliyun2.manifest:2: '/etc/../../x' escapes the image root");
        free(put("data/overlays/aliyun2.manifest", "/etc/nothere root root 0644\n"));
        expect_error(&o, "aliyun2.manifest:1: /etc/nothere is not in the overlay tree");
        free(put("data/overlays/aliyun2.manifest", "/etc/shadow root root 0999\n"));
        expect_error(&o, "aliyun2.manifest:1: bad mode '0999'");
        free(put("data/overlays/aliyun2.manifest", "/etc root root 0755\n/etc/shadow - shadow 0640\n"));
        p = load(&o, &err);
        if (!p) fprintf(stderr, "%s\n", err);
        CHECK(p && p->overlays[0].n_entries == 2 && p->overlays[0].entries[1].mode == 0640 &&
              !p->overlays[0].entries[1].owner && !strcmp(p->overlays[0].entries[1].group, "shadow"));
        plan_free(p);
        free(err);
        free(ln);
        free(ov);
        free(dd);
        rm_rf(tmpdir);
}

static void test_hvm_on_aliyun2(void) {
        const char *rd = test_realdata();
        if (!rd) return;
        plan_options o = base();
        char *ks = xasprintf("%s/centos-sig-cloud-instance-build/CentOS-7-x86_64-hvm.ks", rd), *err;
        o.kickstart = ks;
        plan *p = load(&o, &err);
        if (!p) fprintf(stderr, "%s\n", err), free(err);
        CHECK(p != NULL);
        if (p) {
                CHECK_STREQ(p->partitions[0].fstype, "xfs");
                CHECK(strv_contains(p->tuning.initramfs_drivers, "xfs"));
                CHECK(!p->tuning.kdump);                /* services --disabled="kdump" */
                CHECK(!strv_contains(p->tuning.cmdline, "crashkernel=0M-2G:0M,2G-8G:192M,8G-:256M"));
                CHECK(strv_contains(p->tuning.cmdline, "console=tty0"));
                /* the kickstart's repos join the profile's: anaconda, os, updates (replaces), extras (replaces) */
                CHECK_INTEQ(p->n_repos, 7);
        }
        plan_free(p);
        free(ks);
}

/* Tuning variables: accepted values pass, anything else is an error that
 * names the variable and the value; env_number reads the accepted numbers
 * and falls back on anything else. */
static void test_env_check(void) {
        static const struct { const char *name, *value; bool ok; } cases[] = {
                { "IMGBUILD_QCOW2_LEVEL", "6", true },     { "IMGBUILD_QCOW2_LEVEL", "0", false },
                { "IMGBUILD_QCOW2_LEVEL", "fast", false }, { "IMGBUILD_QCOW2_LEVEL", "10", false },
                { "IMGBUILD_FETCH_JOBS", "16", true },     { "IMGBUILD_FETCH_JOBS", "0", false },
                { "IMGBUILD_FETCH_JOBS", "8x", false },    { "IMGBUILD_CONNECT_TIMEOUT", "30", true },
                { "IMGBUILD_CONNECT_TIMEOUT", "-1", false }, { "IMGBUILD_CLUSTER_CACHE_MB", "0", true },
                { "IMGBUILD_CLUSTER_CACHE_MB", "1G", false }, { "IMGBUILD_SCRATCH", "disk", true },
                { "IMGBUILD_SCRATCH", "ram", false },      { "IMGBUILD_CONVERT", "qemu-img", true },
                { "IMGBUILD_CONVERT", "qemu", false },     { "IMGBUILD_ROOTCACHE", "off", true },
                { "IMGBUILD_ROOTCACHE", "copy", true },    { "IMGBUILD_ROOTCACHE", "maybe", false },
                { "IMGBUILD_PROGRESS", "json", true },     { "IMGBUILD_PROGRESS", "xml", false },
        };
        CHECK_INTEQ(env_check(), 0);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                setenv(cases[i].name, cases[i].value, 1);
                int saved = stderr_capture_start();
                int r = env_check();
                char *log = stderr_capture_end(saved);
                /* env_number: the value env_check accepts, else the fallback */
                bool numeric = strstr("IMGBUILD_QCOW2_LEVEL IMGBUILD_FETCH_JOBS IMGBUILD_CONNECT_TIMEOUT "
                                      "IMGBUILD_CLUSTER_CACHE_MB", cases[i].name) != NULL;
                long long want_n = numeric && cases[i].ok ? strtoll(cases[i].value, NULL, 10) : -7;
                CHECK(env_number(cases[i].name, -7) == want_n);
                unsetenv(cases[i].name);
                CHECK(env_number(cases[i].name, -7) == -7);
                if (cases[i].ok) {
                        CHECK_INTEQ(r, 0);
                        CHECK_STREQ(log, "");
                } else {
                        CHECK_INTEQ(r, ERR_INPUT);
                        char *want = xasprintf("%s=\"%s\" is not understood", cases[i].name, cases[i].value);
                        CHECK(strstr(log, want) != NULL);
                        free(want);
                }
                free(log);
        }
}

TEST_MAIN(test_aliyun2, test_options, test_errors, test_hvm_on_aliyun2, test_env_check)
