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
 * file:// packages are verified where they are and used in place.  With
 * p->offline (--offline) a package that is in neither is an error. 
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
#include "install.h"
#include "lock.h"
#include "plan.h"

#define FETCH_DEFAULT_JOBS 8
#define FETCH_RETRIES 3

/* Fetch and verify every package of l.  *ret_paths (strv, parallel to
 * l->packages) gets the local path of each verified file.  Reports errors
 * itself (naming package and URL); returns 0, ERR_FETCH or ERR_INTERRUPTED. */
int fetch_packages(build_ctx *ctx, const plan *p, const lock *l, char ***ret_paths);

/* A fetch that goes on while install runs: fetch_start … fetch_finish.
 *
 * fetch_start returns once rpm can read every package's header.  Cached
 * and file:// packages are verified whole, as by fetch_packages; of a
 * package still to download only its first bytes (lead, signature and
 * header) are fetched then, with HTTP range requests, into
 * <work_dir>/headers.  (A server that ignores ranges has the whole package
 * downloaded there instead.)  The payloads then download in the
 * background, in the order fetch_prefer sets (rpm's install order), while
 * install waits for each with fetch_wait.  On a cold cache the download
 * and the install overlap instead of adding up. */
typedef struct fetch_run fetch_run;

/* streamed=false: fetch everything in the background (fetch_packages).
 * streamed=true: *ret_header_paths (strv parallel to l->packages) is the
 * file to read each package's header from.  Returns 0 (fetch_finish must
 * follow), or ERR_FETCH / ERR_INTERRUPTED with the errors reported. */
int fetch_start(build_ctx *ctx, const plan *p, const lock *l, bool streamed, fetch_run **ret,
                char ***ret_header_paths);
/* Download the remaining payloads in this order (indexes into l->packages,
 * all n of them). */
void fetch_prefer(fetch_run *run, const size_t *order, size_t n);
/* Blocks until package i is downloaded and verified: its path, or NULL
 * when the fetch failed or was cancelled (fetch_finish says why). */
const char *fetch_wait(fetch_run *run, size_t i);
/* Package i's path if it is downloaded and verified by now, else NULL;
 * does not wait. */
const char *fetch_ready(fetch_run *run, size_t i);
/* Start no further downloads (the install failed). */
void fetch_cancel(fetch_run *run);
/* fetch_wait, fetch_ready and fetch_prefer as install_packages takes them. */
install_source fetch_source(fetch_run *run);
/* Joins the downloads, reports every failure (naming package and URL),
 * frees run.  *ret_paths (if not NULL): every package's verified file.
 * Returns 0, ERR_FETCH or ERR_INTERRUPTED. */
int fetch_finish(fetch_run *run, char ***ret_paths);

/* Building blocks, exported for unit tests. */

/* Where an rpm's header ends, from its first len bytes: the offset, 0 if
 * more bytes are needed to tell, -1 if they are not an rpm's. */
int64_t fetch_rpm_header_end(const unsigned char *buf, size_t len);

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
