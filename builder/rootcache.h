/* rootcache.h — the incremental-rebuild caches under ctx->cache_dir.
 *
 * roots/<key>/      the installed image root as the install stage left it
 *                   (before configure), keyed by everything that decides
 *                   what install produces: the lock's packages (NEVRA and
 *                   file checksum, in order), the target arch, the rpmdb
 *                   format, %packages --excludedocs/--instLangs, the host
 *                   librpm version and the imgbuild binary itself (so a
 *                   rebuilt imgbuild starts with a cold root cache, on
 *                   purpose: a changed install stage must not reuse roots
 *                   the old one made).  Any change to the package set, or
 *                   to the lock's install order, is a different key.
 * initramfs/<key>   a generated initramfs, keyed by its inputs as they are
 *                   in the image root when it is made: the image's rpmdb
 *                   (the package set, hence the tool, its hooks and the
 *                   libraries it copies), the kernel image and module
 *                   indexes, the driver list, the initramfs configuration
 *                   trees (/etc/initramfs-tools, dracut.conf.d, modprobe.d,
 *                   fstab, …) and overlay files outside /etc, /home, /root,
 *                   /var, /srv, /opt.
 *
 * Entries are written under a temp name and renamed, so a reader never sees
 * a half-written one; only the newest ROOTCACHE_KEEP_ROOTS roots and
 * ROOTCACHE_KEEP_INITRAMFS initramfs files are kept (a hit refreshes an
 * entry's age).  A hit is a copy (cp -a --reflink=auto), never a hardlink:
 * configure edits files in place.  IMGBUILD_ROOTCACHE=0 turns both off.
 * Helpers print nothing but the one "reusing"/"stored" info line. */
#ifndef IMGBUILD_ROOTCACHE_H
#define IMGBUILD_ROOTCACHE_H

#include <stdbool.h>

#include "context.h"
#include "lock.h"
#include "plan.h"

#define ROOTCACHE_KEEP_ROOTS 2
#define ROOTCACHE_KEEP_INITRAMFS 4

/* False when IMGBUILD_ROOTCACHE=0 (or "no", "off"). */
bool rootcache_enabled(void);

/* The root cache key (64 hex digits) for installing l's packages as p asks.
 * Caller frees. */
int rootcache_root_key(const plan *p, const lock *l, char **ret_key);

/* Copy the cached root for key to root (which must not exist).  Returns 0
 * on a hit, -ENOENT on a miss; on any other failure root is removed again
 * and a negative errno is returned (the caller installs instead). */
int rootcache_root_restore(build_ctx *ctx, const char *key, const char *root);

/* Store a copy of root under key (temp dir + rename), then prune old
 * entries.  Returns 0 or a negative errno (the cache is only an
 * optimisation: callers warn and go on). */
int rootcache_root_store(build_ctx *ctx, const char *key, const char *root);

/* The initramfs cache key for kernel kver built by tool (a path inside the
 * image) with the given driver list into out (a path inside the image),
 * computed from the image root as it is now (call it right before running
 * the tool). */
int rootcache_initramfs_key(const plan *p, const char *root, const char *tool, const char *kver,
                            const char *drivers, const char *out, char **ret_key);

/* On a hit, copy the cached initramfs to out (inside root) and return 0;
 * -ENOENT on a miss, another negative errno on failure. */
int rootcache_initramfs_restore(build_ctx *ctx, const char *key, const char *root, const char *out);

/* Store root's out under key; prune.  0 or a negative errno. */
int rootcache_initramfs_store(build_ctx *ctx, const char *key, const char *root, const char *out);

#endif
