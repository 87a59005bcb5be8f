/* profile.c — see profile.h.  The values and where they come from are
 * documented in kernel-config/README.md and the README's "Profiles". */
#include "profile.h"

#include <string.h>

#define V(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const profile aliyun2 = {
        .name = "aliyun2",
        .description = "Alibaba Cloud Linux 2.1903 LTS 64-bit (the release image)",
        .kickstart = "kickstart/aliyun2.ks",
        .repo_files = V("repos/aliyun2.repo", "repos/cloud-kernel.repo"),
        .arch = "x86_64",
        .releasever = "2.1903",
        .infra = "stock",
        .contentdir = "centos",
        .image_name = "aliyun_2_1903_64_%GG_alibase_%R",
        .product_name = "Alibaba Cloud Linux",
        .product_version = "2.1903 LTS",
        /* The target's rpm 4.11 reads Berkeley DB only. */
        .rpmdb_format = "bdb",
        .datasources = V("AliYun", "NoCloud"),
        /* anaconda adds the kernel, the boot loader (grub2 → grub2-pc on
         * BIOS, grub2-tools for grub2-mkconfig/grub2-install) and the file
         * system tools of the partitions; dracut builds the initramfs. */
        .implicit_packages = V("kernel", "dracut", "e2fsprogs"),
        .bootloader_packages = V("grub2", "grub2-tools"),
        .overlay = "overlays/aliyun2",
        .overlay_manifest = "overlays/aliyun2.manifest",
        .kernel_config = "kernel-config/aliyun2",
        .default_formats = "qcow2,vhd",
        .default_fstype = "ext4",
        .default_disk_mib = 20 * 1024,
        .min_root_mib = 2048,
        .kdump_default = true,
};

static const profile demo = {
        .name = "demo",
        .description = "offline demo image from the Debian-based fixture distribution",
        .kickstart = "kickstart/demo.ks",
        .repo_files = V("repos/fixture.repo"),
        .arch = "x86_64",
        .releasever = "12",
        .infra = "stock",
        .contentdir = "debian",
        .image_name = "imgbuild_demo_%R",
        .product_name = "imgbuild demo",
        .product_version = "12",
        .rpmdb_format = "bdb",
        .datasources = V("NoCloud"),
        /* The fixture's kernel is the rpm "kernel"; Debian boots with
         * initramfs-tools and grub-pc's i386-pc modules + grub2-common's
         * grub-mkconfig. */
        .implicit_packages = V("kernel", "initramfs-tools", "e2fsprogs"),
        .bootloader_packages = V("grub-pc-bin", "grub2-common"),
        .overlay = "overlays/demo",
        .overlay_manifest = "overlays/demo.manifest",
        .kernel_config = "kernel-config/demo",
        .default_formats = "qcow2",
        .default_fstype = "ext4",
        .default_disk_mib = 20 * 1024,
        .min_root_mib = 1024,
        .kdump_default = false,
};

static const profile *const all[] = { &aliyun2, &demo, NULL };

const profile *profile_find(const char *name) {
        for (size_t i = 0; all[i]; i++)
                if (!strcmp(all[i]->name, name))
                        return all[i];
        return NULL;
}

const profile *const *profile_all(void) { return all; }
