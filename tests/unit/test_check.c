/* Unit tests: check's pure parts — GRUB default entry, image format probe,
 * initramfs (cpio) walker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "initramfs.h"
#include "testutil.h"
#include "util.h"

static const char el7_cfg[] =
        "if [ -s $prefix/grubenv ]; then\n  load_env\nfi\n"
        "if [ \"${next_entry}\" ] ; then\n   set default=\"${next_entry}\"\n   set next_entry=\n"
        "else\n   set default=\"${saved_entry}\"\nfi\n"
        "menuentry 'Old (4.19.24)' --class centos $menuentry_id_option 'gnulinux-old' {\n"
        "\tlinux16 /boot/vmlinuz-4.19.24 root=UUID=aaa ro\n\tinitrd16 /boot/initramfs-4.19.24.img\n}\n"
        "menuentry 'New (4.19.91)' --class centos $menuentry_id_option 'gnulinux-new' {\n"
        "\tif [ x$feature_platform_search_hint = xy ]; then\n\t  search --set=root x\n\telse\n\t  search y\n\tfi\n"
        "\tlinux16 /boot/vmlinuz-4.19.91 root=UUID=bbb ro console=ttyS0\n"
        "\tinitrd16 /boot/microcode.cpio /boot/initramfs-4.19.91.img\n}\n";

static void test_grub_el7_saved(void) {
        grub_entry e = { 0 };
        CHECK_INTEQ(grub_default_entry(el7_cfg, "# GRUB\nsaved_entry=New (4.19.91)\n####", &e), 0);
        CHECK_STREQ(e.kernel, "/boot/vmlinuz-4.19.91");
        CHECK_STREQ(e.cmdline, "root=UUID=bbb ro console=ttyS0");
        CHECK(e.initrds && e.initrds[0] && e.initrds[1] && !e.initrds[2]);
        if (e.initrds && e.initrds[1]) CHECK_STREQ(e.initrds[1], "/boot/initramfs-4.19.91.img");
        grub_entry_done(&e);
        /* saved_entry by id; no grubenv → entry 0 */
        CHECK_INTEQ(grub_default_entry(el7_cfg, "saved_entry=gnulinux-new\n", &e), 0);
        CHECK_STREQ(e.kernel, "/boot/vmlinuz-4.19.91");
        grub_entry_done(&e);
        CHECK_INTEQ(grub_default_entry(el7_cfg, NULL, &e), 0);
        CHECK_STREQ(e.kernel, "/boot/vmlinuz-4.19.24");
        grub_entry_done(&e);
        /* unknown saved entry: GRUB falls back to the first */
        CHECK_INTEQ(grub_default_entry(el7_cfg, "saved_entry=gone\n", &e), 0);
        CHECK_STREQ(e.kernel, "/boot/vmlinuz-4.19.24");
        grub_entry_done(&e);
}

static void test_grub_debian_submenu(void) {
        const char *cfg =
                "set default=\"1>1\"\n"
                "menuentry 'Debian' { linux /vmlinuz-6.1 root=UUID=ccc ro quiet; initrd /initrd.img-6.1 }\n"
                "submenu 'Advanced options for Debian' $menuentry_id_option 'adv' {\n"
                "  menuentry 'Debian, with Linux 6.1' { linux /boot/vmlinuz-6.1 root=/dev/sda1 ro\n initrd /boot/initrd.img-6.1\n }\n"
                "  menuentry 'Debian, with Linux 5.10' { linux /boot/vmlinuz-5.10 root=/dev/sda1 ro\n"
                "    initrd /boot/initrd.img-5.10\n  }\n"
                "}\n";
        grub_entry e = { 0 };
        CHECK_INTEQ(grub_default_entry(cfg, NULL, &e), 0);
        CHECK_STREQ(e.kernel, "/boot/vmlinuz-5.10");
        grub_entry_done(&e);
        const char *cfg0 = "set default=0\nmenuentry 'A' {\n linux /vmlinuz-x root=UUID=1 \\\n  quiet\n}\n";
        CHECK_INTEQ(grub_default_entry(cfg0, NULL, &e), 0);
        CHECK_STREQ(e.kernel, "/vmlinuz-x");
        CHECK_STREQ(e.cmdline, "root=UUID=1 quiet");
        CHECK(e.initrds && !e.initrds[0]);
        grub_entry_done(&e);
        CHECK_INTEQ(grub_default_entry("# nothing\nset timeout=5\n", NULL, &e), -ENOENT);
        CHECK_INTEQ(grub_default_entry("menuentry 'unterminated {\n", NULL, &e), -ENOENT);
}

static char *write_tmp(const void *data, size_t len) {
        char *p = xstrdup("/tmp/imgbuild-check-XXXXXX");
        int fd = mkstemp(p);
        if (fd >= 0) {
                if (write(fd, data, len) != (ssize_t)len) CHECK(0);
                close(fd);
        }
        return p;
}

static void test_probe(void) {
        char *fmt = NULL, *why = NULL;
        uint64_t vs = 0;
        char *p = write_tmp("", 0);
        CHECK_INTEQ(check_probe_format(p, &fmt, &vs, &why), ERR_BAD_IMAGE);
        CHECK(why && strstr(why, "empty"));
        free(why);
        why = NULL;
        unlink(p);
        free(p);
        /* a qcow2 header whose tables lie beyond the end of the file */
        unsigned char q[512] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
        q[23] = 16;                      /* cluster bits */
        q[27] = 0x05;                    /* size 5 << 32 bytes */
        q[39] = 1;                       /* l1 size 1 */
        q[46] = 0x10;                    /* l1 offset 0x100000 */
        q[54] = 0x20;                    /* refcount offset 0x200000 */
        p = write_tmp(q, sizeof q);
        CHECK_INTEQ(check_probe_format(p, &fmt, &vs, &why), ERR_BAD_IMAGE);
        CHECK(why && strstr(why, "truncated qcow2"));
        free(why);
        why = NULL;
        unlink(p);
        free(p);
        /* an intact one */
        unsigned char *big = xcalloc(1, 3 << 20);
        memcpy(big, q, sizeof q);
        p = write_tmp(big, 3 << 20);
        CHECK_INTEQ(check_probe_format(p, &fmt, &vs, &why), 0);
        CHECK_STREQ(fmt, "qcow2");
        CHECK_INTEQ(vs, 5ULL << 32);
        free(fmt);
        fmt = NULL;
        unlink(p);
        free(p);
        /* fixed VHD: footer at the end */
        memset(big, 0, 3 << 20);
        unsigned char *foot = big + (3 << 20) - 512;
        memcpy(foot, "conectix", 8);
        foot[48 + 5] = 0x30;             /* current size 0x300000 */
        foot[63] = 2;                    /* fixed */
        p = write_tmp(big, 3 << 20);
        CHECK_INTEQ(check_probe_format(p, &fmt, &vs, &why), 0);
        CHECK_STREQ(fmt, "vpc");
        CHECK_INTEQ(vs, 0x300000);
        free(fmt);
        fmt = NULL;
        unlink(p);
        free(p);
        /* raw: zeros are fine, text is not */
        memset(big, 0, 3 << 20);
        p = write_tmp(big, 3 << 20);
        CHECK_INTEQ(check_probe_format(p, &fmt, &vs, &why), 0);
        CHECK_STREQ(fmt, "raw");
        free(fmt);
        unlink(p);
        free(p);
        memset(big, 'a', 3 << 20);
        p = write_tmp(big, 3 << 20);
        CHECK_INTEQ(check_probe_format(p, &fmt, &vs, &why), ERR_BAD_IMAGE);
        CHECK(why && strstr(why, "text"));
        free(why);
        unlink(p);
        free(p);
        free(big);
}

/* newc entry */
typedef struct sbuf_t { char *s; size_t len; } sbuf_t;
static void cpio_add(sbuf_t *b, const char *name, const char *data) {
        size_t nl = strlen(name) + 1, dl = data ? strlen(data) : 0;
        char hdr[111];
        snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 1u,
                 data ? 0100644u : 040755u, 0u, 0u, 1u, 0u, (unsigned)dl, 0u, 0u, 0u, 0u, (unsigned)nl, 0u);
        size_t npad = (4 - (110 + nl) % 4) % 4, dpad = (4 - dl % 4) % 4;
        b->s = xrealloc(b->s, b->len + 110 + nl + npad + dl + dpad);
        memcpy(b->s + b->len, hdr, 110);
        b->len += 110;
        memcpy(b->s + b->len, name, nl);
        b->len += nl;
        memset(b->s + b->len, 0, npad);
        b->len += npad;
        if (dl) memcpy(b->s + b->len, data, dl);
        b->len += dl;
        memset(b->s + b->len, 0, dpad);
        b->len += dpad;
}

static void test_cpio(void) {
        sbuf_t b = { 0 };
        cpio_add(&b, "kernel", NULL);
        cpio_add(&b, "kernel/x86/microcode/GenuineIntel.bin", "ucode");
        cpio_add(&b, "TRAILER!!!", NULL);
        b.s = xrealloc(b.s, b.len + 512);
        memset(b.s + b.len, 0, 512); /* padding between archives */
        b.len += 512;
        size_t second = b.len;
        cpio_add(&b, "./lib/modules/4.19/kernel/drivers/block/virtio_blk.ko.xz", "x");
        cpio_add(&b, "lib/modules/4.19/modules.builtin", "kernel/drivers/virtio/virtio_pci.ko\n");
        cpio_add(&b, "TRAILER!!!", NULL);
        FILE *f = fmemopen(b.s, b.len, "r");
        initramfs_listing *l = NULL;
        char *why = NULL;
        char *const keep[] = { (char *)"modules.builtin", NULL };
        CHECK_INTEQ(initramfs_list_stream(f, -1, keep, &l, &why), 0);
        fclose(f);
        if (l) {
                CHECK_INTEQ(strv_length(l->names), 4);
                CHECK(strv_contains(l->names, "lib/modules/4.19/kernel/drivers/block/virtio_blk.ko.xz"));
                CHECK_STREQ(l->kept_data[0], "kernel/drivers/virtio/virtio_pci.ko\n");
                initramfs_listing_free(l);
        }
        /* truncated: an error with a reason, not a crash */
        f = fmemopen(b.s, b.len - 40, "r");
        l = NULL;
        CHECK_INTEQ(initramfs_list_stream(f, -1, keep, &l, &why), ERR_BAD_IMAGE);
        CHECK(why && strstr(why, "truncated"));
        free(why);
        why = NULL;
        fclose(f);
        /* compressed part without a file descriptor to decompress from */
        f = fmemopen((void *)"\x28\xb5\x2f\xfd\x00\x00", 6, "r");
        CHECK_INTEQ(initramfs_list_stream(f, -1, keep, &l, &why), ERR_BAD_IMAGE);
        CHECK(why && strstr(why, "zstd"));
        free(why);
        why = NULL;
        fclose(f);
        /* real compression through the host's gzip: microcode + gzip cpio */
        char *plain = write_tmp(b.s, b.len);
        char *cmd = xasprintf("head -c %zu %s > %s.ic && tail -c +%zu %s | gzip -c >> %s.ic", second, plain, plain,
                              second + 1, plain, plain);
        CHECK_INTEQ(system(cmd), 0);
        free(cmd);
        char *ic = xasprintf("%s.ic", plain);
        l = NULL;
        int r = initramfs_list(ic, keep, &l, &why);
        CHECK_INTEQ(r, 0);
        if (r < 0) fprintf(stderr, "initramfs_list: %s\n", why ? why : "?");
        free(why);
        if (l) {
                CHECK(strv_contains(l->names, "lib/modules/4.19/kernel/drivers/block/virtio_blk.ko.xz"));
                CHECK_STREQ(l->segments[0], "cpio");
                CHECK_STREQ(l->segments[1], "gzip+cpio");
                initramfs_listing_free(l);
        }
        unlink(ic);
        unlink(plain);
        free(ic);
        free(plain);
        free(b.s);
}

TEST_MAIN(test_grub_el7_saved, test_grub_debian_submenu, test_probe, test_cpio)
