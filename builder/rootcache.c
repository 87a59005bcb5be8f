/* rootcache.c — see rootcache.h. */
#include "rootcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rpm/rpmlib.h>

#include "imageroot.h"
#include "util.h"

#define ROOTCACHE_FORMAT "imgbuild-rootcache 1"
#define INITRAMFS_FORMAT "imgbuild-initramfs 1"

bool rootcache_enabled(void) {
        const char *e = getenv("IMGBUILD_ROOTCACHE");
        bool on;
        return !e || parse_boolean(e, &on) < 0 || on;  /* "copy" (or anything but a no) keeps it on */
}

/* ---- keys ----------------------------------------------------------------- */

/* The digest of our own binary: a fixed or changed install stage (or
 * rpmdb writer) must not reuse roots the old code made. */
static void self_digest(char hex[SHA256_HEX_LEN + 1]) {
        if (sha256_file("/proc/self/exe", hex) < 0) strcpy(hex, "unknown");
}

int rootcache_root_key(const plan *p, const lock *l, char **ret_key) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) return -errno;
        char exe[SHA256_HEX_LEN + 1];
        self_digest(exe);
        /* stored roots are clamped to SOURCE_DATE_EPOCH (rootcache_root_store) */
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        fprintf(f, "%s\nexe %s\nrpm %s\nsde %s\narch %s\nrpmdb %s\nexcludedocs %d\ninst_langs %s\n", ROOTCACHE_FORMAT,
                exe, RPMVERSION, sde && *sde ? sde : "-",
                p->arch ? p->arch : (l->arch ? l->arch : "x86_64"),
                p->rpmdb_format ? p->rpmdb_format : "bdb", p->packages.excludedocs ? 1 : 0,
                p->packages.inst_langs ? p->packages.inst_langs : "(all)");
        for (size_t i = 0; i < l->n_packages; i++) {
                const lock_package *pk = &l->packages[i];
                _cleanup_free_ char *nevra = lock_package_nevra(pk);
                fprintf(f, "pkg %s %s:%s %llu\n", nevra, pk->checksum_type ? pk->checksum_type : "-",
                        pk->checksum ? pk->checksum : "-", (unsigned long long)pk->size);
        }
        if (fclose(f) != 0) {
                free(text);
                return -EIO;
        }
        char hex[SHA256_HEX_LEN + 1];
        sha256_buf(text, len, hex);
        log_debug("rootcache: root key %.12s from:\n%s", hex, text);       /* why a build missed */
        free(text);
        *ret_key = xstrdup(hex);
        return 0;
}

/* One line per entry under host path dir (shown as rel), sorted, symlinks
 * not followed: type, mode, owner, and the content's digest or the link's
 * target.  A missing path is a line too (its later appearance changes the
 * key). */
static void digest_tree(FILE *f, const char *host, const char *rel) {
        struct stat st;
        if (lstat(host, &st) < 0) {
                fprintf(f, "- %s\n", rel);
                return;
        }
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlink(host, target, sizeof target - 1);
                target[n < 0 ? 0 : n] = '\0';
                fprintf(f, "L %s -> %s\n", rel, target);
                return;
        }
        if (S_ISREG(st.st_mode)) {
                char hex[SHA256_HEX_LEN + 1];
                if (sha256_file(host, hex) < 0) strcpy(hex, "unreadable");
                fprintf(f, "F %s %o %u:%u %s\n", rel, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
                        (unsigned)st.st_gid, hex);
                return;
        }
        if (!S_ISDIR(st.st_mode)) {
                fprintf(f, "S %s %o\n", rel, (unsigned)st.st_mode);
                return;
        }
        fprintf(f, "D %s %o %u:%u\n", rel, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid);
        struct dirent **names = NULL;
        int n = scandir(host, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                const char *d = names[i]->d_name;
                if (strcmp(d, ".") && strcmp(d, "..")) {
                        _cleanup_free_ char *h = xasprintf("%s/%s", host, d);
                        _cleanup_free_ char *r = xasprintf("%s/%s", rel, d);
                        digest_tree(f, h, r);
                }
                free(names[i]);
        }
        free(names);
}

/* A path inside the image, resolved in the image (e.g. /lib → usr/lib). */
static void digest_image_path(FILE *f, const char *root, const char *path) {
        _cleanup_free_ char *host = root_resolve(root, path, true);
        digest_tree(f, host, path);
}

/* What initramfs tools read besides package content (dracut,
 * initramfs-tools, the udev and systemd they copy, libc's loader config). */
static const char *const initramfs_inputs[] = {
        "/var/lib/rpm",
        "/etc/initramfs-tools", "/etc/initramfs", "/usr/share/initramfs-tools",
        "/etc/dracut.conf", "/etc/dracut.conf.d", "/usr/lib/dracut",
        "/etc/modprobe.d", "/lib/modprobe.d", "/usr/lib/modprobe.d", "/etc/modules-load.d", "/etc/modules",
        "/etc/fstab", "/etc/crypttab", "/etc/udev", "/etc/default", "/etc/systemd",
        "/etc/vconsole.conf", "/etc/locale.conf", "/etc/localtime", "/etc/os-release", "/etc/initrd-release",
        "/etc/passwd", "/etc/group", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ld.so.cache",
        "/etc/lvm", "/etc/mdadm", "/etc/multipath.conf",
        NULL
};

/* Overlay files an initramfs may pick up that the trees above do not see:
 * everything outside the directories an initramfs never reads. */
static bool overlay_path_relevant(const char *rel) {
        static const char *const skip[] = { "etc", "home", "root", "var", "srv", "opt", "tmp", NULL };
        for (size_t i = 0; skip[i]; i++) {
                size_t n = strlen(skip[i]);
                if (!strncmp(rel, skip[i], n) && (rel[n] == '\0' || rel[n] == '/')) return false;
        }
        return true;
}

static void digest_overlay(FILE *f, const char *host, const char *rel) {
        struct dirent **names = NULL;
        int n = scandir(host, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                const char *d = names[i]->d_name;
                if (strcmp(d, ".") && strcmp(d, "..")) {
                        _cleanup_free_ char *h = xasprintf("%s/%s", host, d);
                        _cleanup_free_ char *r = *rel ? xasprintf("%s/%s", rel, d) : xstrdup(d);
                        if (overlay_path_relevant(r)) digest_tree(f, h, r);
                }
                free(names[i]);
        }
        free(names);
}

int rootcache_initramfs_key(const plan *p, const char *root, const char *tool, const char *kver,
                            const char *drivers, const char *out, char **ret_key) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) return -errno;
        fprintf(f, "%s\ntool %s\nkver %s\nout %s\ndrivers %s\n", INITRAMFS_FORMAT, tool, kver, out,
                drivers ? drivers : "");
        _cleanup_free_ char *vmlinuz = xasprintf("/boot/vmlinuz-%s", kver);
        digest_image_path(f, root, vmlinuz);
        /* depmod's indexes: which modules exist and what they need */
        _cleanup_free_ char *moddir = xasprintf("/lib/modules/%s", kver);
        _cleanup_free_ char *modhost = root_resolve(root, moddir, true);
        struct dirent **names = NULL;
        int n = scandir(modhost, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (str_startswith(names[i]->d_name, "modules.")) {
                        _cleanup_free_ char *h = xasprintf("%s/%s", modhost, names[i]->d_name);
                        _cleanup_free_ char *r = xasprintf("%s/%s", moddir, names[i]->d_name);
                        digest_tree(f, h, r);
                }
                free(names[i]);
        }
        free(names);
        if (n < 0) fprintf(f, "- %s\n", moddir);
        for (size_t i = 0; initramfs_inputs[i]; i++) digest_image_path(f, root, initramfs_inputs[i]);
        for (size_t i = 0; i < p->n_overlays; i++) {
                const plan_overlay *o = &p->overlays[i];
                fprintf(f, "overlay %zu\n", i);
                if (o->dir) digest_overlay(f, o->dir, "");
                for (size_t j = 0; j < o->n_entries; j++) {
                        const plan_overlay_entry *e = &o->entries[j];
                        if (e->path && overlay_path_relevant(e->path + (e->path[0] == '/')))
                                fprintf(f, "M %s %s %s %d\n", e->path, e->owner ? e->owner : "-",
                                        e->group ? e->group : "-", e->mode);
                }
        }
        if (fclose(f) != 0) {
                free(text);
                return -EIO;
        }
        char hex[SHA256_HEX_LEN + 1];
        sha256_buf(text, len, hex);
        free(text);
        *ret_key = xstrdup(hex);
        return 0;
}

/* ---- entries -------------------------------------------------------------- */

typedef struct entry_age {
        char *name;
        struct timespec mtime;
} entry_age;

static int newest_first(const void *a, const void *b) {
        const entry_age *x = a, *y = b;
        if (x->mtime.tv_sec != y->mtime.tv_sec) return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
        if (x->mtime.tv_nsec != y->mtime.tv_nsec) return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
        return strcmp(x->name, y->name);
}

/* ".tmp.<pid>.<key>" of a process that is gone: left by a crash. */
static bool stale_temp(const char *name) {
        if (!str_startswith(name, ".tmp.")) return false;
        long pid = strtol(name + 5, NULL, 10);
        return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Keep the newest `keep` entries of dir (names not starting with '.'),
 * remove the rest and stale temps. */
static void prune(const char *dir, size_t keep) {
        DIR *d = opendir(dir);
        if (!d) return;
        entry_age *v = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                if (de->d_name[0] == '.') {
                        if (stale_temp(de->d_name)) (void)rm_rf(path);
                        continue;
                }
                struct stat st;
                if (lstat(path, &st) < 0) continue;
                v = xrealloc(v, (n + 1) * sizeof *v);
                v[n].name = xstrdup(de->d_name);
                v[n].mtime = st.st_mtim;
                n++;
        }
        closedir(d);
        if (n) qsort(v, n, sizeof *v, newest_first);
        for (size_t i = 0; i < n; i++) {
                if (i >= keep) {
                        _cleanup_free_ char *path = xasprintf("%s/%s", dir, v[i].name);
                        _cleanup_free_ char *keyfile = xasprintf("%s/key", path);
                        /* a root mounted by a running build holds a shared
                         * lock on its key file: leave it */
                        int fd = open(keyfile, O_RDONLY | O_CLOEXEC);
                        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) == 0) (void)rm_rf(path);
                        if (fd >= 0) close(fd);
                }
                free(v[i].name);
        }
        free(v);
}

static void touch(const char *path) { (void)utimensat(AT_FDCWD, path, NULL, 0); }

/* Flush a finished entry before it gets its final name: a crash must not
 * leave a complete-looking entry with lost data. */
static int sync_fs_of(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
        if (fd < 0) fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        int r = syncfs(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static int copy_tree(build_ctx *ctx, const char *src, const char *dst) {
        _cleanup_free_ char *log = xasprintf("%s/rootcache.log", ctx->work_dir);
        /* -a keeps owners, modes, hardlinks, xattrs (file capabilities);
         * --reflink=auto makes it free on btrfs/xfs, a plain copy elsewhere */
        char *argv[] = { "cp", "-a", "--reflink=auto", (char *)src, (char *)dst, NULL };
        int r = run_command(argv, log);
        if (r == 0) return 0;
        return r < 0 ? r : -EIO;
}

/* ---- the cached root as an overlay ----------------------------------------
 * A hit mounts the cached root read-only under an overlay at the image root:
 * configure and sysprep write into <root>.upper in the work dir, the cache
 * entry never changes, and nothing is copied.  A miss moves the freshly
 * installed root into the cache (a rename: same file system) and mounts it
 * back the same way; the entry is published (synced, key written, renamed to
 * its final name) when the build ends, after the overlay is gone.  While
 * mounted, the entry's key file holds a shared flock so that prune() in a
 * concurrent build leaves it alone.  Where overlayfs is unavailable (no
 * privilege, the work dir itself on overlayfs, odd characters in the paths)
 * or IMGBUILD_ROOTCACHE=copy, entries are copied as before. */

typedef struct root_overlay {
        char *merged;           /* the image root the stages see */
        int entry_lock;         /* shared flock on the entry's key file, or -1 */
        char *publish_tmp;      /* a moved-in root: its temp entry … */
        char *publish_final;    /* … and the final name it gets at the end */
        char *key;
        char *base;             /* <cache>/roots, for prune() */
} root_overlay;

static bool overlay_wanted(void) {
        const char *e = getenv("IMGBUILD_ROOTCACHE");
        return !(e && !strcasecmp(e, "copy"));
}

/* Characters the overlay mount options cannot carry unescaped. */
static bool overlay_safe_path(const char *path) { return !strpbrk(path, ",:\\"); }

static int mount_overlay(const char *lower, const char *merged) {
        if (!overlay_safe_path(lower) || !overlay_safe_path(merged)) return -EINVAL;
        _cleanup_free_ char *upper = xasprintf("%s.upper", merged);
        _cleanup_free_ char *work = xasprintf("%s.ovlwork", merged);
        struct stat st;
        if (stat(lower, &st) < 0) return -errno;
        if ((mkdir(upper, 0755) < 0 && errno != EEXIST) || (mkdir(work, 0700) < 0 && errno != EEXIST) ||
            (mkdir(merged, 0755) < 0 && errno != EEXIST))
                return -errno;
        /* the merged root directory takes its owner, mode and times from
         * the upper directory: give it the installed root's */
        if (chown(upper, st.st_uid, st.st_gid) < 0 || chmod(upper, st.st_mode & 07777) < 0) return -errno;
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        (void)utimensat(AT_FDCWD, upper, ts, 0);
        _cleanup_free_ char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        if (mount("overlay", merged, "overlay", 0, opts) < 0) {
                int r = -errno;
                (void)rmdir(upper);
                (void)rm_rf(work);
                return r;
        }
        return 0;
}

/* Unmount; publish a moved-in entry; prune.  Runs from the context's
 * cleanup stack after every stage (and its /proc, /dev mounts) is done. */
static void overlay_release(void *data) {
        root_overlay *o = data;
        bool unmounted = umount2(o->merged, 0) == 0 || errno == EINVAL;
        if (!unmounted) unmounted = umount2(o->merged, MNT_DETACH) == 0;
        _cleanup_free_ char *ovlwork = xasprintf("%s.ovlwork", o->merged);
        (void)rm_rf(ovlwork);   /* overlayfs leaves a 000 "work" dir behind */
        if (o->entry_lock >= 0) close(o->entry_lock);
        if (o->publish_tmp && unmounted) {
                _cleanup_free_ char *keyfile = xasprintf("%s/key", o->publish_tmp);
                _cleanup_free_ char *k = xasprintf("%s\n", o->key);
                /* flushed before it gets its final name: a crash must not
                 * leave a complete-looking entry with lost data */
                double t0 = now_seconds();
                int r = sync_fs_of(o->publish_tmp);
                log_debug("rootcache: entry %.12s synced in %.1f s", o->key, now_seconds() - t0);
                if (r == 0) r = write_file_atomic(keyfile, k, strlen(k), 0644);
                if (r == 0 && rename(o->publish_tmp, o->publish_final) < 0)
                        r = errno == EEXIST || errno == ENOTEMPTY ? 0 : -errno;
                (void)rm_rf(o->publish_tmp);    /* gone after a rename; a loser's otherwise */
                if (r < 0) log_warn("rootcache: cannot store the installed root: %s", strerror(-r));
                else prune(o->base, ROOTCACHE_KEEP_ROOTS);
        }
        free(o->merged);
        free(o->publish_tmp);
        free(o->publish_final);
        free(o->key);
        free(o->base);
        free(o);
}

static int lock_entry(const char *entry_dir) {
        _cleanup_free_ char *keyfile = xasprintf("%s/key", entry_dir);
        int fd = open(keyfile, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        if (flock(fd, LOCK_SH) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

int rootcache_root_restore(build_ctx *ctx, const char *key, const char *root) {
        _cleanup_free_ char *dir = xasprintf("%s/roots/%s", ctx->cache_dir, key);
        _cleanup_free_ char *src = xasprintf("%s/root", dir);
        _cleanup_free_ char *keyfile = xasprintf("%s/key", dir);
        _cleanup_free_ char *stored = NULL;
        struct stat st;
        if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode)) return -ENOENT;
        if (read_file(keyfile, &stored, NULL) < 0 || strncmp(stored, key, strlen(key))) return -ENOENT;
        if (path_exists(root)) return -EEXIST;
        touch(dir);
        double t0 = now_seconds();
        int lock = overlay_wanted() ? lock_entry(dir) : -1;
        if (lock >= 0) {
                int m = mount_overlay(src, root);
                if (m == 0) {
                        root_overlay *o = xcalloc(1, sizeof *o);
                        *o = (root_overlay){ .merged = xstrdup(root), .entry_lock = lock };
                        ctx_defer(ctx, overlay_release, o);
                        log_info("rootcache: reusing the installed root %.12s (packages unchanged; mounted as an "
                                 "overlay, nothing copied)", key);
                        return 0;
                }
                close(lock);
                (void)rmdir(root);
                log_debug("rootcache: no overlay (%s); copying", strerror(-m));
        }
        int r = copy_tree(ctx, src, root);
        if (r < 0) {
                (void)rm_rf(root);
                return r;
        }
        log_info("rootcache: reusing the installed root %.12s (packages unchanged; copied in %.1f s)", key,
                 now_seconds() - t0);
        return 0;
}

/* The installed root moves into the cache and comes back as an overlay. */
static int adopt_root(build_ctx *ctx, const char *key, const char *root, const char *base, const char *final) {
        _cleanup_free_ char *tmp = xasprintf("%s/.tmp.%d.%.12s", base, (int)getpid(), key);
        _cleanup_free_ char *dst = xasprintf("%s/root", tmp);
        (void)rm_rf(tmp);
        if (mkdir(tmp, 0700) < 0) return -errno;
        if (rename(root, dst) < 0) {
                int r = -errno;         /* EXDEV: cache and work dir on different file systems */
                (void)rmdir(tmp);
                return r;
        }
        int r = mount_overlay(dst, root);
        if (r < 0) {
                (void)rmdir(root);
                if (rename(dst, root) < 0) return -errno;       /* put it back as it was */
                (void)rmdir(tmp);
                return r;
        }
        root_overlay *o = xcalloc(1, sizeof *o);
        *o = (root_overlay){ .merged = xstrdup(root), .entry_lock = -1, .publish_tmp = xstrdup(tmp),
                             .publish_final = xstrdup(final), .key = xstrdup(key), .base = xstrdup(base) };
        ctx_defer(ctx, overlay_release, o);
        return 0;
}

int rootcache_root_store(build_ctx *ctx, const char *key, const char *root) {
        _cleanup_free_ char *base = NULL;
        int r = ctx_cache_subdir(ctx, "roots", &base);
        if (r < 0) return r;
        _cleanup_free_ char *final = xasprintf("%s/%s", base, key);
        if (path_exists(final)) return 0;
        double t0 = now_seconds();
        /* clamped once here, so that assemble's clamp finds nothing to do in
         * the overlay's lower layer and copies nothing up */
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        if (sde && *sde && (r = root_clamp_times(root, (time_t)strtoll(sde, NULL, 10))) < 0) return r;
        if (overlay_wanted()) {
                r = adopt_root(ctx, key, root, base, final);
                if (r == 0) {
                        log_info("rootcache: stored the installed root as %.12s (moved into the cache, mounted as an "
                                 "overlay)", key);
                        return 0;
                }
                log_debug("rootcache: cannot move the root into the cache (%s); copying", strerror(-r));
        }
        _cleanup_free_ char *tmp = xasprintf("%s/.tmp.%d.%.12s", base, (int)getpid(), key);
        _cleanup_free_ char *dst = xasprintf("%s/root", tmp);
        _cleanup_free_ char *keyfile = xasprintf("%s/key", tmp);
        (void)rm_rf(tmp);
        if (mkdir(tmp, 0700) < 0) return -errno;
        r = copy_tree(ctx, root, dst);
        if (r == 0) {
                _cleanup_free_ char *k = xasprintf("%s\n", key);
                r = write_file_atomic(keyfile, k, strlen(k), 0644);
        }
        if (r == 0) r = sync_fs_of(tmp);
        if (r == 0 && rename(tmp, final) < 0) r = errno == EEXIST || errno == ENOTEMPTY ? 0 : -errno;
        (void)rm_rf(tmp);       /* gone after a rename; a loser's or a failed copy otherwise */
        if (r < 0) return r;
        log_info("rootcache: stored the installed root as %.12s (%.1f s)", key, now_seconds() - t0);
        prune(base, ROOTCACHE_KEEP_ROOTS);
        return 0;
}

int rootcache_initramfs_restore(build_ctx *ctx, const char *key, const char *root, const char *out) {
        _cleanup_free_ char *src = xasprintf("%s/initramfs/%s", ctx->cache_dir, key);
        struct stat st;
        if (stat(src, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return -ENOENT;
        _cleanup_free_ char *dst = root_resolve(root, out, false);
        int r = copy_file(src, dst, st.st_mode & 07777);
        if (r < 0) return r;
        touch(src);
        return 0;
}

int rootcache_initramfs_store(build_ctx *ctx, const char *key, const char *root, const char *out) {
        _cleanup_free_ char *base = NULL;
        int r = ctx_cache_subdir(ctx, "initramfs", &base);
        if (r < 0) return r;
        _cleanup_free_ char *src = root_resolve(root, out, true);
        struct stat st;
        if (stat(src, &st) < 0) return -errno;
        _cleanup_free_ char *tmp = xasprintf("%s/.tmp.%d.%.12s", base, (int)getpid(), key);
        _cleanup_free_ char *final = xasprintf("%s/%s", base, key);
        r = copy_file(src, tmp, st.st_mode & 07777);
        if (r == 0) {
                int fd = open(tmp, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || fsync(fd) < 0) r = -errno;
                if (fd >= 0) close(fd);
        }
        if (r == 0 && rename(tmp, final) < 0) r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        prune(base, ROOTCACHE_KEEP_INITRAMFS);
        return 0;
}
