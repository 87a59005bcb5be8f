/* fuzz_kickstart.c — libFuzzer target: the kickstart parser on arbitrary
 * bytes (no %include: it would read the file system).  The first byte picks
 * --strict, so both paths are explored. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kickstart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        kickstart *ks = NULL;
        char *err = NULL;
        unsigned flags = KS_NO_INCLUDE | (size && (data[0] & 1) ? KS_STRICT : 0);
        if (ks_parse_string("fuzz.ks", (const char *)data, size, flags, &ks, &err) == 0) {
                if (!ks) abort();
                ks_free(ks);
        } else if (!err)
                abort();        /* every failure must say why */
        free(err);
        return 0;
}
