/* cmd_check.c — `imgbuild check IMAGE… [--profile P] [--rpmdb F] [--json]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "commands.h"
#include "util.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: imgbuild check IMAGE... [OPTIONS]\n"
                "\n"
                "Checks raw, qcow2 or VHD images against the ECS import rules without booting\n"
                "them (libguestfs, read-only) and reports each item as OK, WARNING or FAILED,\n"
                "with what was found and how to fix it.  Several images are checked in one\n"
                "libguestfs appliance (much faster than one run each).\n"
                "\n"
                "Options:\n"
                "  --profile NAME   aliyun2 (ECS, EL7 rules; default) or nocloud (on-premise,\n"
                "                   the Debian-based demo image; 'demo' is an alias)\n"
                "  --rpmdb FORMAT   rpm database format the target reads: bdb or sqlite\n"
                "                   (default: bdb for aliyun2, either for nocloud)\n"
                "  --json           machine-readable report (an array when several images)\n"
                "  -v, --verbose    debug output (timings, what is probed)\n"
                "  -q, --quiet      no progress messages\n"
                "  -h, --help       show this help\n"
                "\n"
                "Exit status: 0 all items OK or WARNING, 8 some item FAILED, 9 a file is not\n"
                "a readable disk image (or holds no operating system), 2 usage.\n");
}

int cmd_check(int argc, char **argv) {
        static const struct option opts[] = {
                { "profile", required_argument, NULL, 'p' },
                { "rpmdb", required_argument, NULL, 'r' },
                { "json", no_argument, NULL, 'j' },
                { "verbose", no_argument, NULL, 'v' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        check_options o = { 0 };
        bool json = false;
        optind = 1;
        int c;
        while ((c = getopt_long(argc, argv, "hvq", opts, NULL)) != -1) {
                switch (c) {
                case 'p': o.profile = optarg; break;
                case 'r': o.rpmdb_format = optarg; break;
                case 'j': json = true; break;
                case 'v': log_set_verbose(true); break;
                case 'q': log_set_quiet(true); break;
                case 'h': usage(stdout); return EXIT_OK;
                default: usage(stderr); return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "imgbuild check: no image given\n\n");
                usage(stderr);
                return EXIT_USAGE;
        }
        if (!check_profile_canonical(o.profile)) {
                log_error("check: unknown profile '%s' (aliyun2, nocloud)", o.profile);
                return EXIT_USAGE;
        }
        if (o.rpmdb_format && strcmp(o.rpmdb_format, "bdb") && strcmp(o.rpmdb_format, "sqlite")) {
                log_error("check: unknown rpmdb format '%s' (bdb, sqlite)", o.rpmdb_format);
                return EXIT_USAGE;
        }
        size_t n = (size_t)(argc - optind);
        char **paths = argv + optind;
        check_report **reps = xcalloc(n, sizeof *reps);
        char **errs = xcalloc(n, sizeof *errs);
        int *codes = xcalloc(n, sizeof *codes);
        int r = check_run(paths, n, &o, reps, errs, codes);
        int ret = EXIT_OK;
        if (r < 0) {
                log_error("check: %s", r == ERR_INTERRUPTED ? "interrupted" : strerror(-r));
                ret = exit_code_for(r);
        } else {
                bool bad = false, failed = false;
                if (json && n > 1) printf("[\n");
                for (size_t i = 0; i < n; i++) {
                        if (!reps[i]) {
                                log_error("check: %s: %s", paths[i], errs[i] ? errs[i] : "cannot be checked");
                                bad = true;
                                if (json && n > 1) {
                                        char *e = errs[i] ? errs[i] : "cannot be checked";
                                        printf("%s{ \"image\": \"", i ? ",\n" : "");
                                        for (const char *p = paths[i]; *p; p++)
                                                if (*p == '"' || *p == '\\') printf("\\%c", *p);
                                                else if ((unsigned char)*p < 32) printf("\\u%04x", *p);
                                                else putchar(*p);
                                        printf("\", \"error\": \"");
                                        for (const char *p = e; *p; p++)
                                                if (*p == '"' || *p == '\\') printf("\\%c", *p);
                                                else if ((unsigned char)*p < 32) printf("\\u%04x", *p);
                                                else putchar(*p);
                                        printf("\" }");
                                }
                                continue;
                        }
                        if (check_report_count(reps[i], CHECK_FAILED)) failed = true;
                        if (json) {
                                char *s = check_report_json(reps[i]);
                                printf("%s%s", n > 1 && i ? ",\n" : "", s);
                                if (n == 1) printf("\n");
                                free(s);
                        } else {
                                if (i) printf("\n");
                                check_report_print(reps[i], stdout);
                        }
                }
                if (json && n > 1) printf("\n]\n");
                ret = bad ? EXIT_BAD_IMAGE : failed ? EXIT_CHECK : EXIT_OK;
        }
        for (size_t i = 0; i < n; i++) {
                check_report_free(reps[i]);
                free(errs[i]);
        }
        free(reps);
        free(errs);
        free(codes);
        fflush(stdout);
        return ret;
}
