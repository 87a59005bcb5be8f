/* commands.c — shared bits of the command entry points. */
#include <stdio.h>

#include "commands.h"
#include "util.h"

int cmd_unavailable(const char *name) {
        log_error("'%s' is not available in this version of imgbuild yet", name);
        return EXIT_UNAVAILABLE;
}
