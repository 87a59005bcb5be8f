/* fetch.h — the fetch stage: every package of the lock into a
 * content-addressed cache, verified.
 *
 * Cache layout: <cache_dir>/packages/<checksum_type>/<hex>.rpm.  Entries are
 * written to a temp name in the same directory and renamed into place only
 * after size and checksum matched, so a name in the cache is always a
 * complete, verified file; two builds at once may both download an entry
 * (the rename makes that harmless).  The cache is flock()ed shared while a
 * build fetches, exclusive by anything that wants to prune it.
 *
 * file:// packages are verified where they are and used in place.
 * Concurrency: $IMGBUILD_FETCH_JOBS (default FETCH_DEFAULT_JOBS); transient
 * errors (connect, timeout, short read, HTTP 5xx/429) are retried
 * FETCH_RETRIES times with back-off, then the repo's other base URLs are
 * tried.  With gpgcheck=1 on the package's repo, the package's OpenPGP
 * signature must verify against that repo's gpgkey(s) only, and the payload
 * digest in the signed header must match the payload. */
#ifndef IMGBUILD_FETCH_H
#define IMGBUILD_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"
#include "lock.h"
#include "plan.h"

#define FETCH_DEFAULT_JOBS 8
#define FETCH_RETRIES 3

/* Fetch and verify every package of l.  *ret_paths (strv, parallel to
 * l->packages) gets the local path of each verified file.  Reports errors
 * itself (naming package and URL); returns 0, ERR_FETCH or ERR_INTERRUPTED. */
int fetch_packages(build_ctx *ctx, const plan *p, const lock *l, char ***ret_paths);

/* Building blocks, exported for unit tests. */

/* Cache path of a lock package under cache_root (caller frees).  NULL if
 * the checksum is not a plain lowercase/uppercase hex string. */
char *fetch_cache_path(const char *cache_root, const lock_package *pkg);

/* Check path's size and checksum.  Returns 0, ERR_FETCH (mismatch, message
 * in *ret_error) or -errno. */
int fetch_verify_file(const char *path, uint64_t size, const char *checksum_type,
                      const char *checksum, char **ret_error);

/* An rpm keyring made of the armored public keys in key_paths (local
 * files).  Returns 0 or ERR_FETCH with a message naming the bad key. */
struct rpmKeyring_s;
int fetch_keyring_load(char *const *key_paths, struct rpmKeyring_s **ret, char **ret_error);

/* Verify one package's signature against keyring (only), and its payload
 * against the payload digest in the signed header.  Returns 0 or ERR_FETCH
 * with a message saying what is wrong (unsigned, unknown key, bad
 * signature, tampered payload). */
int fetch_verify_signature(const char *rpm_path, struct rpmKeyring_s *keyring, char **ret_error);

#endif
