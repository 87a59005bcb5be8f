/* install.h — the install stage: the lock's packages into a staging root
 * with librpm, the way the target's own installer would.
 *
 * One transaction, ordered by rpm, tested first (RPMTRANS_FLAG_TEST) so
 * conflicts and lack of disk space stop the build before a file is written.
 * Scriptlets run chrooted in the root with /dev (a small tmpfs with the
 * usual nodes), /proc and /sys mounted in a private mount namespace; they
 * are unmounted on every exit path.  Scriptlet output goes to
 * <work_dir>/install-scriptlets.log.
 *
 * Host configuration stays out: only rpm's own macro files are read (no
 * /etc/rpm, no ~/.rpmmacros), then %_dbpath=/var/lib/rpm,
 * %_db_backend=sqlite, %_install_langs, %_flush_io=0, %_pkgverify_level
 * none (fetch verified the packages) are forced, rpm plugins are off.  Per
 * file digests are checked only where install_needs_file_digests says so.
 *
 * rpm reads each package of the real run from payload.h's feeder: a copy
 * made ahead on a helper thread, its payload already decompressed.
 *
 * After the transaction the database is written in p->rpmdb_format (see
 * rpmdb.h).  On failure the root is removed unless p->keep_work. */
#ifndef IMGBUILD_INSTALL_H
#define IMGBUILD_INSTALL_H

#include "context.h"
#include "lock.h"
#include "plan.h"

/* Packages that are still downloading (fetch.h's fetch_source): rpm reads
 * the headers from rpm_paths, install passes rpm's order to prefer(), and
 * asks wait() for each whole, verified file when rpm needs its payload, or
 * when a header will not read (NULL: it could not be had); ready() is the
 * whole file if it is already there (NULL: not yet, or never), at once. */
typedef struct install_source {
        const char *(*wait)(void *data, size_t i);
        const char *(*ready)(void *data, size_t i);
        void (*prefer)(void *data, const size_t *order, size_t n);
        void *data;
} install_source;

/* Install the packages of l (files rpm_paths, parallel to l->packages) into
 * root (created; must not exist or be empty).  pending: NULL, or where the
 * whole files are still coming from.  Reports errors itself, naming the
 * package; returns 0, ERR_INSTALL, ERR_FETCH (a download pending failed:
 * the fetch reports it) or ERR_INTERRUPTED. */
int install_packages(build_ctx *ctx, const plan *p, const lock *l, char *const *rpm_paths,
                     const char *root, const install_source *pending);

/* Where to stage a root the root cache will not keep (the path; caller
 * frees): on the build's scratch tmpfs when the host has memory for the
 * root and the raw disk made from it later (ctx_scratch_dir), else in the
 * work dir.  On tmpfs, rpm's ~20 file-system calls per file cost a third of
 * what they cost on ext4 here.  (A kept root is installed next to the cache
 * and moved in: copying a tmpfs root in costs what the install saves.) */
char *install_staging_root(build_ctx *ctx, char *const *rpm_paths);

/* Whether rpm must check each unpacked file against the header's digests
 * for a package of repo_id.  Only where a signature is all that vouches for
 * the payload and no signed payload digest covers it (packages built before
 * rpm 4.14, CentOS 7's among them): fetch has already checked every file
 * against the lock's sha256 and, for a gpgcheck'd repo, the payload against
 * its signed digest.  Skipping it saves a sixth of the install's CPU. */
bool install_needs_file_digests(const plan *p, const char *repo_id, bool has_payload_digest);

/* Read rpm's configuration once per process, host files excluded, for the
 * given target arch (NULL = x86_64).  Used by fetch and rpmdb too.  Returns
 * 0 or -EIO. */
int install_rpm_init(const char *arch);

#endif
