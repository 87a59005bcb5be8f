/* imageroot.h — helpers for working on an image root directory from the
 * build host: paths resolved inside the root (never through the host's
 * symlinks), the image's own users and groups, its kernels, and running the
 * image's own programs in a chroot with /dev, /proc, /sys and /run mounted.
 * Used by configure, sysprep and disk.  Helpers print nothing. */
#ifndef IMGBUILD_IMAGEROOT_H
#define IMGBUILD_IMAGEROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* root + "/" + path (path absolute inside the image).  Caller frees. */
char *root_path(const char *root, const char *path);

/* Resolve path inside the image: every symlink met (absolute or relative)
 * is followed relative to root, so "/lib/modules" with /lib -> usr/lib gives
 * root/usr/lib/modules.  The last component is followed only when
 * follow_last.  Missing components are kept as they are.  Caller frees. */
char *root_resolve(const char *root, const char *path, bool follow_last);

/* Write a file inside the image atomically (parents created 0755); never
 * writes through a symlink at path: it is replaced.  */
int root_write_file(const char *root, const char *path, const char *content, mode_t mode);
int root_read_file(const char *root, const char *path, char **ret);
bool root_exists(const char *root, const char *path);
int root_mkdir_p(const char *root, const char *path, mode_t mode);

/* The image's /etc/passwd and /etc/group.  name may be numeric.
 * Return 0 or -ENOENT. */
int root_lookup_user(const char *root, const char *name, uid_t *ret_uid, gid_t *ret_gid, char **ret_home);
int root_lookup_group(const char *root, const char *name, gid_t *ret_gid);

/* Kernel versions with /boot/vmlinuz-<v>, newest first (rpmvercmp order).
 * NULL-terminated, possibly empty; caller frees with strv_free. */
char **root_kernels(const char *root);

/* A value from the image's /etc/os-release (unquoted), or NULL. */
char *root_os_release(const char *root, const char *key);

/* First of the candidate paths (NULL-terminated) that exists in the image,
 * or NULL.  Returned pointer is one of the candidates. */
const char *root_find(const char *root, const char *const *candidates);

/* A systemd unit file of that name exists in the image. */
bool root_has_unit(const char *root, const char *unit);

/* SOURCE_DATE_EPOCH: every atime and mtime in the tree later than epoch
 * becomes epoch (symlinks themselves, not their targets; the tree's own file
 * system only).  0 or -errno. */
int root_clamp_times(const char *root, time_t epoch);

/* A chroot session: /dev (bind), /proc, /sys and /run (tmpfs) mounted in the
 * root; root_chroot_end unmounts whatever was mounted (lazily if busy) and is
 * safe to call twice. */
typedef struct root_mounts {
        char *root;
        char *mounted[8];
        size_t n_mounted;
} root_mounts;
int root_chroot_begin(const char *root, root_mounts *ret);
void root_chroot_end(root_mounts *m);

/* Run cmd with a clean environment (PATH, HOME=/root, LC_ALL=C plus env,
 * NULL-terminated "K=V" or NULL), stdin from /dev/null, output appended to
 * log.  In the image (chroot) when root is non-NULL, else on the host.
 * Returns as run_command: 0, exit status (>0) or -errno. */
int root_run(const char *root, char *const env[], char *const cmd[], const char *log);

/* Copy a regular file (host paths) to dst via a temp name + rename; dst's
 * symlink, if any, is replaced, not followed. */
int copy_file(const char *src, const char *dst, mode_t mode);

/* The last max_lines lines of a log file, for error messages.  Caller frees;
 * never NULL. */
char *log_tail(const char *path, int max_lines);

#endif
