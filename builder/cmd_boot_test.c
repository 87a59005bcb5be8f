/* cmd_boot_test.c — `imgbuild boot-test IMAGE`: boot it under qemu with a
 * NoCloud seed and wait for cloud-init to finish. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boottest.h"
#include "commands.h"
#include "util.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: imgbuild boot-test IMAGE [OPTIONS]\n"
                "\n"
                "Boots IMAGE (qcow2, VHD or raw; never modified: changes go to a temporary\n"
                "snapshot) with qemu-system-x86_64 — KVM when it works, TCG otherwise; q35,\n"
                "2 vCPUs, 2 GiB, virtio disk and net, serial console to a log — and passes\n"
                "when cloud-init reports \"finished\" and the seed's user-data has run.\n"
                "\n"
                "Options:\n"
                "  -s, --seed FILE      NoCloud seed to attach (default: make one whose user-data\n"
                "                       prints a unique marker on the console, and wait for it)\n"
                "  -e, --expect TEXT    with --seed: TEXT must also appear on the console (e.g. a\n"
                "                       marker your user-data prints to /dev/ttyS0)\n"
                "  -t, --timeout SECS   give up after SECS (default %d)\n"
                "  -l, --log FILE       console log (kept; default under $TMPDIR or /var/tmp)\n"
                "      --accel A        kvm or tcg (default: kvm when /dev/kvm works)\n"
                "      --memory MIB     guest memory (default 2048)\n"
                "      --cpus N         vCPUs (default 2)\n"
                "  -q, --quiet          print only failures\n"
                "  -h, --help           show this help\n"
                "\n"
                "Fails (exit 7) on timeout, kernel panic, an emergency shell, a failed systemd\n"
                "unit or qemu ending early, printing the console log's tail.  Exit 9: IMAGE is\n"
                "not a disk image; 2: bad option; 130: interrupted (qemu is stopped).\n",
                BOOT_DEFAULT_TIMEOUT);
}

static int parse_int(const char *opt, const char *s, int min, int max, int *ret) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max) {
                log_error("boot-test: %s must be a number from %d to %d, not '%s'", opt, min, max, s);
                return -1;
        }
        *ret = (int)v;
        return 0;
}

static void print_tail(const char *path, int lines) {
        _cleanup_free_ char *tail = boot_console_tail(path, lines);
        fprintf(stderr, "---- last %d lines of the console log ----\n%s%s---- end of console log ----\n", lines, tail,
                *tail ? "\n" : "");
}

static void print_time(const char *what, double t) {
        if (t >= 0)
                fprintf(stderr, "  %-26s %6.1f s\n", what, t);
        else
                fprintf(stderr, "  %-26s    not seen\n", what);
}

int cmd_boot_test(int argc, char **argv) {
        enum { OPT_ACCEL = 256, OPT_MEMORY, OPT_CPUS };
        static const struct option opts[] = {
                { "seed", required_argument, NULL, 's' },
                { "timeout", required_argument, NULL, 't' },
                { "log", required_argument, NULL, 'l' },
                { "expect", required_argument, NULL, 'e' },
                { "accel", required_argument, NULL, OPT_ACCEL },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        boot_options o = { 0 };
        int c;
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":s:t:l:e:qh", opts, NULL)) != -1) {
                switch (c) {
                case 's': o.seed = optarg; break;
                case 't':
                        if (parse_int("--timeout", optarg, 1, 86400, &o.timeout) < 0) return EXIT_USAGE;
                        break;
                case 'l': o.log_path = optarg; break;
                case 'e': o.expect = optarg; break;
                case OPT_ACCEL:
                        if (strcmp(optarg, "kvm") && strcmp(optarg, "tcg")) {
                                log_error("boot-test: --accel must be kvm or tcg, not '%s'", optarg);
                                return EXIT_USAGE;
                        }
                        o.accel = optarg;
                        break;
                case OPT_MEMORY:
                        if (parse_int("--memory", optarg, 256, 1 << 20, &o.memory_mib) < 0) return EXIT_USAGE;
                        break;
                case OPT_CPUS:
                        if (parse_int("--cpus", optarg, 1, 64, &o.cpus) < 0) return EXIT_USAGE;
                        break;
                case 'q': log_set_quiet(true); break;
                case 'h': usage(stdout); return EXIT_OK;
                case ':':
                        log_error("boot-test: option %s needs a value", argv[optind - 1]);
                        return EXIT_USAGE;
                default:
                        log_error("boot-test: unknown option '%s' (see imgbuild boot-test --help)", argv[optind - 1]);
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                log_error("boot-test: give exactly one IMAGE (see imgbuild boot-test --help)");
                return EXIT_USAGE;
        }
        o.image = argv[optind];
        if (o.expect && !o.seed) {
                log_error("boot-test: --expect needs --seed (without one, boot-test makes a seed and its own marker)");
                return EXIT_USAGE;
        }
        if (o.expect && !*o.expect) {
                log_error("boot-test: --expect needs a non-empty TEXT");
                return EXIT_USAGE;
        }
        log_info("boot-test: booting %s%s%s …", o.image, o.seed ? " with seed " : "", o.seed ? o.seed : "");
        boot_result *res = NULL;
        char *err = NULL;
        int r = boot_test_run(&o, &res, &err);
        if (r < 0) {
                log_error("boot-test: %s", err ? err : strerror(-r));
                free(err);
                return exit_code_for(r);
        }
        int rc;
        if (res->verdict == BOOT_PASS) {
                if (!log_is_quiet()) {
                        fprintf(stderr, "boot-test: PASS %s (%s)\n", o.image, res->accel);
                        print_time("kernel (Linux version)", res->t_kernel);
                        print_time("login prompt", res->t_login);
                        print_time("cloud-init finished", res->t_cloudinit);
                        fprintf(stderr, "  %s\n  console log: %s\n", res->detail ? res->detail : "", res->log_path);
                }
                rc = EXIT_OK;
        } else if (res->verdict == BOOT_INTERRUPTED) {
                log_error("boot-test: interrupted; qemu stopped; console log: %s", res->log_path);
                rc = EXIT_INTERRUPTED;
        } else {
                log_error("boot-test: FAIL %s (%s, %s after %.0f s): %s", o.image, boot_verdict_name(res->verdict),
                          res->accel, res->t_total, res->detail ? res->detail : "");
                print_time("kernel (Linux version)", res->t_kernel);
                print_time("login prompt", res->t_login);
                print_time("cloud-init finished", res->t_cloudinit);
                print_tail(res->log_path, 30);
                fprintf(stderr, "full console log kept: %s\n", res->log_path);
                rc = EXIT_BOOT;
        }
        boot_result_free(res);
        return rc;
}
