/* cmd_seed.c — `imgbuild seed`: a cloud-init NoCloud seed image, what
 * `cloud-localds seed.img user-data meta-data` makes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "seed.h"
#include "util.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: imgbuild seed --user-data FILE --meta-data FILE [OPTIONS] -o SEED.img\n"
                "\n"
                "Makes a cloud-init NoCloud seed image (file system label \"cidata\") to attach\n"
                "to a VM as a second disk, like cloud-localds.\n"
                "\n"
                "Options:\n"
                "  -u, --user-data FILE       user-data: #cloud-config YAML, a #! script, #include,\n"
                "                             #cloud-boothook, ## template: jinja or MIME multipart\n"
                "  -m, --meta-data FILE       meta-data (YAML mapping: instance-id, local-hostname …)\n"
                "  -n, --network-config FILE  network-config (YAML, version 1 or 2)\n"
                "  -V, --vendor-data FILE     vendor-data (same formats as user-data)\n"
                "  -o, --output FILE          the seed image to write (replaced atomically)\n"
                "  -f, --fs TYPE              iso9660 (default, as cloud-localds) or vfat\n"
                "  -q, --quiet                print nothing on success\n"
                "  -h, --help                 show this help\n"
                "\n"
                "Exit status: 0 written, 2 bad option or input file (nothing written),\n"
                "6 the file system tool failed, 130 interrupted.\n");
}

int cmd_seed(int argc, char **argv) {
        static const struct option opts[] = {
                { "user-data", required_argument, NULL, 'u' },
                { "meta-data", required_argument, NULL, 'm' },
                { "network-config", required_argument, NULL, 'n' },
                { "vendor-data", required_argument, NULL, 'V' },
                { "output", required_argument, NULL, 'o' },
                { "fs", required_argument, NULL, 'f' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        seed_files f = { 0 };
        const char *out = NULL;
        seed_fs fs = SEED_FS_ISO9660;
        int c;
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":u:m:n:V:o:f:qh", opts, NULL)) != -1) {
                switch (c) {
                case 'u': f.user_data = optarg; break;
                case 'm': f.meta_data = optarg; break;
                case 'n': f.network_config = optarg; break;
                case 'V': f.vendor_data = optarg; break;
                case 'o': out = optarg; break;
                case 'f':
                        if (!strcmp(optarg, "iso9660") || !strcmp(optarg, "iso"))
                                fs = SEED_FS_ISO9660;
                        else if (!strcmp(optarg, "vfat") || !strcmp(optarg, "fat"))
                                fs = SEED_FS_VFAT;
                        else {
                                log_error("seed: --fs must be iso9660 or vfat, not '%s'", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'q': log_set_quiet(true); break;
                case 'h': usage(stdout); return EXIT_OK;
                case ':':
                        log_error("seed: option %s needs a value", argv[optind - 1]);
                        return EXIT_USAGE;
                default:
                        log_error("seed: unknown option '%s' (see imgbuild seed --help)", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("seed: unexpected argument '%s' (see imgbuild seed --help)", argv[optind]);
                return EXIT_USAGE;
        }
        if (!f.user_data || !f.meta_data || !out) {
                log_error("seed: --user-data, --meta-data and -o are required (see imgbuild seed --help)");
                return EXIT_USAGE;
        }
        char *err = NULL;
        int r = seed_make(&f, fs, out, &err);
        if (r == ERR_INTERRUPTED) {
                log_error("seed: interrupted; nothing written");
        } else if (r < 0) {
                log_error("seed: %s; %s not written", err ? err : strerror(-r), out);
        } else {
                log_info("seed: wrote %s (%s, label cidata)", out, fs == SEED_FS_ISO9660 ? "iso9660" : "vfat");
        }
        free(err);
        return exit_code_for(r);
}
