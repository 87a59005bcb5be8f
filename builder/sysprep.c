/* sysprep.c — see sysprep.h.
 *
 * Works on paths resolved inside the image (imageroot.h): an absolute
 * symlink in the image (e.g. /etc/resolv.conf -> /run/…) is never followed
 * onto the build host.  Files are removed or emptied, never written through. */
#include "sysprep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imageroot.h"
#include "util.h"

typedef struct sp {
        const char *root;
        int err;                /* first error */
        char *err_path;
        unsigned removed;
} sp;

static void note_err(sp *s, int r, const char *path) {
        if (r < 0 && s->err == 0) {
                s->err = r;
                s->err_path = xstrdup(path);
        }
}

/* Remove path (inside the image) whatever it is; directories recursively. */
static void remove_path(sp *s, const char *path) {
        _cleanup_free_ char *p = root_resolve(s->root, path, false);
        struct stat st;
        if (lstat(p, &st) < 0) return;
        int r = rm_rf(p);
        note_err(s, r, path);
        if (r == 0) s->removed++;
}

/* Remove the entries of a directory matching a glob (NULL = all), keep the
 * directory.  Recurse into sub-directories when recurse (the pattern is
 * matched against names there too; directories themselves stay). */
static void clean_dir(sp *s, const char *dir, const char *glob, bool recurse) {
        _cleanup_free_ char *p = root_resolve(s->root, dir, true);
        DIR *d = opendir(p);
        if (!d) return;
        struct dirent *de;
        char **names = NULL;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) strv_push(&names, xstrdup(de->d_name));
        closedir(d);
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *child = xasprintf("%s/%s", dir, names[i]);
                _cleanup_free_ char *hp = xasprintf("%s/%s", p, names[i]);
                struct stat st;
                if (lstat(hp, &st) < 0) continue;
                if (S_ISDIR(st.st_mode) && recurse) {
                        clean_dir(s, child, glob, true);
                        continue;
                }
                if (glob && fnmatch(glob, names[i], 0) != 0) continue;
                int r = rm_rf(hp);
                note_err(s, r, child);
                if (r == 0) s->removed++;
        }
        strv_free(names);
}

/* Truncate a regular file (keep owner and mode); symlinks are left alone. */
static void empty_file(sp *s, const char *path) {
        _cleanup_free_ char *p = root_resolve(s->root, path, false);
        int fd = open(p, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT && errno != ELOOP) note_err(s, -errno, path);
                return;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
                if (ftruncate(fd, 0) < 0) note_err(s, -errno, path);
                else s->removed++;
        }
        close(fd);
}

/* Empty every log under /var/log (keep files, owners and modes: services
 * and rpm -V expect them), remove rotated ones. */
static void clean_logs(sp *s, const char *dir) {
        _cleanup_free_ char *p = root_resolve(s->root, dir, true);
        DIR *d = opendir(p);
        if (!d) return;
        struct dirent *de;
        char **names = NULL;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) strv_push(&names, xstrdup(de->d_name));
        closedir(d);
        static const char *const rotated[] = { "*.[0-9]", "*.gz", "*.xz", "*.bz2", "*.zst", "*.old",
                                               "*-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]", NULL };
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *child = xasprintf("%s/%s", dir, names[i]);
                _cleanup_free_ char *hp = xasprintf("%s/%s", p, names[i]);
                struct stat st;
                if (lstat(hp, &st) < 0) continue;
                if (S_ISDIR(st.st_mode)) {
                        /* the journal of any build-time systemd run */
                        if (!strcmp(child, "/var/log/journal")) clean_dir(s, child, NULL, false);
                        else clean_logs(s, child);
                        continue;
                }
                if (!S_ISREG(st.st_mode)) continue;
                bool old = false;
                for (size_t k = 0; rotated[k]; k++)
                        if (fnmatch(rotated[k], names[i], 0) == 0) old = true;
                if (old) {
                        int r = unlink(hp) < 0 ? -errno : 0;
                        note_err(s, r, child);
                        if (r == 0) s->removed++;
                } else {
                        empty_file(s, child);
                }
        }
        strv_free(names);
}

int sysprep_root(build_ctx *ctx, const plan *p, const char *root) {
        (void)ctx;
        sp s = { .root = root };
        struct stat st;
        if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
                log_error("sysprep: image root %s is not a directory", root);
                return -ENOENT;
        }

        /* identity: systemd makes a machine-id at first boot when the file
         * is empty (and runs ConditionFirstBoot units) */
        _cleanup_free_ char *mid = root_resolve(root, "/etc/machine-id", false);
        if (lstat(mid, &st) == 0 && !S_ISREG(st.st_mode)) remove_path(&s, "/etc/machine-id");
        note_err(&s, write_file_atomic(mid, "", 0, 0444), "/etc/machine-id");
        _cleanup_free_ char *dbus_mid = root_resolve(root, "/var/lib/dbus/machine-id", false);
        if (lstat(dbus_mid, &st) == 0 && S_ISREG(st.st_mode)) remove_path(&s, "/var/lib/dbus/machine-id");

        /* ssh host keys: sshd-keygen / ssh's service make them at first boot */
        clean_dir(&s, "/etc/ssh", "ssh_host_*", false);

        /* the build host's name and resolver; the kickstart's hostname stays */
        _cleanup_free_ char *hostname = xasprintf("%s\n", p->system.hostname ? p->system.hostname : "localhost.localdomain");
        _cleanup_free_ char *hn = root_resolve(root, "/etc/hostname", false);
        if (lstat(hn, &st) == 0 && !S_ISREG(st.st_mode)) remove_path(&s, "/etc/hostname");
        note_err(&s, write_file_atomic(hn, hostname, strlen(hostname), 0644), "/etc/hostname");
        _cleanup_free_ char *rc = root_resolve(root, "/etc/resolv.conf", false);
        if (lstat(rc, &st) == 0 && S_ISREG(st.st_mode))
                note_err(&s, write_file_atomic(rc, "", 0, 0644), "/etc/resolv.conf");

        /* logs of the build */
        clean_logs(&s, "/var/log");
        remove_path(&s, "/root/.bash_history");
        remove_path(&s, "/root/.lesshst");
        remove_path(&s, "/root/.viminfo");
        clean_dir(&s, "/home", ".bash_history", true);

        /* package manager caches and rpm's environment files */
        static const char *const cache_dirs[] = { "/var/cache/yum", "/var/cache/dnf", "/var/cache/apt/archives",
                                                  "/var/cache/ldconfig", "/var/cache/man", "/var/lib/apt/lists",
                                                  "/var/cache/debconf", NULL };
        for (size_t i = 0; cache_dirs[i]; i++) {
                if (!strcmp(cache_dirs[i], "/var/cache/debconf")) clean_dir(&s, cache_dirs[i], "*-old", false);
                else if (!strcmp(cache_dirs[i], "/var/lib/apt/lists")) clean_dir(&s, cache_dirs[i], "*_*", false);
                else clean_dir(&s, cache_dirs[i], NULL, false);
        }
        clean_dir(&s, "/var/lib/rpm", "__db.*", false);
        clean_dir(&s, "/var/lib/rpm", ".dbenv.lock", false);
        clean_dir(&s, "/var/lib/rpm", ".rpm.lock", false);

        /* seeds and leases: each instance gets its own */
        static const char *const gone[] = { "/var/lib/systemd/random-seed", "/var/lib/random-seed",
                                            "/var/lib/urandom/random-seed", "/var/lib/systemd/credential.secret",
                                            "/etc/udev/rules.d/70-persistent-net.rules",
                                            "/etc/.pwd.lock", "/.readahead", NULL };
        for (size_t i = 0; gone[i]; i++) remove_path(&s, gone[i]);
        clean_dir(&s, "/var/lib/dhclient", "*.lease*", false);
        clean_dir(&s, "/var/lib/dhcp", "*.lease*", false);
        clean_dir(&s, "/var/lib/NetworkManager", "*.lease", false);
        /* cloud-init must see its first boot in the instance, not the build */
        clean_dir(&s, "/var/lib/cloud", NULL, false);

        /* temp files */
        clean_dir(&s, "/tmp", NULL, false);
        clean_dir(&s, "/var/tmp", NULL, false);
        _cleanup_free_ char *tmp = root_resolve(root, "/tmp", true);
        if (stat(tmp, &st) == 0 && S_ISDIR(st.st_mode)) (void)chmod(tmp, 01777);

        if (s.err < 0) {
                log_error("sysprep: cannot clean %s in the image root %s: %s", s.err_path, root, strerror(-s.err));
                free(s.err_path);
                return s.err;
        }
        log_info("sysprep: %u build traces removed or emptied", s.removed);
        return 0;
}
