/* disk.c — see disk.h.
 *
 * Layout: MBR (grub's boot.img in bytes 0–439, disk identifier, one primary
 * bootable Linux partition), grub's core.img from sector 1 up to the
 * partition, the root filesystem from 1 MiB to the end of the disk.
 *
 * ext4 is made on the host straight into the partition's offset of the
 * sparse raw file (mke2fs -d -E offset=…): a few seconds, no appliance.  xfs
 * needs a kernel to populate: mkfs.xfs on the host makes a sparse fs image,
 * libguestfs unpacks the tree into it, and its data extents are copied into
 * the raw file.  Feature flags are the ones CentOS 7's e2fsprogs 1.42 /
 * xfsprogs 4.5 and ECS accept. */
#include "disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <guestfs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "configure.h"
#include "imageroot.h"
#include "util.h"

#define SECTOR 512u

/* ext4 features of CentOS 7's mke2fs.conf (e2fsprogs 1.42.9), which its
 * e2fsck/resize2fs understand; no 64bit (ECS refuses it), no metadata_csum,
 * orphan_file or any other later feature. */
#define EXT4_FEATURES "none,has_journal,ext_attr,resize_inode,dir_index,filetype,extent,flex_bg," \
                      "sparse_super,large_file,huge_file,uninit_bg,dir_nlink,extra_isize"
/* xfs v5 without what xfsprogs 4.5 / older kernels cannot read */
#define XFS_META_OPTS "crc=1,finobt=1,reflink=0,rmapbt=0,bigtime=0,inobtcount=0"

typedef struct dsk {
        build_ctx *ctx;
        const plan *p;
        const char *root;
        char *log;
        char *err;
        /* layout */
        const plan_partition *part;
        const char *fstype;
        char *label;
        char uuid[37];
        char hash_seed[37];
        uint32_t disk_id;
        uint64_t disk_bytes, part_start, part_bytes;
        /* boot loader */
        bool boot;
        bool el;                /* grub2-* tool names, /boot/grub2, linux16 */
        const char *mkimage;
        const char *grubdir;    /* /boot/grub2 or /boot/grub */
        unsigned char *core;
        size_t core_len;
        unsigned char bootimg[SECTOR];
} dsk;

static int fail(dsk *d, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dsk *d, int r, const char *fmt, ...) {
        if (!d->err) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&d->err, fmt, ap) < 0) d->err = NULL;
                va_end(ap);
        }
        return r;
}

/* ---- deterministic identifiers ---------------------------------------- */

static void derive(const plan *p, const char *what, unsigned char out[16]) {
        _cleanup_free_ char *seed = xasprintf("imgbuild:%s:%s:%s", what, p->image_name ? p->image_name : "",
                                              p->release ? p->release : "");
        char hex[SHA256_HEX_LEN + 1];
        sha256_buf(seed, strlen(seed), hex);
        for (int i = 0; i < 16; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                out[i] = (unsigned char)v;
        }
}

static void uuid_format(unsigned char b[16], char out[37]) {
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 layout */
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void disk_root_fs_uuid(const plan *p, char ret_uuid[37]) {
        unsigned char b[16];
        derive(p, "root-fs-uuid", b);
        uuid_format(b, ret_uuid);
}

/* ---- layout ------------------------------------------------------------ */

static const plan_partition *root_partition(const plan *p) {
        for (size_t i = 0; i < p->n_partitions; i++)
                if (p->partitions[i].mountpoint && !strcmp(p->partitions[i].mountpoint, "/")) return &p->partitions[i];
        return NULL;
}


static int plan_layout(dsk *d) {
        const plan *p = d->p;
        d->part = root_partition(p);
        if (p->n_partitions > 1)
                return fail(d, ERR_IMAGE, "%zu partitions asked; ECS images have one root partition (part /) only", p->n_partitions);
        d->fstype = d->part && d->part->fstype ? d->part->fstype : "ext4";
        if (strcmp(d->fstype, "ext4") && strcmp(d->fstype, "xfs"))
                return fail(d, ERR_IMAGE, "%s: file system %s for / is not supported (ext4 or xfs)",
                            d->part && d->part->origin ? d->part->origin : "part /", d->fstype);
        d->label = xstrdup(d->part && d->part->label ? d->part->label : "root");
        if (strlen(d->label) > (strcmp(d->fstype, "xfs") ? 16u : 12u))
                return fail(d, ERR_IMAGE, "file system label '%s' is too long for %s", d->label, d->fstype);
        disk_root_fs_uuid(p, d->uuid);
        unsigned char b[16];
        derive(p, "ext4-hash-seed", b);
        uuid_format(b, d->hash_seed);
        derive(p, "mbr-disk-id", b);
        d->disk_id = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        if (!d->disk_id) d->disk_id = 0x1d15c0de;

        d->disk_bytes = p->disk_size_bytes;
        if (d->disk_bytes == 0 && d->part && d->part->size_mib) d->disk_bytes = (d->part->size_mib + 1) << 20;
        if (d->disk_bytes % SECTOR)
                return fail(d, ERR_IMAGE, "disk size %" PRIu64 " bytes is not a multiple of 512", d->disk_bytes);
        d->part_start = d->part && d->part->start_mib ? d->part->start_mib << 20 : DISK_PART_START_BYTES;
        if (d->disk_bytes < d->part_start + (16u << 20))
                return fail(d, ERR_IMAGE, "disk size %" PRIu64 " MiB is too small", d->disk_bytes >> 20);
        d->part_bytes = d->disk_bytes - d->part_start;            /* fill the disk */
        if (d->part && d->part->final_size_mib && (d->part->final_size_mib << 20) < d->part_bytes)
                d->part_bytes = d->part->final_size_mib << 20;
        /* the fs in whole 4 KiB blocks; the partition in whole sectors */
        d->part_bytes -= d->part_bytes % SECTOR;
        return 0;
}

/* ---- SOURCE_DATE_EPOCH and size estimate ------------------------------ */

static uint64_t est_bytes, est_inodes;

static int size_cb(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)path;
        (void)type;
        (void)ftw;
        est_inodes++;
        uint64_t b = (uint64_t)st->st_blocks * 512;
        if (S_ISDIR(st->st_mode) && b < 4096) b = 4096;
        /* hard links are counted once per link here: an over-estimate */
        if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) b /= st->st_nlink;
        est_bytes += (b + 4095) & ~(uint64_t)4095;
        return 0;
}

int disk_root_usage(const char *root, uint64_t *ret_bytes, uint64_t *ret_inodes) {
        est_bytes = est_inodes = 0;     /* nftw has no user pointer; single-threaded */
        if (nftw(root, size_cb, 64, FTW_PHYS | FTW_MOUNT) < 0) return -errno;
        if (ret_bytes) *ret_bytes = est_bytes;
        if (ret_inodes) *ret_inodes = est_inodes;
        return 0;
}

static int check_fits(dsk *d) {
        int r = disk_root_usage(d->root, NULL, NULL);
        if (r < 0) return fail(d, r, "cannot walk the image root %s: %s", d->root, strerror(-r));
        /* metadata: inode tables (1 per 16 KiB), journal (≤128 MiB), group
         * descriptors and reserved GDT blocks: ~8% of the partition */
        uint64_t usable = d->part_bytes - d->part_bytes / 12;
        uint64_t journal = d->part_bytes / 64 < (128u << 20) ? d->part_bytes / 64 : (128u << 20);
        usable = usable > journal ? usable - journal : 0;
        if (est_bytes > usable || est_inodes > d->part_bytes / 16384)
                return fail(d, ERR_IMAGE,
                            "the image root does not fit the disk: it needs about %" PRIu64 " MiB (%" PRIu64
                            " files) but the root partition of the %" PRIu64 " MiB disk holds about %" PRIu64
                            " MiB; raise the disk size (--disk-size) or shrink %%packages",
                            est_bytes >> 20, est_inodes, d->disk_bytes >> 20, usable >> 20);
        return 0;
}

/* ---- boot loader ------------------------------------------------------- */

static const char *fs_module(const dsk *d) { return strcmp(d->fstype, "xfs") ? "ext2" : "xfs"; }

static char *initrd_for(const char *root, const char *v) {
        const char *fmts[] = { "/boot/initramfs-%s.img", "/boot/initrd.img-%s", "/boot/initrd-%s", NULL };
        for (size_t i = 0; fmts[i]; i++) {
                char *p = xasprintf(fmts[i], v);
                if (root_exists(root, p)) return p;
                free(p);
        }
        return NULL;
}

static int find_grub(dsk *d) {
        static const char *const el[] = { "/usr/bin/grub2-mkimage", "/usr/sbin/grub2-mkimage", NULL };
        static const char *const deb[] = { "/usr/bin/grub-mkimage", "/usr/sbin/grub-mkimage", NULL };
        d->mkimage = root_find(d->root, el);
        d->el = d->mkimage != NULL;
        if (!d->mkimage) d->mkimage = root_find(d->root, deb);
        if (!d->mkimage)
                return fail(d, ERR_IMAGE, "the image has no grub mkimage tool (grub2-mkimage / grub-mkimage): "
                            "add the boot loader packages (grub2-pc, grub2-tools / grub-pc-bin, grub2-common) to %%packages");
        d->grubdir = d->el ? "/boot/grub2" : "/boot/grub";
        _cleanup_free_ char *mod = xasprintf("/usr/lib/grub/i386-pc/%s.mod", fs_module(d));
        if (!root_exists(d->root, "/usr/lib/grub/i386-pc/boot.img") || !root_exists(d->root, mod))
                return fail(d, ERR_IMAGE, "the image has no grub i386-pc modules (/usr/lib/grub/i386-pc with boot.img and %s.mod): "
                            "add grub2-pc-modules / grub-pc-bin to %%packages", fs_module(d));
        _cleanup_free_ char *bi = root_resolve(d->root, "/usr/lib/grub/i386-pc/boot.img", true);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file(bi, &data, &len);
        if (r < 0 || len != SECTOR || (unsigned char)data[510] != 0x55 || (unsigned char)data[511] != 0xaa)
                return fail(d, ERR_IMAGE, "the image's /usr/lib/grub/i386-pc/boot.img is not a 512-byte boot sector");
        memcpy(d->bootimg, data, SECTOR);
        return 0;
}

static char *entry_title(const dsk *d, const char *v) {
        _cleanup_free_ char *name = root_os_release(d->root, "NAME");
        _cleanup_free_ char *version = root_os_release(d->root, "VERSION");
        if (!name) name = xstrdup("Linux");
        if (d->el) return version ? xasprintf("%s (%s) %s", name, v, version) : xasprintf("%s (%s)", name, v);
        return xasprintf("%s, with Linux %s", name, v);
}

int disk_write_fstab(const plan *p, const char *root) {
        const plan_partition *part = root_partition(p);
        const char *fstype = part && part->fstype ? part->fstype : "ext4";
        const char *opts = part && part->fsoptions ? part->fsoptions : "defaults";
        char uuid[37];
        disk_root_fs_uuid(p, uuid);
        _cleanup_free_ char *cur = NULL;
        (void)root_read_file(root, "/etc/fstab", &cur);
        bool xfs = !strcmp(fstype, "xfs");
        size_t cap = (cur ? strlen(cur) : 0) + 512;
        char *out = xmalloc(cap);
        snprintf(out, cap,
                 "#\n# /etc/fstab (written by imgbuild)\n#\n"
                 "UUID=%s /                       %s     %s        %d %d\n",
                 uuid, fstype, opts, xfs ? 0 : 1, xfs ? 0 : 1);
        /* keep the distribution's other lines (tmpfs, …), drop any / entry
         * and the comments of the old header */
        for (char *line = cur; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = '\0';
                char dev[256], mp[256];
                bool keep = line[0] != '#' && line[0] != '\0';
                if (keep && sscanf(line, "%255s %255s", dev, mp) == 2 && !strcmp(mp, "/")) keep = false;
                if (keep) {
                        strcat(out, line);
                        strcat(out, "\n");
                }
                line = nl ? nl + 1 : NULL;
        }
        int r = root_write_file(root, "/etc/fstab", out, 0644);
        free(out);
        return r;
}

static int write_fstab(dsk *d) {
        int r = disk_write_fstab(d->p, d->root);
        return r < 0 ? fail(d, r, "cannot write /etc/fstab in the image: %s", strerror(-r)) : 0;
}

static int write_grub_config(dsk *d, char *const *kernels) {
        const plan *p = d->p;
        _cleanup_free_ char *cmdline = configure_kernel_cmdline(p);
        int timeout = p->bootloader.timeout >= 0 ? p->bootloader.timeout : 5;
        const char *serial = "serial --speed=115200 --unit=0 --word=8 --parity=no --stop=1";
        int r;

        /* /etc/default/grub: what grub2-mkconfig regenerates grub.cfg from */
        _cleanup_free_ char *defaults = xasprintf(
                "# written by imgbuild\n"
                "GRUB_TIMEOUT=%d\n"
                "GRUB_DISTRIBUTOR=%s\n"
                "GRUB_DEFAULT=%s\n"
                "GRUB_DISABLE_SUBMENU=true\n"
                "GRUB_TERMINAL=\"console serial\"\n"
                "GRUB_SERIAL_COMMAND=\"%s\"\n"
                "GRUB_CMDLINE_LINUX=\"%s\"\n"
                "GRUB_DISABLE_RECOVERY=\"true\"\n",
                timeout,
                d->el ? "\"$(sed 's, release .*$,,g' /etc/system-release)\"" : "`lsb_release -i -s 2> /dev/null || echo Debian`",
                d->el ? "saved" : "0", serial, cmdline);
        if ((r = root_write_file(d->root, "/etc/default/grub", defaults, 0644)) < 0)
                return fail(d, r, "cannot write /etc/default/grub in the image: %s", strerror(-r));

        /* grub.cfg in grub2-mkconfig's shape, so grubby and new-kernel-pkg
         * keep working with it */
        const char *lx = d->el ? "linux16" : "linux", *ird = d->el ? "initrd16" : "initrd";
        size_t cap = 8192, len = 0;
        char *cfg = xmalloc(cap);
#define APPEND(...)                                                                     \
        do {                                                                            \
                int n_ = snprintf(cfg + len, cap - len, __VA_ARGS__);                   \
                if ((size_t)n_ >= cap - len) {                                          \
                        cap = (cap + (size_t)n_) * 2;                                   \
                        cfg = xrealloc(cfg, cap);                                       \
                        n_ = snprintf(cfg + len, cap - len, __VA_ARGS__);               \
                }                                                                       \
                len += (size_t)n_;                                                      \
        } while (0)
        APPEND("#\n# written by imgbuild in the shape of grub2-mkconfig's output;\n"
               "# regenerate with %s-mkconfig -o %s/grub.cfg (reads /etc/default/grub)\n#\n",
               d->el ? "grub2" : "grub", d->grubdir);
        APPEND("set pager=1\n\nif [ -s $prefix/grubenv ]; then\n  load_env\nfi\n"
               "if [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n   set next_entry=\n"
               "   save_env next_entry\n   set boot_once=true\nelse\n   set default=\"%s\"\nfi\n\n",
               d->el ? "${saved_entry}" : "0");
        APPEND("if [ x\"${feature_menuentry_id}\" = xy ]; then\n  menuentry_id_option=\"--id\"\nelse\n"
               "  menuentry_id_option=\"\"\nfi\n\nexport menuentry_id_option\n\n");
        /* grub2-mkconfig's 00_header defines load_video; every entry calls it
         * (without it grub stops on "can't find command" before booting) */
        APPEND("function load_video {\n  if [ x$feature_all_video_module = xy ]; then\n    insmod all_video\n"
               "  else\n    insmod efi_gop\n    insmod efi_uga\n    insmod ieee1275_fb\n    insmod vbe\n"
               "    insmod vga\n    insmod video_bochs\n    insmod video_cirrus\n  fi\n}\n\n");
        APPEND("%s\nterminal_input console serial\nterminal_output console serial\n", serial);
        APPEND("if [ x$feature_timeout_style = xy ] ; then\n  set timeout_style=menu\n  set timeout=%d\n"
               "else\n  set timeout=%d\nfi\n\n", timeout, timeout);
        for (size_t i = 0; kernels[i]; i++) {
                const char *v = kernels[i];
                _cleanup_free_ char *title = entry_title(d, v);
                _cleanup_free_ char *initrd = initrd_for(d->root, v);
                if (!initrd) {
                        free(cfg);
                        return fail(d, ERR_IMAGE, "kernel %s has no initramfs in the image's /boot", v);
                }
                APPEND("menuentry '%s' --class gnu-linux --class gnu --class os --unrestricted $menuentry_id_option "
                       "'gnulinux-%s-advanced-%s' {\n", title, v, d->uuid);
                APPEND("\tload_video\n\tset gfxpayload=keep\n\tinsmod gzio\n\tinsmod part_msdos\n\tinsmod %s\n", fs_module(d));
                APPEND("\tset root='hd0,msdos1'\n"
                       "\tif [ x$feature_platform_search_hint = xy ]; then\n"
                       "\t  search --no-floppy --fs-uuid --set=root --hint='hd0,msdos1'  %s\n"
                       "\telse\n\t  search --no-floppy --fs-uuid --set=root  %s\n\tfi\n", d->uuid, d->uuid);
                APPEND("\t%s /boot/vmlinuz-%s root=UUID=%s ro %s\n\t%s %s\n}\n", lx, v, d->uuid, cmdline, ird, initrd);
        }
#undef APPEND
        _cleanup_free_ char *cfgpath = xasprintf("%s/grub.cfg", d->grubdir);
        r = root_write_file(d->root, cfgpath, cfg, d->el ? 0644 : 0444);
        free(cfg);
        if (r < 0) return fail(d, r, "cannot write %s in the image: %s", cfgpath, strerror(-r));

        /* grubenv: a 1024-byte block; EL boots saved_entry (grubby
         * --set-default and grub2-set-default write it) */
        char env[1024];
        _cleanup_free_ char *title = entry_title(d, kernels[0]);
        int n = snprintf(env, sizeof env, "# GRUB Environment Block\n%s%s%s", d->el ? "saved_entry=" : "",
                         d->el ? title : "", d->el ? "\n" : "");
        if (n < 0 || (size_t)n >= sizeof env) n = snprintf(env, sizeof env, "# GRUB Environment Block\n");
        memset(env + n, '#', sizeof env - (size_t)n);
        _cleanup_free_ char *envpath = xasprintf("%s/grubenv", d->grubdir);
        _cleanup_free_ char *envhost = root_resolve(d->root, envpath, false);
        if ((r = write_file_atomic(envhost, env, sizeof env, 0644)) < 0)
                return fail(d, r, "cannot write %s in the image: %s", envpath, strerror(-r));
        if (d->el && !root_exists(d->root, "/etc/grub2.cfg")) {
                _cleanup_free_ char *l = root_resolve(d->root, "/etc/grub2.cfg", false);
                unlink(l);
                if (symlink("../boot/grub2/grub.cfg", l) < 0) return fail(d, -errno, "cannot create /etc/grub2.cfg: %m");
        }
        return 0;
}

/* What grub-install puts next to grub.cfg: the i386-pc modules core.img
 * loads (normal.mod, …) from $prefix/i386-pc, from the image's own grub. */
static int copy_grub_modules(dsk *d) {
        _cleanup_free_ char *src = root_resolve(d->root, "/usr/lib/grub/i386-pc", true);
        _cleanup_free_ char *dst_in = xasprintf("%s/i386-pc", d->grubdir);
        _cleanup_free_ char *dst = root_resolve(d->root, dst_in, true);
        int r = mkdir_p(dst, 0755);
        if (r < 0) return fail(d, r, "cannot create %s in the image: %s", dst_in, strerror(-r));
        DIR *dir = opendir(src);
        if (!dir) return fail(d, -errno, "cannot read /usr/lib/grub/i386-pc in the image: %m");
        struct dirent *de;
        unsigned n = 0;
        while ((de = readdir(dir)) && r == 0) {
                if (!str_endswith(de->d_name, ".mod") && !str_endswith(de->d_name, ".lst")) continue;
                _cleanup_free_ char *from = xasprintf("%s/%s", src, de->d_name);
                _cleanup_free_ char *to = xasprintf("%s/%s", dst, de->d_name);
                if ((r = copy_file(from, to, 0644)) < 0)
                        r = fail(d, r, "cannot copy %s to %s in the image: %s", de->d_name, dst_in, strerror(-r));
                n++;
        }
        closedir(dir);
        if (r == 0 && n == 0) r = fail(d, ERR_IMAGE, "no grub modules in the image's /usr/lib/grub/i386-pc");
        return r;
}

/* core.img with the image's own mkimage, run in the image root. */
static int make_core(dsk *d) {
        _cleanup_free_ char *early = xasprintf("search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)%s\n",
                                               d->uuid, d->grubdir);
        const char *early_in = "/tmp/imgbuild-grub-early.cfg", *core_in = "/tmp/imgbuild-core.img";
        int r = root_write_file(d->root, early_in, early, 0644);
        if (r < 0) return fail(d, r, "cannot write %s in the image: %s", early_in, strerror(-r));
        _cleanup_free_ char *prefix = xasprintf("(hd0,msdos1)%s", d->grubdir);
        char *argv[] = { (char *)d->mkimage, "-O", "i386-pc", "-o", (char *)core_in, "-c", (char *)early_in,
                         "-p", prefix, "biosdisk", "part_msdos", (char *)fs_module(d), "search", "search_fs_uuid", NULL };
        r = root_run(d->root, NULL, argv, d->log);
        _cleanup_free_ char *early_host = root_resolve(d->root, early_in, false);
        _cleanup_free_ char *core_host = root_resolve(d->root, core_in, false);
        unlink(early_host);
        if (r != 0) {
                unlink(core_host);
                _cleanup_free_ char *tail = log_tail(d->log, 5);
                return fail(d, ERR_IMAGE, "%s failed in the image (exit %d):\n%s", d->mkimage, r, tail);
        }
        char *data = NULL;
        size_t len = 0;
        r = read_file(core_host, &data, &len);
        unlink(core_host);
        if (r < 0) return fail(d, r, "cannot read the core.img %s made: %s", d->mkimage, strerror(-r));
        if (len + SECTOR > d->part_start) {
                free(data);
                return fail(d, ERR_IMAGE, "grub core.img (%zu bytes) does not fit before the partition at %" PRIu64 " bytes",
                            len, d->part_start);
        }
        d->core = (unsigned char *)data;
        d->core_len = len;
        return 0;
}

/* ---- raw file ---------------------------------------------------------- */

static void chs(uint64_t lba, unsigned char out[3]) {
        uint64_t c = lba / (255 * 63), h = (lba / 63) % 255, s = lba % 63 + 1;
        if (c > 1023) c = 1023, h = 254, s = 63;
        out[0] = (unsigned char)h;
        out[1] = (unsigned char)((s & 0x3f) | ((c >> 2) & 0xc0));
        out[2] = (unsigned char)(c & 0xff);
}

static void put32(unsigned char *p, uint32_t v) {
        p[0] = (unsigned char)v;
        p[1] = (unsigned char)(v >> 8);
        p[2] = (unsigned char)(v >> 16);
        p[3] = (unsigned char)(v >> 24);
}


static int write_mbr(dsk *d, int fd) {
        unsigned char mbr[SECTOR];
        memset(mbr, 0, sizeof mbr);
        if (d->boot) memcpy(mbr, d->bootimg, 440);
        put32(mbr + 440, d->disk_id);
        unsigned char *e = mbr + 446;
        uint64_t start = d->part_start / SECTOR, count = d->part_bytes / SECTOR;
        e[0] = 0x80;                    /* bootable */
        chs(start, e + 1);
        e[4] = 0x83;                    /* Linux */
        chs(start + count - 1, e + 5);
        put32(e + 8, (uint32_t)start);
        put32(e + 12, (uint32_t)count);
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        int r = pwrite_all(fd, mbr, sizeof mbr, 0);
        if (r == 0 && d->boot) r = pwrite_all(fd, d->core, d->core_len, SECTOR);
        return r;
}

static int make_ext4(dsk *d, const char *tmp) {
        _cleanup_free_ char *conf = xasprintf("%s/mke2fs.conf", d->ctx->work_dir);
        /* private config: the host's defaults (64bit, metadata_csum,
         * orphan_file …) must not leak in */
        static const char conf_text[] =
                "[defaults]\n\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr\n"
                "\tblocksize = 4096\n\tinode_size = 256\n\tinode_ratio = 16384\n\n"
                "[fs_types]\n\text4 = {\n\t\tfeatures = has_journal,extent,huge_file,flex_bg,uninit_bg,dir_nlink,extra_isize\n"
                "\t\tinode_size = 256\n\t}\n\tdefault = {\n\t\tinode_ratio = 16384\n\t}\n";
        int r = write_file_atomic(conf, conf_text, sizeof conf_text - 1, 0644);
        if (r < 0) return fail(d, r, "cannot write %s: %s", conf, strerror(-r));
        _cleanup_free_ char *envconf = xasprintf("MKE2FS_CONFIG=%s", conf);
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        _cleanup_free_ char *envtime = sde && *sde ? xasprintf("E2FSPROGS_FAKE_TIME=%s", sde) : NULL;
        char *env[] = { envconf, envtime, NULL };
        _cleanup_free_ char *ext = xasprintf("offset=%" PRIu64 ",nodiscard,lazy_itable_init=0,lazy_journal_init=0,hash_seed=%s",
                                             d->part_start, d->hash_seed);
        _cleanup_free_ char *blocks = xasprintf("%" PRIu64, d->part_bytes / 4096);
        char *argv[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-T", "default", "-O", EXT4_FEATURES, "-b", "4096",
                         "-I", "256", "-U", d->uuid, "-L", d->label, "-E", ext, "-d", (char *)d->root,
                         (char *)tmp, blocks, NULL };
        r = root_run(NULL, env, argv, d->log);
        if (r != 0) {
                _cleanup_free_ char *tail = log_tail(d->log, 6);
                if (strstr(tail, "Could not allocate") || strstr(tail, "No space left") || strstr(tail, "Not enough space"))
                        return fail(d, ERR_IMAGE, "the image root does not fit the %" PRIu64 " MiB root partition "
                                    "(mke2fs: %s); raise the disk size", d->part_bytes >> 20, tail);
                return fail(d, ERR_IMAGE, "mke2fs -d failed (exit %d; log %s):\n%s", r, d->log, tail);
        }
        return 0;
}

/* Copy the data extents of src into fd at offset (the rest stays a hole). */
static int copy_sparse(const char *src, int fd, uint64_t offset) {
        int in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0) return -errno;
        struct stat st;
        if (fstat(in, &st) < 0) {
                close(in);
                return -errno;
        }
        int r = 0;
        off_t pos = 0;
        static char buf[1 << 20];
        while (pos < st.st_size && r == 0) {
                off_t data = lseek(in, pos, SEEK_DATA);
                if (data < 0) break;    /* ENXIO: only a hole is left */
                off_t hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0) hole = st.st_size;
                for (off_t o = data; o < hole && r == 0;) {
                        size_t want = (size_t)(hole - o) < sizeof buf ? (size_t)(hole - o) : sizeof buf;
                        ssize_t n = pread(in, buf, want, o);
                        if (n < 0 && errno == EINTR) continue;
                        if (n <= 0) {
                                r = n < 0 ? -errno : -EIO;
                                break;
                        }
                        r = pwrite_all(fd, buf, (size_t)n, (off_t)offset + o);
                        o += n;
                }
                pos = hole;
        }
        close(in);
        return r;
}

static int make_xfs(dsk *d, int fd) {
        _cleanup_free_ char *fsimg = xasprintf("%s/rootfs.xfs", d->ctx->work_dir);
        _cleanup_free_ char *tar = xasprintf("%s/rootfs.tar", d->ctx->work_dir);
        unlink(fsimg);
        int f = open(fsimg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (f < 0 || ftruncate(f, (off_t)d->part_bytes) < 0) {
                int r = -errno;
                if (f >= 0) close(f);
                return fail(d, r, "cannot create %s: %s", fsimg, strerror(-r));
        }
        close(f);
        _cleanup_free_ char *mopts = xasprintf("uuid=%s,%s", d->uuid, XFS_META_OPTS);
        char *mkfs[] = { "mkfs.xfs", "-q", "-f", "-m", mopts, "-i", "sparse=0", "-n", "ftype=1", "-L", d->label, fsimg, NULL };
        int r = root_run(NULL, NULL, mkfs, d->log);
        if (r != 0) {
                _cleanup_free_ char *tail = log_tail(d->log, 5);
                r = fail(d, ERR_IMAGE, "mkfs.xfs failed (exit %d; is xfsprogs installed?):\n%s", r, tail);
                goto out;
        }
        char *tarv[] = { "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "--one-file-system",
                         "-C", (char *)d->root, "-cf", tar, ".", NULL };
        r = root_run(NULL, NULL, tarv, d->log);
        if (r != 0) {
                r = fail(d, ERR_IMAGE, "tar of the image root failed (exit %d; log %s)", r, d->log);
                goto out;
        }
        /* KVM when it works, TCG otherwise: a /dev/kvm that exists but
         * fails (nested hosts) costs one retry */
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        bool tcg = kvm < 0;
        if (kvm >= 0) close(kvm);
        guestfs_h *g = NULL;
        const char *step = "create";
        for (int attempt = 0; attempt < 2; attempt++) {
                if (g) guestfs_close(g);
                g = guestfs_create();
                if (!g) {
                        r = fail(d, ERR_IMAGE, "cannot create a libguestfs handle");
                        goto out;
                }
                guestfs_set_error_handler(g, NULL, NULL);      /* we report, once */
                if (tcg) guestfs_set_backend_setting(g, "force_tcg", "1");
                step = "add_drive";
                if (guestfs_add_drive_opts(g, fsimg, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw", -1) < 0) goto gerr;
                step = "launch";
                if (guestfs_launch(g) == 0) break;
                if (tcg) goto gerr;
                tcg = true;
        }
        step = "mount";
        if (guestfs_mount(g, "/dev/sda", "/") < 0) goto gerr;
        step = "tar_in";
        if (guestfs_tar_in_opts(g, tar, "/", GUESTFS_TAR_IN_OPTS_XATTRS, 1, GUESTFS_TAR_IN_OPTS_ACLS, 1, -1) < 0) goto gerr;
        step = "umount";
        if (guestfs_umount_all(g) < 0) goto gerr;
        step = "shutdown";
        if (guestfs_shutdown(g) < 0) goto gerr;
        guestfs_close(g);
        r = copy_sparse(fsimg, fd, d->part_start);
        if (r < 0) r = fail(d, r, "cannot copy the xfs image into the disk: %s", strerror(-r));
        goto out;
gerr:
        {
                const char *e = guestfs_last_error(g) ? guestfs_last_error(g) : "(no message)";
                if (strstr(e, "No space left"))
                        r = fail(d, ERR_IMAGE, "the image root does not fit the %" PRIu64 " MiB root partition "
                                 "(libguestfs %s: %s); raise the disk size", d->part_bytes >> 20, step, e);
                else
                        r = fail(d, ERR_IMAGE, "libguestfs %s failed: %s", step, e);
        }
        guestfs_close(g);
out:
        unlink(tar);
        unlink(fsimg);
        return r;
}

/* ---- entry point ------------------------------------------------------- */

/* Something still mounted in the root (a stage's /proc, /dev) would be
 * copied into the image: refuse. */
static int check_no_mounts(dsk *d) {
        FILE *f = fopen("/proc/self/mounts", "re");
        if (!f) return 0;
        _cleanup_free_ char *real = realpath(d->root, NULL);
        const char *r0 = real ? real : d->root;
        size_t n = strlen(r0);
        char line[4096];
        int r = 0;
        while (fgets(line, sizeof line, f)) {
                char dev[1024], mp[2048];
                if (sscanf(line, "%1023s %2047s", dev, mp) != 2) continue;
                if (!strncmp(mp, r0, n) && mp[n] == '/') {
                        r = fail(d, ERR_IMAGE, "%s is still mounted inside the image root; unmount it first", mp);
                        break;
                }
        }
        fclose(f);
        return r;
}

uint64_t disk_scratch_bytes(uint64_t root_bytes) {
        /* the root's data plus file system metadata (inode tables, journal:
         * well under half again) */
        return root_bytes + root_bytes / 2 + (256ULL << 20);
}

static int assemble(dsk *d, char **raw_path) {
        int r;
        if ((r = plan_layout(d)) < 0) return r;
        if ((r = check_no_mounts(d)) < 0) return r;
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        if (sde && *sde) {
                if ((r = root_clamp_times(d->root, (time_t)strtoll(sde, NULL, 10))) < 0)
                        return fail(d, r, "cannot clamp timestamps to SOURCE_DATE_EPOCH in %s: %s", d->root, strerror(-r));
        }
        if ((r = check_fits(d)) < 0) return r;
        if (!*raw_path) *raw_path = xasprintf("%s/disk.raw", ctx_scratch_dir(d->ctx, disk_scratch_bytes(est_bytes)));

        d->boot = !d->p->bootloader.disabled && !(d->p->bootloader.location && !strcmp(d->p->bootloader.location, "none"));
        if ((r = write_fstab(d)) < 0) return r;
        if (d->boot) {
                char **kernels = root_kernels(d->root);
                if (!kernels[0]) {
                        strv_free(kernels);
                        return fail(d, ERR_IMAGE, "no kernel in the image's /boot (vmlinuz-*): add the kernel to %%packages "
                                    "or use bootloader --location=none");
                }
                if ((r = find_grub(d)) == 0 && (r = write_grub_config(d, kernels)) == 0 && (r = copy_grub_modules(d)) == 0)
                        r = make_core(d);
                strv_free(kernels);
                if (r < 0) return r;
        }
        /* clamp what we wrote ourselves too */
        if (sde && *sde && (r = root_clamp_times(d->root, (time_t)strtoll(sde, NULL, 10))) < 0)
                return fail(d, r, "cannot clamp timestamps in %s: %s", d->root, strerror(-r));

        _cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", *raw_path);
        int fd = mkstemp(tmp);
        if (fd < 0) return fail(d, -errno, "cannot create %s: %m", tmp);
        ctx_defer_remove(d->ctx, tmp);          /* interrupted half-way: gone at exit */
        (void)fchmod(fd, 0644);
        if (ftruncate(fd, (off_t)d->disk_bytes) < 0) {
                r = fail(d, -errno, "cannot size %s to %" PRIu64 " bytes: %m", tmp, d->disk_bytes);
                goto fail;
        }
        if ((r = write_mbr(d, fd)) < 0) {
                r = fail(d, r, "cannot write the MBR of %s: %s", tmp, strerror(-r));
                goto fail;
        }
        double t0 = now_seconds();
        if (!strcmp(d->fstype, "xfs")) r = make_xfs(d, fd);
        else {
                fsync(fd);
                r = make_ext4(d, tmp);
        }
        if (r < 0) goto fail;
        log_info("%s root file system built in %.1f s (UUID %s)", d->fstype, now_seconds() - t0, d->uuid);
        if (fsync(fd) < 0) {
                r = fail(d, -errno, "cannot sync %s: %m", tmp);
                goto fail;
        }
        close(fd);
        fd = -1;
        if (rename(tmp, *raw_path) < 0) {
                r = fail(d, -errno, "cannot rename %s to %s: %m", tmp, *raw_path);
                goto fail;
        }
        return 0;
fail:
        if (fd >= 0) close(fd);
        unlink(tmp);
        return r;
}

int disk_assemble(build_ctx *ctx, const plan *p, const char *root, char **raw_path) {
        dsk d = { .ctx = ctx, .p = p, .root = root, .log = xasprintf("%s/disk.log", ctx->work_dir) };
        struct stat st;
        int r;
        if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) r = fail(&d, -ENOENT, "image root %s is not a directory", root);
        else r = assemble(&d, raw_path);
        if (r < 0) {
                if (*raw_path) unlink(*raw_path);       /* never leave an older or partial disk behind */
                log_error("disk: %s", d.err ? d.err : strerror(-r));
        } else {
                log_info("disk %s: %" PRIu64 " MiB, MBR, / %s at %" PRIu64 " MiB, UUID %s", *raw_path, d.disk_bytes >> 20,
                         d.fstype, d.part_start >> 20, d.uuid);
        }
        free(d.err);
        free(d.log);
        free(d.label);
        free(d.core);
        return r < 0 ? r : 0;
}
