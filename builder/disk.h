/* disk.h — assemble the raw disk from the configured image root.
 *
 * A sparse raw file of plan->disk_size_bytes with an MBR holding one primary
 * bootable partition from 1 MiB to the end of the disk; the root filesystem
 * (ext4 built on the host with mke2fs -d at the partition's offset, or xfs
 * through libguestfs) with feature flags CentOS 7 and ECS accept; fstab and
 * the boot loader config by filesystem UUID; grub2 i386-pc (boot.img in the
 * MBR, core.img from sector 1, both from the image's own grub).  UUIDs, the
 * disk identifier and the label are derived from the image name and release
 * unless the plan gives them; SOURCE_DATE_EPOCH clamps file timestamps.
 *
 * raw_path is written atomically: on failure nothing is left there.
 * Reports its own errors; returns 0, -errno or ERR_IMAGE. */
#ifndef IMGBUILD_DISK_H
#define IMGBUILD_DISK_H

#include <stdint.h>

#include "context.h"
#include "plan.h"

/* Make the raw disk from root at *raw_path; when *raw_path is NULL, on the
 * build's scratch space (ctx_scratch_dir, sized by disk_scratch_bytes from
 * the root's usage) and *raw_path is set (caller frees).  0 or ERR_IMAGE
 * after printing the error; a failed disk is removed. */
int disk_assemble(build_ctx *ctx, const plan *p, const char *root, char **raw_path);

/* Scratch space a raw disk holding root_bytes of files takes. */
uint64_t disk_scratch_bytes(uint64_t root_bytes);

/* What root's files take on disk (whole 4 KiB blocks, hard links counted
 * once) and how many inodes: the data an image of root holds.  0 or -errno. */
int disk_root_usage(const char *root, uint64_t *ret_bytes, uint64_t *ret_inodes);

/* The root filesystem's UUID as disk_assemble will make it (deterministic
 * from the plan).  Writes 37 bytes. */
void disk_root_fs_uuid(const plan *p, char ret_uuid[37]);

/* Write the image's /etc/fstab: "/" by that UUID, the distribution's other
 * lines kept.  configure_root calls it before making the initramfs (whose
 * hooks read fstab); disk_assemble writes it again.  0 or -errno. */
int disk_write_fstab(const plan *p, const char *root);

/* The partition layout disk_assemble uses. */
#define DISK_PART_START_BYTES (UINT64_C(1) << 20)

#endif
