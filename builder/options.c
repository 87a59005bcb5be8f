/* options.c — see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profile.h"
#include "util.h"

void plan_usage(FILE *f, const char *command) {
        bool resolve = command && !strcmp(command, "resolve");
        fprintf(f,
                "Usage: imgbuild %s [OPTIONS]\n\n%s\n\n",
                resolve ? "resolve" : "build",
                resolve ? "Resolves the package set of the plan and writes a lock file."
                        : "Builds the images described by the profile, the kickstart and the repo files.");
        fputs("Inputs:\n"
              "  -p, --profile P          image profile (default aliyun2):", f);
        for (const profile *const *pp = profile_all(); *pp; pp++) fprintf(f, " %s", (*pp)->name);
        fputs("\n"
              "  -k, --kickstart F        kickstart file (default: the profile's)\n"
              "  -r, --release YYYYMMDD   release date, a real date (default: today, UTC)\n"
              "      --repo-file F        .repo file; repeatable; replaces the profile's\n"
              "      --vars-dir D         yum variables, one file per variable (like /etc/yum/vars)\n"
              "      --mirror URL         rewrite every baseurl's scheme://host[:port] to URL,\n"
              "                           keeping the path (mirrorlist/metalink are dropped)\n"
              "      --repo-url ID=URL    use URL as the only baseurl of repo ID; repeatable\n"
              "      --enable-repo ID     enable repo ID; repeatable\n"
              "      --disable-repo ID    disable repo ID; repeatable\n"
              "      --kernel NEVRA       install this kernel (e.g. kernel-4.19.91-23.al7.x86_64)\n"
              "      --kernel-rpm FILE    install the kernel from this rpm file\n"
              "      --ignoremissing      packages that do not exist are warnings, not errors\n"
              "      --set KEY=VALUE      kernel-config switch; repeatable: cgwb_v1=on|off,\n"
              "                           psi=on|off, tcp_tw_timeout=1..600, kdump=on|off\n"
              "      --disk-size SIZE     disk size, e.g. 20G or 20480M (default: the profile's\n"
              "                           when a partition grows, else the partitions' sum)\n"
              "      --lock FILE          install exactly the packages of this lock file (no solving)\n"
              "\nOutputs:\n"
              "  -O, --output-dir D       where images go (default ./images)\n"
              "  -f, --format LIST        qcow2,vhd,raw (default: the profile's)\n"
              "      --vhd-type T         dynamic or fixed (default dynamic)\n"
              "  -o, --lock-out FILE      write the resolved lock file here\n"
              "\nBehaviour:\n"
              "  -n, --dry-run            print the validated plan as JSON and stop\n"
              "      --offline            never use the network (cached metadata and packages only)\n"
              "      --strict             warnings about the inputs are errors\n"
              "      --keep-work          keep the work directory\n"
              "      --no-check           skip the ECS compliance check of the result\n"
              "  -q, --quiet              only warnings and errors\n"
              "  -v, --verbose            debug output\n"
              "      --datadir D          where kickstart/, repos/, overlays/, kernel-config/ are\n"
              "                           (default $IMGBUILD_DATADIR, else next to the binary)\n"
              "  -h, --help               this help\n"
              "\nExit codes: 0 ok, 1 internal error, 2 usage or bad input, 3 unsolvable,\n"
              "4 fetch/verify, 5 install, 6 image, 7 boot test, 8 check failed, 130 interrupted.\n",
              f);
}

enum {
        O_REPO_FILE = 256, O_VARS_DIR, O_MIRROR, O_REPO_URL, O_ENABLE_REPO, O_DISABLE_REPO, O_KERNEL,
        O_KERNEL_RPM, O_IGNOREMISSING, O_SET, O_DISK_SIZE, O_LOCK, O_VHD_TYPE, O_OFFLINE, O_STRICT,
        O_KEEP_WORK, O_NO_CHECK, O_DATADIR,
};

static const struct option long_opts[] = {
        { "profile", required_argument, NULL, 'p' },
        { "kickstart", required_argument, NULL, 'k' },
        { "release", required_argument, NULL, 'r' },
        { "repo-file", required_argument, NULL, O_REPO_FILE },
        { "vars-dir", required_argument, NULL, O_VARS_DIR },
        { "mirror", required_argument, NULL, O_MIRROR },
        { "repo-url", required_argument, NULL, O_REPO_URL },
        { "enable-repo", required_argument, NULL, O_ENABLE_REPO },
        { "disable-repo", required_argument, NULL, O_DISABLE_REPO },
        { "kernel", required_argument, NULL, O_KERNEL },
        { "kernel-rpm", required_argument, NULL, O_KERNEL_RPM },
        { "ignoremissing", no_argument, NULL, O_IGNOREMISSING },
        { "set", required_argument, NULL, O_SET },
        { "disk-size", required_argument, NULL, O_DISK_SIZE },
        { "lock", required_argument, NULL, O_LOCK },
        { "output-dir", required_argument, NULL, 'O' },
        { "format", required_argument, NULL, 'f' },
        { "vhd-type", required_argument, NULL, O_VHD_TYPE },
        { "lock-out", required_argument, NULL, 'o' },
        { "dry-run", no_argument, NULL, 'n' },
        { "offline", no_argument, NULL, O_OFFLINE },
        { "strict", no_argument, NULL, O_STRICT },
        { "keep-work", no_argument, NULL, O_KEEP_WORK },
        { "no-check", no_argument, NULL, O_NO_CHECK },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "datadir", required_argument, NULL, O_DATADIR },
        { "help", no_argument, NULL, 'h' },
        {},
};

static int usage_error(const char *command, const char *fmt, const char *arg) {
        char *m = xasprintf(fmt, arg);
        log_error("%s", m);
        free(m);
        fprintf(stderr, "Try 'imgbuild %s --help'.\n", command);
        return ERR_INPUT;
}

int plan_from_args(int argc, char **argv, plan **ret) {
        plan_options o = { .command = argc > 0 ? argv[0] : "build" };
        int c, r = 0;
        optind = 0;     /* reset: getopt may have run before (tests) */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":p:k:r:O:f:o:nqvh", long_opts, NULL)) != -1) {
                switch (c) {
                case 'p': o.profile = optarg; break;
                case 'k': o.kickstart = optarg; break;
                case 'r': o.release = optarg; break;
                case O_REPO_FILE: strv_push(&o.repo_files, xstrdup(optarg)); break;
                case O_VARS_DIR: o.vars_dir = optarg; break;
                case O_MIRROR: o.mirror = optarg; break;
                case O_REPO_URL: strv_push(&o.repo_urls, xstrdup(optarg)); break;
                case O_ENABLE_REPO: strv_push(&o.enable_repos, xstrdup(optarg)); break;
                case O_DISABLE_REPO: strv_push(&o.disable_repos, xstrdup(optarg)); break;
                case O_KERNEL: o.kernel = optarg; break;
                case O_KERNEL_RPM: o.kernel_rpm = optarg; break;
                case O_IGNOREMISSING: o.ignoremissing = true; break;
                case O_SET: strv_push(&o.sets, xstrdup(optarg)); break;
                case O_DISK_SIZE: o.disk_size = optarg; break;
                case O_LOCK: o.lock_file = optarg; break;
                case 'O': o.output_dir = optarg; break;
                case 'f': o.formats = optarg; break;
                case O_VHD_TYPE: o.vhd_type = optarg; break;
                case 'o': o.lock_out = optarg; break;
                case 'n': o.dry_run = true; break;
                case O_OFFLINE: o.offline = true; break;
                case O_STRICT: o.strict = true; break;
                case O_KEEP_WORK: o.keep_work = true; break;
                case O_NO_CHECK: o.no_check = true; break;
                case 'q': o.quiet = true; break;
                case 'v': o.verbose = true; break;
                case O_DATADIR: o.datadir = optarg; break;
                case 'h':
                        plan_usage(stdout, o.command);
                        plan_options_clear(&o);
                        return PLAN_HELP;
                case ':':
                        r = usage_error(o.command, "option '%s' needs a value", argv[optind - 1]);
                        goto out;
                default:
                        r = usage_error(o.command, "unknown option '%s'", argv[optind - 1]);
                        goto out;
                }
        }
        if (optind < argc) {
                r = usage_error(o.command, "unexpected argument '%s'", argv[optind]);
                goto out;
        }
        log_set_quiet(o.quiet);
        log_set_verbose(o.verbose);
        char **warnings = NULL, *err = NULL;
        r = plan_load(&o, ret, &warnings, &err);
        for (size_t i = 0; warnings && warnings[i]; i++) log_warn("%s", warnings[i]);
        strv_free(warnings);
        if (r < 0) {
                log_error("%s", err);
                r = ERR_INPUT;
        }
        free(err);
out:
        plan_options_clear(&o);
        return r;
}

/* ---- environment ----------------------------------------------------------- */

typedef struct env_rule {
        const char *name;
        bool boolean;                   /* parse_boolean()'s words, and … */
        const char *const *words;       /* … these; neither: a number */
        long long min, max;
        const char *accepts;            /* for the error message */
} env_rule;

static const char *const scratch_words[] = { "auto", "disk", NULL };
static const char *const convert_words[] = { "ours", "nocache", "qemu-img", NULL };
static const char *const rootcache_words[] = { "copy", NULL };
static const char *const progress_words[] = { "plain", "json", NULL };

static const env_rule env_rules[] = {
        { "IMGBUILD_SCRATCH", false, scratch_words, 0, 0, "auto (the default: a tmpfs when memory allows) or disk" },
        { "IMGBUILD_CONVERT", false, convert_words, 0, 0, "ours (the default), nocache or qemu-img" },
        { "IMGBUILD_ROOTCACHE", true, rootcache_words, 0, 0, "a boolean (on by default) or copy" },
        { "IMGBUILD_PROGRESS", false, progress_words, 0, 0, "plain (the default) or json" },
        { "IMGBUILD_QCOW2_LEVEL", false, NULL, 1, 9, "a zlib level from 1 to 9 (default 4)" },
        { "IMGBUILD_FETCH_JOBS", false, NULL, 1, 64, "a number of parallel downloads from 1 to 64 (default 8)" },
        { "IMGBUILD_CONNECT_TIMEOUT", false, NULL, 1, 3600, "seconds, from 1 to 3600" },
        { "IMGBUILD_CLUSTER_CACHE_MB", false, NULL, 0, 1LL << 40, "MiB, 0 for the default (2048)" },
};

static bool env_value_ok(const env_rule *r, const char *v) {
        bool b;
        if (r->boolean && parse_boolean(v, &b) == 0) return true;
        if (r->words) {
                for (size_t i = 0; r->words[i]; i++)
                        if (!strcasecmp(v, r->words[i])) return true;
                return false;
        }
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        return *v && !*end && !errno && n >= r->min && n <= r->max;
}

long long env_number(const char *name, long long fallback) {
        const char *v = getenv(name);
        if (!v || !*v) return fallback;
        for (size_t i = 0; i < sizeof env_rules / sizeof env_rules[0]; i++)
                if (!strcmp(env_rules[i].name, name) && !env_rules[i].words && !env_rules[i].boolean)
                        return env_value_ok(&env_rules[i], v) ? strtoll(v, NULL, 10) : fallback;
        return fallback;
}

int env_check(void) {
        for (size_t i = 0; i < sizeof env_rules / sizeof env_rules[0]; i++) {
                const env_rule *r = &env_rules[i];
                const char *v = getenv(r->name);
                if (v && *v && !env_value_ok(r, v)) {
                        log_error("environment: %s=\"%s\" is not understood; it takes %s", r->name, v, r->accepts);
                        return ERR_INPUT;
                }
        }
        return 0;
}
