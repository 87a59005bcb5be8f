/* Unit tests for imageroot.c (paths inside an image root, users, kernels),
 * configure_kernel_cmdline and sysprep_root on a tiny fake root. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configure.h"
#include "context.h"
#include "disk.h"
#include "imageroot.h"
#include "sysprep.h"
#include "testutil.h"
#include "util.h"

static char *mkroot(void) {
        char tmpl[] = "/tmp/imgbuild-test-root.XXXXXX";
        char *d = mkdtemp(tmpl);
        return d ? xstrdup(d) : NULL;
}

static void put(const char *root, const char *path, const char *content) {
        CHECK(root_write_file(root, path, content, 0644) == 0);
}

static void test_resolve(void) {
        char *root = mkroot();
        _cleanup_free_ char *usrlib = xasprintf("%s/usr/lib", root);
        CHECK(mkdir_p(usrlib, 0755) == 0);
        _cleanup_free_ char *lib = xasprintf("%s/lib", root);
        CHECK(symlink("usr/lib", lib) == 0);
        /* an absolute link must resolve inside the root, never on the host */
        _cleanup_free_ char *rc = xasprintf("%s/etc", root);
        CHECK(mkdir_p(rc, 0755) == 0);
        _cleanup_free_ char *abs = xasprintf("%s/etc/resolv.conf", root);
        CHECK(symlink("/run/systemd/resolve/stub-resolv.conf", abs) == 0);
        _cleanup_free_ char *up = xasprintf("%s/etc/escape", root);
        CHECK(symlink("../../../../../../etc", up) == 0);

        char *p = root_resolve(root, "/lib/modules", true);
        _cleanup_free_ char *want = xasprintf("%s/usr/lib/modules", root);
        CHECK_STREQ(p, want);
        free(p);
        p = root_resolve(root, "/etc/resolv.conf", true);
        _cleanup_free_ char *want2 = xasprintf("%s/run/systemd/resolve/stub-resolv.conf", root);
        CHECK_STREQ(p, want2);
        free(p);
        p = root_resolve(root, "/etc/resolv.conf", false);
        CHECK_STREQ(p, abs);
        free(p);
        p = root_resolve(root, "/etc/escape/passwd", true);
        _cleanup_free_ char *want3 = xasprintf("%s/etc/passwd", root);
        CHECK_STREQ(p, want3);
        free(p);
        /* writing through the image's absolute symlink replaces the link */
        put(root, "/etc/resolv.conf", "nameserver 192.0.2.1\n");
        struct stat st;
        CHECK(lstat(abs, &st) == 0 && S_ISREG(st.st_mode));
        CHECK(access("/run/systemd/resolve/stub-resolv.conf.tmp", F_OK) != 0);
        rm_rf(root);
        free(root);
}

static void test_users_kernels(void) {
        char *root = mkroot();
        put(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1001::/home/alice:/bin/sh\n");
        put(root, "/etc/group", "root:x:0:\nwheel:x:10:alice\nalice:x:1001:\n");
        uid_t u = 99;
        gid_t g = 99;
        char *home = NULL;
        CHECK(root_lookup_user(root, "alice", &u, &g, &home) == 0);
        CHECK_INTEQ(u, 1000);
        CHECK_INTEQ(g, 1001);
        CHECK_STREQ(home, "/home/alice");
        free(home);
        CHECK(root_lookup_user(root, "1000", &u, NULL, NULL) == 0);
        CHECK(root_lookup_user(root, "bob", NULL, NULL, NULL) == -ENOENT);
        CHECK(root_lookup_group(root, "wheel", &g) == 0);
        CHECK_INTEQ(g, 10);
        CHECK(root_lookup_group(root, "nogroup", NULL) == -ENOENT);

        put(root, "/boot/vmlinuz-4.19.91-9.al7.x86_64", "");
        put(root, "/boot/vmlinuz-4.19.91-27.al7.x86_64", "");
        put(root, "/boot/vmlinuz-4.19.91-26.al7.x86_64", "");
        put(root, "/boot/vmlinuz-0-rescue-abc", "");
        put(root, "/boot/.vmlinuz-4.19.91-27.al7.x86_64.hmac", "");
        char **k = root_kernels(root);
        CHECK_INTEQ(strv_length(k), 3);
        if (strv_length(k) == 3) {
                CHECK_STREQ(k[0], "4.19.91-27.al7.x86_64");
                CHECK_STREQ(k[1], "4.19.91-26.al7.x86_64");
                CHECK_STREQ(k[2], "4.19.91-9.al7.x86_64");
        }
        strv_free(k);
        put(root, "/etc/os-release", "NAME=\"Alibaba Cloud Linux (Aliyun Linux)\"\nVERSION=\"2.1903 LTS (Hunting Beagle)\"\n");
        char *v = root_os_release(root, "NAME");
        CHECK_STREQ(v, "Alibaba Cloud Linux (Aliyun Linux)");
        free(v);
        rm_rf(root);
        free(root);
}

static void test_cmdline(void) {
        plan p = { 0 };
        char *cmd[] = { "net.ifnames=0", "biosdevname=0", "console=tty0", NULL };
        p.tuning.cmdline = cmd;
        p.bootloader.append = "console=tty0 console=ttyS0,115200n8 nomodeset";
        p.tuning.cgwb_v1 = true;
        p.tuning.psi = true;
        char *s = configure_kernel_cmdline(&p);
        CHECK_STREQ(s, "net.ifnames=0 biosdevname=0 console=tty0 console=ttyS0,115200n8 nomodeset cgwb_v1 psi=1 psi_v1=1");
        free(s);
        /* kdump on: crashkernel added once; off: removed even if given */
        p.tuning.cgwb_v1 = p.tuning.psi = false;
        p.bootloader.append = NULL;
        p.tuning.kdump = true;
        s = configure_kernel_cmdline(&p);
        CHECK_STREQ(s, "net.ifnames=0 biosdevname=0 console=tty0 crashkernel=auto console=ttyS0,115200n8");
        free(s);
        p.tuning.kdump_reserve_mb = 256;
        s = configure_kernel_cmdline(&p);
        CHECK(strstr(s, "crashkernel=256M") != NULL);
        free(s);
        p.tuning.kdump = false;
        p.bootloader.append = "crashkernel=auto quiet";
        s = configure_kernel_cmdline(&p);
        CHECK_STREQ(s, "net.ifnames=0 biosdevname=0 console=tty0 quiet console=ttyS0,115200n8");
        free(s);
}

static void test_uuid(void) {
        plan a = { 0 }, b = { 0 };
        a.image_name = b.image_name = "aliyun_2_1903_64_20G_alibase_20240101";
        a.release = "20240101";
        b.release = "20240102";
        char ua[37], ua2[37], ub[37];
        disk_root_fs_uuid(&a, ua);
        disk_root_fs_uuid(&a, ua2);
        disk_root_fs_uuid(&b, ub);
        CHECK_STREQ(ua, ua2);
        CHECK(strcmp(ua, ub) != 0);
        CHECK_INTEQ(strlen(ua), 36);
        CHECK(ua[14] == '4');
}

static void test_sysprep(void) {
        char *root = mkroot();
        put(root, "/etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        put(root, "/etc/ssh/ssh_host_rsa_key", "k");
        put(root, "/etc/ssh/ssh_host_rsa_key.pub", "k");
        put(root, "/etc/ssh/sshd_config", "PermitRootLogin no\n");
        put(root, "/etc/hostname", "buildhost.example\n");
        put(root, "/var/log/yum.log", "installed x\n");
        put(root, "/var/log/messages-20240101", "old\n");
        put(root, "/var/lib/rpm/__db.001", "x");
        put(root, "/var/lib/rpm/Packages", "keep");
        put(root, "/var/lib/systemd/random-seed", "seed");
        put(root, "/var/lib/cloud/instance/boot-finished", "x");
        put(root, "/tmp/junk", "x");
        _cleanup_free_ char *rc = xasprintf("%s/etc/resolv.conf", root);
        CHECK(symlink("/etc/hostname", rc) == 0);   /* must not touch the host's */
        build_ctx *ctx = NULL;
        CHECK(ctx_new(NULL, false, &ctx) == 0);
        plan p = { 0 };
        CHECK(sysprep_root(ctx, &p, root) == 0);
        char *data = NULL;
        size_t len = 99;
        _cleanup_free_ char *mid = xasprintf("%s/etc/machine-id", root);
        CHECK(read_file(mid, &data, &len) == 0 && len == 0);
        free(data);
        CHECK(!root_exists(root, "/etc/ssh/ssh_host_rsa_key"));
        CHECK(!root_exists(root, "/etc/ssh/ssh_host_rsa_key.pub"));
        CHECK(root_exists(root, "/etc/ssh/sshd_config"));
        CHECK(root_read_file(root, "/etc/hostname", &data) == 0);
        CHECK_STREQ(data, "localhost.localdomain\n");
        free(data);
        _cleanup_free_ char *log = xasprintf("%s/var/log/yum.log", root);
        struct stat st;
        CHECK(stat(log, &st) == 0 && st.st_size == 0);
        CHECK(!root_exists(root, "/var/log/messages-20240101"));
        CHECK(!root_exists(root, "/var/lib/rpm/__db.001"));
        CHECK(root_exists(root, "/var/lib/rpm/Packages"));
        CHECK(!root_exists(root, "/var/lib/systemd/random-seed"));
        CHECK(!root_exists(root, "/var/lib/cloud/instance"));
        CHECK(!root_exists(root, "/tmp/junk"));
        CHECK(lstat(rc, &st) == 0 && S_ISLNK(st.st_mode));
        ctx_free(ctx);
        rm_rf(root);
        free(root);
}

TEST_MAIN(test_resolve, test_users_kernels, test_cmdline, test_uuid, test_sysprep)
