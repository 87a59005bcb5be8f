/* test_rootcache.c — the incremental caches: key inputs, store/restore of a
 * small root (modes, symlinks, hardlinks kept; a copy, never a link into the
 * cache), temp-free atomic entries, pruning to the newest N, and what does
 * and does not change the initramfs key. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"
#include "lock.h"
#include "plan.h"
#include "rootcache.h"
#include "testutil.h"
#include "util.h"

static char *tmpdir(void) {
        char *t = xstrdup("/tmp/test-rootcache.XXXXXX");
        if (!mkdtemp(t)) abort();
        return t;
}

static void put(const char *path, const char *content, mode_t mode) {
        CHECK_INTEQ(write_file_atomic(path, content, strlen(content), mode), 0);
}

static lock *two_packages(void) {
        lock *l = lock_new();
        const char *names[] = { "bash", "kernel" };
        for (int i = 0; i < 2; i++) {
                lock_package *p = lock_add_package(l);
                p->name = xstrdup(names[i]);
                p->version = xstrdup("1.0");
                p->release = xstrdup("1");
                p->arch = xstrdup("x86_64");
                p->checksum_type = xstrdup("sha256");
                p->checksum = xasprintf("%064d", i);
                p->size = 100;
        }
        return l;
}

static void test_root_key(void) {
        plan p = { 0 };
        p.arch = "x86_64";
        p.rpmdb_format = "bdb";
        lock *l = two_packages();
        char *k1 = NULL, *k2 = NULL;
        CHECK_INTEQ(rootcache_root_key(&p, l, &k1), 0);
        CHECK_INTEQ(rootcache_root_key(&p, l, &k2), 0);
        CHECK(k1 && strlen(k1) == 64);
        CHECK_STREQ(k2, k1);            /* stable */
#define DIFFERS(change, undo) do { change; char *k = NULL; CHECK_INTEQ(rootcache_root_key(&p, l, &k), 0); \
        CHECK(k && strcmp(k, k1)); free(k); undo; } while (0)
        char *old = l->packages[1].checksum;
        DIFFERS(l->packages[1].checksum = "ff", l->packages[1].checksum = old);
        char *oldv = l->packages[1].version;
        DIFFERS(l->packages[1].version = "2.0", l->packages[1].version = oldv);
        DIFFERS(p.rpmdb_format = "sqlite", p.rpmdb_format = "bdb");
        DIFFERS(p.packages.excludedocs = true, p.packages.excludedocs = false);
        DIFFERS(p.packages.inst_langs = "en", p.packages.inst_langs = NULL);
        DIFFERS(l->n_packages = 1, l->n_packages = 2);
        free(k1);
        free(k2);
        lock_free(l);
}

static build_ctx *ctx_in(const char *cache) {
        build_ctx *ctx = NULL;
        if (ctx_new(NULL, false, &ctx) < 0) abort();
        free(ctx->cache_dir);
        ctx->cache_dir = xstrdup(cache);
        return ctx;
}

/* A small root: modes, a hardlink, a symlink. */
static void make_root(const char *root) {
        char *p, *a, *b;
        CHECK_INTEQ(mkdir_p((p = xasprintf("%s/etc", root)), 0755), 0); free(p);
        put((p = xasprintf("%s/etc/passwd", root)), "root:x:0:0::/root:/bin/sh\n", 0644); free(p);
        put((p = xasprintf("%s/etc/secret", root)), "s\n", 0600); free(p);
        a = xasprintf("%s/etc/passwd", root), b = xasprintf("%s/etc/passwd-link", root);
        CHECK_INTEQ(link(a, b), 0);
        free(a); free(b);
        CHECK_INTEQ(symlink("passwd", (p = xasprintf("%s/etc/sym", root))), 0); free(p);
}

static char *slurp(const char *fmt, const char *dir) {
        char *p = xasprintf(fmt, dir), *data = NULL;
        if (read_file(p, &data, NULL) < 0) data = xstrdup("(unreadable)");
        free(p);
        return data;
}

/* One store/restore/prune round; overlay: the default (roots moved into the
 * cache and mounted back as overlays) or IMGBUILD_ROOTCACHE=copy. */
static void store_restore_prune(bool overlay) {
        if (overlay) unsetenv("IMGBUILD_ROOTCACHE");
        else setenv("IMGBUILD_ROOTCACHE", "copy", 1);
        char *t = tmpdir();
        char *cache = xasprintf("%s/cache", t), *root = xasprintf("%s/root", t);
        char *p, *data;
        make_root(root);

        build_ctx *ctx = ctx_in(cache);
        CHECK_INTEQ(rootcache_root_restore(ctx, "aaaa", root), -ENOENT);   /* miss */
        CHECK_INTEQ(rootcache_root_store(ctx, "aaaa", root), 0);
        /* the stages go on working in root, and their writes stay out of
         * the entry */
        CHECK_STREQ((data = slurp("%s/etc/passwd", root)), "root:x:0:0::/root:/bin/sh\n"); free(data);
        put((p = xasprintf("%s/etc/passwd", root)), "configured\n", 0644); free(p);
        CHECK_INTEQ(unlink((p = xasprintf("%s/etc/secret", root))), 0); free(p);
        /* published under its final name once the build is over */
        CHECK(path_exists((p = xasprintf("%s/roots/aaaa/root/etc/passwd", cache))) != overlay); free(p);
        ctx_free(ctx);
        CHECK_STREQ((data = slurp("%s/roots/aaaa/root/etc/passwd", cache)), "root:x:0:0::/root:/bin/sh\n"); free(data);
        CHECK(path_exists((p = xasprintf("%s/roots/aaaa/root/etc/secret", cache)))); free(p);
        CHECK_STREQ((data = slurp("%s/roots/aaaa/key", cache)), "aaaa\n"); free(data);
        CHECK_INTEQ(rm_rf(root), 0);
        rm_rf((p = xasprintf("%s.upper", root))); free(p);

        ctx = ctx_in(cache);
        char *dst = xasprintf("%s/copy", t);
        CHECK_INTEQ(rootcache_root_restore(ctx, "aaaa", dst), 0);
        struct stat s1, s2, s3;
        CHECK_INTEQ(stat((p = xasprintf("%s/etc/secret", dst)), &s1), 0); free(p);
        CHECK_INTEQ(s1.st_mode & 07777, 0600);
        CHECK_INTEQ(stat((p = xasprintf("%s/etc/passwd", dst)), &s1), 0); free(p);
        CHECK_INTEQ(stat((p = xasprintf("%s/etc/passwd-link", dst)), &s2), 0); free(p);
        CHECK(s1.st_ino == s2.st_ino);  /* the hardlink inside the root is kept … */
        CHECK_INTEQ(stat((p = xasprintf("%s/roots/aaaa/root/etc/passwd", cache)), &s3), 0); free(p);
        if (!overlay) CHECK(s1.st_ino != s3.st_ino);  /* … but a copy is no link into the cache */
        char target[64] = { 0 };
        CHECK(readlink((p = xasprintf("%s/etc/sym", dst)), target, sizeof target - 1) > 0); free(p);
        CHECK_STREQ(target, "passwd");
        /* writing the restored root leaves the cache alone */
        put((p = xasprintf("%s/etc/passwd", dst)), "changed\n", 0644); free(p);
        CHECK_STREQ((data = slurp("%s/etc/passwd", dst)), "changed\n"); free(data);
        CHECK_STREQ((data = slurp("%s/roots/aaaa/root/etc/passwd", cache)), "root:x:0:0::/root:/bin/sh\n"); free(data);
        /* restoring onto an existing path is refused */
        CHECK(rootcache_root_restore(ctx, "aaaa", dst) < 0);

        /* pruning: the newest ROOTCACHE_KEEP_ROOTS survive, except that an
         * entry mounted by a running build (ctx, on dst) is left alone */
        const char *keys[] = { "k1", "k2", "k3" };
        for (int i = 0; i < 3; i++) {
                sleep(1);       /* distinct mtimes */
                build_ctx *c = ctx_in(cache);
                make_root(root);
                CHECK_INTEQ(rootcache_root_store(c, keys[i], root), 0);
                ctx_free(c);
                CHECK_INTEQ(rm_rf(root), 0);
                rm_rf((p = xasprintf("%s.upper", root))); free(p);
        }
        int n = 0;
        for (int i = 0; i < 3; i++) {
                n += path_exists((p = xasprintf("%s/roots/%s", cache, keys[i])));
                free(p);
        }
        CHECK_INTEQ(n, ROOTCACHE_KEEP_ROOTS);
        CHECK(path_exists((p = xasprintf("%s/roots/k3", cache)))); free(p);
        CHECK(path_exists((p = xasprintf("%s/roots/aaaa", cache))) == overlay); free(p);
        if (overlay) {
                CHECK_STREQ((data = slurp("%s/etc/sym", dst)), "changed\n");
                free(data);
        }
        ctx_free(ctx);
        rm_rf(dst);

        /* an entry whose key file does not match is a miss */
        put((p = xasprintf("%s/roots/k3/key", cache)), "bbbb\n", 0644); free(p);
        ctx = ctx_in(cache);
        CHECK_INTEQ(rootcache_root_restore(ctx, "k3", dst), -ENOENT);
        CHECK(!path_exists(dst));
        ctx_free(ctx);
        /* no temp entries, no mounts left behind */
        CHECK_INTEQ(system((p = xasprintf("! ls -A %s/roots | grep -q '^\\.' && ! grep -q ' %s' /proc/self/mounts", cache, t))), 0);
        free(p);
        rm_rf(t);
        free(dst); free(cache); free(root); free(t);
        unsetenv("IMGBUILD_ROOTCACHE");
}

static void test_store_restore_prune(void) {
        store_restore_prune(false);
        if (geteuid() == 0) store_restore_prune(true);
        else printf("SKIP overlay mode: needs root to mount overlayfs\n");
}

static void test_initramfs_key(void) {
        char *t = tmpdir();
        char *root = xasprintf("%s/root", t), *ov = xasprintf("%s/ov", t), *p;
        const char *dirs[] = { "boot", "lib/modules/6.1", "etc/initramfs-tools", "var/lib/rpm", "etc/ssh" };
        for (int i = 0; i < 5; i++) {
                CHECK_INTEQ(mkdir_p((p = xasprintf("%s/%s", root, dirs[i])), 0755), 0);
                free(p);
        }
        put((p = xasprintf("%s/boot/vmlinuz-6.1", root)), "kernel", 0644); free(p);
        put((p = xasprintf("%s/lib/modules/6.1/modules.dep", root)), "a.ko:\n", 0644); free(p);
        put((p = xasprintf("%s/var/lib/rpm/Packages", root)), "db1", 0644); free(p);
        put((p = xasprintf("%s/etc/initramfs-tools/modules", root)), "virtio_blk\n", 0644); free(p);
        put((p = xasprintf("%s/etc/motd", root)), "hello\n", 0644); free(p);
        CHECK_INTEQ(mkdir_p((p = xasprintf("%s/etc", ov)), 0755), 0); free(p);
        put((p = xasprintf("%s/etc/motd", ov)), "overlay\n", 0644); free(p);
        plan pl = { 0 };
        plan_overlay o = { .dir = ov };
        pl.overlays = &o;
        pl.n_overlays = 1;
        const char *tool = "/usr/sbin/mkinitramfs", *out = "/boot/initrd.img-6.1";
        char *k0 = NULL;
        CHECK_INTEQ(rootcache_initramfs_key(&pl, root, tool, "6.1", "virtio_blk ext4", out, &k0), 0);
#define IKEY_CHANGE(expect_diff, action) do { action; char *k = NULL; \
        CHECK_INTEQ(rootcache_initramfs_key(&pl, root, tool, "6.1", "virtio_blk ext4", out, &k), 0); \
        if (expect_diff) CHECK(k && strcmp(k, k0)); else CHECK_STREQ(k, k0); free(k); } while (0)
        IKEY_CHANGE(0, (void)0);
        /* files an initramfs never reads */
        IKEY_CHANGE(0, put((p = xasprintf("%s/etc/motd", root)), "changed\n", 0644); free(p));
        IKEY_CHANGE(0, put((p = xasprintf("%s/etc/ssh/sshd_config", root)), "x\n", 0644); free(p));
        IKEY_CHANGE(0, put((p = xasprintf("%s/etc/motd", ov)), "overlay 2\n", 0644); free(p));
        /* a different driver list, and every input kind */
        char *k = NULL;
        CHECK_INTEQ(rootcache_initramfs_key(&pl, root, tool, "6.1", "virtio_blk xfs", out, &k), 0);
        CHECK(k && strcmp(k, k0));
        free(k);
        /* each change below is kept, so compare against the previous key */
#define IKEY_STEP(action) do { action; char *kn = NULL; \
        CHECK_INTEQ(rootcache_initramfs_key(&pl, root, tool, "6.1", "virtio_blk ext4", out, &kn), 0); \
        CHECK(kn && strcmp(kn, k0)); free(k0); k0 = kn; } while (0)
        IKEY_STEP(put((p = xasprintf("%s/var/lib/rpm/Packages", root)), "db2", 0644); free(p));
        IKEY_STEP(put((p = xasprintf("%s/boot/vmlinuz-6.1", root)), "kernel2", 0644); free(p));
        IKEY_STEP(put((p = xasprintf("%s/lib/modules/6.1/modules.dep", root)), "b.ko:\n", 0644); free(p));
        IKEY_STEP(put((p = xasprintf("%s/etc/initramfs-tools/modules", root)), "virtio_net\n", 0644); free(p));
        IKEY_STEP(chmod((p = xasprintf("%s/etc/initramfs-tools/modules", root)), 0600); free(p));
        IKEY_STEP(put((p = xasprintf("%s/etc/fstab", root)), "UUID=x / ext4 defaults 0 1\n", 0644); free(p));
        CHECK_INTEQ(mkdir_p((p = xasprintf("%s/etc/modprobe.d", root)), 0755), 0); free(p);
        IKEY_STEP(put((p = xasprintf("%s/etc/modprobe.d/x.conf", root)), "options x y\n", 0644); free(p));
        /* an overlay file outside /etc, /home, /root, /var … may end up in it */
        CHECK_INTEQ(mkdir_p((p = xasprintf("%s/usr/bin", ov)), 0755), 0); free(p);
        IKEY_STEP(put((p = xasprintf("%s/usr/bin/tool", ov)), "#!/bin/sh\n", 0755); free(p));
        free(k0);
        rm_rf(t);
        free(root); free(ov); free(t);
}

static void test_enabled(void) {
        unsetenv("IMGBUILD_ROOTCACHE");
        CHECK(rootcache_enabled());
        setenv("IMGBUILD_ROOTCACHE", "0", 1);
        CHECK(!rootcache_enabled());
        setenv("IMGBUILD_ROOTCACHE", "off", 1);
        CHECK(!rootcache_enabled());
        setenv("IMGBUILD_ROOTCACHE", "1", 1);
        CHECK(rootcache_enabled());
        unsetenv("IMGBUILD_ROOTCACHE");
}

TEST_MAIN(test_root_key, test_store_restore_prune, test_initramfs_key, test_enabled)
