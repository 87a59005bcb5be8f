/* Fuzz target: the parsers `imgbuild check` feeds with guest data — the
 * initramfs cpio walker (plain segments; compressed ones need a file) and
 * the GRUB 2 default-entry parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "initramfs.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 0) {
                FILE *f = fmemopen((void *)data, size, "r");
                if (f) {
                        initramfs_listing *l = NULL;
                        char *why = NULL;
                        char *const keep[] = { (char *)"modules.builtin", NULL };
                        if (initramfs_list_stream(f, -1, keep, &l, &why) == 0) initramfs_listing_free(l);
                        free(why);
                        fclose(f);
                }
        }
        char *s = xstrndup((const char *)data, size);
        char *nl = memchr(s, '\v', strlen(s)); /* optional grubenv after a \v */
        if (nl) *nl = '\0';
        grub_entry e = { 0 };
        if (grub_default_entry(s, nl ? nl + 1 : NULL, &e) == 0) grub_entry_done(&e);
        free(s);
        return 0;
}
