/* profile.h — the compiled-in image profiles: which kickstart, repo files,
 * kernel-config and overlay an image uses by default, how the output is
 * named and what the target needs (rpmdb format, cloud-init datasources,
 * the packages the installer adds implicitly).  Paths are relative to the
 * data dir (the repository root). */
#ifndef IMGBUILD_PROFILE_H
#define IMGBUILD_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct profile {
        const char *name;
        const char *description;
        const char *kickstart;
        const char *const *repo_files;
        const char *arch;
        const char *releasever;
        const char *infra;              /* yum $infra */
        const char *contentdir;         /* yum $contentdir */
        /* Output name: %G = disk size in GiB, %R = release (YYYYMMDD). */
        const char *image_name;
        const char *product_name;       /* /etc/image-id */
        const char *product_version;
        const char *rpmdb_format;
        const char *const *datasources;
        /* What anaconda adds beyond %packages (CentOS 7 comps @core has no
         * kernel, boot loader or dracut).  Dropped when the kickstart
         * excludes them; boot loader packages dropped with bootloader
         * --disable / --location=none. */
        const char *const *implicit_packages;
        const char *const *bootloader_packages;
        const char *overlay;            /* overlays/<name> */
        const char *overlay_manifest;   /* overlays/<name>.manifest (optional) */
        const char *kernel_config;      /* kernel-config/<name> */
        const char *default_formats;
        const char *default_fstype;
        uint64_t default_disk_mib;
        uint64_t min_root_mib;
        bool kdump_default;
} profile;

const profile *profile_find(const char *name);
/* NULL-terminated list, for --help. */
const profile *const *profile_all(void);

#endif
