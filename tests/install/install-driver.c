/* install-driver — runs the fetch and install stages alone, for the
 * integration tests (no command runs only these stages).  Built by the
 * tests against build/libimgbuild.a:
 *
 *   install-driver --lock LOCK (--root ROOT | --staged) [--rpmdb bdb|sqlite]
 *       [--repo ID[,gpgkey=FILE][,baseurl=URL]...] [--excludedocs] [--langs L]
 *       [--keep-work] [--fetch-only] [--offline] [--paths FILE...]
 *
 * --repo declares a plan repo (gpgcheck=1 when gpgkey= is given; its base
 * URLs, the mirrors fetch falls back to, with baseurl=);
 * --paths skips fetch and installs the given files (one per lock entry,
 * in lock order); --staged installs where a build with the root cache off
 * does (install_staging_root: the scratch tmpfs when memory allows; removed
 * with the work dir).  Exit status: exit_code_for() of the stage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "fetch.h"
#include "install.h"
#include "lock.h"
#include "pipeline.h"
#include "plan.h"
#include "util.h"

int main(int argc, char **argv) {
        plan p = { 0 };
        const char *lockpath = NULL, *root = NULL;
        bool fetch_only = false, use_paths = false, staged = false;
        p.arch = "x86_64";
        p.rpmdb_format = "sqlite";
        p.repos = calloc(16, sizeof(plan_repo));
        static const struct option opts[] = {
                { "lock", 1, 0, 'l' }, { "root", 1, 0, 'r' }, { "rpmdb", 1, 0, 'd' }, { "repo", 1, 0, 'R' },
                { "excludedocs", 0, 0, 'x' }, { "langs", 1, 0, 'L' }, { "keep-work", 0, 0, 'k' },
                { "fetch-only", 0, 0, 'f' }, { "paths", 0, 0, 'p' }, { "staged", 0, 0, 's' }, { "offline", 0, 0, 'o' }, { 0 },
        };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'l': lockpath = optarg; break;
                case 'r': root = optarg; break;
                case 'd': p.rpmdb_format = optarg; break;
                case 'x': p.packages.excludedocs = true; break;
                case 'L': p.packages.inst_langs = optarg; break;
                case 'k': p.keep_work = true; break;
                case 'f': fetch_only = true; break;
                case 'p': use_paths = true; break;
                case 's': staged = true; break;
                case 'o': p.offline = true; break;
                case 'R': {
                        plan_repo *r = &p.repos[p.n_repos++];
                        char *s = xstrdup(optarg), *save = NULL;
                        r->id = xstrdup(strtok_r(s, ",", &save));
                        r->sslverify = true;
                        r->enabled = true;
                        for (char *t; (t = strtok_r(NULL, ",", &save));)
                                if (str_startswith(t, "gpgkey=")) {
                                        strv_push(&r->gpgkeys, xstrdup(t + 7));
                                        r->gpgcheck = true;
                                } else if (str_startswith(t, "baseurl=")) {
                                        strv_push(&r->baseurls, xstrdup(t + 8));
                                }
                        free(s);
                        break;
                }
                default: return 2;
                }
        }
        if (!lockpath || (!root && !staged && !fetch_only)) {
                fprintf(stderr, "usage: install-driver --lock LOCK (--root ROOT | --staged) …\n");
                return 2;
        }
        interrupt_install_handlers();
        lock *l = NULL;
        char *err = NULL;
        if (lock_read(lockpath, &l, &err) < 0) {
                log_error("%s", err);
                return EXIT_USAGE;
        }
        build_ctx *ctx = NULL;
        if (ctx_new(NULL, p.keep_work, &ctx) < 0) return 1;
        char **paths = NULL;
        int r = 0;
        double t0 = now_seconds();
        if (use_paths) {
                for (int i = optind; i < argc; i++) strv_push(&paths, xstrdup(argv[i]));
                r = install_packages(ctx, &p, l, paths, root, NULL);
        } else if (fetch_only) {
                r = fetch_packages(ctx, &p, l, &paths);
                for (size_t i = 0; r == 0 && paths[i]; i++) printf("%s\n", paths[i]);
        } else {
                /* as a build does it: the install overlaps the downloads */
                char *where = staged ? NULL : xstrdup(root);
                r = pipeline_fetch_install(ctx, &p, l, &where);
                free(where);
        }
        fprintf(stderr, "driver: fetch+install %.2fs, result %d\n", now_seconds() - t0, r);
        strv_free(paths);
        lock_free(l);
        ctx_free(ctx);
        return exit_code_for(r);
}
