/* plan.c — plan_load(): profile + options + kickstart + .repo files +
 * kernel-config + overlays → one validated plan; plan_free(); the plan as
 * JSON.  Every check a user's input can fail happens here, so a build never
 * stops half-way on something that could have been known up front. */
#include "plan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kickstart.h"
#include "options.h"
#include "profile.h"
#include "repofile.h"
#include "util.h"

/* ---- lifetime -------------------------------------------------------------- */

void plan_free(plan *p) {
        if (!p) return;
        free(p->profile);
        free(p->kickstart);
        free(p->kickstart_sha256);
        free(p->release);
        free(p->image_name);
        free(p->output_dir);
        strv_free(p->formats);
        free(p->vhd_type);
        free(p->arch);
        free(p->releasever);
        free(p->rpmdb_format);
        strv_free(p->cloudinit_datasources);
        free(p->image_id);
        free(p->datadir);
        strv_free(p->kickstart_files);
        free(p->kernel_config_dir);
        for (size_t i = 0; i < p->n_repos; i++) plan_repo_clear(&p->repos[i]);
        free(p->repos);
        plan_packages_clear(&p->packages);
        for (size_t i = 0; i < p->n_partitions; i++) plan_partition_clear(&p->partitions[i]);
        free(p->partitions);
        free(p->bootloader.location);
        free(p->bootloader.append);
        plan_system_clear(&p->system);
        strv_free(p->tuning.cmdline);
        strv_free(p->tuning.sysctl_files);
        strv_free(p->tuning.initramfs_drivers);
        free(p->tuning.crashkernel);
        for (size_t i = 0; i < p->n_overlays; i++) {
                plan_overlay *o = &p->overlays[i];
                free(o->dir);
                free(o->manifest);
                for (size_t k = 0; k < o->n_entries; k++) {
                        free(o->entries[k].path);
                        free(o->entries[k].owner);
                        free(o->entries[k].group);
                        free(o->entries[k].origin);
                }
                free(o->entries);
        }
        free(p->overlays);
        for (size_t i = 0; i < p->n_posts; i++) plan_script_clear(&p->posts[i]);
        free(p->posts);
        free(p->lock_file);
        free(p->lock_out);
        free(p);
}

void plan_options_clear(plan_options *o) {
        strv_free(o->repo_files);
        strv_free(o->repo_urls);
        strv_free(o->enable_repos);
        strv_free(o->disable_repos);
        strv_free(o->sets);
        memset(o, 0, sizeof *o);
}

/* ---- helpers ------------------------------------------------------------------ */

typedef struct loader {
        const plan_options *o;
        const profile *prof;
        plan *p;
        kickstart *ks;
        char ***warnings;
        char *error;
} loader;

static int lfail(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lfail(loader *l, const char *fmt, ...) {
        if (!l->error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&l->error, fmt, ap) < 0) abort();
                va_end(ap);
        }
        return ERR_INPUT;
}

static int lwarn(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lwarn(loader *l, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *m;
        if (vasprintf(&m, fmt, ap) < 0) abort();
        va_end(ap);
        if (l->o->strict) {
                lfail(l, "%s (an error with --strict)", m);
                free(m);
                return ERR_INPUT;
        }
        strv_push(l->warnings, m);
        return 0;
}

static char *abspath(const char *path) {
        if (path[0] == '/') return xstrdup(path);
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return xstrdup(path);
        return xasprintf("%s/%s", cwd, path);
}

static char *data_path(const plan *p, const char *rel) { return xasprintf("%s/%s", p->datadir, rel); }

static char *find_datadir(const char *opt) {
        if (opt) return abspath(opt);
        const char *env = getenv("IMGBUILD_DATADIR");
        if (env && *env) return abspath(env);
        /* builder/imgbuild or build/unit/test_x: the repository is two levels up */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
                exe[n] = '\0';
                for (int up = 0; up < 2; up++) {
                        char *s = strrchr(exe, '/');
                        if (!s) break;
                        *s = '\0';
                }
                char *k = xasprintf("%s/kickstart", exe);
                bool ok = path_exists(k);
                free(k);
                if (ok) return xstrdup(exe);
        }
        return abspath(".");
}

static bool valid_date(const char *s) {
        if (strlen(s) != 8) return false;
        for (int i = 0; i < 8; i++)
                if (!isdigit((unsigned char)s[i])) return false;
        int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        int m = (s[4] - '0') * 10 + (s[5] - '0');
        int d = (s[6] - '0') * 10 + (s[7] - '0');
        if (y < 1970 || m < 1 || m > 12 || d < 1) return false;
        static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        return d <= mdays[m - 1] + (m == 2 && leap);
}

static int parse_size_mib(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || errno || *s == '-') return -EINVAL;
        uint64_t mul;
        if (!strcmp(end, "G") || !strcmp(end, "GiB") || !strcmp(end, "g")) mul = 1024;
        else if (!strcmp(end, "M") || !strcmp(end, "MiB") || !strcmp(end, "m")) mul = 1;
        else return -EINVAL;
        if (v == 0 || v > (2ull << 20) / mul) return -ERANGE;       /* MBR: 2 TiB */
        *ret = v * mul;
        return 0;
}

/* Lines of a small config file: '#' comments, blank lines skipped. */
static int read_lines(loader *l, const char *path, bool required, char ***ret) {
        char *data;
        size_t len;
        int r = read_file(path, &data, &len);
        if (r == -ENOENT && !required) return 0;
        if (r < 0) return lfail(l, "%s: %s", path, strerror(-r));
        size_t bl;
        char *msg;
        if (text_check(data, len, 4096, &bl, &msg) < 0) {
                lfail(l, "%s:%zu: %s", path, bl, msg);
                free(msg);
                free(data);
                return ERR_INPUT;
        }
        char *save = NULL;
        for (char *t = strtok_r(data, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                t[strcspn(t, "#")] = '\0';
                while (isspace((unsigned char)*t)) t++;
                size_t n = strlen(t);
                while (n && isspace((unsigned char)t[n - 1])) t[--n] = '\0';
                if (*t) strv_push(ret, xstrdup(t));
        }
        free(data);
        return 0;
}

/* ---- repos ---------------------------------------------------------------------- */

static plan_repo *find_repo(plan *p, const char *id) {
        for (size_t i = 0; i < p->n_repos; i++)
                if (!strcmp(p->repos[i].id, id)) return &p->repos[i];
        return NULL;
}

static void add_repo(plan *p, plan_repo *r) {
        p->repos = xrealloc(p->repos, (p->n_repos + 1) * sizeof *p->repos);
        p->repos[p->n_repos++] = *r;
}

/* scheme://host[:port] + path of u, prefixed by mirror. */
static char *rewrite_host(const char *mirror, const char *u) {
        const char *s = strstr(u, "://");
        if (!s || str_startswith(u, "file://")) return NULL;
        const char *path = strchr(s + 3, '/');
        size_t ml = strlen(mirror);
        while (ml && mirror[ml - 1] == '/') ml--;
        return xasprintf("%.*s%s", (int)ml, mirror, path ? path : "/");
}

static int load_repos(loader *l) {
        plan *p = l->p;
        const plan_options *o = l->o;
        char **vars = NULL;
        yumvars_set(&vars, "releasever", p->releasever);
        yumvars_set(&vars, "basearch", p->arch);
        yumvars_set(&vars, "arch", p->arch);
        yumvars_set(&vars, "infra", l->prof->infra);
        yumvars_set(&vars, "contentdir", l->prof->contentdir);
        int r = 0;
        if (o->vars_dir) {
                char *err = NULL;
                if (yumvars_load_dir(o->vars_dir, &vars, &err) < 0) {
                        lfail(l, "%s", err);
                        free(err);
                        strv_free(vars);
                        return ERR_INPUT;
                }
                /* a vars dir may override releasever, as yum allows */
                free(p->releasever);
                p->releasever = xstrdup(yumvars_get(vars, "releasever"));
        }
        char **files = NULL;
        if (o->repo_files)
                for (size_t i = 0; o->repo_files[i]; i++) strv_push(&files, xstrdup(o->repo_files[i]));
        else
                for (size_t i = 0; l->prof->repo_files[i]; i++) strv_push(&files, data_path(p, l->prof->repo_files[i]));
        for (size_t f = 0; files && files[f] && r == 0; f++) {
                plan_repo *rs = NULL;
                size_t n = 0;
                char *err = NULL;
                r = repofile_parse_file(files[f], vars, o->strict ? REPO_STRICT : 0, &rs, &n, l->warnings, &err);
                if (r < 0) {
                        lfail(l, "%s", err);
                        free(err);
                        r = ERR_INPUT;
                        break;
                }
                for (size_t i = 0; i < n; i++) {
                        plan_repo *old = find_repo(p, rs[i].id);
                        if (old && r == 0)
                                r = lfail(l, "%s: repo [%s] is already defined at %s", rs[i].origin, rs[i].id, old->origin);
                        if (r == 0) add_repo(p, &rs[i]);
                        else plan_repo_clear(&rs[i]);
                }
                free(rs);
        }
        strv_free(files);
        strv_free(vars);
        if (r < 0) return r;

        /* Kickstart url/repo add to (and override) the repo files. */
        for (size_t i = 0; i < l->ks->n_repos; i++) {
                plan_repo *kr = &l->ks->repos[i];
                plan_repo *old = find_repo(p, kr->id);
                if (old) {
                        r = lwarn(l, "%s: kickstart repo '%s' replaces the one from %s", kr->origin, kr->id, old->origin);
                        if (r < 0) return r;
                        plan_repo_clear(old);
                        *old = *kr;
                } else
                        add_repo(p, kr);
                memset(kr, 0, sizeof *kr);
        }
        l->ks->n_repos = 0;

        if (o->mirror) {
                if (!str_startswith(o->mirror, "http://") && !str_startswith(o->mirror, "https://") &&
                    !str_startswith(o->mirror, "ftp://") && !str_startswith(o->mirror, "file://"))
                        return lfail(l, "--mirror %s: an http(s)://, ftp:// or file:// URL is expected", o->mirror);
                for (size_t i = 0; i < p->n_repos; i++) {
                        plan_repo *rp = &p->repos[i];
                        if (!rp->baseurls) {
                                if (!rp->enabled) continue;
                                return lfail(l, "--mirror: repo '%s' (%s) has only a mirrorlist/metalink; give --repo-url %s=URL",
                                             rp->id, rp->origin, rp->id);
                        }
                        for (size_t k = 0; rp->baseurls[k]; k++) {
                                char *n = rewrite_host(o->mirror, rp->baseurls[k]);
                                if (n) free(rp->baseurls[k]), rp->baseurls[k] = n;
                        }
                        for (size_t k = 0; rp->gpgkeys && rp->gpgkeys[k]; k++) {
                                char *n = rewrite_host(o->mirror, rp->gpgkeys[k]);
                                if (n) free(rp->gpgkeys[k]), rp->gpgkeys[k] = n;
                        }
                        free(rp->mirrorlist), rp->mirrorlist = NULL;
                        free(rp->metalink), rp->metalink = NULL;
                }
        }
        for (size_t i = 0; o->repo_urls && o->repo_urls[i]; i++) {
                const char *eq = strchr(o->repo_urls[i], '=');
                if (!eq || eq == o->repo_urls[i] || !eq[1])
                        return lfail(l, "--repo-url '%s': ID=URL expected", o->repo_urls[i]);
                char *id = xstrndup(o->repo_urls[i], (size_t)(eq - o->repo_urls[i]));
                plan_repo *rp = find_repo(p, id);
                if (!rp) {
                        lfail(l, "--repo-url: unknown repo '%s'", id);
                        free(id);
                        return ERR_INPUT;
                }
                free(id);
                const char *u = eq + 1;
                if (!str_startswith(u, "http://") && !str_startswith(u, "https://") && !str_startswith(u, "ftp://") &&
                    !str_startswith(u, "file://"))
                        return lfail(l, "--repo-url %s: an http(s)://, ftp:// or file:// URL is expected", o->repo_urls[i]);
                strv_free(rp->baseurls);
                rp->baseurls = NULL;
                strv_push(&rp->baseurls, xstrdup(u));
                free(rp->mirrorlist), rp->mirrorlist = NULL;
                free(rp->metalink), rp->metalink = NULL;
        }
        for (int pass = 0; pass < 2; pass++) {
                char **ids = pass ? o->disable_repos : o->enable_repos;
                for (size_t i = 0; ids && ids[i]; i++) {
                        plan_repo *rp = find_repo(p, ids[i]);
                        if (!rp) return lfail(l, "--%s-repo: unknown repo '%s'", pass ? "disable" : "enable", ids[i]);
                        rp->enabled = !pass;
                }
        }
        size_t enabled = 0;
        for (size_t i = 0; i < p->n_repos; i++) enabled += p->repos[i].enabled;
        if (!enabled) return lfail(l, "no enabled repositories (check the .repo files and --disable-repo)");
        return 0;
}

/* ---- partitions ------------------------------------------------------------------ */

static int load_partitions(loader *l) {
        plan *p = l->p;
        kickstart *ks = l->ks;
        if (ks->n_parts == 0) {
                /* no part (or autopart): one root partition filling the disk */
                plan_partition d = { .mountpoint = xstrdup("/"), .size_mib = l->prof->min_root_mib, .grow = true,
                                     .origin = xasprintf("profile %s", l->prof->name) };
                p->partitions = xcalloc(1, sizeof *p->partitions);
                p->partitions[0] = d;
                p->n_partitions = 1;
        } else {
                p->partitions = ks->parts;
                p->n_partitions = ks->n_parts;
                ks->parts = NULL;
                ks->n_parts = 0;
        }
        if (p->n_partitions > 4)
                return lfail(l, "%s: %zu partitions, but an MBR disk holds 4 primary partitions", p->partitions[4].origin,
                             p->n_partitions);
        plan_partition *root = NULL;
        uint64_t fixed = 1;     /* the first partition starts at 1 MiB */
        bool grow = false;
        for (size_t i = 0; i < p->n_partitions; i++) {
                plan_partition *pt = &p->partitions[i];
                for (size_t k = 0; k < i; k++)
                        if (!strcmp(pt->mountpoint, p->partitions[k].mountpoint) && strcmp(pt->mountpoint, "swap"))
                                return lfail(l, "%s: %s %s is already defined at %s", pt->origin,
                                             strcmp(pt->mountpoint, "/") ? "mount point" : "a second root partition:",
                                             pt->mountpoint, p->partitions[k].origin);
                if (!pt->fstype) pt->fstype = xstrdup(l->prof->default_fstype);
                if (!strcmp(pt->mountpoint, "/")) {
                        root = pt;
                        if (!strcmp(pt->fstype, "vfat") || !strcmp(pt->fstype, "ext2"))
                                return lfail(l, "%s: the root file system cannot be %s (ext4, ext3, xfs)", pt->origin,
                                             pt->fstype);
                }
                fixed += pt->size_mib;
                grow |= pt->grow;
        }
        if (!root) return lfail(l, "%s: no root partition (part / …)", ks->path);
        uint64_t disk;
        if (l->o->disk_size) {
                if (parse_size_mib(l->o->disk_size, &disk) < 0)
                        return lfail(l, "--disk-size %s: a size like 20G or 20480M (up to 2T) is expected", l->o->disk_size);
        } else {
                /* the profile's size, or the partitions' sum in whole GiB (as
                 * ECS wants) when they do not fit in it */
                (void)grow;
                disk = l->prof->default_disk_mib;
                if (fixed > disk) disk = (fixed + 1023) / 1024 * 1024;
        }
        if (fixed > disk)
                return lfail(l, "%s: the partitions need %llu MiB but the disk is %llu MiB (--disk-size)", root->origin,
                             (unsigned long long)fixed, (unsigned long long)disk);
        /* Share the free space among --grow partitions, in proportion to
         * their base size (as anaconda does), honouring --maxsize. */
        uint64_t free_mib = disk - fixed;
        for (int round = 0; round < 4 && free_mib; round++) {
                uint64_t base = 0;
                for (size_t i = 0; i < p->n_partitions; i++) {
                        plan_partition *pt = &p->partitions[i];
                        if (pt->grow && (!pt->maxsize_mib || pt->final_size_mib < pt->maxsize_mib)) base += pt->size_mib;
                }
                if (!base) break;
                uint64_t given = 0;
                for (size_t i = 0; i < p->n_partitions; i++) {
                        plan_partition *pt = &p->partitions[i];
                        if (!pt->final_size_mib) pt->final_size_mib = pt->size_mib;
                        if (!pt->grow || (pt->maxsize_mib && pt->final_size_mib >= pt->maxsize_mib)) continue;
                        uint64_t add = free_mib * pt->size_mib / base;
                        if (pt->maxsize_mib && pt->final_size_mib + add > pt->maxsize_mib)
                                add = pt->maxsize_mib - pt->final_size_mib;
                        pt->final_size_mib += add;
                        given += add;
                }
                free_mib -= given;
                /* rounding leftovers go to the last growing partition */
                for (size_t i = p->n_partitions; i-- > 0 && free_mib;) {
                        plan_partition *pt = &p->partitions[i];
                        if (pt->grow && (!pt->maxsize_mib || pt->final_size_mib < pt->maxsize_mib)) {
                                uint64_t add = free_mib;
                                if (pt->maxsize_mib && pt->final_size_mib + add > pt->maxsize_mib)
                                        add = pt->maxsize_mib - pt->final_size_mib;
                                pt->final_size_mib += add;
                                free_mib -= add;
                        }
                }
                if (!given) break;
        }
        uint64_t at = 1;
        for (size_t i = 0; i < p->n_partitions; i++) {
                plan_partition *pt = &p->partitions[i];
                if (!pt->final_size_mib) pt->final_size_mib = pt->size_mib;
                pt->start_mib = at;
                at += pt->final_size_mib;
        }
        if (root->final_size_mib < l->prof->min_root_mib)
                return lfail(l, "%s: the root partition (%llu MiB) cannot hold a %s system: at least %llu MiB", root->origin,
                             (unsigned long long)root->final_size_mib, l->prof->name,
                             (unsigned long long)l->prof->min_root_mib);
        p->disk_size_bytes = disk * 1024 * 1024;
        p->min_root_mib = l->prof->min_root_mib;
        return 0;
}

/* ---- tuning ------------------------------------------------------------------------ */

static int parse_switch_bool(loader *l, const char *what, const char *v, bool *ret) {
        if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true")) *ret = true;
        else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false")) *ret = false;
        else return lfail(l, "%s: '%s' is not on/off", what, v);
        return 0;
}

/* KEY=VALUE for cgwb_v1, psi, tcp_tw_timeout, kdump. */
static int apply_switch(loader *l, const char *where, const char *kv) {
        plan_tuning *t = &l->p->tuning;
        const char *eq = strchr(kv, '=');
        if (!eq) return lfail(l, "%s '%s': KEY=VALUE expected (cgwb_v1, psi, tcp_tw_timeout, kdump)", where, kv);
        char *key = xstrndup(kv, (size_t)(eq - kv));
        const char *v = eq + 1;
        char *what = xasprintf("%s %s", where, key);
        int r = 0;
        if (!strcmp(key, "cgwb_v1")) r = parse_switch_bool(l, what, v, &t->cgwb_v1);
        else if (!strcmp(key, "psi")) r = parse_switch_bool(l, what, v, &t->psi);
        else if (!strcmp(key, "kdump")) r = parse_switch_bool(l, what, v, &t->kdump);
        else if (!strcmp(key, "tcp_tw_timeout")) {
                char *end;
                errno = 0;
                long x = strtol(v, &end, 10);
                if (!*v || *end || errno || x < 1 || x > 600)
                        r = lfail(l, "%s: '%s' is out of range (net.ipv4.tcp_tw_timeout: 1-600 seconds)", what, v);
                else
                        t->tcp_tw_timeout = (int)x;
        } else
                r = lfail(l, "%s: unknown switch '%s' (cgwb_v1, psi, tcp_tw_timeout, kdump)", where, key);
        free(key);
        free(what);
        return r;
}

static void cmdline_drop(char **v, const char *prefix) {
        size_t j = 0;
        for (size_t i = 0; v && v[i]; i++) {
                if (str_startswith(v[i], prefix)) free(v[i]);
                else v[j++] = v[i];
        }
        if (v) v[j] = NULL;
}

static void strv_remove(char **v, const char *s) {
        size_t j = 0;
        for (size_t i = 0; v && v[i]; i++) {
                if (!strcmp(v[i], s)) free(v[i]);
                else v[j++] = v[i];
        }
        if (v) v[j] = NULL;
}

static int load_tuning(loader *l) {
        plan *p = l->p;
        plan_tuning *t = &p->tuning;
        p->kernel_config_dir = data_path(p, l->prof->kernel_config);
        struct stat st;
        if (stat(p->kernel_config_dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return lfail(l, "%s: kernel-config directory missing", p->kernel_config_dir);
        char *f = xasprintf("%s/cmdline", p->kernel_config_dir);
        char **lines = NULL;
        int r = read_lines(l, f, true, &lines);
        free(f);
        if (r < 0) return r;
        for (size_t i = 0; lines && lines[i]; i++) {
                char *save = NULL;
                for (char *tok = strtok_r(lines[i], " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
                        strv_push(&t->cmdline, xstrdup(tok));
        }
        strv_free(lines);
        lines = NULL;
        f = xasprintf("%s/initramfs-drivers", p->kernel_config_dir);
        r = read_lines(l, f, true, &t->initramfs_drivers);
        free(f);
        if (r < 0) return r;
        /* the root file system's module */
        for (size_t i = 0; i < p->n_partitions; i++)
                if (!strcmp(p->partitions[i].mountpoint, "/") && !strv_contains(t->initramfs_drivers, p->partitions[i].fstype))
                        strv_push(&t->initramfs_drivers, xstrdup(p->partitions[i].fstype));
        /* sysctl.d: every *.conf, sorted */
        char *sd = xasprintf("%s/sysctl.d", p->kernel_config_dir);
        struct dirent **names = NULL;
        int n = scandir(sd, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                if (str_endswith(names[i]->d_name, ".conf")) {
                        char *path = xasprintf("%s/%s", sd, names[i]->d_name);
                        char **tmp = NULL;
                        if (r == 0) r = read_lines(l, path, true, &tmp);   /* checks it is clean text */
                        for (size_t k = 0; r == 0 && tmp && tmp[k]; k++)
                                if (!strchr(tmp[k], '='))
                                        r = lfail(l, "%s: '%s' is not 'key = value'", path, tmp[k]);
                        strv_free(tmp);
                        strv_push(&t->sysctl_files, path);
                }
                free(names[i]);
        }
        free(names);
        free(sd);
        if (r < 0) return r;

        /* switches: profile default, kernel-config/<p>/switches, kickstart, --set */
        t->kdump = l->prof->kdump_default;
        f = xasprintf("%s/switches", p->kernel_config_dir);
        r = read_lines(l, f, false, &lines);
        for (size_t i = 0; r == 0 && lines && lines[i]; i++) r = apply_switch(l, f, lines[i]);
        strv_free(lines);
        free(f);
        if (r < 0) return r;
        if (l->ks->kdump >= 0) t->kdump = l->ks->kdump;
        t->kdump_reserve_mb = l->ks->kdump_reserve_mb;
        for (size_t i = 0; l->o->sets && l->o->sets[i]; i++)
                if ((r = apply_switch(l, "--set", l->o->sets[i])) < 0) return r;

        /* compose the command line: crashkernel= stays where the profile
         * put it while kdump is on */
        size_t ck_at = SIZE_MAX;
        for (size_t i = 0; t->cmdline && t->cmdline[i]; i++)
                if (str_startswith(t->cmdline[i], "crashkernel=")) ck_at = i;
        if (t->kdump) {
                if (t->kdump_reserve_mb) t->crashkernel = xasprintf("%dM", t->kdump_reserve_mb);
                else if (ck_at != SIZE_MAX) t->crashkernel = xstrdup(t->cmdline[ck_at] + 12);
                else t->crashkernel = xstrdup("auto");
                char *tok = xasprintf("crashkernel=%s", t->crashkernel);
                if (ck_at != SIZE_MAX) free(t->cmdline[ck_at]), t->cmdline[ck_at] = tok;
                else strv_push(&t->cmdline, tok);
                /* only one crashkernel= */
                for (size_t i = 0, j = 0;; i++) {
                        char *c = t->cmdline[i];
                        if (c && i != ck_at && ck_at != SIZE_MAX && str_startswith(c, "crashkernel=")) {
                                free(c);
                                continue;
                        }
                        t->cmdline[j++] = c;
                        if (!c) break;
                }
        } else
                cmdline_drop(t->cmdline, "crashkernel=");
        if (t->cgwb_v1 && !strv_contains(t->cmdline, "cgwb_v1")) strv_push(&t->cmdline, xstrdup("cgwb_v1"));
        if (t->psi) {
                cmdline_drop(t->cmdline, "psi=");
                cmdline_drop(t->cmdline, "psi_v1=");
                strv_push(&t->cmdline, xstrdup("psi=1"));
                strv_push(&t->cmdline, xstrdup("psi_v1=1"));
        }
        if (p->bootloader.append) {
                char **args = NULL, *msg = NULL;
                if (ks_split(p->bootloader.append, &args, &msg) < 0) {
                        lfail(l, "bootloader --append: %s", msg);
                        free(msg);
                        return ERR_INPUT;
                }
                for (size_t i = 0; args[i]; i++)
                        if (!strv_contains(t->cmdline, args[i])) strv_push(&t->cmdline, xstrdup(args[i]));
                strv_free(args);
        }
        /* kdump's service follows the switch */
        plan_system *s = &p->system;
        char **add = t->kdump ? s->services_enabled : s->services_disabled;
        char **del = t->kdump ? s->services_disabled : s->services_enabled;
        strv_remove(del, "kdump");
        if (!strv_contains(add, "kdump")) strv_push(t->kdump ? &s->services_enabled : &s->services_disabled, xstrdup("kdump"));
        return 0;
}

/* ---- overlays ------------------------------------------------------------------------- */

static const char *walk_root;
static char *walk_error;

static int walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)ftw;
        const char *rel = path + strlen(walk_root);
        if (type == FTW_DNR || type == FTW_NS) {
                walk_error = xasprintf("%s: cannot read", path);
                return 1;
        }
        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlink(path, target, sizeof target - 1);
                if (n < 0) {
                        walk_error = xasprintf("%s: cannot read the symlink", path);
                        return 1;
                }
                target[n] = '\0';
                if (target[0] == '/') return 0;        /* resolved inside the image, never on the host */
                /* depth of the link's directory below the overlay root */
                long depth = 0;
                for (const char *c = rel; *c; c++)
                        if (*c == '/') depth++;
                depth--;                /* rel starts with '/' and names the link itself */
                char *copy = xstrdup(target), *save = NULL;
                for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                        if (!strcmp(t, "..")) depth--;
                        else if (strcmp(t, ".")) depth++;
                        if (depth < 0) break;
                }
                free(copy);
                if (depth < 0) {
                        walk_error = xasprintf("%s: symlink to '%s' escapes the image root", path, target);
                        return 1;
                }
                return 0;
        }
        if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
                walk_error = xasprintf("%s: only files, directories and symlinks can be overlaid", path);
                return 1;
        }
        return 0;
}

static bool valid_owner(const char *s) {
        if (!strcmp(s, "-")) return true;
        bool digits = true;
        for (const char *c = s; *c; c++)
                if (!isdigit((unsigned char)*c)) digits = false;
        if (digits) return *s && strlen(s) <= 10;
        if (!islower((unsigned char)s[0]) && s[0] != '_') return false;
        for (const char *c = s; *c; c++)
                if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && !strchr("-_.", *c)) return false;
        return strlen(s) <= 32;
}

static int load_overlay(loader *l) {
        plan *p = l->p;
        char *dir = data_path(p, l->prof->overlay);
        struct stat st;
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                lfail(l, "%s: overlay directory missing", dir);
                free(dir);
                return ERR_INPUT;
        }
        p->overlays = xcalloc(1, sizeof *p->overlays);
        p->n_overlays = 1;
        plan_overlay *ov = &p->overlays[0];
        ov->dir = dir;
        walk_root = dir;
        walk_error = NULL;
        nftw(dir, walk_cb, 16, FTW_PHYS);
        if (walk_error) {
                lfail(l, "%s", walk_error);
                free(walk_error);
                walk_error = NULL;
                return ERR_INPUT;
        }
        char *mf = data_path(p, l->prof->overlay_manifest);
        char *data = NULL;
        size_t len;
        int r = read_file(mf, &data, &len);
        if (r == -ENOENT) {
                free(mf);
                return 0;
        }
        if (r < 0) {
                lfail(l, "%s: %s", mf, strerror(-r));
                free(mf);
                return ERR_INPUT;
        }
        ov->manifest = mf;
        size_t bl;
        char *msg;
        if (text_check(data, len, 4096, &bl, &msg) < 0) {
                lfail(l, "%s:%zu: %s", mf, bl, msg);
                free(msg);
                free(data);
                return ERR_INPUT;
        }
        size_t ln = 0;
        r = 0;
        for (char *s = data; *s && r == 0;) {
                char *e = strchr(s, '\n');
                if (e) *e = '\0';
                ln++;
                s[strcspn(s, "#")] = '\0';
                char *w[5] = { 0 }, *save = NULL;
                int nw = 0;
                for (char *t = strtok_r(s, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
                        if (nw < 5) w[nw] = t;
                        nw++;
                }
                if (nw == 0) goto next;
                if (nw != 4) {
                        r = lfail(l, "%s:%zu: 'PATH OWNER GROUP MODE' expected", mf, ln);
                        break;
                }
                const char *path = w[0];
                if (path[0] != '/' || strstr(path, "/../") || str_endswith(path, "/..") || strstr(path, "//")) {
                        r = lfail(l, "%s:%zu: '%s' escapes the image root or is not absolute", mf, ln, path);
                        break;
                }
                char *src = xasprintf("%s%s", dir, path);
                struct stat ps;
                bool there = lstat(src, &ps) == 0;
                free(src);
                if (!there) {
                        r = lfail(l, "%s:%zu: %s is not in the overlay tree %s", mf, ln, path, dir);
                        break;
                }
                if (!valid_owner(w[1]) || !valid_owner(w[2])) {
                        r = lfail(l, "%s:%zu: bad owner or group '%s:%s'", mf, ln, w[1], w[2]);
                        break;
                }
                int mode = -1;
                if (strcmp(w[3], "-")) {
                        char *end;
                        long m = strtol(w[3], &end, 8);
                        if (*end || m < 0 || m > 07777 || !*w[3]) {
                                r = lfail(l, "%s:%zu: bad mode '%s' (octal, up to 7777)", mf, ln, w[3]);
                                break;
                        }
                        mode = (int)m;
                }
                ov->entries = xrealloc(ov->entries, (ov->n_entries + 1) * sizeof *ov->entries);
                ov->entries[ov->n_entries++] = (plan_overlay_entry){
                        .path = xstrdup(path),
                        .owner = strcmp(w[1], "-") ? xstrdup(w[1]) : NULL,
                        .group = strcmp(w[2], "-") ? xstrdup(w[2]) : NULL,
                        .mode = mode,
                        .origin = xasprintf("%s:%zu", mf, ln),
                };
next:
                if (!e) break;
                s = e + 1;
        }
        free(data);
        return r;
}

/* ---- packages ---------------------------------------------------------------------------- */

static bool excluded(char *const *excludes, const char *name) {
        for (size_t i = 0; excludes && excludes[i]; i++)
                if (!fnmatch(excludes[i], name, 0)) return true;
        return false;
}

static int load_packages(loader *l) {
        plan *p = l->p;
        kickstart *ks = l->ks;
        const plan_options *o = l->o;
        if (!ks->have_packages) return lfail(l, "%s: no %%packages section", ks->path);
        p->packages = ks->packages;
        memset(&ks->packages, 0, sizeof ks->packages);
        plan_packages *pk = &p->packages;
        if (!pk->names && !pk->n_groups && !pk->environment && pk->nocore)
                return lfail(l, "%s: %%packages --nocore selects nothing", pk->origin);
        pk->ignoremissing |= o->ignoremissing;
        bool boot = !p->bootloader.disabled && strcmp(p->bootloader.location, "none");
        for (int pass = 0; pass < 2; pass++) {
                const char *const *v = pass ? l->prof->bootloader_packages : l->prof->implicit_packages;
                if (pass && !boot) break;
                for (size_t i = 0; v[i]; i++)
                        if (!excluded(pk->excludes, v[i]) && !strv_contains(pk->implicit, v[i]))
                                strv_push(&pk->implicit, xstrdup(v[i]));
        }
        if (o->kernel) {
                for (const char *c = o->kernel; *c; c++)
                        if (!isalnum((unsigned char)*c) && !strchr("-_.+:~^", *c))
                                return lfail(l, "--kernel '%s': a NEVRA like kernel-4.19.91-23.al7.x86_64 is expected", o->kernel);
                pk->kernel_pin = xstrdup(o->kernel);
        }
        if (o->kernel_rpm) {
                struct stat st;
                if (stat(o->kernel_rpm, &st) < 0 || !S_ISREG(st.st_mode) || access(o->kernel_rpm, R_OK) < 0)
                        return lfail(l, "--kernel-rpm %s: %s", o->kernel_rpm,
                                     errno ? strerror(errno) : "not a readable regular file");
                char *real = realpath(o->kernel_rpm, NULL);
                pk->kernel_rpm = real ? real : abspath(o->kernel_rpm);
        }
        return 0;
}

/* ---- the whole plan ------------------------------------------------------------------------ */

static char *expand_name(const char *fmt, uint64_t gib, const char *release) {
        size_t cap = strlen(fmt) + 64, len = 0;
        char *out = xmalloc(cap);
        for (const char *c = fmt; *c; c++) {
                char tmp[32];
                const char *add = tmp;
                if (c[0] == '%' && c[1] == 'G') snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)gib), c++;
                else if (c[0] == '%' && c[1] == 'R') add = release, c++;
                else tmp[0] = *c, tmp[1] = '\0';
                size_t n = strlen(add);
                if (len + n + 1 > cap) out = xrealloc(out, cap = (len + n + 1) * 2);
                memcpy(out + len, add, n);
                len += n;
        }
        out[len] = '\0';
        return out;
}

static int load_all(loader *l) {
        const plan_options *o = l->o;
        plan *p = l->p;
        int r;
        const char *pname = o->profile ? o->profile : "aliyun2";
        l->prof = profile_find(pname);
        if (!l->prof) return lfail(l, "--profile %s: unknown profile (aliyun2, demo)", pname);
        const profile *prof = l->prof;
        p->profile = xstrdup(prof->name);
        p->datadir = find_datadir(o->datadir);
        p->arch = xstrdup(prof->arch);
        p->releasever = xstrdup(prof->releasever);
        p->rpmdb_format = xstrdup(prof->rpmdb_format);
        for (size_t i = 0; prof->datasources[i]; i++) strv_push(&p->cloudinit_datasources, xstrdup(prof->datasources[i]));

        /* release */
        if (o->release) {
                if (!valid_date(o->release))
                        return lfail(l, "--release %s: not a real date in YYYYMMDD form", o->release);
                p->release = xstrdup(o->release);
        } else {
                time_t now = time(NULL);
                struct tm tm;
                gmtime_r(&now, &tm);
                p->release = xasprintf("%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        }

        /* kickstart */
        p->kickstart = o->kickstart ? abspath(o->kickstart) : data_path(p, prof->kickstart);
        char *err = NULL;
        r = ks_parse_file(p->kickstart, o->strict ? KS_STRICT : 0, &l->ks, &err);
        if (r < 0) {
                lfail(l, "%s", err);
                free(err);
                return ERR_INPUT;
        }
        for (size_t i = 0; l->ks->warnings && l->ks->warnings[i]; i++) strv_push(l->warnings, xstrdup(l->ks->warnings[i]));
        p->kickstart_files = strv_copy(l->ks->files);
        {
                /* digest over every file read, so an %include change shows */
                char *all = NULL;
                size_t alen = 0;
                for (size_t i = 0; p->kickstart_files[i]; i++) {
                        char *d;
                        size_t n;
                        if (read_file(p->kickstart_files[i], &d, &n) < 0) continue;
                        all = xrealloc(all, alen + n + 1);
                        memcpy(all + alen, d, n);
                        alen += n;
                        free(d);
                }
                char hex[SHA256_HEX_LEN + 1];
                sha256_buf(all ? all : "", alen, hex);
                free(all);
                p->kickstart_sha256 = xstrdup(hex);
        }
        kickstart *ks = l->ks;

        /* bootloader and system come straight from the kickstart */
        p->bootloader = ks->bootloader;
        memset(&ks->bootloader, 0, sizeof ks->bootloader);
        if (!p->bootloader.location) p->bootloader.location = xstrdup("mbr");
        p->system = ks->system;
        memset(&ks->system, 0, sizeof ks->system);
        if (!ks->have_selinux) p->system.selinux = xstrdup("enforcing");   /* anaconda's default */
        if (!ks->have_firewall) p->system.firewall_enabled = true;
        if (!p->system.timezone) p->system.timezone = xstrdup("UTC"), p->system.timezone_utc = true;
        if (!p->system.lang) p->system.lang = xstrdup("en_US.UTF-8");
        if (!p->system.keyboard) p->system.keyboard = xstrdup("us");
        if (!p->system.network_bootproto) p->system.network_bootproto = xstrdup("dhcp");
        if (!p->system.network_device || !strcmp(p->system.network_device, "link")) {
                free(p->system.network_device);
                p->system.network_device = xstrdup("eth0");
        }
        p->posts = ks->posts;
        p->n_posts = ks->n_posts;
        ks->posts = NULL;
        ks->n_posts = 0;

        if ((r = load_repos(l)) < 0) return r;
        if ((r = load_partitions(l)) < 0) return r;
        if ((r = load_packages(l)) < 0) return r;
        if ((r = load_tuning(l)) < 0) return r;
        if ((r = load_overlay(l)) < 0) return r;

        /* outputs */
        uint64_t gib = (p->disk_size_bytes + (1ull << 30) - 1) >> 30;
        p->image_name = expand_name(prof->image_name, gib, p->release);
        p->image_id = xasprintf("image_name=\"%s\"\nproduct_name=\"%s\"\nproduct_version=\"%s\"\nrelease_date=\"%s\"\n",
                                p->image_name, prof->product_name, prof->product_version, p->release);
        p->output_dir = abspath(o->output_dir ? o->output_dir : "images");
        char *fmts = xstrdup(o->formats ? o->formats : prof->default_formats), *save = NULL;
        for (char *t = strtok_r(fmts, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (strcmp(t, "qcow2") && strcmp(t, "vhd") && strcmp(t, "raw")) {
                        lfail(l, "--format: unknown format '%s' (qcow2, vhd, raw)", t);
                        free(fmts);
                        return ERR_INPUT;
                }
                if (!strv_contains(p->formats, t)) strv_push(&p->formats, xstrdup(t));
        }
        free(fmts);
        if (!p->formats) return lfail(l, "--format: at least one of qcow2, vhd, raw");
        const char *vt = o->vhd_type ? o->vhd_type : "dynamic";
        if (strcmp(vt, "dynamic") && strcmp(vt, "fixed"))
                return lfail(l, "--vhd-type %s: dynamic or fixed expected", vt);
        p->vhd_type = xstrdup(vt);
        if (o->lock_file) {
                struct stat st;
                if (stat(o->lock_file, &st) < 0 || !S_ISREG(st.st_mode))
                        return lfail(l, "--lock %s: %s", o->lock_file, errno ? strerror(errno) : "not a regular file");
                p->lock_file = abspath(o->lock_file);
        }
        if (o->lock_out) p->lock_out = abspath(o->lock_out);
        p->dry_run = o->dry_run;
        p->offline = o->offline;
        p->strict = o->strict;
        p->keep_work = o->keep_work;
        p->check = !o->no_check;
        return 0;
}

int plan_load(const plan_options *o, plan **ret_plan, char ***warnings, char **ret_error) {
        char **local = NULL;
        loader l = { .o = o, .p = xcalloc(1, sizeof(plan)), .warnings = warnings ? warnings : &local };
        int r = load_all(&l);
        ks_free(l.ks);
        strv_free(local);
        if (r < 0) {
                plan_free(l.p);
                *ret_error = l.error ? l.error : xstrdup("invalid input");
                return ERR_INPUT;
        }
        free(l.error);
        *ret_plan = l.p;
        return 0;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static json_object *jstr(const char *s) { return s ? json_object_new_string(s) : NULL; }

static json_object *jstrv(char *const *v) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; v && v[i]; i++) json_object_array_add(a, json_object_new_string(v[i]));
        return a;
}

#define ADD(o, k, v) json_object_object_add((o), (k), (v))

void plan_print_json(const plan *p, FILE *f) {
        json_object *j = json_object_new_object();
        ADD(j, "profile", jstr(p->profile));
        ADD(j, "kickstart", jstr(p->kickstart));
        ADD(j, "kickstart_sha256", jstr(p->kickstart_sha256));
        ADD(j, "kickstart_files", jstrv(p->kickstart_files));
        ADD(j, "datadir", jstr(p->datadir));
        ADD(j, "release", jstr(p->release));
        ADD(j, "image_name", jstr(p->image_name));
        ADD(j, "image_id", jstr(p->image_id));
        ADD(j, "output_dir", jstr(p->output_dir));
        ADD(j, "formats", jstrv(p->formats));
        ADD(j, "vhd_type", jstr(p->vhd_type));
        ADD(j, "disk_size_bytes", json_object_new_int64((int64_t)p->disk_size_bytes));
        ADD(j, "arch", jstr(p->arch));
        ADD(j, "releasever", jstr(p->releasever));
        ADD(j, "rpmdb_format", jstr(p->rpmdb_format));
        ADD(j, "cloudinit_datasources", jstrv(p->cloudinit_datasources));

        json_object *repos = json_object_new_array();
        for (size_t i = 0; i < p->n_repos; i++) {
                const plan_repo *r = &p->repos[i];
                json_object *o = json_object_new_object();
                ADD(o, "id", jstr(r->id));
                ADD(o, "name", jstr(r->name));
                ADD(o, "baseurls", jstrv(r->baseurls));
                ADD(o, "mirrorlist", jstr(r->mirrorlist));
                ADD(o, "metalink", jstr(r->metalink));
                ADD(o, "gpgkeys", jstrv(r->gpgkeys));
                ADD(o, "excludes", jstrv(r->excludes));
                ADD(o, "includes", r->includes ? jstrv(r->includes) : NULL);
                ADD(o, "priority", json_object_new_int(r->priority));
                ADD(o, "cost", json_object_new_int(r->cost));
                ADD(o, "enabled", json_object_new_boolean(r->enabled));
                ADD(o, "gpgcheck", json_object_new_boolean(r->gpgcheck));
                ADD(o, "repo_gpgcheck", json_object_new_boolean(r->repo_gpgcheck));
                ADD(o, "sslverify", json_object_new_boolean(r->sslverify));
                ADD(o, "skip_if_unavailable", json_object_new_boolean(r->skip_if_unavailable));
                ADD(o, "install", json_object_new_boolean(r->install));
                ADD(o, "origin", jstr(r->origin));
                json_object_array_add(repos, o);
        }
        ADD(j, "repos", repos);

        const plan_packages *pk = &p->packages;
        json_object *pj = json_object_new_object();
        ADD(pj, "names", jstrv(pk->names));
        ADD(pj, "excludes", jstrv(pk->excludes));
        json_object *groups = json_object_new_array();
        for (size_t i = 0; i < pk->n_groups; i++) {
                json_object *g = json_object_new_object();
                ADD(g, "id", jstr(pk->groups[i].id));
                ADD(g, "nodefaults", json_object_new_boolean(pk->groups[i].nodefaults));
                ADD(g, "optional", json_object_new_boolean(pk->groups[i].optional));
                json_object_array_add(groups, g);
        }
        ADD(pj, "groups", groups);
        ADD(pj, "exclude_groups", jstrv(pk->exclude_groups));
        ADD(pj, "environment", jstr(pk->environment));
        ADD(pj, "implicit", jstrv(pk->implicit));
        ADD(pj, "nocore", json_object_new_boolean(pk->nocore));
        ADD(pj, "nobase", json_object_new_boolean(pk->nobase));
        ADD(pj, "excludedocs", json_object_new_boolean(pk->excludedocs));
        ADD(pj, "ignoremissing", json_object_new_boolean(pk->ignoremissing));
        ADD(pj, "exclude_weakdeps", json_object_new_boolean(pk->exclude_weakdeps));
        ADD(pj, "inst_langs", jstr(pk->inst_langs));
        ADD(pj, "kernel_pin", jstr(pk->kernel_pin));
        ADD(pj, "kernel_rpm", jstr(pk->kernel_rpm));
        ADD(pj, "origin", jstr(pk->origin));
        ADD(j, "packages", pj);

        json_object *parts = json_object_new_array();
        for (size_t i = 0; i < p->n_partitions; i++) {
                const plan_partition *pt = &p->partitions[i];
                json_object *o = json_object_new_object();
                ADD(o, "mountpoint", jstr(pt->mountpoint));
                ADD(o, "fstype", jstr(pt->fstype));
                ADD(o, "size_mib", json_object_new_int64((int64_t)pt->size_mib));
                ADD(o, "maxsize_mib", json_object_new_int64((int64_t)pt->maxsize_mib));
                ADD(o, "grow", json_object_new_boolean(pt->grow));
                ADD(o, "label", jstr(pt->label));
                ADD(o, "fsoptions", jstr(pt->fsoptions));
                ADD(o, "start_mib", json_object_new_int64((int64_t)pt->start_mib));
                ADD(o, "final_size_mib", json_object_new_int64((int64_t)pt->final_size_mib));
                ADD(o, "origin", jstr(pt->origin));
                json_object_array_add(parts, o);
        }
        ADD(j, "partitions", parts);

        json_object *b = json_object_new_object();
        ADD(b, "location", jstr(p->bootloader.location));
        ADD(b, "append", jstr(p->bootloader.append));
        ADD(b, "timeout", json_object_new_int(p->bootloader.timeout));
        ADD(b, "disabled", json_object_new_boolean(p->bootloader.disabled));
        ADD(j, "bootloader", b);

        const plan_system *s = &p->system;
        json_object *sj = json_object_new_object();
        ADD(sj, "rootpw_set", json_object_new_boolean(s->rootpw != NULL));     /* never the password itself */
        ADD(sj, "rootpw_crypted", json_object_new_boolean(s->rootpw_crypted));
        ADD(sj, "rootpw_lock", json_object_new_boolean(s->rootpw_lock));
        ADD(sj, "timezone", jstr(s->timezone));
        ADD(sj, "timezone_utc", json_object_new_boolean(s->timezone_utc));
        ADD(sj, "lang", jstr(s->lang));
        ADD(sj, "keyboard", jstr(s->keyboard));
        ADD(sj, "selinux", jstr(s->selinux));
        ADD(sj, "firewall_enabled", json_object_new_boolean(s->firewall_enabled));
        ADD(sj, "firewall_services", jstrv(s->firewall_services));
        ADD(sj, "firewall_ports", jstrv(s->firewall_ports));
        ADD(sj, "services_enabled", jstrv(s->services_enabled));
        ADD(sj, "services_disabled", jstrv(s->services_disabled));
        ADD(sj, "network_bootproto", jstr(s->network_bootproto));
        ADD(sj, "network_device", jstr(s->network_device));
        ADD(sj, "hostname", jstr(s->hostname));
        ADD(sj, "network_onboot", json_object_new_boolean(s->network_onboot));
        ADD(sj, "network_noipv6", json_object_new_boolean(s->network_noipv6));
        json_object *users = json_object_new_array();
        for (size_t i = 0; i < s->n_users; i++) {
                json_object *u = json_object_new_object();
                ADD(u, "name", jstr(s->users[i].name));
                ADD(u, "password_set", json_object_new_boolean(s->users[i].password != NULL));
                ADD(u, "groups", jstrv(s->users[i].groups));
                ADD(u, "homedir", jstr(s->users[i].homedir));
                ADD(u, "shell", jstr(s->users[i].shell));
                ADD(u, "uid", json_object_new_int(s->users[i].uid));
                ADD(u, "gid", json_object_new_int(s->users[i].gid));
                json_object_array_add(users, u);
        }
        ADD(sj, "users", users);
        json_object *keys = json_object_new_array();
        for (size_t i = 0; i < s->n_sshkeys; i++) {
                json_object *k = json_object_new_object();
                ADD(k, "user", jstr(s->sshkeys[i].user));
                ADD(k, "key", jstr(s->sshkeys[i].key));
                json_object_array_add(keys, k);
        }
        ADD(sj, "sshkeys", keys);
        ADD(j, "system", sj);

        const plan_tuning *t = &p->tuning;
        json_object *tj = json_object_new_object();
        ADD(tj, "cmdline", jstrv(t->cmdline));
        ADD(tj, "sysctl_files", jstrv(t->sysctl_files));
        ADD(tj, "initramfs_drivers", jstrv(t->initramfs_drivers));
        ADD(tj, "cgwb_v1", json_object_new_boolean(t->cgwb_v1));
        ADD(tj, "psi", json_object_new_boolean(t->psi));
        ADD(tj, "tcp_tw_timeout", json_object_new_int(t->tcp_tw_timeout));
        ADD(tj, "kdump", json_object_new_boolean(t->kdump));
        ADD(tj, "kdump_reserve_mb", json_object_new_int(t->kdump_reserve_mb));
        ADD(tj, "crashkernel", jstr(t->crashkernel));
        ADD(tj, "kernel_config_dir", jstr(p->kernel_config_dir));
        ADD(j, "tuning", tj);

        json_object *ovs = json_object_new_array();
        for (size_t i = 0; i < p->n_overlays; i++) {
                const plan_overlay *ov = &p->overlays[i];
                json_object *o = json_object_new_object();
                ADD(o, "dir", jstr(ov->dir));
                ADD(o, "manifest", jstr(ov->manifest));
                json_object *es = json_object_new_array();
                for (size_t k = 0; k < ov->n_entries; k++) {
                        json_object *e = json_object_new_object();
                        ADD(e, "path", jstr(ov->entries[k].path));
                        ADD(e, "owner", jstr(ov->entries[k].owner));
                        ADD(e, "group", jstr(ov->entries[k].group));
                        ADD(e, "mode", json_object_new_int(ov->entries[k].mode));
                        json_object_array_add(es, e);
                }
                ADD(o, "entries", es);
                json_object_array_add(ovs, o);
        }
        ADD(j, "overlays", ovs);

        json_object *posts = json_object_new_array();
        for (size_t i = 0; i < p->n_posts; i++) {
                const plan_script *sc = &p->posts[i];
                json_object *o = json_object_new_object();
                ADD(o, "interpreter", jstr(sc->interpreter));
                ADD(o, "nochroot", json_object_new_boolean(sc->nochroot));
                ADD(o, "erroronfail", json_object_new_boolean(sc->erroronfail));
                ADD(o, "log", jstr(sc->log));
                ADD(o, "origin", jstr(sc->origin));
                char hex[SHA256_HEX_LEN + 1];
                sha256_buf(sc->body, strlen(sc->body), hex);
                int lines = 0;
                for (const char *c = sc->body; *c; c++) lines += *c == '\n';
                ADD(o, "body_sha256", json_object_new_string(hex));
                ADD(o, "body_lines", json_object_new_int(lines));
                json_object_array_add(posts, o);
        }
        ADD(j, "posts", posts);

        ADD(j, "lock_file", jstr(p->lock_file));
        ADD(j, "lock_out", jstr(p->lock_out));
        ADD(j, "dry_run", json_object_new_boolean(p->dry_run));
        ADD(j, "offline", json_object_new_boolean(p->offline));
        ADD(j, "strict", json_object_new_boolean(p->strict));
        ADD(j, "keep_work", json_object_new_boolean(p->keep_work));
        ADD(j, "check", json_object_new_boolean(p->check));
        fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE),
              f);
        fputc('\n', f);
        json_object_put(j);
}
