/* cmd_diff.c — `imgbuild diff LOCK_A LOCK_B`: what changed between two lock
 * files, in the words release notes need: added, removed, upgraded and
 * downgraded packages (rpm version order) and the kernel change. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rpm/rpmver.h>

#include "commands.h"
#include "lock.h"
#include "util.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: imgbuild diff [OPTIONS] LOCK_A LOCK_B\n"
                "\n"
                "Lists the packages added, removed, upgraded and downgraded from LOCK_A to\n"
                "LOCK_B (lock files written by 'imgbuild resolve' or a build), and the\n"
                "kernel change.  Versions are ordered the rpm way (epoch, version, release).\n"
                "\n"
                "Options:\n"
                "  -h, --help   show this help\n"
                "\n"
                "Exit status: 0 (also when they differ), 2 when a lock cannot be read.\n");
}

static char *evr(const lock_package *p) {
        if (p->epoch) return xasprintf("%" PRIu32 ":%s-%s", p->epoch, p->version, p->release);
        return xasprintf("%s-%s", p->version, p->release);
}

/* rpm order of two packages' epoch:version-release. */
static int evr_cmp(const lock_package *a, const lock_package *b) {
        if (a->epoch != b->epoch) return a->epoch < b->epoch ? -1 : 1;
        int r = rpmvercmp(a->version, b->version);
        return r ? r : rpmvercmp(a->release, b->release);
}

static bool same_nevra(const lock_package *a, const lock_package *b) {
        return !strcmp(a->name, b->name) && !strcmp(a->arch, b->arch) && evr_cmp(a, b) == 0;
}

static int by_name(const void *x, const void *y) {
        const lock_package *a = *(const lock_package *const *)x, *b = *(const lock_package *const *)y;
        int r = strcmp(a->name, b->name);
        return r ? r : strcmp(a->arch, b->arch);
}

typedef struct change {
        const lock_package *from, *to;
} change;

static int change_cmp(const void *x, const void *y) {
        const change *a = x, *b = y;
        const lock_package *pa = a->from ? a->from : a->to, *pb = b->from ? b->from : b->to;
        return by_name(&pa, &pb);
}

static void print_list(const char *title, change *v, size_t n, bool pairs) {
        printf("%s (%zu):\n", title, n);
        qsort(v, n, sizeof *v, change_cmp);
        for (size_t i = 0; i < n; i++) {
                if (pairs) {
                        _cleanup_free_ char *a = evr(v[i].from), *b = evr(v[i].to);
                        printf("  %s.%s  %s -> %s\n", v[i].from->name, v[i].from->arch, a, b);
                } else {
                        _cleanup_free_ char *s = lock_package_nevra(v[i].from ? v[i].from : v[i].to);
                        printf("  %s\n", s);
                }
        }
}

static char *kernels(const lock *l) {
        char *s = NULL;
        for (size_t i = 0; i < l->n_packages; i++) {
                if (strcmp(l->packages[i].name, "kernel")) continue;
                _cleanup_free_ char *n = lock_package_nevra(&l->packages[i]);
                char *t = xasprintf("%s%s%s (repo %s)", s ? s : "", s ? ", " : "", n, l->packages[i].repo_id);
                free(s);
                s = t;
        }
        return s ? s : xstrdup("none");
}

int cmd_diff(int argc, char **argv) {
        static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                if (c == 'h') {
                        usage(stdout);
                        return EXIT_OK;
                }
                usage(stderr);
                return EXIT_USAGE;
        }
        if (argc - optind != 2) {
                log_error("diff needs exactly two lock files");
                usage(stderr);
                return EXIT_USAGE;
        }
        lock *a = NULL, *b = NULL;
        char *err = NULL;
        if (lock_read(argv[optind], &a, &err) < 0 || lock_read(argv[optind + 1], &b, &err) < 0) {
                log_error("%s", err);
                free(err);
                lock_free(a);
                return EXIT_USAGE;
        }
        size_t na = a->n_packages, nb = b->n_packages;
        bool *used_a = xcalloc(na + 1, 1), *used_b = xcalloc(nb + 1, 1);
        size_t unchanged = 0;
        /* Exact matches first, then pair the rest by name.arch. */
        for (size_t i = 0; i < na; i++)
                for (size_t j = 0; j < nb; j++)
                        if (!used_b[j] && same_nevra(&a->packages[i], &b->packages[j])) {
                                used_a[i] = used_b[j] = true;
                                unchanged++;
                                break;
                        }
        change *up = xcalloc(na + 1, sizeof *up), *down = xcalloc(na + 1, sizeof *down),
               *added = xcalloc(nb + 1, sizeof *added), *removed = xcalloc(na + 1, sizeof *removed);
        size_t nup = 0, ndown = 0, nadd = 0, nrem = 0;
        for (size_t i = 0; i < na; i++) {
                if (used_a[i]) continue;
                const lock_package *pa = &a->packages[i];
                for (size_t j = 0; j < nb; j++) {
                        const lock_package *pb = &b->packages[j];
                        if (used_b[j] || strcmp(pa->name, pb->name) || strcmp(pa->arch, pb->arch)) continue;
                        used_a[i] = used_b[j] = true;
                        if (evr_cmp(pa, pb) < 0) up[nup++] = (change){ pa, pb };
                        else down[ndown++] = (change){ pa, pb };
                        break;
                }
                if (!used_a[i]) removed[nrem++] = (change){ pa, NULL };
        }
        for (size_t j = 0; j < nb; j++)
                if (!used_b[j]) added[nadd++] = (change){ NULL, &b->packages[j] };

        printf("--- %s (%zu packages%s%s)\n+++ %s (%zu packages%s%s)\n", argv[optind], na, a->release ? ", release " : "",
               a->release ? a->release : "", argv[optind + 1], nb, b->release ? ", release " : "", b->release ? b->release : "");
        print_list("added", added, nadd, false);
        print_list("removed", removed, nrem, false);
        print_list("upgraded", up, nup, true);
        print_list("downgraded", down, ndown, true);
        _cleanup_free_ char *ka = kernels(a), *kb = kernels(b);
        if (!strcmp(ka, kb)) printf("kernel: unchanged, %s\n", ka);
        else printf("kernel: %s -> %s\n", ka, kb);
        printf("summary: %zu added, %zu removed, %zu upgraded, %zu downgraded, %zu unchanged\n", nadd, nrem, nup, ndown,
               unchanged);
        free(used_a);
        free(used_b);
        free(up);
        free(down);
        free(added);
        free(removed);
        lock_free(a);
        lock_free(b);
        return EXIT_OK;
}
