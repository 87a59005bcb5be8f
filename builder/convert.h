/* convert.h — the convert stage: the assembled raw disk → the plan's output
 * formats (qcow2, VHD, raw) in the output directory, plus small image
 * helpers (format detection without probing, virtual size) shared with
 * boot-test and the manifest.
 *
 * Outputs are written under hidden temp names in the output directory and
 * renamed only when every format is complete.  Until manifest_write()
 * commits them (convert_outputs_commit), a failed or interrupted build
 * removes them again when the context is freed: a build leaves either all
 * its final files or none. */
#ifndef IMGBUILD_CONVERT_H
#define IMGBUILD_CONVERT_H

#include <stdint.h>

#include "context.h"
#include "plan.h"

/* qemu-img format names. */
#define IMG_FMT_QCOW2 "qcow2"
#define IMG_FMT_VPC   "vpc"
#define IMG_FMT_RAW   "raw"

/* Writes <p->output_dir>/<p->image_name>.<ext> for each of p->formats
 * ("qcow2", "vhd", "raw"; p->vhd_type "dynamic" or "fixed").  qcow2 and VHD
 * come from imgwrite (one pass, compression on every CPU, compressed
 * clusters cached in <ctx->cache_dir>/clusters, bounded by
 * $IMGBUILD_CLUSTER_CACHE_MB; zlib level $IMGBUILD_QCOW2_LEVEL, default
 * 4); $IMGBUILD_CONVERT=nocache skips that cache,
 * =qemu-img uses qemu-img convert for every format.  Returns 0 and a
 * NULL-terminated vector of the written paths (caller frees with
 * strv_free), ERR_IMAGE (reported, with qemu-img's log tail where it ran),
 * ERR_INPUT (unknown format or VHD type), ERR_INTERRUPTED, or -errno. */
int convert_images(build_ctx *ctx, const plan *p, const char *raw_path, char ***ret_outputs);

/* Marks the outputs of convert_images() on ctx as final: they are no longer
 * removed when ctx is freed.  Called by manifest_write() once SHA256SUMS is
 * in place. */
void convert_outputs_commit(build_ctx *ctx);

/* One conversion, no reporting: raw_path → dest (written in place; the
 * caller picks a temp name).  format: "qcow2", "vhd" or "raw"; vhd_type
 * "dynamic"/"fixed" (NULL = dynamic).  qemu-img's output goes to log_path;
 * its -p progress feeds a progress line labelled label (NULL = none).
 * Returns 0, ERR_IMAGE, ERR_INTERRUPTED or -errno. */
int convert_one(const char *raw_path, const char *format, const char *vhd_type, const char *dest,
                const char *log_path, const char *label);

/* File extension for an output format name ("vhd" → "vhd"); NULL if the
 * format is unknown. */
const char *convert_format_ext(const char *format);

/* The qemu-img driver of an image from its own magic, never by asking qemu
 * to probe: "qcow2" (QFI\xfb header), "vpc" (a "conectix" footer at the end,
 * fixed or dynamic), otherwise "raw".  -errno if it cannot be read,
 * ERR_BAD_IMAGE for an empty or non-regular file. */
int image_detect_format(const char *path, const char **ret_format);

/* Virtual size in bytes as qemu-img info reports it for the given driver
 * (format NULL = image_detect_format).  ERR_BAD_IMAGE if qemu-img cannot
 * open it as that format. */
int image_virtual_size(const char *path, const char *format, uint64_t *ret_size);

#endif
