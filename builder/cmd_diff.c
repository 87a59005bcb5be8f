/* cmd_diff.c — `imgbuild diff` (not built yet). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

int cmd_diff(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                        printf("Usage: imgbuild diff [OPTIONS]\n\n(not available yet)\n");
                        return EXIT_OK;
                }
        return cmd_unavailable("diff");
}
