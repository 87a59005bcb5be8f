/* imageroot.c — see imageroot.h. */
#include "imageroot.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <rpm/rpmver.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "util.h"

char *root_path(const char *root, const char *path) {
        while (*path == '/') path++;
        return xasprintf("%s/%s", root, path);
}

char *root_resolve(const char *root, const char *path, bool follow_last) {
        /* cur: resolved prefix inside the image ("" = root); rest: what is
         * left to walk.  A symlink's target is put in front of rest. */
        char *cur = xstrdup("");
        char *rest = xstrdup(path);
        int links = 0;
        for (;;) {
                char *p = rest;
                while (*p == '/') p++;
                if (!*p) break;
                char *slash = strchr(p, '/');
                size_t n = slash ? (size_t)(slash - p) : strlen(p);
                char *comp = xstrndup(p, n);
                char *after = xstrdup(slash ? slash : "");
                free(rest);
                rest = after;
                bool last = true;
                for (const char *q = rest; *q; q++)
                        if (*q != '/') { last = false; break; }
                if (!strcmp(comp, ".")) {
                        free(comp);
                        continue;
                }
                if (!strcmp(comp, "..")) {
                        char *s = strrchr(cur, '/');
                        if (s) *s = '\0';
                        free(comp);
                        continue;
                }
                char *cand = xasprintf("%s/%s", cur, comp);
                free(comp);
                char *host = xasprintf("%s%s", root, cand);
                struct stat st;
                if ((!last || follow_last) && links < 40 && lstat(host, &st) == 0 && S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t len = readlink(host, target, sizeof target - 1);
                        free(host);
                        if (len > 0) {
                                target[len] = '\0';
                                links++;
                                char *nrest = xasprintf("%s/%s", target, rest);
                                free(rest);
                                rest = nrest;
                                if (target[0] == '/') cur[0] = '\0';
                                free(cand);
                                continue;
                        }
                } else {
                        free(host);
                }
                free(cur);
                cur = cand;
        }
        char *r = xasprintf("%s%s", root, *cur ? cur : "/");
        free(cur);
        free(rest);
        return r;
}

int root_mkdir_p(const char *root, const char *path, mode_t mode) {
        _cleanup_free_ char *p = root_resolve(root, path, true);
        return mkdir_p(p, mode);
}

int root_write_file(const char *root, const char *path, const char *content, mode_t mode) {
        _cleanup_free_ char *dir = xstrdup(path);
        char *s = strrchr(dir, '/');
        if (s && s != dir) {
                *s = '\0';
                int r = root_mkdir_p(root, dir, 0755);
                if (r < 0) return r;
        }
        _cleanup_free_ char *p = root_resolve(root, path, false);
        return write_file_atomic(p, content, strlen(content), mode);
}

int root_read_file(const char *root, const char *path, char **ret) {
        _cleanup_free_ char *p = root_resolve(root, path, true);
        return read_file(p, ret, NULL);
}

bool root_exists(const char *root, const char *path) {
        _cleanup_free_ char *p = root_resolve(root, path, true);
        return access(p, F_OK) == 0;
}

/* Field n (0-based) of a colon-separated line; NULL if missing. */
static char *field(const char *line, int n) {
        const char *s = line;
        for (int i = 0; i < n; i++) {
                s = strchr(s, ':');
                if (!s) return NULL;
                s++;
        }
        size_t len = strcspn(s, ":\n");
        return xstrndup(s, len);
}

static int lookup(const char *root, const char *file, const char *name, char **ret_line) {
        _cleanup_free_ char *data = NULL;
        int r = root_read_file(root, file, &data);
        if (r < 0) return r;
        bool numeric = *name && strspn(name, "0123456789") == strlen(name);
        for (char *line = data; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                _cleanup_free_ char *key = field(line, numeric ? 2 : 0);
                if (key && !strcmp(key, name)) {
                        *ret_line = xstrdup(line);
                        return 0;
                }
                line = nl ? nl + 1 : NULL;
        }
        return -ENOENT;
}

int root_lookup_user(const char *root, const char *name, uid_t *ret_uid, gid_t *ret_gid, char **ret_home) {
        _cleanup_free_ char *line = NULL;
        int r = lookup(root, "/etc/passwd", name, &line);
        if (r < 0) return r;
        _cleanup_free_ char *uid = field(line, 2), *gid = field(line, 3);
        char *home = field(line, 5);
        if (!uid || !gid) {
                free(home);
                return -ENOENT;
        }
        if (ret_uid) *ret_uid = (uid_t)strtoul(uid, NULL, 10);
        if (ret_gid) *ret_gid = (gid_t)strtoul(gid, NULL, 10);
        if (ret_home) *ret_home = home;
        else free(home);
        return 0;
}

int root_lookup_group(const char *root, const char *name, gid_t *ret_gid) {
        _cleanup_free_ char *line = NULL;
        int r = lookup(root, "/etc/group", name, &line);
        if (r < 0) return r;
        _cleanup_free_ char *gid = field(line, 2);
        if (!gid) return -ENOENT;
        if (ret_gid) *ret_gid = (gid_t)strtoul(gid, NULL, 10);
        return 0;
}

static int cmp_kver_desc(const void *a, const void *b) {
        return -rpmvercmp(*(char *const *)a, *(char *const *)b);
}

char **root_kernels(const char *root) {
        char **v = xcalloc(1, sizeof(char *));
        _cleanup_free_ char *boot = root_resolve(root, "/boot", true);
        DIR *d = opendir(boot);
        if (!d) return v;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!str_startswith(de->d_name, "vmlinuz-")) continue;
                const char *ver = de->d_name + strlen("vmlinuz-");
                /* rescue kernels and dracut's hmac files are not entries */
                if (!*ver || str_startswith(ver, "0-rescue") || str_endswith(ver, ".hmac")) continue;
                strv_push(&v, xstrdup(ver));
        }
        closedir(d);
        qsort(v, strv_length(v), sizeof(char *), cmp_kver_desc);
        return v;
}

char *root_os_release(const char *root, const char *key) {
        _cleanup_free_ char *data = NULL;
        if (root_read_file(root, "/etc/os-release", &data) < 0 &&
            root_read_file(root, "/usr/lib/os-release", &data) < 0)
                return NULL;
        size_t klen = strlen(key);
        for (char *line = data; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                if (!strncmp(line, key, klen) && line[klen] == '=') {
                        char *v = line + klen + 1;
                        size_t n = strlen(v);
                        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                                v++;
                                n -= 2;
                        }
                        return xstrndup(v, n);
                }
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

const char *root_find(const char *root, const char *const *candidates) {
        for (size_t i = 0; candidates[i]; i++)
                if (root_exists(root, candidates[i])) return candidates[i];
        return NULL;
}

bool root_has_unit(const char *root, const char *unit) {
        static const char *const dirs[] = { "/etc/systemd/system", "/usr/lib/systemd/system",
                                            "/lib/systemd/system", NULL };
        for (size_t i = 0; dirs[i]; i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dirs[i], unit);
                if (root_exists(root, p)) return true;
        }
        return false;
}

static time_t clamp_epoch;

static int clamp_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)type;
        (void)ftw;
        if (st->st_mtime <= clamp_epoch && st->st_atime <= clamp_epoch) return 0;
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (ts[0].tv_sec > clamp_epoch) ts[0] = (struct timespec){ clamp_epoch, 0 };
        if (ts[1].tv_sec > clamp_epoch) ts[1] = (struct timespec){ clamp_epoch, 0 };
        return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int root_clamp_times(const char *root, time_t epoch) {
        clamp_epoch = epoch;    /* nftw has no user pointer; callers are single-threaded */
        int r = nftw(root, clamp_one, 64, FTW_PHYS | FTW_MOUNT);
        return r == 0 ? 0 : r < 0 ? -errno : r;
}

int root_chroot_begin(const char *root, root_mounts *ret) {
        static const struct {
                const char *dir, *fstype, *src;
                unsigned long flags;
        } mounts[] = {
                { "/dev", NULL, "/dev", MS_BIND },
                { "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC },
                { "/sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY },
                { "/run", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV },
        };
        root_mounts m = { .root = xstrdup(root) };
        for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
                char *dir = root_resolve(root, mounts[i].dir, true);
                int r = mkdir_p(dir, 0755);
                if (r >= 0 && mount(mounts[i].src, dir, mounts[i].fstype, mounts[i].flags,
                                    mounts[i].fstype && !strcmp(mounts[i].fstype, "tmpfs") ? "mode=0755" : NULL) < 0)
                        r = -errno;
                if (r < 0) {
                        free(dir);
                        root_chroot_end(&m);
                        return r;
                }
                /* keep our mounts from propagating back to the host */
                (void)mount(NULL, dir, NULL, MS_PRIVATE, NULL);
                m.mounted[m.n_mounted++] = dir;
        }
        *ret = m;
        return 0;
}

void root_chroot_end(root_mounts *m) {
        while (m->n_mounted > 0) {
                char *dir = m->mounted[--m->n_mounted];
                if (umount2(dir, 0) < 0 && errno != EINVAL && errno != ENOENT)
                        (void)umount2(dir, MNT_DETACH);
                free(dir);
        }
        free(m->root);
        m->root = NULL;
}

int root_run(const char *root, char *const env[], char *const cmd[], const char *log) {
        /* sh -c 'exec "$@" </dev/null' sh env -i K=V… [chroot ROOT] cmd… */
        char **argv = NULL;
        strv_push(&argv, xstrdup("/bin/sh"));
        strv_push(&argv, xstrdup("-c"));
        strv_push(&argv, xstrdup("exec \"$@\" </dev/null"));
        strv_push(&argv, xstrdup("sh"));
        strv_push(&argv, xstrdup("env"));
        strv_push(&argv, xstrdup("-i"));
        strv_push(&argv, xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        strv_push(&argv, xstrdup("HOME=/root"));
        strv_push(&argv, xstrdup("LC_ALL=C"));
        strv_push(&argv, xstrdup("LANG=C"));
        strv_push(&argv, xstrdup("TERM=dumb"));
        for (size_t i = 0; env && env[i]; i++) strv_push(&argv, xstrdup(env[i]));
        if (root) {
                strv_push(&argv, xstrdup("chroot"));
                strv_push(&argv, xstrdup(root));
        }
        for (size_t i = 0; cmd[i]; i++) strv_push(&argv, xstrdup(cmd[i]));
        int r = run_command(argv, log);
        strv_free(argv);
        return r;
}

int copy_file(const char *src, const char *dst, mode_t mode) {
        int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0) return -errno;
        _cleanup_free_ char *tmp = xasprintf("%s.imgbuild-tmp", dst);
        int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
        if (out < 0) {
                int r = -errno;
                close(in);
                return r;
        }
        static char buf[1 << 16];
        int r = 0;
        for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) {
                        if (n < 0) r = -errno;
                        break;
                }
                for (ssize_t off = 0; off < n && r == 0;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR) continue;
                        if (w < 0) r = -errno;
                        else off += w;
                }
                if (r < 0) break;
        }
        close(in);
        if (fchmod(out, mode & 07777) < 0 && r == 0) r = -errno;
        if (close(out) < 0 && r == 0) r = -errno;
        if (r == 0 && rename(tmp, dst) < 0) r = -errno;
        if (r < 0) unlink(tmp);
        return r;
}

char *log_tail(const char *path, int max_lines) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (!path || read_file(path, &data, &len) < 0 || len == 0) return xstrdup("(no output)");
        while (len > 0 && (data[len - 1] == '\n' || isspace((unsigned char)data[len - 1]))) data[--len] = '\0';
        size_t i = len;
        int lines = 0;
        while (i > 0) {
                if (data[i - 1] == '\n' && ++lines == max_lines) break;
                i--;
        }
        return xstrdup(data + i);
}
