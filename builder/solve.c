/* solve.c — depsolving with libsolv; semantics in solve.h. */
#include "solve.h"

#include <errno.h>
#include <stdarg.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <solv/bitmap.h>
#include <solv/chksum.h>
#include <solv/evr.h>
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/repo.h>
#include <solv/repo_rpmdb.h>
#include <solv/selection.h>
#include <solv/solver.h>
#include <solv/transaction.h>

#include "repomd.h"
#include "util.h"

#define LOCAL_REPO "@local"

static void quiet_debug(Pool *pool, void *data, int type, const char *str) {
        (void)pool, (void)data;
        /* libsolv errors come back through pool_errstr(); keep stderr clean. */
        if (type & SOLV_FATAL) fputs(str, stderr);
}

Pool *solve_pool_new(const char *arch) {
        Pool *pool = pool_create();
        pool_setdisttype(pool, DISTTYPE_RPM);   /* Debian's libsolv defaults to deb */
        pool_setarch(pool, arch && *arch ? arch : "x86_64");
        pool_setdebugcallback(pool, quiet_debug, NULL);
        return pool;
}

/* ---- small string builder ------------------------------------------------ */

typedef struct sbuf {
        char *s;
        size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *m = NULL;
        int n = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (n < 0) abort();
        if (b->len + (size_t)n + 1 > b->cap) {
                b->cap = (b->len + (size_t)n + 1) * 2;
                b->s = xrealloc(b->s, b->cap);
        }
        memcpy(b->s + b->len, m, (size_t)n + 1);
        b->len += (size_t)n;
        free(m);
}

/* ---- repo setup: priorities, excludes ------------------------------------ */

static const plan_repo *plan_repo_by_id(const plan *p, const char *id) {
        for (size_t i = 0; i < p->n_repos; i++)
                if (p->repos[i].id && id && !strcmp(p->repos[i].id, id)) return &p->repos[i];
        return NULL;
}

static bool glob_match_solvable(Pool *pool, Solvable *s, char *const *globs) {
        if (!globs) return false;
        const char *name = pool_id2str(pool, s->name);
        _cleanup_free_ char *na = xasprintf("%s.%s", name, pool_id2str(pool, s->arch));
        for (size_t i = 0; globs[i]; i++)
                if (!fnmatch(globs[i], name, 0) || !fnmatch(globs[i], na, 0) ||
                    !fnmatch(globs[i], pool_solvable2str(pool, s), 0))
                        return true;
        return false;
}

static bool is_group(Pool *pool, Solvable *s) {
        const char *n = pool_id2str(pool, s->name);
        return str_startswith(n, "group:") || str_startswith(n, "category:") || str_startswith(n, "pattern:") ||
               str_startswith(n, "environment:");
}

/* Map of visible packages: repo includepkgs/excludes and the kickstart's
 * "-pkg" entries hide packages completely.  NULL-free: always set. */
static void apply_excludes(Pool *pool, const plan *p) {
        Map *m = solv_calloc(1, sizeof *m);
        map_init(m, pool->nsolvables);
        map_setall(m);
        Repo *repo;
        int rid;
        FOR_REPOS(rid, repo) {
                const plan_repo *pr = plan_repo_by_id(p, repo->name);
                bool local = !strcmp(repo->name, LOCAL_REPO);
                Id sid;
                Solvable *s;
                FOR_REPO_SOLVABLES(repo, sid, s) {
                        if (is_group(pool, s)) continue;
                        bool hide = false;
                        if (pr && pr->includes && !glob_match_solvable(pool, s, pr->includes)) hide = true;
                        if (pr && glob_match_solvable(pool, s, pr->excludes)) hide = true;
                        if (!local && glob_match_solvable(pool, s, p->packages.excludes)) hide = true;
                        if (hide) MAPCLR(m, sid);
                }
        }
        if (pool->considered) {
                map_free(pool->considered);
                solv_free(pool->considered);
        }
        pool->considered = m;
}

static void apply_priorities(Pool *pool, const plan *p) {
        Repo *repo;
        int rid;
        FOR_REPOS(rid, repo) {
                const plan_repo *pr = plan_repo_by_id(p, repo->name);
                if (!strcmp(repo->name, LOCAL_REPO)) {
                        repo->priority = 1 << 20; /* --kernel-rpm wins over every repo */
                        continue;
                }
                if (!pr) continue;
                /* yum: lower priority/cost wins; libsolv: higher wins. */
                repo->priority = -(pr->priority ? pr->priority : 99);
                repo->subpriority = -(pr->cost ? pr->cost : 1000);
        }
}

/* ---- job building -------------------------------------------------------- */

static bool visible(Pool *pool, Id sid) { return !pool->considered || MAPTST(pool->considered, sid); }

static bool name_available(Pool *pool, Id name) {
        Id pp, sid;
        FOR_PROVIDES(sid, pp, name) {
                if (pool->solvables[sid].name == name && visible(pool, sid)) return true;
        }
        return false;
}

static Solvable *find_group(Pool *pool, const char *id) {
        const char *prefixes[] = { "group:", "pattern:" };
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *n = xasprintf("%s%s", prefixes[i], id);
                Id nid = pool_str2id(pool, n, 0);
                if (!nid) continue;
                Id sid;
                Solvable *s;
                FOR_POOL_SOLVABLES(sid) {
                        s = pool->solvables + sid;
                        if (s->name == nid) return s;
                }
        }
        return NULL;
}

/* Package names of a group's packagelist of one kind, in file order, into
 * names (when not NULL); its conditional packages ("Y if X": libsolv's
 * comps parser stores them as REL_COND deps) into conds. */
static void group_names(Pool *pool, Solvable *g, Id keyname, Queue *names, Queue *conds) {
        Queue q;
        queue_init(&q);
        solvable_lookup_deparray(g, keyname, &q, -1);
        for (int i = 0; i < q.count; i++) {
                Id d = q.elements[i];
                if (!ISRELDEP(d)) {
                        if (names) queue_pushunique(names, d);
                } else if (GETRELDEP(pool, d)->flags == REL_COND)
                        queue_pushunique(conds, d);
        }
        queue_free(&q);
}

static bool is_kernel_name(const char *n) { return !strcmp(n, "kernel"); }

/* Kernel candidates: --kernel-rpm, else the pin, else the kernel repos. */
static int kernel_job(Pool *pool, const plan *p, Id local_kernel, Queue *job, sbuf *err) {
        if (local_kernel) {
                queue_push2(job, SOLVER_INSTALL | SOLVER_SOLVABLE, local_kernel);
                return 0;
        }
        Queue cand;
        queue_init(&cand);
        const char *pin = p->packages.kernel_pin;
        Id kname = pool_str2id(pool, "kernel", 0);
        if (pin) {
                _cleanup_free_ char *spec = str_startswith(pin, "kernel") ? xstrdup(pin) : xasprintf("kernel-%s", pin);
                Queue sel, all;
                queue_init(&sel);
                queue_init(&all);
                selection_make(pool, &sel, spec, SELECTION_CANON | SELECTION_DOTARCH);
                selection_solvables(pool, &sel, &all);
                for (int i = 0; i < all.count; i++)
                        if (visible(pool, all.elements[i])) queue_push(&cand, all.elements[i]);
                queue_free(&sel);
                queue_free(&all);
                if (!cand.count) {
                        sb_printf(err, "the kernel pin '%s' matches no package; available kernels:", pin);
                        Id pp, sid;
                        int n = 0;
                        if (kname) FOR_PROVIDES(sid, pp, kname) {
                                if (pool->solvables[sid].name != kname || !visible(pool, sid)) continue;
                                sb_printf(err, "\n  %s (repo %s)", pool_solvid2str(pool, sid), pool->solvables[sid].repo->name);
                                n++;
                        }
                        if (!n) sb_printf(err, " none");
                        queue_free(&cand);
                        return ERR_INPUT;
                }
        } else if (kname) {
                Id pp, sid;
                FOR_PROVIDES(sid, pp, kname) {
                        Solvable *s = pool->solvables + sid;
                        if (s->name == kname && visible(pool, sid) && strstr(s->repo->name, "kernel"))
                                queue_push(&cand, sid);
                }
        }
        if (cand.count) {
                Id what = pool_queuetowhatprovides(pool, &cand);
                queue_push2(job, SOLVER_INSTALL | SOLVER_SOLVABLE_ONE_OF, what);
        } else if (kname && name_available(pool, kname)) {
                queue_push2(job, SOLVER_INSTALL | SOLVER_SOLVABLE_NAME, kname);
        } else {
                queue_free(&cand);
                return -ENOENT;
        }
        queue_free(&cand);
        return 0;
}

/* ---- lock conversion ------------------------------------------------------ */

static void split_evr(const char *evr, uint32_t *epoch, char **version, char **release) {
        const char *colon = strchr(evr, ':');
        const char *v = evr;
        *epoch = 0;
        if (colon) {
                *epoch = (uint32_t)strtoul(evr, NULL, 10);
                v = colon + 1;
        }
        const char *dash = strrchr(v, '-');
        if (dash) {
                *version = xstrndup(v, (size_t)(dash - v));
                *release = xstrdup(dash + 1);
        } else {
                *version = xstrdup(v);
                *release = xstrdup("");
        }
}

static void add_lock_package(lock *l, Pool *pool, Id sid) {
        Solvable *s = pool->solvables + sid;
        lock_package *lp = lock_add_package(l);
        lp->name = xstrdup(pool_id2str(pool, s->name));
        split_evr(pool_id2str(pool, s->evr), &lp->epoch, &lp->version, &lp->release);
        lp->arch = xstrdup(pool_id2str(pool, s->arch));
        lp->repo_id = xstrdup(s->repo->name);
        const char *loc = solvable_lookup_location(s, NULL);
        lp->location = xstrdup(loc ? loc : "");
        repomd_info *info = s->repo->appdata;
        if (info && info->baseurl) lp->baseurl = xstrdup(info->baseurl);
        Id type = 0;
        const char *chk = solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &type);
        lp->checksum_type = xstrdup(type ? solv_chksum_type2str(type) : "none");
        lp->checksum = xstrdup(chk ? chk : "");
        lp->size = solvable_lookup_num(s, SOLVABLE_DOWNLOADSIZE, 0);
}

static void append_problems(Solver *solv, sbuf *b) {
        int np = solver_problem_count(solv);
        sb_printf(b, "the package set cannot be resolved (%d problem%s):", np, np == 1 ? "" : "s");
        for (Id pr = 1; pr <= np; pr++) {
                /* libsolv calls hidden packages "disabled"; say why they are. */
                const char *ps = solver_problem2str(solv, pr);
                const char *dis = strstr(ps, " is disabled");
                if (dis)
                        sb_printf(b, "\n  problem %d: %.*s is excluded (kickstart \"-name\" or the repo's "
                                  "exclude=/includepkgs=)%s", pr, (int)(dis - ps), ps, dis + strlen(" is disabled"));
                else
                        sb_printf(b, "\n  problem %d: %s", pr, ps);
                int ns = solver_solution_count(solv, pr);
                for (Id so = 1; so <= ns; so++) {
                        sb_printf(b, "\n    solution %d:", so);
                        Id p, rp, el = 0;
                        while ((el = solver_next_solutionelement(solv, pr, so, el, &p, &rp)) != 0)
                                sb_printf(b, "\n      - %s", solver_solutionelement2str(solv, p, rp));
                }
        }
}

/* ---- solve ---------------------------------------------------------------- */

int solve_pool(Pool *pool, const plan *p, lock **ret_lock, char **ret_error, char **ret_warnings) {
        const plan_packages *pk = &p->packages;
        sbuf err = { 0 }, warn = { 0 };
        int r = 0;
        Id local_kernel = 0;
        char local_sha[SHA256_HEX_LEN + 1] = "";

        if (pk->kernel_rpm) {
                if ((r = sha256_file(pk->kernel_rpm, local_sha)) < 0) {
                        sb_printf(&err, "--kernel-rpm %s: %s", pk->kernel_rpm, strerror(-r));
                        r = ERR_INPUT;
                        goto out;
                }
                Repo *local = repo_create(pool, LOCAL_REPO);
                local_kernel = repo_add_rpm(local, pk->kernel_rpm, RPM_ADD_WITH_SHA256SUM);
                if (!local_kernel) {
                        sb_printf(&err, "--kernel-rpm %s: not a readable RPM package: %s", pk->kernel_rpm, pool_errstr(pool));
                        r = ERR_INPUT;
                        goto out;
                }
                repo_internalize(local);
        }
        apply_priorities(pool, p);
        pool_addfileprovides(pool);
        pool_createwhatprovides(pool);
        apply_excludes(pool, p);

        Queue job;
        queue_init(&job);

        /* Groups: the kickstart's, the environment's, @core unless --nocore;
         * minus "-@group" entries. */
        plan_group *gl = NULL;
        size_t ngl = 0;
#define ADD_GROUP(gid, nodef, opt) do { \
                bool dup_ = false; \
                for (size_t k_ = 0; k_ < ngl; k_++) if (!strcmp(gl[k_].id, (gid))) dup_ = true; \
                if (!dup_ && !strv_contains(pk->exclude_groups, (gid))) { \
                        gl = xrealloc(gl, (ngl + 1) * sizeof *gl); \
                        gl[ngl++] = (plan_group){ .id = xstrdup(gid), .nodefaults = (nodef), .optional = (opt) }; \
                } } while (0)
        for (size_t i = 0; i < pk->n_groups; i++) ADD_GROUP(pk->groups[i].id, pk->groups[i].nodefaults, pk->groups[i].optional);
        if (pk->environment) {
                _cleanup_free_ char *en = xasprintf("environment:%s", pk->environment);
                Id enid = pool_str2id(pool, en, 0);
                Solvable *es = NULL;
                Id esid;
                if (enid) {
                        FOR_POOL_SOLVABLES(esid) {
                                if (pool->solvables[esid].name == enid) es = pool->solvables + esid;
                        }
                }
                if (!es) {
                        sb_printf(pk->ignoremissing ? &warn : &err, "%senvironment '@^%s' is not in any repo's comps",
                                  (pk->ignoremissing ? warn.len : err.len) ? "\n" : "", pk->environment);
                } else {
                        Queue eq;
                        queue_init(&eq);
                        solvable_lookup_deparray(es, SOLVABLE_REQUIRES, &eq, -1);
                        for (int k = 0; k < eq.count; k++) {
                                const char *gn = pool_id2str(pool, eq.elements[k]);
                                if (!ISRELDEP(eq.elements[k]) && str_startswith(gn, "group:")) ADD_GROUP(gn + 6, false, false);
                        }
                        queue_free(&eq);
                }
        }
        if (!pk->nocore) ADD_GROUP("core", false, false);
#undef ADD_GROUP
        Queue names, conds;
        queue_init(&names);
        queue_init(&conds);
        for (size_t i = 0; i < ngl; i++) {
                const plan_group *g = &gl[i];
                Solvable *gs = find_group(pool, g->id);
                if (!gs) {
                        bool implicit_core = !strcmp(g->id, "core") && !pk->nocore;
                        if (pk->ignoremissing || implicit_core)
                                sb_printf(&warn, "%sgroup '%s' is not in any repo's comps; skipped", warn.len ? "\n" : "", g->id);
                        else
                                sb_printf(&err, "%sgroup '@%s' is not in any repo's comps", err.len ? "\n" : "", g->id);
                        continue;
                }
                /* Conditionals whatever the package types, as yum's
                 * group_conditionals (anaconda on el7) do. */
                group_names(pool, gs, SOLVABLE_REQUIRES, &names, &conds);
                group_names(pool, gs, SOLVABLE_RECOMMENDS, g->nodefaults ? NULL : &names, &conds);
                group_names(pool, gs, SOLVABLE_SUGGESTS, g->optional ? &names : NULL, &conds);
        }
        for (size_t i = 0; i < ngl; i++) free(gl[i].id);
        free(gl);
        int group_missing = 0;
        bool want_kernel = pk->kernel_rpm || pk->kernel_pin;
        for (int i = 0; i < names.count; i++) {
                const char *n = pool_id2str(pool, names.elements[i]);
                if (is_kernel_name(n)) {
                        want_kernel = true;
                        continue;
                }
                /* Missing or excluded group members are skipped, as anaconda does. */
                if (!name_available(pool, names.elements[i])) {
                        group_missing++;
                        continue;
                }
                queue_push2(&job, SOLVER_INSTALL | SOLVER_SOLVABLE_NAME, names.elements[i]);
        }
        queue_free(&names);
        /* Conditional members: Y is installed when X ends up in the
         * transaction.  As a rich-dependency job "(Y if X)" libsolv decides
         * that within the one solve.  A Y that is missing or excluded is
         * skipped silently (yum does the same; a job on it would instead
         * forbid X). */
        for (int i = 0; i < conds.count; i++) {
                if (!name_available(pool, GETRELDEP(pool, conds.elements[i])->name)) continue;
                queue_push2(&job, SOLVER_INSTALL | SOLVER_SOLVABLE_PROVIDES, conds.elements[i]);
        }
        queue_free(&conds);
        if (group_missing)
                sb_printf(&warn, "%s%d group member%s not available (missing or excluded), skipped", warn.len ? "\n" : "",
                          group_missing, group_missing == 1 ? "" : "s");

        /* Kickstart names and the profile's implicit packages. */
        char **lists[2] = { pk->names, pk->implicit };
        for (size_t li = 0; li < 2; li++) {
                for (size_t i = 0; lists[li] && lists[li][i]; i++) {
                        const char *n = lists[li][i];
                        if (is_kernel_name(n)) {
                                want_kernel = true;
                                continue;
                        }
                        Queue sel, pkgs;
                        queue_init(&sel);
                        queue_init(&pkgs);
                        selection_make(pool, &sel, n,
                                       SELECTION_NAME | SELECTION_PROVIDES | SELECTION_GLOB | SELECTION_DOTARCH |
                                               SELECTION_CANON | (n[0] == '/' ? SELECTION_FILELIST : 0));
                        selection_solvables(pool, &sel, &pkgs);
                        int nvis = 0;
                        for (int k = 0; k < pkgs.count; k++)
                                if (visible(pool, pkgs.elements[k])) nvis++;
                        if (!nvis) {
                                bool excluded = pkgs.count > 0;
                                if (pk->ignoremissing)
                                        sb_printf(&warn, "%sno package matches '%s'%s; ignored (--ignoremissing)",
                                                  warn.len ? "\n" : "", n, excluded ? " (all matches are excluded)" : "");
                                else
                                        sb_printf(&err, "%sno package matches '%s'%s", err.len ? "\n" : "", n,
                                                  excluded ? " (all matches are excluded)" : "");
                        } else {
                                for (int k = 0; k < sel.count; k += 2)
                                        queue_push2(&job, SOLVER_INSTALL | sel.elements[k], sel.elements[k + 1]);
                        }
                        queue_free(&sel);
                        queue_free(&pkgs);
                }
        }
        if (want_kernel) {
                sbuf kerr = { 0 };
                int q = kernel_job(pool, p, local_kernel, &job, &kerr);
                if (q == ERR_INPUT) {
                        sb_printf(&err, "%s%s", err.len ? "\n" : "", kerr.s);
                        free(kerr.s);
                        queue_free(&job);
                        r = ERR_INPUT;
                        goto out;
                }
                free(kerr.s);
                if (q == -ENOENT) {
                        if (pk->ignoremissing)
                                sb_printf(&warn, "%sno kernel package in any repo; ignored (--ignoremissing)", warn.len ? "\n" : "");
                        else
                                sb_printf(&err, "%sno package matches 'kernel'", err.len ? "\n" : "");
                }
        }
        if (err.len) {
                queue_free(&job);
                r = ERR_UNSOLVABLE;
                goto out;
        }

        Solver *solv = solver_create(pool);
        solver_set_flag(solv, SOLVER_FLAG_IGNORE_RECOMMENDED, pk->exclude_weakdeps ? 1 : 0);
        if (solver_solve(solv, &job) != 0) {
                append_problems(solv, &err);
                solver_free(solv);
                queue_free(&job);
                r = ERR_UNSOLVABLE;
                goto out;
        }
        Transaction *trans = solver_create_transaction(solv);
        transaction_order(trans, 0);
        lock *l = lock_new();
        l->release = p->release ? xstrdup(p->release) : NULL;
        l->arch = xstrdup(p->arch ? p->arch : "x86_64");
        for (int i = 0; i < trans->steps.count; i++) {
                Id sid = trans->steps.elements[i];
                Id type = transaction_type(trans, sid, SOLVER_TRANSACTION_SHOW_ACTIVE);
                if (type != SOLVER_TRANSACTION_INSTALL) continue;
                add_lock_package(l, pool, sid);
        }
        if (pk->kernel_rpm) lock_add_input(l, "kernel-rpm", pk->kernel_rpm, local_sha);
        transaction_free(trans);
        solver_free(solv);
        queue_free(&job);
        *ret_lock = l;
        r = 0;
out:
        /* pool_free() frees the map's bits but not the Map itself. */
        if (pool->considered) {
                map_free(pool->considered);
                solv_free(pool->considered);
                pool->considered = NULL;
        }
        if (r < 0 && ret_error) *ret_error = err.s ? err.s : xstrdup("unknown solver error");
        else free(err.s);
        if (ret_warnings) *ret_warnings = warn.s;
        else free(warn.s);
        return r;
}

/* ---- with real repos ------------------------------------------------------- */

typedef struct loaded {
        Pool *pool;
        repomd_info **infos;
        Repo **repos;
        const plan_repo **prs;
        size_t n;
} loaded;

static void loaded_free(loaded *ld) {
        for (size_t i = 0; i < ld->n; i++) repomd_info_free(ld->infos[i]);
        free(ld->infos);
        free(ld->repos);
        free(ld->prs);
        if (ld->pool) pool_free(ld->pool);
}

/* File dependencies that primary.xml does not cover, over the whole pool
 * (a package of updates may need a file only os's filelists list; the
 * kickstart may name a path): then load the file lists of every repo —
 * we cannot know which one has the file, and it is rare and cached. */
static int load_filelists(build_ctx *ctx, const plan *p, loaded *ld) {
        char **paths = NULL;
        char **lists[2] = { p->packages.names, p->packages.implicit };
        for (size_t li = 0; li < 2; li++)
                for (size_t i = 0; lists[li] && lists[li][i]; i++)
                        if (lists[li][i][0] == '/') strv_push(&paths, xstrdup(lists[li][i]));
        char **missing = NULL;
        int n = repomd_missing_files(ld->pool, paths, &missing);
        strv_free(paths);
        if (n == 0) {
                strv_free(missing);
                return 0;
        }
        log_info("%d file path%s not in any primary.xml (%s%s): loading file lists", n, n == 1 ? "" : "s",
                 missing && missing[0] ? missing[0] : "?", n > 1 ? ", …" : "");
        strv_free(missing);
        for (size_t i = 0; i < ld->n; i++) {
                char *msg = NULL;
                double t0 = now_seconds();
                int q = repomd_load_filelists(ctx, ld->prs[i], p->offline, ld->repos[i], ld->infos[i], &msg);
                if (q < 0) {
                        log_error("%s", msg);
                        free(msg);
                        return q == ERR_INTERRUPTED ? q : ERR_FETCH;
                }
                log_info("repo %s: file lists %s in %.2f s", ld->prs[i]->id,
                         ld->infos[i]->filelists_from_cache ? "from the cache" : "loaded and verified",
                         now_seconds() - t0);
        }
        return 0;
}

static int load_repos(build_ctx *ctx, const plan *p, bool filelists, loaded *ld) {
        ld->pool = solve_pool_new(p->arch);
        size_t enabled = 0;
        for (size_t i = 0; i < p->n_repos; i++) {
                const plan_repo *r = &p->repos[i];
                if (!r->enabled) continue;
                enabled++;
                Repo *repo = NULL;
                repomd_info *info = NULL;
                char *msg = NULL;
                double t0 = now_seconds();
                int q = repomd_load(ctx, r, p->arch, p->offline, ld->pool, &repo, &info, &msg);
                if (q < 0) {
                        bool unavailable = q == -EHOSTUNREACH || q == -ENODATA;
                        if (unavailable && r->skip_if_unavailable) {
                                log_warn("%s\nrepo '%s' skipped (skip_if_unavailable=1)", msg, r->id);
                                free(msg);
                                continue;
                        }
                        log_error("%s", msg);
                        if (q == -EHOSTUNREACH)
                                log_error("hint: if this host cannot reach the repositories, point the build at a "
                                          "local mirror: --mirror URL (rewrites every repo's base URL) or "
                                          "--repo-url %s=URL (one repo); --offline uses the metadata cache only",
                                          r->id);
                        else if (q == -ENODATA)
                                log_error("hint: the host answered, but there is no repodata/repomd.xml at that path "
                                          "(not found): check the baseurl of repo '%s' (and the $releasever/$basearch it "
                                          "expands to), or the URL given with --mirror / --repo-url %s=URL; that "
                                          "mirror may not carry this release", r->id, r->id);
                        free(msg);
                        return q == ERR_INTERRUPTED ? q : ERR_FETCH;
                }
                repo->appdata = info;
                ld->infos = xrealloc(ld->infos, (ld->n + 1) * sizeof *ld->infos);
                ld->repos = xrealloc(ld->repos, (ld->n + 1) * sizeof *ld->repos);
                ld->prs = xrealloc(ld->prs, (ld->n + 1) * sizeof *ld->prs);
                ld->repos[ld->n] = repo;
                ld->prs[ld->n] = r;
                ld->infos[ld->n++] = info;
                log_info("repo %s: %d packages, %s in %.2f s", r->id, repo->nsolvables,
                         info->from_cache ? "cached metadata" : "metadata downloaded and verified", now_seconds() - t0);
        }
        if (!enabled) {
                log_error("no enabled repository: nothing to install from");
                return ERR_INPUT;
        }
        return filelists ? load_filelists(ctx, p, ld) : 0;
}

int solve_plan(build_ctx *ctx, const plan *p, lock **ret_lock) {
        loaded ld = { 0 };
        int r = load_repos(ctx, p, true, &ld);
        if (r < 0) {
                loaded_free(&ld);
                return r;
        }
        lock *l = NULL;
        char *err = NULL, *warn = NULL;
        double t0 = now_seconds();
        r = solve_pool(ld.pool, p, &l, &err, &warn);
        if (warn) log_warn("%s", warn);
        free(warn);
        if (r < 0) {
                log_error("%s", err);
                free(err);
                loaded_free(&ld);
                return r;
        }
        log_info("resolved %zu packages in %.2f s", l->n_packages, now_seconds() - t0);
        /* Inputs first: kickstart, repos, then what solve_pool added. */
        lock *out = lock_new();
        out->release = l->release ? xstrdup(l->release) : NULL;
        out->arch = xstrdup(l->arch);
        if (p->kickstart) lock_add_input(out, "kickstart", p->kickstart, p->kickstart_sha256 ? p->kickstart_sha256 : "");
        for (size_t i = 0; i < ld.n; i++) lock_add_input(out, "repomd", ld.infos[i]->id, ld.infos[i]->repomd_sha256);
        for (size_t i = 0; i < l->n_inputs; i++) lock_add_input(out, l->inputs[i].kind, l->inputs[i].id, l->inputs[i].sha256);
        /* Move the packages over. */
        out->packages = l->packages;
        out->n_packages = l->n_packages;
        l->packages = NULL;
        l->n_packages = 0;
        lock_free(l);
        loaded_free(&ld);
        *ret_lock = out;
        return 0;
}

int lock_verify_against_repos(build_ctx *ctx, const plan *p, const lock *l) {
        loaded ld = { 0 };
        /* Package identity only: no file lists needed. */
        int r = load_repos(ctx, p, false, &ld);
        if (r < 0) {
                loaded_free(&ld);
                return r;
        }
        Pool *pool = ld.pool;
        size_t stale = 0;
        for (size_t i = 0; i < l->n_packages; i++) {
                const lock_package *lp = &l->packages[i];
                _cleanup_free_ char *nevra = lock_package_nevra(lp);
                if (!strcmp(lp->repo_id, LOCAL_REPO)) {
                        char hex[SHA256_HEX_LEN + 1];
                        if (sha256_file(lp->location, hex) < 0) {
                                log_error("lock: %s: local file %s is gone", nevra, lp->location);
                                stale++;
                        } else if (strcmp(lp->checksum_type, "sha256") || strcasecmp(hex, lp->checksum)) {
                                log_error("lock: %s: local file %s has changed (sha256 %s, lock says %s)", nevra,
                                          lp->location, hex, lp->checksum);
                                stale++;
                        }
                        continue;
                }
                Repo *repo = NULL, *rr;
                int rid;
                FOR_REPOS(rid, rr) if (!strcmp(rr->name, lp->repo_id)) repo = rr;
                if (!repo) {
                        log_error("lock: %s comes from repo '%s', which is not enabled in this build", nevra, lp->repo_id);
                        stale++;
                        continue;
                }
                Id sid;
                Solvable *s;
                bool found = false, same = false;
                FOR_REPO_SOLVABLES(repo, sid, s) {
                        if (strcmp(pool_id2str(pool, s->name), lp->name) || strcmp(pool_id2str(pool, s->arch), lp->arch))
                                continue;
                        uint32_t e;
                        char *v, *rel;
                        split_evr(pool_id2str(pool, s->evr), &e, &v, &rel);
                        bool match = e == lp->epoch && !strcmp(v, lp->version) && !strcmp(rel, lp->release);
                        free(v);
                        free(rel);
                        if (!match) continue;
                        found = true;
                        Id type = 0;
                        const char *chk = solvable_lookup_checksum(s, SOLVABLE_CHECKSUM, &type);
                        if (chk && type && !strcmp(solv_chksum_type2str(type), lp->checksum_type) &&
                            !strcasecmp(chk, lp->checksum))
                                same = true;
                }
                if (!found) {
                        log_error("lock: %s is no longer in repo '%s'", nevra, lp->repo_id);
                        stale++;
                } else if (!same) {
                        log_error("lock: %s in repo '%s' has a different checksum than the lock records (%s %s)", nevra,
                                  lp->repo_id, lp->checksum_type, lp->checksum);
                        stale++;
                }
        }
        loaded_free(&ld);
        if (stale) {
                log_error("the lock file does not match the repositories any more (%zu package%s); "
                          "run 'imgbuild resolve' to make a new one", stale, stale == 1 ? "" : "s");
                return ERR_INPUT;
        }
        return 0;
}
