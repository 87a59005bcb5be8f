/* test_solve.c — table-driven solver cases: small inline repos (rpm-md
 * primary + comps XML generated from a compact spec) → expected transaction
 * or expected problem text.  Plus the real CentOS 7 comps from realdata. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <solv/pool.h>
#include <solv/repo.h>
#include <solv/repo_comps.h>
#include <solv/repo_rpmmd.h>
#include <solv/solvable.h>

#include "lock.h"
#include "plan.h"
#include "solve.h"
#include "testutil.h"
#include "util.h"

/* ---- spec → XML ------------------------------------------------------------
 * Lines:
 *   repo ID [prio=N] [cost=N] [exclude=g1,g2] [include=g1,g2]
 *   pkg NAME [E:]VER-REL ARCH [R:dep,…] [Pre:dep,…] [P:prov,…] [C:…] [O:…] [Rec:…]
 *   group ID [M:a,b] [D:c] [O:d] [C:y/x,…]   (C: y is conditional on x)
 * dep = name or name>=1.0-1 (ops >= <= = < >). */

typedef struct spec_repo {
        char id[32];
        int prio, cost;
        char **excludes, **includes;
        char *primary;  /* XML */
        size_t n_pkgs;
        char *pkgs;     /* package elements */
        char *groups;   /* group elements */
} spec_repo;

static char *cat(char *a, const char *b) {
        size_t la = a ? strlen(a) : 0;
        a = xrealloc(a, la + strlen(b) + 1);
        strcpy(a + la, b);
        return a;
}

static char **split_commas(const char *s) {
        char **v = NULL;
        _cleanup_free_ char *d = xstrdup(s);
        for (char *save = NULL, *t = strtok_r(d, ",", &save); t; t = strtok_r(NULL, ",", &save)) strv_push(&v, xstrdup(t));
        return v;
}

static void evr_attrs(const char *evr, char *out, size_t n) {
        char e[16] = "0", v[64] = "", r[64] = "";
        const char *c = strchr(evr, ':');
        if (c) {
                snprintf(e, sizeof e, "%.*s", (int)(c - evr), evr);
                evr = c + 1;
        }
        const char *d = strrchr(evr, '-');
        if (d) {
                snprintf(v, sizeof v, "%.*s", (int)(d - evr), evr);
                snprintf(r, sizeof r, "%s", d + 1);
                snprintf(out, n, "epoch=\"%s\" ver=\"%s\" rel=\"%s\"", e, v, r);
        } else {
                snprintf(v, sizeof v, "%s", evr);
                snprintf(out, n, "epoch=\"%s\" ver=\"%s\"", e, v);
        }
}

static char *dep_entries(const char *list, bool pre) {
        char *x = NULL;
        char **deps = split_commas(list);
        for (size_t i = 0; deps && deps[i]; i++) {
                static const struct { const char *op, *flag; } ops[] = {
                        { ">=", "GE" }, { "<=", "LE" }, { "=", "EQ" }, { "<", "LT" }, { ">", "GT" } };
                char buf[512], attrs[200];
                const char *d = deps[i];
                bool done = false;
                for (size_t k = 0; k < 5 && !done; k++) {
                        const char *o = strstr(d, ops[k].op);
                        if (!o) continue;
                        evr_attrs(o + strlen(ops[k].op), attrs, sizeof attrs);
                        snprintf(buf, sizeof buf, "<rpm:entry name=\"%.*s\" flags=\"%s\" %s%s/>", (int)(o - d), d, ops[k].flag,
                                 attrs, pre ? " pre=\"1\"" : "");
                        done = true;
                }
                if (!done) snprintf(buf, sizeof buf, "<rpm:entry name=\"%s\"%s/>", d, pre ? " pre=\"1\"" : "");
                x = cat(x, buf);
        }
        strv_free(deps);
        return x ? x : xstrdup("");
}

static int parse_spec(const char *spec, spec_repo *repos, size_t max) {
        size_t n = 0;
        _cleanup_free_ char *d = xstrdup(spec);
        spec_repo *cur = NULL;
        for (char *save = NULL, *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                while (*line == ' ') line++;
                if (!*line) continue;
                char *words[16];
                int nw = 0;
                for (char *s2 = NULL, *w = strtok_r(line, " ", &s2); w && nw < 16; w = strtok_r(NULL, " ", &s2)) words[nw++] = w;
                if (!strcmp(words[0], "repo")) {
                        if (n == max) return -1;
                        cur = &repos[n++];
                        memset(cur, 0, sizeof *cur);
                        snprintf(cur->id, sizeof cur->id, "%s", words[1]);
                        cur->prio = 99;
                        cur->cost = 1000;
                        for (int i = 2; i < nw; i++) {
                                if (str_startswith(words[i], "prio=")) cur->prio = atoi(words[i] + 5);
                                else if (str_startswith(words[i], "cost=")) cur->cost = atoi(words[i] + 5);
                                else if (str_startswith(words[i], "exclude=")) cur->excludes = split_commas(words[i] + 8);
                                else if (str_startswith(words[i], "include=")) cur->includes = split_commas(words[i] + 8);
                        }
                } else if (!strcmp(words[0], "pkg") && cur && nw >= 4) {
                        char attrs[200], buf[4096];
                        evr_attrs(words[2], attrs, sizeof attrs);
                        /* One element per dependency kind: libsolv keeps only the last one. */
                        char *deps = NULL;
                        const char *tags[][2] = { { "R:", "requires" }, { "Pre:", "requires" }, { "P:", "provides" },
                                                  { "C:", "conflicts" }, { "O:", "obsoletes" }, { "Rec:", "recommends" } };
                        const char *kinds[] = { "requires", "provides", "conflicts", "obsoletes", "recommends" };
                        for (size_t kk = 0; kk < 5; kk++) {
                                char *inner = NULL;
                                if (!strcmp(kinds[kk], "provides")) {
                                        /* Versioned self-provide, as createrepo writes it. */
                                        snprintf(buf, sizeof buf, "<rpm:entry name=\"%s\" flags=\"EQ\" %s/>", words[1], attrs);
                                        inner = cat(inner, buf);
                                }
                                for (int i = 4; i < nw; i++)
                                        for (size_t k = 0; k < 6; k++)
                                                if (!strcmp(tags[k][1], kinds[kk]) && str_startswith(words[i], tags[k][0])) {
                                                        _cleanup_free_ char *e = dep_entries(words[i] + strlen(tags[k][0]), k == 1);
                                                        inner = cat(inner, e);
                                                }
                                if (!inner) continue;
                                snprintf(buf, sizeof buf, "<rpm:%s>%s</rpm:%s>", kinds[kk], inner, kinds[kk]);
                                deps = cat(deps, buf);
                                free(inner);
                        }
                        cur->n_pkgs++;
                        snprintf(buf, sizeof buf,
                                 "<package type=\"rpm\"><name>%s</name><arch>%s</arch><version %s/>"
                                 "<checksum type=\"sha256\" pkgid=\"YES\">%064zx</checksum>"
                                 "<location href=\"Packages/%s-%s.%s.rpm\"/><size package=\"%zu\"/>"
                                 "<format>%s</format></package>\n",
                                 words[1], words[3], attrs, cur->n_pkgs + (size_t)(n * 1000), words[1], words[2], words[3],
                                 1000 + cur->n_pkgs, deps ? deps : "");
                        free(deps);
                        cur->pkgs = cat(cur->pkgs, buf);
                } else if (!strcmp(words[0], "group") && cur) {
                        char buf[4096];
                        snprintf(buf, sizeof buf, "<group><id>%s</id><name>%s</name><packagelist>", words[1], words[1]);
                        cur->groups = cat(cur->groups, buf);
                        for (int i = 2; i < nw; i++) {
                                const char *type = words[i][0] == 'M' ? "mandatory" : words[i][0] == 'D' ? "default"
                                                   : words[i][0] == 'C' ? "conditional" : "optional";
                                char **v = split_commas(words[i] + 2);
                                for (size_t k = 0; v && v[k]; k++) {
                                        /* C:Y/X = Y when X is installed */
                                        char *slash = words[i][0] == 'C' ? strchr(v[k], '/') : NULL;
                                        if (slash) *slash = '\0';
                                        char req[128] = "";
                                        if (slash) snprintf(req, sizeof req, " requires=\"%s\"", slash + 1);
                                        snprintf(buf, sizeof buf, "<packagereq type=\"%s\"%s>%s</packagereq>", type, req, v[k]);
                                        cur->groups = cat(cur->groups, buf);
                                }
                                strv_free(v);
                        }
                        cur->groups = cat(cur->groups, "</packagelist></group>\n");
                }
        }
        return (int)n;
}

static void add_xml(Repo *repo, const char *xml, bool comps) {
        FILE *f = fmemopen((void *)xml, strlen(xml), "r");
        int r = comps ? repo_add_comps(repo, f, 0) : repo_add_rpmmd(repo, f, NULL, 0);
        CHECK(r == 0);
        fclose(f);
}

/* Build pool + plan repos from a spec. */
static Pool *make_pool(const char *spec, plan *p) {
        spec_repo repos[6];
        int n = parse_spec(spec, repos, 6);
        CHECK(n > 0);
        Pool *pool = solve_pool_new("x86_64");
        p->repos = xcalloc((size_t)n, sizeof(plan_repo));
        p->n_repos = (size_t)n;
        for (int i = 0; i < n; i++) {
                Repo *repo = repo_create(pool, repos[i].id);
                char *xml = cat(NULL, "<?xml version=\"1.0\"?><metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
                                      "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n");
                if (repos[i].pkgs) xml = cat(xml, repos[i].pkgs);
                xml = cat(xml, "</metadata>\n");
                add_xml(repo, xml, false);
                free(xml);
                if (repos[i].groups) {
                        char *c = cat(NULL, "<?xml version=\"1.0\"?><comps>\n");
                        c = cat(c, repos[i].groups);
                        c = cat(c, "</comps>\n");
                        add_xml(repo, c, true);
                        free(c);
                }
                plan_repo *pr = &p->repos[i];
                pr->id = xstrdup(repos[i].id);
                pr->priority = repos[i].prio;
                pr->cost = repos[i].cost;
                pr->excludes = repos[i].excludes;
                pr->includes = repos[i].includes;
                pr->enabled = true;
                free(repos[i].pkgs);
                free(repos[i].groups);
        }
        return pool;
}

static void free_plan_repos(plan *p) {
        for (size_t i = 0; i < p->n_repos; i++) {
                free(p->repos[i].id);
                strv_free(p->repos[i].excludes);
                strv_free(p->repos[i].includes);
        }
        free(p->repos);
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted "nevra@repo" list, space separated. */
static char *lock_summary(const lock *l) {
        char **v = xcalloc(l->n_packages + 1, sizeof(char *));
        for (size_t i = 0; i < l->n_packages; i++) {
                _cleanup_free_ char *n = lock_package_nevra(&l->packages[i]);
                v[i] = xasprintf("%s@%s", n, l->packages[i].repo_id);
        }
        qsort(v, l->n_packages, sizeof(char *), cmpstr);
        char *s = NULL;
        for (size_t i = 0; i < l->n_packages; i++) {
                if (i) s = cat(s, " ");
                s = cat(s, v[i]);
        }
        strv_free(v);
        return s ? s : xstrdup("");
}

/* ---- the table ---------------------------------------------------------------- */

typedef struct tcase {
        const char *name;
        const char *spec;
        const char *names;      /* comma separated kickstart names */
        const char *excludes;   /* comma separated "-pkg" entries */
        const char *groups;     /* comma separated; suffix ":nodefaults" / ":optional" */
        bool nocore, ignoremissing, noweak;
        const char *kernel_pin;
        int expect_r;
        const char *expect;     /* exact lock summary (r == 0) or substring of the error text */
        const char *expect_warning; /* substring, or NULL */
} tcase;

#define BASE_OS \
        "repo os\n" \
        "pkg glibc 2.17-196.el7 x86_64 P:libc.so.6\n" \
        "pkg glibc 2.17-196.el7 i686 P:libc.so.6\n" \
        "pkg bash 4.2-28.el7 x86_64 R:libc.so.6 P:/bin/sh\n" \
        "pkg setup 2.8.71-7.el7 noarch\n" \
        "pkg filesystem 3.2-21.el7 x86_64 Pre:setup\n"

static const tcase cases[] = {
        { "install with dependencies (noarch kept: rpm semantics)", BASE_OS, "bash,filesystem", NULL, NULL, true, false, false, NULL, 0,
          "bash-4.2-28.el7.x86_64@os filesystem-3.2-21.el7.x86_64@os glibc-2.17-196.el7.x86_64@os setup-2.8.71-7.el7.noarch@os", NULL },
        { "provides and file provides", BASE_OS "pkg app 1-1 x86_64 R:/bin/sh\n", "app", NULL, NULL, true, false, false, NULL, 0,
          "app-1-1.x86_64@os bash-4.2-28.el7.x86_64@os glibc-2.17-196.el7.x86_64@os", NULL },
        { "install by provide", BASE_OS, "libc.so.6", NULL, NULL, true, false, false, NULL, 0, "glibc-2.17-196.el7.x86_64@os", NULL },
        { "glob", BASE_OS, "gl*,se?up", NULL, NULL, true, false, false, NULL, 0,
          "glibc-2.17-196.el7.x86_64@os setup-2.8.71-7.el7.noarch@os", NULL },
        { "name.arch", BASE_OS, "glibc.i686", NULL, NULL, true, false, false, NULL, 0, "glibc-2.17-196.el7.i686@os", NULL },
        { "exclude picks the other provider",
          "repo os\npkg a 1-1 x86_64 R:mta\npkg postfix 2-1 x86_64 P:mta\npkg sendmail 8-1 x86_64 P:mta\n",
          "a", "postfix", NULL, true, false, false, NULL, 0, "a-1-1.x86_64@os sendmail-8-1.x86_64@os", NULL },
        { "exclude glob makes a dependency unsolvable",
          "repo os\npkg a 1-1 x86_64 R:fw\npkg iwl-firmware 1-1 noarch P:fw\n", "a", "*firmware", NULL, true, false, false, NULL,
          ERR_UNSOLVABLE, "package iwl-firmware-1-1.noarch is excluded (kickstart", NULL },
        { "excluded package named explicitly is missing", BASE_OS, "bash", "bash", NULL, true, false, false, NULL, ERR_UNSOLVABLE,
          "no package matches 'bash' (all matches are excluded)", NULL },
        { "repo exclude=", "repo os exclude=b*\npkg a 1-1 x86_64 R:x\npkg bx 1-1 x86_64 P:x\npkg cx 1-1 x86_64 P:x\n", "a", NULL,
          NULL, true, false, false, NULL, 0, "a-1-1.x86_64@os cx-1-1.x86_64@os", NULL },
        { "repo includepkgs=", "repo os\npkg a 2-1 x86_64\nrepo extra include=b\npkg a 3-1 x86_64\npkg b 1-1 x86_64\n", "a,b", NULL,
          NULL, true, false, false, NULL, 0, "a-2-1.x86_64@os b-1-1.x86_64@extra", NULL },
        { "group: mandatory + default",
          "repo os\npkg a 1-1 x86_64\npkg b 1-1 x86_64\npkg c 1-1 x86_64\npkg d 1-1 x86_64\ngroup core M:a D:b O:c\n", "", NULL,
          NULL, false, false, false, NULL, 0, "a-1-1.x86_64@os b-1-1.x86_64@os", NULL },
        { "group: --nodefaults",
          "repo os\npkg a 1-1 x86_64\npkg b 1-1 x86_64\npkg c 1-1 x86_64\ngroup core M:a D:b O:c\ngroup web M:c D:b\n", "", NULL,
          "core:nodefaults", false, false, false, NULL, 0, "a-1-1.x86_64@os", NULL },
        { "group: --optional", "repo os\npkg a 1-1 x86_64\npkg b 1-1 x86_64\npkg c 1-1 x86_64\ngroup web M:a D:b O:c\n", "",
          NULL, "web:optional", true, false, false, NULL, 0, "a-1-1.x86_64@os b-1-1.x86_64@os c-1-1.x86_64@os", NULL },
        { "group: -@core drops the implicit @core",
          "repo os\npkg a 1-1 x86_64\npkg b 1-1 x86_64\ngroup core M:a\ngroup web M:b\n", "", NULL, "web,-core", false, false,
          false, NULL, 0, "b-1-1.x86_64@os", NULL },
        { "group: --nocore", "repo os\npkg a 1-1 x86_64\npkg b 1-1 x86_64\ngroup core M:a\n", "b", NULL, NULL, true, false, false,
          NULL, 0, "b-1-1.x86_64@os", NULL },
        { "group: excluded and missing members are skipped",
          "repo os\npkg a 1-1 x86_64\npkg b 1-1 x86_64\ngroup core M:a,b,ghost\n", "", "b", NULL, false, false, false, NULL, 0,
          "a-1-1.x86_64@os", "2 group members not available" },
        { "group: conditional member comes with its condition pulled in as a dependency",
          "repo os\npkg app 1-1 x86_64 R:gtk2\npkg gtk2 2-1 x86_64\npkg ibus-gtk2 1-1 x86_64 R:ibus\npkg ibus 1-1 x86_64\n"
          "pkg b 1-1 x86_64\ngroup core M:b C:ibus-gtk2/gtk2\n",
          "app", NULL, NULL, false, false, false, NULL, 0,
          "app-1-1.x86_64@os b-1-1.x86_64@os gtk2-2-1.x86_64@os ibus-1-1.x86_64@os ibus-gtk2-1-1.x86_64@os", NULL },
        { "group: conditional member stays out without its condition",
          "repo os\npkg app 1-1 x86_64\npkg gtk2 2-1 x86_64\npkg ibus-gtk2 1-1 x86_64\npkg b 1-1 x86_64\n"
          "group core M:b C:ibus-gtk2/gtk2\n",
          "app", NULL, NULL, false, false, false, NULL, 0, "app-1-1.x86_64@os b-1-1.x86_64@os", NULL },
        { "group: conditional member with --nodefaults, condition named in the kickstart",
          "repo os\npkg gtk2 2-1 x86_64\npkg ibus-gtk2 1-1 x86_64\npkg b 1-1 x86_64\npkg d 1-1 x86_64\n"
          "group web M:b D:d C:ibus-gtk2/gtk2\n",
          "gtk2", NULL, "web:nodefaults", true, false, false, NULL, 0,
          "b-1-1.x86_64@os gtk2-2-1.x86_64@os ibus-gtk2-1-1.x86_64@os", NULL },
        { "group: conditional member that is missing does not forbid its condition",
          "repo os\npkg gtk2 2-1 x86_64\npkg b 1-1 x86_64\ngroup core M:b C:ibus-gtk2/gtk2\n",
          "gtk2", NULL, NULL, false, false, false, NULL, 0, "b-1-1.x86_64@os gtk2-2-1.x86_64@os", NULL },
        { "group: unknown group is an error", "repo os\npkg a 1-1 x86_64\n", "", NULL, "nosuch", true, false, false, NULL,
          ERR_UNSOLVABLE, "group '@nosuch' is not in any repo's comps", NULL },
        { "newest wins across os and updates",
          "repo os\npkg openssl 1:1.0.2k-8.el7 x86_64\npkg zlib 1.2.7-17.el7 x86_64\n"
          "repo updates\npkg openssl 1:1.0.2k-16.el7 x86_64\n",
          "openssl,zlib", NULL, NULL, true, false, false, NULL, 0,
          "openssl-1:1.0.2k-16.el7.x86_64@updates zlib-1.2.7-17.el7.x86_64@os", NULL },
        { "rpm version order (1.10 > 1.9, epoch beats version)",
          "repo os\npkg v 1.9-1 x86_64\npkg v 1.10-1 x86_64\npkg w 1:1.0-1 x86_64\npkg w 2.0-1 x86_64\n", "v,w", NULL, NULL, true,
          false, false, NULL, 0, "v-1.10-1.x86_64@os w-1:1.0-1.x86_64@os", NULL },
        { "priority beats version",
          "repo os\npkg foo 2-1 x86_64\nrepo pinned prio=10\npkg foo 1-1 x86_64\n", "foo", NULL, NULL, true, false, false, NULL,
          0, "foo-1-1.x86_64@pinned", NULL },
        { "kernel from the kernel repo by default",
          "repo os\npkg kernel 5.0.0-1.el7 x86_64\npkg kernel 3.10.0-693.el7 x86_64\n"
          "repo kernel\npkg kernel 4.19.91-18.al7 x86_64\npkg kernel 4.19.91-19.al7 x86_64\n",
          "kernel", NULL, NULL, true, false, false, NULL, 0, "kernel-4.19.91-19.al7.x86_64@kernel", NULL },
        { "kernel pin (version-release)",
          "repo os\npkg kernel 3.10.0-693.el7 x86_64\n"
          "repo kernel\npkg kernel 4.19.91-18.al7 x86_64\npkg kernel 4.19.91-19.al7 x86_64\n",
          "kernel", NULL, NULL, true, false, false, "4.19.91-18.al7", 0, "kernel-4.19.91-18.al7.x86_64@kernel", NULL },
        { "kernel pin (NEVRA) into the os repo",
          "repo os\npkg kernel 3.10.0-693.el7 x86_64\nrepo kernel\npkg kernel 4.19.91-19.al7 x86_64\n", "", NULL, NULL, true,
          false, false, "kernel-3.10.0-693.el7.x86_64", 0, "kernel-3.10.0-693.el7.x86_64@os", NULL },
        { "kernel pin that matches nothing",
          "repo kernel\npkg kernel 4.19.91-19.al7 x86_64\n", "kernel", NULL, NULL, true, false, false, "4.19.24-9.al7",
          ERR_INPUT, "the kernel pin '4.19.24-9.al7' matches no package; available kernels:\n  kernel-4.19.91-19.al7.x86_64 (repo kernel)",
          NULL },
        { "conflicts",
          "repo os\npkg a 1-1 x86_64 C:b\npkg b 1-1 x86_64\n", "a,b", NULL, NULL, true, false, false, NULL, ERR_UNSOLVABLE,
          "package a-1-1.x86_64 conflicts with b provided by b-1-1.x86_64", NULL },
        { "conflict shows solutions",
          "repo os\npkg a 1-1 x86_64 C:b\npkg b 1-1 x86_64\n", "a,b", NULL, NULL, true, false, false, NULL, ERR_UNSOLVABLE,
          "solution 1:\n      - do not ask to install", NULL },
        { "missing dependency",
          "repo os\npkg a 1-1 x86_64 R:libnothere.so.1\n", "a", NULL, NULL, true, false, false, NULL, ERR_UNSOLVABLE,
          "nothing provides libnothere.so.1 needed by a-1-1.x86_64", NULL },
        { "versioned dependency picks a matching version",
          "repo os\npkg a 1-1 x86_64 R:b<2\npkg b 1.5-1 x86_64\npkg b 2.1-1 x86_64\n", "a", NULL, NULL, true, false, false,
          NULL, 0, "a-1-1.x86_64@os b-1.5-1.x86_64@os", NULL },
        { "obsoletes in updates replace an os package pulled in as a dependency",
          "repo os\npkg a 1-1 x86_64 R:libfoo\npkg foo 1-1 x86_64 P:libfoo\nrepo updates\npkg foo-ng 2-1 x86_64 P:libfoo O:foo\n",
          "a", NULL, NULL, true, false, false, NULL, 0, NULL, NULL },
        { "missing package is an error", BASE_OS, "bash,nope", NULL, NULL, true, false, false, NULL, ERR_UNSOLVABLE,
          "no package matches 'nope'", NULL },
        { "missing package with --ignoremissing is a warning", BASE_OS, "bash,nope", NULL, NULL, true, true, false, NULL, 0,
          "bash-4.2-28.el7.x86_64@os glibc-2.17-196.el7.x86_64@os", "no package matches 'nope'; ignored" },
        { "weak dependencies on", "repo os\npkg a 1-1 x86_64 Rec:b\npkg b 1-1 x86_64\n", "a", NULL, NULL, true, false, false,
          NULL, 0, "a-1-1.x86_64@os b-1-1.x86_64@os", NULL },
        { "weak dependencies off", "repo os\npkg a 1-1 x86_64 Rec:b\npkg b 1-1 x86_64\n", "a", NULL, NULL, true, false, true,
          NULL, 0, "a-1-1.x86_64@os", NULL },
        { "foreign arch is not installable", "repo os\npkg a 1-1 aarch64\n", "a", NULL, NULL, true, false, false, NULL,
          ERR_UNSOLVABLE, "no package matches 'a'", NULL },
};

static void run_case(const tcase *tc) {
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        p.release = (char *)"20190619";
        Pool *pool = make_pool(tc->spec, &p);
        char **names = tc->names ? split_commas(tc->names) : NULL;
        char **excl = tc->excludes ? split_commas(tc->excludes) : NULL;
        char **gspec = tc->groups ? split_commas(tc->groups) : NULL;
        plan_group groups[8];
        size_t ng = 0;
        char **exgroups = NULL;
        for (size_t i = 0; gspec && gspec[i] && ng < 8; i++) {
                if (gspec[i][0] == '-') { /* "-@group" */
                        strv_push(&exgroups, xstrdup(gspec[i] + 1));
                        continue;
                }
                char *c = strchr(gspec[i], ':');
                groups[ng] = (plan_group){ .id = gspec[i] };
                if (c) {
                        *c = '\0';
                        groups[ng].nodefaults = !strcmp(c + 1, "nodefaults");
                        groups[ng].optional = !strcmp(c + 1, "optional");
                }
                ng++;
        }
        p.packages.names = names;
        p.packages.excludes = excl;
        p.packages.groups = groups;
        p.packages.n_groups = ng;
        p.packages.exclude_groups = exgroups;
        p.packages.nocore = tc->nocore;
        p.packages.ignoremissing = tc->ignoremissing;
        p.packages.exclude_weakdeps = tc->noweak;
        p.packages.kernel_pin = (char *)tc->kernel_pin;

        lock *l = NULL;
        char *err = NULL, *warn = NULL;
        int r = solve_pool(pool, &p, &l, &err, &warn);
        if (r != tc->expect_r) fprintf(stderr, "case '%s': r=%d, error: %s\n", tc->name, r, err ? err : "(none)");
        CHECK_INTEQ(r, tc->expect_r);
        if (r == 0 && tc->expect) {
                _cleanup_free_ char *s = lock_summary(l);
                if (strcmp(s, tc->expect)) fprintf(stderr, "case '%s':\n", tc->name);
                CHECK_STREQ(s, tc->expect);
        } else if (r < 0 && tc->expect) {
                if (!err || !strstr(err, tc->expect))
                        fprintf(stderr, "case '%s': expected error containing \"%s\", got:\n%s\n", tc->name, tc->expect,
                                err ? err : "(none)");
                CHECK(err && strstr(err, tc->expect));
        }
        if (tc->expect_warning) {
                if (!warn || !strstr(warn, tc->expect_warning))
                        fprintf(stderr, "case '%s': expected warning \"%s\", got: %s\n", tc->name, tc->expect_warning,
                                warn ? warn : "(none)");
                CHECK(warn && strstr(warn, tc->expect_warning));
        }
        if (!strcmp(tc->name, "obsoletes in updates replace an os package pulled in as a dependency") && l) {
                /* Either provider satisfies libfoo; what matters is that exactly one is chosen. */
                _cleanup_free_ char *s = lock_summary(l);
                CHECK((strstr(s, "foo-1-1") != NULL) != (strstr(s, "foo-ng-2-1") != NULL));
        }
        lock_free(l);
        free(err);
        free(warn);
        strv_free(names);
        strv_free(excl);
        strv_free(gspec);
        strv_free(exgroups);
        free_plan_repos(&p);
        pool_free(pool);
}

static void test_table(void) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

/* Requires(pre) and plain requires come first in the install order; lock
 * fields are filled from the metadata. */
static void test_order_and_fields(void) {
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        Pool *pool = make_pool("repo os\n"
                               "pkg app 1-1 x86_64 Pre:shadow R:lib\n"
                               "pkg shadow 4.1-1 x86_64 R:lib\n"
                               "pkg lib 2:3.0-7.el7 x86_64\n",
                               &p);
        char *names[] = { (char *)"app", NULL };
        p.packages.names = names;
        p.packages.nocore = true;
        lock *l = NULL;
        char *err = NULL;
        CHECK_INTEQ(solve_pool(pool, &p, &l, &err, NULL), 0);
        if (l) {
                CHECK_INTEQ(l->n_packages, 3);
                int ia = -1, is = -1, il = -1;
                for (size_t i = 0; i < l->n_packages; i++) {
                        if (!strcmp(l->packages[i].name, "app")) ia = (int)i;
                        if (!strcmp(l->packages[i].name, "shadow")) is = (int)i;
                        if (!strcmp(l->packages[i].name, "lib")) il = (int)i;
                }
                CHECK(il >= 0 && is >= 0 && ia >= 0);
                CHECK(il < is && is < ia);
                lock_package *lp = &l->packages[il];
                CHECK_INTEQ(lp->epoch, 2);
                CHECK_STREQ(lp->version, "3.0");
                CHECK_STREQ(lp->release, "7.el7");
                CHECK_STREQ(lp->arch, "x86_64");
                CHECK_STREQ(lp->repo_id, "os");
                CHECK_STREQ(lp->location, "Packages/lib-2:3.0-7.el7.x86_64.rpm");
                CHECK_STREQ(lp->checksum_type, "sha256");
                CHECK(lp->checksum && strlen(lp->checksum) == 64);
                CHECK(lp->size > 1000);
                CHECK_STREQ(l->arch, "x86_64");
        }
        lock_free(l);
        free(err);
        free_plan_repos(&p);
        pool_free(pool);
}

/* ---- the real CentOS 7 comps ------------------------------------------------- */

static char *realdata(void) {
        const char *e = getenv("REALDATA");
        if (e && *e) return xstrdup(e);
        char *top = NULL;
        FILE *f = popen("git rev-parse --show-toplevel 2>/dev/null", "r");
        if (f) {
                char buf[4096];
                if (fgets(buf, sizeof buf, f)) {
                        buf[strcspn(buf, "\n")] = '\0';
                        top = xasprintf("%s/../shared/realdata", buf);
                }
                pclose(f);
        }
        if (top && path_exists(top)) return top;
        free(top);
        return xstrdup("/work/shared/realdata");
}

static int count_deps(Solvable *s, Id key) {
        Queue q;
        queue_init(&q);
        solvable_lookup_deparray(s, key, &q, -1);
        int n = q.count;
        queue_free(&q);
        return n;
}

static Solvable *group_solvable(Pool *pool, const char *id) {
        Id sid;
        _cleanup_free_ char *n = xasprintf("group:%s", id);
        FOR_POOL_SOLVABLES(sid) if (!strcmp(pool_id2str(pool, pool->solvables[sid].name), n)) return pool->solvables + sid;
        return NULL;
}

/* Expected counts were made by counting <packagereq type=…> in the group
 * "core" of each file (python ElementTree, unique names). */
static void check_comps(const char *file, int mandatory, int defaults, int optional, int ngroups) {
        _cleanup_free_ char *rd = realdata();
        _cleanup_free_ char *path = xasprintf("%s/%s", rd, file);
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "SKIP comps %s: %s\n", path, strerror(errno));
                CHECK(f != NULL);
                return;
        }
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = repo_create(pool, "os");
        CHECK_INTEQ(repo_add_comps(repo, f, 0), 0);
        fclose(f);
        int groups = 0;
        Id sid;
        FOR_POOL_SOLVABLES(sid) if (str_startswith(pool_id2str(pool, pool->solvables[sid].name), "group:")) groups++;
        CHECK_INTEQ(groups, ngroups);
        Solvable *core = group_solvable(pool, "core");
        CHECK(core != NULL);
        if (core) {
                CHECK_INTEQ(count_deps(core, SOLVABLE_REQUIRES), mandatory);
                CHECK_INTEQ(count_deps(core, SOLVABLE_RECOMMENDS), defaults);
                CHECK_INTEQ(count_deps(core, SOLVABLE_SUGGESTS), optional);
        }
        pool_free(pool);
}

static void test_real_comps(void) {
        check_comps("catscarlet-makeiso-animalism-7.4.1708/"
                    "38b60f66d52704cffb8696750b2b6552438c1ace283bc2cf22408b0ba0e4cbfa-c7-x86_64-comps.xml",
                    45, 31, 9, 84);
        check_comps("enaunimes-kickstart/c7-x86_64-comps.xml", 45, 31, 9, 84);
        check_comps("catscarlet-makeiso-kuroko-7.3.1611/"
                    "d918936f5019be3fb66e9981a28cb2a41477a2963d741d454f79377a22214f43-c7-x86_64-comps.xml",
                    46, 31, 7, 82);
        /* Minimal ISO: one group, an environment listing "debugging" twice. */
        check_comps("catscarlet-makeiso-animalism-7.4.1708/"
                    "83b61f9495b5f728989499479e928e09851199a8846ea37ce008a3eb79ad84a0-c7-minimal-x86_64-comps.xml",
                    46, 38, 7, 1);
}

/* Solve @core of the real 7.4 comps against a repo that has one package per
 * comps name: the result is exactly mandatory + default (76), or mandatory
 * only (45) with --nodefaults; the environment @^minimal is @core. */
static void solve_real_core(bool nodefaults, const char *environment, size_t expect) {
        _cleanup_free_ char *rd = realdata();
        _cleanup_free_ char *path = xasprintf("%s/catscarlet-makeiso-animalism-7.4.1708/"
                                              "38b60f66d52704cffb8696750b2b6552438c1ace283bc2cf22408b0ba0e4cbfa-c7-x86_64-comps.xml",
                                              rd);
        FILE *f = fopen(path, "re");
        CHECK(f != NULL);
        if (!f) return;
        Pool *pool = solve_pool_new("x86_64");
        Repo *repo = repo_create(pool, "os");
        repo_add_comps(repo, f, 0);
        fclose(f);
        /* One dependency-free package per packagereq name of every group. */
        Queue all;
        queue_init(&all);
        Id sid;
        FOR_POOL_SOLVABLES(sid) {
                Solvable *g = pool->solvables + sid;
                Queue q;
                queue_init(&q);
                solvable_lookup_deparray(g, SOLVABLE_REQUIRES, &q, -1);
                for (int i = 0; i < q.count; i++) queue_pushunique(&all, q.elements[i]);
                solvable_lookup_deparray(g, SOLVABLE_RECOMMENDS, &q, -1);
                for (int i = 0; i < q.count; i++) queue_pushunique(&all, q.elements[i]);
                queue_free(&q);
        }
        char *xml = cat(NULL, "<?xml version=\"1.0\"?><metadata xmlns=\"http://linux.duke.edu/metadata/common\" "
                              "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n");
        for (int i = 0; i < all.count; i++) {
                if (ISRELDEP(all.elements[i])) continue;
                const char *n = pool_id2str(pool, all.elements[i]);
                if (str_startswith(n, "group:")) continue;
                _cleanup_free_ char *e = xasprintf("<package type=\"rpm\"><name>%s</name><arch>x86_64</arch>"
                                                   "<version epoch=\"0\" ver=\"1\" rel=\"1\"/></package>\n", n);
                xml = cat(xml, e);
        }
        xml = cat(xml, "</metadata>\n");
        queue_free(&all);
        Repo *pk = repo_create(pool, "pkgs");
        add_xml(pk, xml, false);
        free(xml);
        plan p = { 0 };
        p.arch = (char *)"x86_64";
        plan_group g = { .id = (char *)"core", .nodefaults = nodefaults };
        if (environment) {
                /* @^minimal = @core; no explicit groups, no implicit core. */
                p.packages.environment = (char *)environment;
                p.packages.nocore = true;
        } else {
                p.packages.groups = &g;
                p.packages.n_groups = 1;
        }
        lock *l = NULL;
        char *err = NULL;
        CHECK_INTEQ(solve_pool(pool, &p, &l, &err, NULL), 0);
        if (l) CHECK_INTEQ(l->n_packages, expect);
        lock_free(l);
        free(err);
        pool_free(pool);
}

static void test_real_core_solve(void) {
        solve_real_core(false, NULL, 45 + 31);
        solve_real_core(true, NULL, 45);
        solve_real_core(false, "minimal", 45 + 31);
}

TEST_MAIN(test_table, test_order_and_fields, test_real_comps, test_real_core_solve)
