/* manifest.h — the release's description files, written after convert:
 * <image_name>.manifest.json (release, images with virtual sizes and
 * digests, kernel, every installed package with NEVRA and checksum from the
 * lock, lock and input digests, per-stage timings), <image_name>.spdx.json
 * (an SPDX 2.3 SBOM of the installed packages) and SHA256SUMS over all
 * outputs, manifest and SBOM included (`sha256sum -c SHA256SUMS` in the
 * output directory).  All three are written atomically; SHA256SUMS last. */
#ifndef IMGBUILD_MANIFEST_H
#define IMGBUILD_MANIFEST_H

#include "context.h"
#include "lock.h"
#include "plan.h"

#define MANIFEST_FORMAT_VERSION 1

/* outputs: the image paths convert_images() returned.  On success the
 * outputs are committed (convert_outputs_commit).  Reports its own errors;
 * returns 0, ERR_IMAGE or -errno. */
int manifest_write(build_ctx *ctx, const plan *p, const lock *l, char *const *outputs);

/* The pieces, for tests and for `imgbuild diff`.  created: RFC 3339 UTC
 * ("2019-06-19T00:00:00Z").  images: output paths (virtual size and digest
 * read from each).  Return malloc'd JSON text or NULL with *ret_error set. */
char *manifest_to_json(const build_ctx *ctx, const plan *p, const lock *l, char *const *images,
                       const char *created, char **ret_error);
char *sbom_to_json(const plan *p, const lock *l, const char *created);

/* The kernel package of a lock ("kernel", else the first "kernel-*" or
 * "linux-image-*" image package); NULL if none. */
const lock_package *manifest_find_kernel(const lock *l);

/* "now" or $SOURCE_DATE_EPOCH as RFC 3339 UTC, in buf (>= 21 bytes). */
void manifest_timestamp(char *buf, size_t len);

/* Writes SHA256SUMS in dir for files (basenames in dir), atomically. */
int sha256sums_write(const char *dir, char *const *files);

#endif
