/* kickstart.c — see kickstart.h.  The grammar follows pykickstart (RHEL 7
 * era): commands split like shlex.split(line, comments=True), options
 * "--name=value" or "--name value", sections closed by %end, %include
 * anywhere (its lines join the current section). */
#include "kickstart.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

enum { S_TOP, S_PACKAGES, S_POST, S_KDUMP, S_SKIP };

typedef struct parser {
        kickstart *ks;
        unsigned flags;
        int state;
        char *sect_name;        /* "%post" … */
        char *sect_origin;      /* file:line of the open section */
        plan_script post;       /* the open %post */
        char *body;
        size_t body_len, body_cap;
        char **stack;           /* real paths being read: %include loops */
        int depth;
        char *error;
} parser;

/* ---- helpers ------------------------------------------------------------ */

static char *vfmt(const char *fmt, va_list ap) {
        char *s;
        if (vasprintf(&s, fmt, ap) < 0) abort();
        return s;
}

static int fail(parser *p, const char *file, size_t line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(parser *p, const char *file, size_t line, const char *fmt, ...) {
        if (!p->error) {
                va_list ap;
                va_start(ap, fmt);
                char *m = vfmt(fmt, ap);
                va_end(ap);
                p->error = xasprintf("%s:%zu: %s", file, line, m);
                free(m);
        }
        return ERR_INPUT;
}

static int warn(parser *p, const char *file, size_t line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int warn(parser *p, const char *file, size_t line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *m = vfmt(fmt, ap);
        va_end(ap);
        int r = 0;
        if (p->flags & KS_STRICT)
                r = fail(p, file, line, "%s (an error with --strict)", m);
        else
                strv_push(&p->ks->warnings, xasprintf("%s:%zu: %s", file, line, m));
        free(m);
        return r;
}

static char *origin(const char *file, size_t line) { return xasprintf("%s:%zu", file, line); }


static void strv_push_unique(char ***v, const char *s) {
        if (!strv_contains(*v, s)) strv_push(v, xstrdup(s));
}

/* Comma-separated list → strv (empty items dropped, items trimmed). */
static void push_list(char ***v, const char *s) {
        char *copy = xstrdup(s), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                while (isspace((unsigned char)*t)) t++;
                size_t n = strlen(t);
                while (n && isspace((unsigned char)t[n - 1])) t[--n] = '\0';
                if (*t) strv_push_unique(v, t);
        }
        free(copy);
}

static int parse_uint(const char *s, uint64_t max, uint64_t *ret) {
        if (!s || !*s) return -EINVAL;
        uint64_t v = 0;
        for (const char *c = s; *c; c++) {
                if (*c < '0' || *c > '9') return -EINVAL;
                if (v > (max - (uint64_t)(*c - '0')) / 10) return -ERANGE;
                v = v * 10 + (uint64_t)(*c - '0');
        }
        *ret = v;
        return 0;
}

/* ---- text hygiene --------------------------------------------------------- */

static size_t utf8_seq(const unsigned char *s, size_t left) {
        unsigned char c = s[0];
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c == 0xE0) n = 3, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) n = 3;
        else if (c == 0xED) n = 3, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) n = 3;
        else if (c == 0xF0) n = 4, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) n = 4;
        else if (c == 0xF4) n = 4, hi = 0x8F;
        else return 0;
        if (left < n) return 0;
        if (s[1] < lo || s[1] > hi) return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xBF) return 0;
        return n;
}

int text_check(const char *data, size_t len, size_t max_line, size_t *ret_line, char **ret_msg) {
        const unsigned char *d = (const unsigned char *)data;
        size_t line = 1, col = 0;
        for (size_t i = 0; i < len;) {
                unsigned char c = d[i];
                size_t n = 1;
                if (c == '\n') {
                        line++, col = 0, i++;
                        continue;
                }
                if (c == 0) {
                        *ret_line = line;
                        *ret_msg = xstrdup("NUL byte (binary file?)");
                        return ERR_INPUT;
                }
                if ((c < 0x20 && c != '\t' && c != '\r' && c != '\f') || c == 0x7f) {
                        *ret_line = line;
                        *ret_msg = xasprintf("control character 0x%02x (binary file?)", c);
                        return ERR_INPUT;
                }
                if (c >= 0x80 && !(n = utf8_seq(d + i, len - i))) {
                        *ret_line = line;
                        *ret_msg = xasprintf("invalid UTF-8 (byte 0x%02x)", c);
                        return ERR_INPUT;
                }
                i += n, col += n;
                if (col > max_line) {
                        *ret_line = line;
                        *ret_msg = xasprintf("line too long (more than %zu bytes)", max_line);
                        return ERR_INPUT;
                }
        }
        return 0;
}

/* ---- shlex ------------------------------------------------------------------ */

typedef struct buf { char *s; size_t len, cap; } buf;

static void buf_add(buf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->s = xrealloc(b->s, b->cap);
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static bool sh_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int ks_split(const char *s, char ***ret_args, char **ret_msg) {
        char **v = NULL;
        buf t = { 0 };
        bool in_tok = false;
        size_t i = 0;
        while (s[i]) {
                char c = s[i];
                if (!in_tok) {
                        if (sh_space(c)) { i++; continue; }
                        if (c == '#') break;
                        in_tok = true;
                        t.len = 0;
                        buf_add(&t, "", 0);
                }
                if (sh_space(c)) {
                        strv_push(&v, xstrdup(t.s));
                        in_tok = false;
                        i++;
                } else if (c == '#') {       /* shlex: '#' ends the word and the line */
                        break;
                } else if (c == '\\') {
                        if (!s[i + 1]) {
                                free(t.s);
                                strv_free(v);
                                *ret_msg = xstrdup("no character after '\\'");
                                return ERR_INPUT;
                        }
                        buf_add(&t, s + i + 1, 1);
                        i += 2;
                } else if (c == '\'') {
                        const char *e = strchr(s + i + 1, '\'');
                        if (!e) {
                                free(t.s);
                                strv_free(v);
                                *ret_msg = xstrdup("no closing quotation (')");
                                return ERR_INPUT;
                        }
                        buf_add(&t, s + i + 1, (size_t)(e - (s + i + 1)));
                        i = (size_t)(e - s) + 1;
                } else if (c == '"') {
                        i++;
                        while (s[i] && s[i] != '"') {
                                if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\')) {
                                        buf_add(&t, s + i + 1, 1);
                                        i += 2;
                                } else
                                        buf_add(&t, s + i++, 1);
                        }
                        if (!s[i]) {
                                free(t.s);
                                strv_free(v);
                                *ret_msg = xstrdup("no closing quotation (\")");
                                return ERR_INPUT;
                        }
                        i++;
                } else {
                        buf_add(&t, s + i, 1);
                        i++;
                }
        }
        if (in_tok) strv_push(&v, xstrdup(t.s));
        free(t.s);
        if (!v) v = xcalloc(1, sizeof(char *));
        *ret_args = v;
        return 0;
}

/* ---- option parsing ------------------------------------------------------- */

typedef struct opts {
        char **pos;             /* borrowed from args */
        size_t npos;
        const char **name, **val;
        size_t n;
} opts;

static void opts_clear(opts *o) {
        free(o->pos);
        free(o->name);
        free(o->val);
        memset(o, 0, sizeof *o);
}

/* spec: "--flag --value= …".  Returns 0 unknown, 1 flag, 2 takes a value. */
static int spec_kind(const char *spec, const char *name, size_t len) {
        for (const char *s = spec; s && *s;) {
                while (*s == ' ') s++;
                const char *e = s;
                while (*e && *e != ' ') e++;
                size_t l = (size_t)(e - s);
                bool val = l && s[l - 1] == '=';
                if ((val ? l - 1 : l) == len && !memcmp(s, name, len)) return val ? 2 : 1;
                s = e;
        }
        return 0;
}

static int parse_opts(parser *p, const char *file, size_t ln, const char *what, const char *spec,
                      char **args, opts *o) {
        size_t n = strv_length(args);
        o->pos = xcalloc(n + 1, sizeof(char *));
        o->name = xcalloc(n + 1, sizeof(char *));
        o->val = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                char *a = args[i];
                if (a[0] != '-' || !a[1]) {
                        o->pos[o->npos++] = a;
                        continue;
                }
                if (a[1] != '-')
                        return fail(p, file, ln, "%s: unknown option '%s'", what, a);
                char *eq = strchr(a, '=');
                size_t len = eq ? (size_t)(eq - a) : strlen(a);
                int k = spec_kind(spec, a, len);
                if (!k)
                        return fail(p, file, ln, "%s: unknown option '%.*s'", what, (int)len, a);
                o->name[o->n] = a;
                if (k == 1) {
                        if (eq) return fail(p, file, ln, "%s: option '%.*s' takes no value", what, (int)len, a);
                        o->val[o->n++] = "";
                        continue;
                }
                if (eq) {
                        *eq = '\0';     /* args are ours: split in place */
                        o->val[o->n++] = eq + 1;
                } else if (i + 1 < n && strncmp(args[i + 1], "--", 2)) {
                        o->val[o->n++] = args[++i];
                } else
                        return fail(p, file, ln, "%s: option '%s' needs a value", what, a);
        }
        return 0;
}

static const char *o_get(const opts *o, const char *name) {
        const char *r = NULL;
        for (size_t i = 0; i < o->n; i++)
                if (!strcmp(o->name[i], name)) r = o->val[i];
        return r;
}

static bool o_has(const opts *o, const char *name) { return o_get(o, name) != NULL; }

/* ---- value checks ----------------------------------------------------------- */

static bool is_repo_id(const char *s) {
        if (!*s || strlen(s) > 100) return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s)) return false;
        return true;
}

static bool is_group_id(const char *s) {
        if (!*s) return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("-_.+", *s)) return false;
        return true;
}

/* Names, globs, NEVRAs and provides ("perl(Foo)", "/usr/bin/x"). */
static const char *bad_pkg_char(const char *s) {
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("-_.+*?[]!:~^()/@", *s) && (unsigned char)*s < 0x80)
                        return s;
        return NULL;
}

/* An all-caps path segment (DATESTAMP), "{$X}", "@X@" or "[X]" in a URL. */
static const char *placeholder_in(const char *url, char *out, size_t outlen) {
        const char *s = strstr(url, "://");
        s = s ? s + 3 : url;
        for (const char *seg = s; *seg;) {
                const char *e = strchr(seg, '/');
                size_t l = e ? (size_t)(e - seg) : strlen(seg);
                size_t caps = 0;
                bool all = l >= 4;
                for (size_t i = 0; i < l && all; i++) {
                        if (isupper((unsigned char)seg[i])) caps++;
                        else if (seg[i] != '_') all = false;
                }
                if (all && caps >= 4) {
                        snprintf(out, outlen, "%.*s", (int)l, seg);
                        return out;
                }
                if (!e) break;
                seg = e + 1;
        }
        if (strstr(url, "{$") || strstr(url, "$(") || strstr(url, "@@")) {
                snprintf(out, outlen, "%s", url);
                return out;
        }
        return NULL;
}

static int check_url(parser *p, const char *file, size_t ln, const char *what, const char *in,
                     char **ret) {
        char *u;
        if (!*in) return fail(p, file, ln, "%s: empty URL", what);
        for (const char *c = in; *c; c++)
                if (isspace((unsigned char)*c)) return fail(p, file, ln, "%s: space in URL '%s'", what, in);
        if (!strstr(in, "://")) {
                /* The official CentOS cloud kickstarts say url --url="mirror…/x86_64":
                 * anaconda took it as http. */
                if (in[0] == '/') u = xasprintf("file://%s", in);
                else u = xasprintf("http://%s", in);
        } else
                u = xstrdup(in);
        if (!str_startswith(u, "http://") && !str_startswith(u, "https://") &&
            !str_startswith(u, "ftp://") && !str_startswith(u, "file://")) {
                int r = fail(p, file, ln, "%s: unsupported URL scheme in '%s' (http, https, ftp, file)", what, in);
                free(u);
                return r;
        }
        char ph[128];
        if (placeholder_in(u, ph, sizeof ph)) {
                int r = warn(p, file, ln, "%s: URL '%s' contains a placeholder ('%s'): fix it or override the repo with --repo-url/--mirror",
                             what, u, ph);
                if (r < 0) {
                        free(u);
                        return r;
                }
        }
        *ret = u;
        return 0;
}

/* ---- plan piece lifetimes ------------------------------------------------------ */

void plan_repo_clear(plan_repo *r) {
        if (!r) return;
        free(r->id);
        free(r->name);
        strv_free(r->baseurls);
        free(r->mirrorlist);
        free(r->metalink);
        strv_free(r->gpgkeys);
        strv_free(r->excludes);
        strv_free(r->includes);
        free(r->origin);
        memset(r, 0, sizeof *r);
}

void plan_packages_clear(plan_packages *p) {
        if (!p) return;
        strv_free(p->names);
        strv_free(p->excludes);
        for (size_t i = 0; i < p->n_groups; i++) free(p->groups[i].id);
        free(p->groups);
        strv_free(p->implicit);
        free(p->inst_langs);
        free(p->kernel_pin);
        free(p->kernel_rpm);
        free(p->environment);
        strv_free(p->exclude_groups);
        free(p->origin);
        memset(p, 0, sizeof *p);
}

void plan_partition_clear(plan_partition *p) {
        if (!p) return;
        free(p->mountpoint);
        free(p->fstype);
        free(p->label);
        free(p->fsoptions);
        free(p->origin);
        memset(p, 0, sizeof *p);
}

void plan_system_clear(plan_system *s) {
        if (!s) return;
        free(s->rootpw);
        free(s->timezone);
        free(s->lang);
        free(s->keyboard);
        free(s->selinux);
        strv_free(s->firewall_services);
        strv_free(s->firewall_ports);
        strv_free(s->services_enabled);
        strv_free(s->services_disabled);
        free(s->network_bootproto);
        free(s->network_device);
        free(s->hostname);
        for (size_t i = 0; i < s->n_users; i++) {
                plan_user *u = &s->users[i];
                free(u->name);
                free(u->password);
                strv_free(u->groups);
                free(u->homedir);
                free(u->shell);
                free(u->origin);
        }
        free(s->users);
        for (size_t i = 0; i < s->n_sshkeys; i++) {
                free(s->sshkeys[i].user);
                free(s->sshkeys[i].key);
        }
        free(s->sshkeys);
        memset(s, 0, sizeof *s);
}

void plan_script_clear(plan_script *s) {
        if (!s) return;
        free(s->interpreter);
        free(s->body);
        free(s->log);
        free(s->origin);
        memset(s, 0, sizeof *s);
}

void ks_free(kickstart *ks) {
        if (!ks) return;
        free(ks->path);
        strv_free(ks->files);
        for (size_t i = 0; i < ks->n_repos; i++) plan_repo_clear(&ks->repos[i]);
        free(ks->repos);
        plan_packages_clear(&ks->packages);
        for (size_t i = 0; i < ks->n_parts; i++) plan_partition_clear(&ks->parts[i]);
        free(ks->parts);
        free(ks->ondisk);
        free(ks->bootloader.location);
        free(ks->bootloader.append);
        plan_system_clear(&ks->system);
        for (size_t i = 0; i < ks->n_posts; i++) plan_script_clear(&ks->posts[i]);
        free(ks->posts);
        strv_free(ks->warnings);
        free(ks);
}

/* ---- commands ------------------------------------------------------------------ */

typedef int (*cmd_fn)(parser *p, const char *file, size_t ln, opts *o);

static int add_repo(parser *p, const char *file, size_t ln, plan_repo *r) {
        kickstart *ks = p->ks;
        for (size_t i = 0; i < ks->n_repos; i++)
                if (!strcmp(ks->repos[i].id, r->id)) {
                        int w = warn(p, file, ln, "repo '%s' was already defined at %s; this definition replaces it",
                                     r->id, ks->repos[i].origin);
                        if (w < 0) {
                                plan_repo_clear(r);
                                return w;
                        }
                        plan_repo_clear(&ks->repos[i]);
                        ks->repos[i] = *r;
                        return 0;
                }
        ks->repos = xrealloc(ks->repos, (ks->n_repos + 1) * sizeof *ks->repos);
        ks->repos[ks->n_repos++] = *r;
        return 0;
}

static plan_repo repo_defaults(const char *id, const char *file, size_t ln) {
        return (plan_repo){
                .id = xstrdup(id), .name = xstrdup(id), .priority = 99, .cost = 1000,
                .enabled = true, .sslverify = true, .origin = origin(file, ln),
        };
}

static int cmd_url(parser *p, const char *file, size_t ln, opts *o) {
        const char *u = o_get(o, "--url"), *ml = o_get(o, "--mirrorlist"), *mt = o_get(o, "--metalink");
        if (!!u + !!ml + !!mt != 1)
                return fail(p, file, ln, "url: give exactly one of --url, --mirrorlist, --metalink");
        char *url;
        int r = check_url(p, file, ln, "url", u ? u : ml ? ml : mt, &url);
        if (r < 0) return r;
        plan_repo rp = repo_defaults("anaconda", file, ln);
        free(rp.name);
        rp.name = xstrdup("kickstart url (install source)");
        if (u) strv_push(&rp.baseurls, url);
        else if (ml) rp.mirrorlist = url;
        else rp.metalink = url;
        rp.sslverify = !o_has(o, "--noverifyssl");
        return add_repo(p, file, ln, &rp);
}

static int cmd_repo(parser *p, const char *file, size_t ln, opts *o) {
        const char *name = o_get(o, "--name");
        if (!name) return fail(p, file, ln, "repo: --name is required");
        if (!is_repo_id(name))
                return fail(p, file, ln, "repo: invalid repo name '%s' (letters, digits, '-', '_', '.', ':')", name);
        const char *u = o_get(o, "--baseurl"), *ml = o_get(o, "--mirrorlist"), *mt = o_get(o, "--metalink");
        if (!!u + !!ml + !!mt != 1)
                return fail(p, file, ln, "repo %s: give exactly one of --baseurl, --mirrorlist, --metalink", name);
        char *what = xasprintf("repo %s", name), *url;
        int r = check_url(p, file, ln, what, u ? u : ml ? ml : mt, &url);
        free(what);
        if (r < 0) return r;
        plan_repo rp = repo_defaults(name, file, ln);
        if (u) strv_push(&rp.baseurls, url);
        else if (ml) rp.mirrorlist = url;
        else rp.metalink = url;
        const char *cost = o_get(o, "--cost");
        if (cost) {
                uint64_t c;
                if (parse_uint(cost, INT_MAX, &c) < 0) {
                        plan_repo_clear(&rp);
                        return fail(p, file, ln, "repo %s: bad --cost '%s' (a number)", name, cost);
                }
                rp.cost = (int)c;
        }
        if (o_get(o, "--excludepkgs")) push_list(&rp.excludes, o_get(o, "--excludepkgs"));
        if (o_get(o, "--includepkgs")) push_list(&rp.includes, o_get(o, "--includepkgs"));
        rp.install = o_has(o, "--install");
        rp.sslverify = !o_has(o, "--noverifyssl");
        return add_repo(p, file, ln, &rp);
}

static int cmd_part(parser *p, const char *file, size_t ln, opts *o) {
        static const char *const unsupported[] = { "--noformat", "--onpart", "--usepart", "--encrypted",
                "--resize", "--recommended", "--hibernation", "--passphrase", "--cipher", "--luks-version",
                "--start", "--end", NULL };
        kickstart *ks = p->ks;
        if (o->npos != 1) return fail(p, file, ln, "part: exactly one mount point expected");
        const char *mp = o->pos[0];
        for (size_t i = 0; unsupported[i]; i++)
                if (o_has(o, unsupported[i]))
                        return fail(p, file, ln, "part %s: %s is not supported for image builds", mp, unsupported[i]);
        if (str_startswith(mp, "raid.") || str_startswith(mp, "pv.") || str_startswith(mp, "btrfs."))
                return fail(p, file, ln, "part %s: RAID, LVM and btrfs layouts are not supported (plain partitions only)", mp);
        if (!strcmp(mp, "biosboot") || !strcasecmp(mp, "none"))
                return fail(p, file, ln, "part %s: not supported (MBR disks need no BIOS boot partition)", mp);
        if (strcmp(mp, "swap")) {
                if (mp[0] != '/' || strstr(mp, "//") || strstr(mp, "/../") || str_endswith(mp, "/..") ||
                    strstr(mp, "/./") || (strlen(mp) > 1 && str_endswith(mp, "/")))
                        return fail(p, file, ln, "part: bad mount point '%s' (an absolute path or swap)", mp);
        }
        plan_partition pt = { .mountpoint = xstrdup(mp), .origin = origin(file, ln) };
        const char *fs = o_get(o, "--fstype");
        if (fs) {
                static const char *const ok[] = { "ext2", "ext3", "ext4", "xfs", "swap", "vfat", NULL };
                bool good = false;
                for (size_t i = 0; ok[i]; i++)
                        if (!strcasecmp(fs, ok[i])) good = true;
                if (!good) {
                        plan_partition_clear(&pt);
                        return fail(p, file, ln, "part %s: unsupported --fstype '%s' (ext2, ext3, ext4, xfs, swap, vfat)", mp, fs);
                }
                pt.fstype = xstrdup(fs);
                for (char *c = pt.fstype; *c; c++) *c = (char)tolower((unsigned char)*c);
        }
        if (!strcmp(mp, "swap")) {
                if (pt.fstype && strcmp(pt.fstype, "swap")) {
                        plan_partition_clear(&pt);
                        return fail(p, file, ln, "part swap: --fstype must be swap");
                }
                if (!pt.fstype) pt.fstype = xstrdup("swap");
        } else if (pt.fstype && !strcmp(pt.fstype, "swap")) {
                plan_partition_clear(&pt);
                return fail(p, file, ln, "part %s: --fstype=swap needs the mount point 'swap'", mp);
        }
        pt.grow = o_has(o, "--grow");
        const char *sz = o_get(o, "--size"), *mx = o_get(o, "--maxsize");
        /* 2 TiB: the MBR limit. */
        if (sz && (parse_uint(sz, 2u << 20, &pt.size_mib) < 0 || pt.size_mib == 0)) {
                plan_partition_clear(&pt);
                return fail(p, file, ln, "part %s: bad --size '%s' (MiB, 1 to 2097152)", mp, sz);
        }
        if (!sz) {
                if (!pt.grow) {
                        plan_partition_clear(&pt);
                        return fail(p, file, ln, "part %s: --size is required (or --grow)", mp);
                }
                pt.size_mib = 1;
        }
        if (mx && (parse_uint(mx, 2u << 20, &pt.maxsize_mib) < 0 || pt.maxsize_mib == 0 ||
                   pt.maxsize_mib < pt.size_mib)) {
                plan_partition_clear(&pt);
                return fail(p, file, ln, "part %s: bad --maxsize '%s' (MiB, at least --size)", mp, mx);
        }
        if (o_get(o, "--label")) pt.label = xstrdup(o_get(o, "--label"));
        if (o_get(o, "--fsoptions")) pt.fsoptions = xstrdup(o_get(o, "--fsoptions"));
        const char *disk = o_get(o, "--ondisk") ? o_get(o, "--ondisk") : o_get(o, "--ondrive");
        if (disk) {
                if (ks->ondisk && strcmp(ks->ondisk, disk)) {
                        plan_partition_clear(&pt);
                        return fail(p, file, ln, "part %s: --ondisk=%s but other partitions are on %s (images have one disk)",
                                    mp, disk, ks->ondisk);
                }
                if (!ks->ondisk) ks->ondisk = xstrdup(disk);
        }
        ks->parts = xrealloc(ks->parts, (ks->n_parts + 1) * sizeof *ks->parts);
        ks->parts[ks->n_parts++] = pt;
        return 0;
}

static int cmd_bootloader(parser *p, const char *file, size_t ln, opts *o) {
        plan_bootloader *b = &p->ks->bootloader;
        p->ks->have_bootloader = true;
        const char *loc = o_get(o, "--location");
        if (loc) {
                if (strcmp(loc, "mbr") && strcmp(loc, "none")) {
                        if (!strcmp(loc, "partition") || !strcmp(loc, "boot"))
                                return fail(p, file, ln, "bootloader: --location=%s is not supported (mbr or none)", loc);
                        return fail(p, file, ln, "bootloader: bad --location '%s' (mbr or none)", loc);
                }
                free(b->location);
                b->location = xstrdup(loc);
        }
        if (o_has(o, "--disable") || o_has(o, "--disabled")) {
                b->disabled = true;
                free(b->location);
                b->location = xstrdup("none");
        }
        if (o_get(o, "--append")) {
                free(b->append);
                b->append = xstrdup(o_get(o, "--append"));
        }
        const char *t = o_get(o, "--timeout");
        if (t) {
                uint64_t v;
                if (parse_uint(t, 3600, &v) < 0)
                        return fail(p, file, ln, "bootloader: bad --timeout '%s' (seconds, 0-3600)", t);
                b->timeout = (int)v;
        }
        if (o_has(o, "--password") || o_has(o, "--md5pass"))
                return warn(p, file, ln, "bootloader: the boot loader password is not set by image builds");
        return 0;
}

static int cmd_rootpw(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        if (o->npos > 1) return fail(p, file, ln, "rootpw: one password expected, got %zu words", o->npos);
        if (o_has(o, "--iscrypted") && o_has(o, "--plaintext"))
                return fail(p, file, ln, "rootpw: --iscrypted and --plaintext exclude each other");
        bool lock = o_has(o, "--lock");
        if (!o->npos && !lock) return fail(p, file, ln, "rootpw: a password (or --lock) is required");
        if (p->ks->have_rootpw) {
                int r = warn(p, file, ln, "rootpw given twice: this one wins");
                if (r < 0) return r;
        }
        p->ks->have_rootpw = true;
        free(s->rootpw);
        s->rootpw = o->npos ? xstrdup(o->pos[0]) : NULL;
        s->rootpw_crypted = o_has(o, "--iscrypted");
        s->rootpw_lock = lock;
        return 0;
}

static int cmd_timezone(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        if (o->npos != 1) return fail(p, file, ln, "timezone: one time zone expected (e.g. UTC, Asia/Shanghai)");
        const char *tz = o->pos[0];
        bool ok = tz[0] != '/' && !strstr(tz, "..");
        for (const char *c = tz; *c && ok; c++)
                if (!isalnum((unsigned char)*c) && !strchr("/_+-", *c)) ok = false;
        free(s->timezone);
        s->timezone = xstrdup(tz);
        s->timezone_utc = o_has(o, "--utc") || o_has(o, "--isUtc");
        if (!ok) return warn(p, file, ln, "timezone '%s' is not a zone name (a template placeholder?)", tz);
        return 0;
}

static int cmd_lang(parser *p, const char *file, size_t ln, opts *o) {
        if (o->npos != 1) return fail(p, file, ln, "lang: one language expected (e.g. en_US.UTF-8)");
        free(p->ks->system.lang);
        p->ks->system.lang = xstrdup(o->pos[0]);
        return 0;
}

static int cmd_keyboard(parser *p, const char *file, size_t ln, opts *o) {
        const char *k = o->npos ? o->pos[0] : o_get(o, "--vckeymap") ? o_get(o, "--vckeymap") : o_get(o, "--xlayouts");
        if (o->npos > 1 || !k || !*k) return fail(p, file, ln, "keyboard: one layout expected (or --vckeymap)");
        free(p->ks->system.keyboard);
        p->ks->system.keyboard = xstrdup(k);
        /* --xlayouts='us,cz' → the first layout */
        char *c = strchr(p->ks->system.keyboard, ',');
        if (c) *c = '\0';
        return 0;
}

static int cmd_selinux(parser *p, const char *file, size_t ln, opts *o) {
        const char *m = NULL;
        int n = 0;
        if (o_has(o, "--enforcing")) m = "enforcing", n++;
        if (o_has(o, "--permissive")) m = "permissive", n++;
        if (o_has(o, "--disabled")) m = "disabled", n++;
        if (n != 1) return fail(p, file, ln, "selinux: give exactly one of --enforcing, --permissive, --disabled");
        free(p->ks->system.selinux);
        p->ks->system.selinux = xstrdup(m);
        p->ks->have_selinux = true;
        return 0;
}

static int cmd_firewall(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        bool en = o_has(o, "--enabled") || o_has(o, "--enable");
        bool dis = o_has(o, "--disabled") || o_has(o, "--disable");
        if (en && dis) return fail(p, file, ln, "firewall: --enabled and --disabled exclude each other");
        s->firewall_enabled = !dis;     /* pykickstart's default is enabled */
        p->ks->have_firewall = true;
        for (size_t i = 0; i < o->n; i++) {
                if (!strcmp(o->name[i], "--service")) push_list(&s->firewall_services, o->val[i]);
                else if (!strcmp(o->name[i], "--port")) push_list(&s->firewall_ports, o->val[i]);
        }
        static const char *const legacy[] = { "ssh", "smtp", "http", "ftp", "telnet", NULL };
        for (size_t i = 0; legacy[i]; i++) {
                char opt[16];
                snprintf(opt, sizeof opt, "--%s", legacy[i]);
                if (o_has(o, opt)) strv_push_unique(&s->firewall_services, legacy[i]);
        }
        return 0;
}

static void svc_set(char ***add, char ***del, const char *name) {
        char **v = *del;
        size_t j = 0;
        for (size_t i = 0; v && v[i]; i++) {
                if (!strcmp(v[i], name)) free(v[i]);
                else v[j++] = v[i];
        }
        if (v) v[j] = NULL;
        strv_push_unique(add, name);
}

static int cmd_services(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        if (!o_has(o, "--enabled") && !o_has(o, "--disabled"))
                return fail(p, file, ln, "services: --enabled or --disabled expected");
        for (size_t i = 0; i < o->n; i++) {
                bool en = !strcmp(o->name[i], "--enabled");
                char **items = NULL;
                push_list(&items, o->val[i]);
                for (size_t k = 0; items && items[k]; k++) {
                        for (const char *c = items[k]; *c; c++)
                                if (!isalnum((unsigned char)*c) && !strchr("-_.@:", *c)) {
                                        int r = fail(p, file, ln, "services: bad service name '%s'", items[k]);
                                        strv_free(items);
                                        return r;
                                }
                        if (en) svc_set(&s->services_enabled, &s->services_disabled, items[k]);
                        else svc_set(&s->services_disabled, &s->services_enabled, items[k]);
                        if (!strcmp(items[k], "kdump")) p->ks->kdump = en;
                }
                strv_free(items);
        }
        return 0;
}

static int cmd_network(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        if (o_get(o, "--hostname")) {
                free(s->hostname);
                s->hostname = xstrdup(o_get(o, "--hostname"));
        }
        const char *bp = o_get(o, "--bootproto"), *dev = o_get(o, "--device"), *onboot = o_get(o, "--onboot");
        if (bp && strcmp(bp, "dhcp") && strcmp(bp, "static") && strcmp(bp, "bootp") && strcmp(bp, "ibft") &&
            strcmp(bp, "query"))
                return fail(p, file, ln, "network: bad --bootproto '%s' (dhcp, static, bootp, ibft)", bp);
        bool ob = true;
        if (onboot && parse_boolean(onboot, &ob) < 0)
                return fail(p, file, ln, "network: bad --onboot '%s' (yes/no, on/off, true/false)", onboot);
        if (!bp && !dev && !onboot && !o_has(o, "--noipv6")) return 0;
        if (dev && s->network_device && strcmp(dev, s->network_device))
                return warn(p, file, ln, "network: only one interface is configured (%s); '%s' is ignored",
                            s->network_device, dev);
        if (bp || !s->network_bootproto) {
                free(s->network_bootproto);
                s->network_bootproto = xstrdup(bp ? bp : "dhcp");
        }
        if (dev) {
                free(s->network_device);
                s->network_device = xstrdup(dev);
        }
        if (onboot) s->network_onboot = ob;
        if (o_has(o, "--noipv6")) s->network_noipv6 = true;
        return 0;
}

static void user_clear(plan_user *u) {
        free(u->name);
        free(u->password);
        strv_free(u->groups);
        free(u->homedir);
        free(u->shell);
        free(u->origin);
}

static int cmd_user(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        const char *name = o_get(o, "--name");
        if (!name) return fail(p, file, ln, "user: --name is required");
        bool ok = *name && strlen(name) <= 32 && (islower((unsigned char)name[0]) || name[0] == '_');
        for (const char *c = name; *c && ok; c++)
                if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && !strchr("-_.", *c)) ok = false;
        if (!ok) return fail(p, file, ln, "user: bad user name '%s'", name);
        plan_user u = { .name = xstrdup(name), .uid = -1, .gid = -1, .origin = origin(file, ln) };
        if (o_get(o, "--password") && !o_has(o, "--lock")) u.password = xstrdup(o_get(o, "--password"));
        u.password_crypted = o_has(o, "--iscrypted");
        if (o_get(o, "--groups")) push_list(&u.groups, o_get(o, "--groups"));
        if (o_get(o, "--homedir")) u.homedir = xstrdup(o_get(o, "--homedir"));
        if (o_get(o, "--shell")) u.shell = xstrdup(o_get(o, "--shell"));
        const char *ids[2] = { o_get(o, "--uid"), o_get(o, "--gid") };
        int *dst[2] = { &u.uid, &u.gid };
        for (int i = 0; i < 2; i++) {
                uint64_t v;
                if (!ids[i]) continue;
                if (parse_uint(ids[i], 65534, &v) < 0) {
                        user_clear(&u);
                        return fail(p, file, ln, "user %s: bad --%s '%s'", name, i ? "gid" : "uid", ids[i]);
                }
                *dst[i] = (int)v;
        }
        for (size_t i = 0; i < s->n_users; i++)
                if (!strcmp(s->users[i].name, name)) {
                        user_clear(&u);
                        return fail(p, file, ln, "user %s: already defined at %s", name, s->users[i].origin);
                }
        s->users = xrealloc(s->users, (s->n_users + 1) * sizeof *s->users);
        s->users[s->n_users++] = u;
        return 0;
}

static int cmd_sshkey(parser *p, const char *file, size_t ln, opts *o) {
        plan_system *s = &p->ks->system;
        const char *user = o_get(o, "--username");
        if (!user) return fail(p, file, ln, "sshkey: --username is required");
        if (o->npos != 1) return fail(p, file, ln, "sshkey: one quoted key expected");
        s->sshkeys = xrealloc(s->sshkeys, (s->n_sshkeys + 1) * sizeof *s->sshkeys);
        s->sshkeys[s->n_sshkeys++] = (plan_sshkey){ .user = xstrdup(user), .key = xstrdup(o->pos[0]) };
        return 0;
}

static int cmd_autopart(parser *p, const char *file, size_t ln, opts *o) {
        (void)o;
        p->ks->autopart = true;
        return warn(p, file, ln, "autopart: the profile's default layout (one root partition) is used");
}

static int cmd_lvm(parser *p, const char *file, size_t ln, opts *o) {
        (void)o;
        return fail(p, file, ln, "LVM, RAID and btrfs layouts are not supported (use part)");
}

enum { K_CMD, K_SILENT, K_WARN };

static const struct command {
        const char *name;
        int kind;
        const char *spec;
        size_t max_pos;
        cmd_fn fn;
        const char *why;        /* K_WARN: why it is ignored */
} commands[] = {
        { "url", K_CMD, "--url= --mirrorlist= --metalink= --proxy= --noverifyssl --sslcacert= --sslclientcert= --sslclientkey=", 0, cmd_url, NULL },
        { "repo", K_CMD, "--name= --baseurl= --mirrorlist= --metalink= --cost= --excludepkgs= --includepkgs= --install --noverifyssl --proxy= --ignoregroups= --sslcacert= --sslclientcert= --sslclientkey=", 0, cmd_repo, NULL },
        { "part", K_CMD, "--fstype= --size= --grow --maxsize= --label= --ondisk= --ondrive= --asprimary --fsoptions= --mkfsoptions= --fsprofile= --noformat --onpart= --usepart= --recommended --encrypted --passphrase= --resize --hibernation --start= --end= --cipher= --luks-version= --onbiosdisk=", 1, cmd_part, NULL },
        { "partition", K_CMD, "--fstype= --size= --grow --maxsize= --label= --ondisk= --ondrive= --asprimary --fsoptions= --mkfsoptions= --fsprofile= --noformat --onpart= --usepart= --recommended --encrypted --passphrase= --resize --hibernation --start= --end= --cipher= --luks-version= --onbiosdisk=", 1, cmd_part, NULL },
        { "bootloader", K_CMD, "--location= --append= --timeout= --disable --disabled --boot-drive= --driveorder= --password= --iscrypted --md5pass= --leavebootorder --extlinux --nombr --upgrade --lba32 --linear --nolinear --useLilo --default= --btrfs-subvol", 0, cmd_bootloader, NULL },
        { "rootpw", K_CMD, "--iscrypted --plaintext --lock --allow-ssh", 1, cmd_rootpw, NULL },
        { "timezone", K_CMD, "--utc --isUtc --nontp --ntpservers=", 1, cmd_timezone, NULL },
        { "lang", K_CMD, "--addsupport=", 1, cmd_lang, NULL },
        { "keyboard", K_CMD, "--vckeymap= --xlayouts= --switch=", 1, cmd_keyboard, NULL },
        { "selinux", K_CMD, "--enforcing --permissive --disabled", 0, cmd_selinux, NULL },
        { "firewall", K_CMD, "--enabled --enable --disabled --disable --service= --port= --trust= --ssh --smtp --http --ftp --telnet --remove-service= --use-system-defaults", 0, cmd_firewall, NULL },
        { "services", K_CMD, "--enabled= --disabled=", 0, cmd_services, NULL },
        { "network", K_CMD, "--bootproto= --device= --onboot= --hostname= --noipv6 --activate --no-activate --ip= --netmask= --gateway= --nameserver= --ipv6= --ipv6gateway= --nodefroute --nodns --mtu= --dhcpclass= --ethtool= --essid= --wepkey= --wpakey= --bondslaves= --bondopts= --vlanid= --interfacename= --teamslaves= --teamconfig= --bridgeslaves= --bridgeopts= --bindto=", 0, cmd_network, NULL },
        { "user", K_CMD, "--name= --password= --iscrypted --plaintext --lock --groups= --homedir= --shell= --uid= --gid= --gecos=", 0, cmd_user, NULL },
        { "sshkey", K_CMD, "--username=", 1, cmd_sshkey, NULL },
        { "autopart", K_CMD, NULL, 0, cmd_autopart, NULL },
        { "logvol", K_CMD, NULL, 0, cmd_lvm, NULL },
        { "volgroup", K_CMD, NULL, 0, cmd_lvm, NULL },
        { "raid", K_CMD, NULL, 0, cmd_lvm, NULL },
        { "btrfs", K_CMD, NULL, 0, cmd_lvm, NULL },
        /* No effect on an image by nature. */
        { "clearpart", K_SILENT, "--all --initlabel --drives= --linux --none --list= --disklabel= --cdl", 0, NULL, NULL },
        { "zerombr", K_SILENT, "", 0, NULL, NULL },
        { "firstboot", K_SILENT, "--enable --enabled --disable --disabled --reconfig", 0, NULL, NULL },
        { "skipx", K_SILENT, "", 0, NULL, NULL },
        { "text", K_SILENT, "--non-interactive", 0, NULL, NULL },
        { "cmdline", K_SILENT, "", 0, NULL, NULL },
        { "graphical", K_SILENT, "--non-interactive", 0, NULL, NULL },
        { "install", K_SILENT, "", 0, NULL, NULL },
        { "reboot", K_SILENT, "--eject --kexec", 0, NULL, NULL },
        { "poweroff", K_SILENT, "--eject --kexec", 0, NULL, NULL },
        { "shutdown", K_SILENT, "--eject --kexec", 0, NULL, NULL },
        { "halt", K_SILENT, "--eject --kexec", 0, NULL, NULL },
        /* Ignored, with a warning: they would change the result if honoured. */
        { "auth", K_WARN, NULL, 0, NULL, "authconfig is not run; the image keeps the packages' defaults (shadow, sha512)" },
        { "authconfig", K_WARN, NULL, 0, NULL, "authconfig is not run; the image keeps the packages' defaults (shadow, sha512)" },
        { "authselect", K_WARN, NULL, 0, NULL, "authselect is not run" },
        { "ignoredisk", K_WARN, NULL, 0, NULL, "an image has exactly one disk" },
        { "cdrom", K_WARN, NULL, 0, NULL, "packages come from the plan's repos" },
        { "harddrive", K_WARN, NULL, 0, NULL, "packages come from the plan's repos" },
        { "nfs", K_WARN, NULL, 0, NULL, "packages come from the plan's repos" },
        { "liveimg", K_WARN, NULL, 0, NULL, "packages come from the plan's repos" },
        { "group", K_WARN, NULL, 0, NULL, "create groups in %post" },
        { "xconfig", K_WARN, NULL, 0, NULL, "images have no X" },
        { "monitor", K_WARN, NULL, 0, NULL, "images have no X" },
        { "logging", K_WARN, NULL, 0, NULL, "the installer's logging does not exist here" },
        { "eula", K_WARN, NULL, 0, NULL, "no installer" },
        { "vnc", K_WARN, NULL, 0, NULL, "no installer" },
        { "mediacheck", K_WARN, NULL, 0, NULL, "no installer" },
        { "sshpw", K_WARN, NULL, 0, NULL, "no installer" },
        { "interactive", K_WARN, NULL, 0, NULL, "no installer" },
        { "autostep", K_WARN, NULL, 0, NULL, "no installer" },
        { "rescue", K_WARN, NULL, 0, NULL, "no installer" },
        { "upgrade", K_WARN, NULL, 0, NULL, "images are always fresh installs" },
        { "driverdisk", K_WARN, NULL, 0, NULL, "no installer" },
        { "updates", K_WARN, NULL, 0, NULL, "no installer" },
        { "device", K_WARN, NULL, 0, NULL, "no installer" },
        { "deviceprobe", K_WARN, NULL, 0, NULL, "no installer" },
        { "iscsi", K_WARN, NULL, 0, NULL, "no installer" },
        { "iscsiname", K_WARN, NULL, 0, NULL, "no installer" },
        { "fcoe", K_WARN, NULL, 0, NULL, "no installer" },
        { "zfcp", K_WARN, NULL, 0, NULL, "no installer" },
        { "dmraid", K_WARN, NULL, 0, NULL, "no installer" },
        { "multipath", K_WARN, NULL, 0, NULL, "no installer" },
        { "reqpart", K_WARN, NULL, 0, NULL, "MBR images need no extra partitions" },
        { "realm", K_WARN, NULL, 0, NULL, "join domains at first boot" },
        { "module", K_WARN, NULL, 0, NULL, "no modularity on EL7" },
        { "unsupported_hardware", K_WARN, NULL, 0, NULL, "no installer" },
        { "key", K_WARN, NULL, 0, NULL, "no installer" },
        { "mouse", K_WARN, NULL, 0, NULL, "obsolete" },
        { "langsupport", K_WARN, NULL, 0, NULL, "obsolete" },
        { "lilo", K_WARN, NULL, 0, NULL, "obsolete" },
        { "lilocheck", K_WARN, NULL, 0, NULL, "obsolete" },
        { "method", K_WARN, NULL, 0, NULL, "obsolete" },
        { "timesource", K_WARN, NULL, 0, NULL, "configure chrony in %post or an overlay" },
        { "snapshot", K_WARN, NULL, 0, NULL, "no LVM" },
        { "zipl", K_WARN, NULL, 0, NULL, "s390 only" },
        { "ostreesetup", K_WARN, NULL, 0, NULL, "not an rpm install" },
};

static const struct command *find_command(const char *name) {
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(commands[i].name, name)) return &commands[i];
        return NULL;
}

static int run_command_line(parser *p, const char *file, size_t ln, char **args) {
        const struct command *c = find_command(args[0]);
        if (!c) return warn(p, file, ln, "unknown kickstart command '%s' (ignored)", args[0]);
        if (c->kind == K_WARN) return warn(p, file, ln, "'%s' is ignored for image builds: %s", c->name, c->why);
        opts o = { 0 };
        /* spec NULL: the command refuses or ignores whatever it is given */
        int r = c->spec ? parse_opts(p, file, ln, c->name, c->spec, args + 1, &o) : 0;
        if (r >= 0 && c->spec && o.npos > c->max_pos)
                r = fail(p, file, ln, "%s: unexpected argument '%s'", c->name, o.pos[c->max_pos]);
        if (r >= 0 && c->fn) r = c->fn(p, file, ln, &o);
        opts_clear(&o);
        return r;
}

/* ---- sections --------------------------------------------------------------------- */

static const char *const known_sections[] = { "%packages", "%post", "%pre", "%pre-install", "%traceback",
                                              "%onerror", "%anaconda", "%addon", NULL };

static bool is_section(const char *w) {
        for (size_t i = 0; known_sections[i]; i++)
                if (!strcmp(w, known_sections[i])) return true;
        return false;
}

static void open_section(parser *p, int state, const char *name, const char *file, size_t ln) {
        p->state = state;
        free(p->sect_name);
        free(p->sect_origin);
        p->sect_name = xstrdup(name);
        p->sect_origin = origin(file, ln);
}

static int open_packages(parser *p, const char *file, size_t ln, char **args) {
        kickstart *ks = p->ks;
        opts o = { 0 };
        int r = parse_opts(p, file, ln, "%packages",
                           "--nocore --nobase --excludedocs --instLangs= --inst-langs= --ignoremissing "
                           "--exclude-weakdeps --excludeWeakdeps --multilib --default --resolvedeps "
                           "--retries= --timeout= --ignorebroken --no-resolvedeps",
                           args + 1, &o);
        if (r >= 0 && o.npos) r = fail(p, file, ln, "%%packages: unexpected argument '%s'", o.pos[0]);
        if (r >= 0 && ks->have_packages)
                r = warn(p, file, ln, "a second %%packages section (first at %s): merged", ks->packages.origin);
        if (r < 0) {
                opts_clear(&o);
                return r;
        }
        plan_packages *pk = &ks->packages;
        pk->nocore |= o_has(&o, "--nocore");
        pk->nobase |= o_has(&o, "--nobase");
        pk->excludedocs |= o_has(&o, "--excludedocs");
        pk->ignoremissing |= o_has(&o, "--ignoremissing");
        pk->exclude_weakdeps |= o_has(&o, "--exclude-weakdeps") || o_has(&o, "--excludeWeakdeps");
        const char *il = o_get(&o, "--instLangs") ? o_get(&o, "--instLangs") : o_get(&o, "--inst-langs");
        if (il) {
                free(pk->inst_langs);
                pk->inst_langs = xstrdup(il);
        }
        if (!ks->have_packages) pk->origin = origin(file, ln);
        ks->have_packages = true;
        opts_clear(&o);
        open_section(p, S_PACKAGES, "%packages", file, ln);
        return 0;
}

static int open_post(parser *p, const char *file, size_t ln, char **args) {
        opts o = { 0 };
        int r = parse_opts(p, file, ln, "%post", "--nochroot --interpreter= --erroronfail --log= --logfile=",
                           args + 1, &o);
        if (r >= 0 && o.npos) r = fail(p, file, ln, "%%post: unexpected argument '%s'", o.pos[0]);
        const char *interp = o_get(&o, "--interpreter");
        if (r >= 0 && interp && interp[0] != '/')
                r = fail(p, file, ln, "%%post: --interpreter must be an absolute path, not '%s'", interp);
        const char *log = o_get(&o, "--log") ? o_get(&o, "--log") : o_get(&o, "--logfile");
        if (r >= 0 && log && log[0] != '/')
                r = fail(p, file, ln, "%%post: --log must be an absolute path, not '%s'", log);
        if (r < 0) {
                opts_clear(&o);
                return r;
        }
        plan_script_clear(&p->post);
        p->post = (plan_script){
                .interpreter = xstrdup(interp ? interp : "/bin/sh"),
                .log = log ? xstrdup(log) : NULL,
                .nochroot = o_has(&o, "--nochroot"),
                .erroronfail = o_has(&o, "--erroronfail"),
                .origin = origin(file, ln),
        };
        p->body_len = 0;
        opts_clear(&o);
        open_section(p, S_POST, "%post", file, ln);
        return 0;
}

static int open_addon(parser *p, const char *file, size_t ln, char **args) {
        if (!args[1]) return fail(p, file, ln, "%%addon: an add-on name is expected");
        if (strcmp(args[1], "com_redhat_kdump")) {
                open_section(p, S_SKIP, "%addon", file, ln);
                return warn(p, file, ln, "%%addon %s is not supported: section skipped", args[1]);
        }
        opts o = { 0 };
        int r = parse_opts(p, file, ln, "%addon com_redhat_kdump", "--enable --disable --reserve-mb= --enablefadump",
                           args + 2, &o);
        if (r >= 0 && o.npos) r = fail(p, file, ln, "%%addon com_redhat_kdump: unexpected argument '%s'", o.pos[0]);
        if (r >= 0 && o_has(&o, "--enable") && o_has(&o, "--disable"))
                r = fail(p, file, ln, "%%addon com_redhat_kdump: --enable and --disable exclude each other");
        const char *mb = o_get(&o, "--reserve-mb");
        uint64_t v = 0;
        if (r >= 0 && mb && strcmp(mb, "auto") && (parse_uint(mb, 1u << 20, &v) < 0 || v == 0))
                r = fail(p, file, ln, "%%addon com_redhat_kdump: bad --reserve-mb '%s' (MiB or auto)", mb);
        if (r >= 0) {
                if (o_has(&o, "--enable")) p->ks->kdump = 1;
                if (o_has(&o, "--disable")) p->ks->kdump = 0;
                p->ks->kdump_reserve_mb = (int)v;
                open_section(p, S_KDUMP, "%addon", file, ln);
        }
        opts_clear(&o);
        return r;
}

static int close_section(parser *p, const char *file, size_t ln) {
        (void)file, (void)ln;
        if (p->state == S_POST) {
                kickstart *ks = p->ks;
                p->post.body = xstrndup(p->body ? p->body : "", p->body_len);
                ks->posts = xrealloc(ks->posts, (ks->n_posts + 1) * sizeof *ks->posts);
                ks->posts[ks->n_posts++] = p->post;
                memset(&p->post, 0, sizeof p->post);
                p->body_len = 0;
        }
        p->state = S_TOP;
        return 0;
}

static int package_line(parser *p, const char *file, size_t ln, const char *raw) {
        plan_packages *pk = &p->ks->packages;
        /* pykickstart: everything after '#' is a comment */
        size_t n = strcspn(raw, "#");
        char *line = xstrndup(raw, n);
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        size_t l = strlen(s);
        while (l && isspace((unsigned char)s[l - 1])) s[--l] = '\0';
        int r = 0;
        if (!*s) goto out;
        if (s[0] == '@' || (s[0] == '-' && s[1] == '@')) {
                bool excl = s[0] == '-';
                char **w = NULL;
                char *save = NULL;
                for (char *t = strtok_r(s + (excl ? 2 : 1), " \t\f", &save); t; t = strtok_r(NULL, " \t\f", &save))
                        strv_push(&w, xstrdup(t));
                bool env = w && w[0][0] == '^';
                const char *id = w ? w[0] + env : "";
                bool nodef = false, opt = false;
                for (size_t i = 1; w && w[i] && r >= 0; i++) {
                        if (!strcmp(w[i], "--nodefaults") && !excl && !env) nodef = true;
                        else if (!strcmp(w[i], "--optional") && !excl && !env) opt = true;
                        else r = fail(p, file, ln, "%%packages: unknown group syntax '%s' (@group [--nodefaults|--optional])", s);
                }
                if (r >= 0 && !is_group_id(id))
                        r = fail(p, file, ln, "%%packages: unknown group syntax '%s' (@group, @^environment, -@group)", s);
                if (r >= 0 && nodef && opt)
                        r = fail(p, file, ln, "%%packages: @%s: --nodefaults and --optional exclude each other", id);
                if (r >= 0) {
                        if (excl) {
                                if (env) r = fail(p, file, ln, "%%packages: an environment cannot be excluded ('%s')", s);
                                else strv_push_unique(&pk->exclude_groups, id);
                        } else if (env) {
                                if (pk->environment && strcmp(pk->environment, id))
                                        r = warn(p, file, ln, "%%packages: a second environment @^%s replaces @^%s", id, pk->environment);
                                free(pk->environment);
                                pk->environment = xstrdup(id);
                        } else {
                                size_t i;
                                for (i = 0; i < pk->n_groups; i++)
                                        if (!strcmp(pk->groups[i].id, id)) break;
                                if (i == pk->n_groups) {
                                        pk->groups = xrealloc(pk->groups, (pk->n_groups + 1) * sizeof *pk->groups);
                                        pk->groups[pk->n_groups++] = (plan_group){ .id = xstrdup(id) };
                                }
                                pk->groups[i].nodefaults = nodef;
                                pk->groups[i].optional = opt;
                        }
                }
                strv_free(w);
                goto out;
        }
        bool excl = s[0] == '-';
        const char *name = s + excl;
        if (!*name) {
                r = fail(p, file, ln, "%%packages: '-' without a package name");
                goto out;
        }
        if (strpbrk(name, " \t\f")) {
                r = fail(p, file, ln, "%%packages: one package per line, not '%s'", s);
                goto out;
        }
        const char *bad = bad_pkg_char(name);
        if (bad || name[0] == '-') {
                r = fail(p, file, ln, "%%packages: invalid package name '%s'", name);
                goto out;
        }
        strv_push_unique(excl ? &pk->excludes : &pk->names, name);
out:
        free(line);
        return r;
}

static int parse_buffer(parser *p, const char *name, const char *data, size_t len);

static int include_file(parser *p, const char *file, size_t ln, const char *arg) {
        if (p->flags & KS_NO_INCLUDE) return fail(p, file, ln, "%%include is not allowed here");
        if (!*arg) return fail(p, file, ln, "%%include: a file name is expected");
        if (p->depth >= KS_MAX_INCLUDE_DEPTH)
                return fail(p, file, ln, "%%include %s: nested more than %d deep", arg, KS_MAX_INCLUDE_DEPTH);
        char *path;
        if (arg[0] == '/') path = xstrdup(arg);
        else {
                const char *slash = strrchr(file, '/');
                path = slash ? xasprintf("%.*s/%s", (int)(slash - file), file, arg) : xstrdup(arg);
        }
        int r;
        char *real = realpath(path, NULL);
        if (!real) {
                r = fail(p, file, ln, "%%include %s: %s", path, strerror(errno));
                free(path);
                return r;
        }
        for (size_t i = 0; p->stack && p->stack[i]; i++)
                if (!strcmp(p->stack[i], real)) {
                        r = fail(p, file, ln, "%%include loop: %s is already being read", path);
                        free(real);
                        free(path);
                        return r;
                }
        struct stat st;
        char *data = NULL;
        size_t len = 0;
        if (stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = fail(p, file, ln, "%%include %s: not a regular file", path);
        } else if (st.st_size > (off_t)KS_MAX_FILE) {
                r = fail(p, file, ln, "%%include %s: larger than %u bytes", path, KS_MAX_FILE);
        } else if ((r = read_file(real, &data, &len)) < 0) {
                r = fail(p, file, ln, "%%include %s: %s", path, strerror(-r));
        } else {
                strv_push(&p->stack, real);
                real = NULL;
                p->depth++;
                r = parse_buffer(p, path, data, len);
                p->depth--;
                size_t n = strv_length(p->stack);
                free(p->stack[n - 1]);
                p->stack[n - 1] = NULL;
        }
        free(real);
        free(data);
        free(path);
        return r;
}

static int top_line(parser *p, const char *file, size_t ln, char *line) {
        char **args = NULL, *msg = NULL;
        if (ks_split(line, &args, &msg) < 0) {
                int r = fail(p, file, ln, "%s", msg);
                free(msg);
                return r;
        }
        int r = 0;
        const char *cmd = args[0];
        if (!cmd) goto out;
        if (cmd[0] != '%') {
                r = run_command_line(p, file, ln, args);
                goto out;
        }
        if (!strcmp(cmd, "%include")) {
                if (!args[1] || args[2]) r = fail(p, file, ln, "%%include: exactly one file name expected");
                else r = include_file(p, file, ln, args[1]);
        } else if (!strcmp(cmd, "%ksappend"))
                r = warn(p, file, ln, "%%ksappend is not supported (ignored)");
        else if (!strcmp(cmd, "%packages"))
                r = open_packages(p, file, ln, args);
        else if (!strcmp(cmd, "%post"))
                r = open_post(p, file, ln, args);
        else if (!strcmp(cmd, "%addon"))
                r = open_addon(p, file, ln, args);
        else if (!strcmp(cmd, "%end"))
                r = fail(p, file, ln, "%%end without an open section");
        else if (is_section(cmd)) {
                open_section(p, S_SKIP, cmd, file, ln);
                r = warn(p, file, ln, "%s sections are not run by image builds: skipped", cmd);
        } else
                r = fail(p, file, ln, "unknown section '%s'", cmd);
out:
        strv_free(args);
        return r;
}

static int section_line(parser *p, const char *file, size_t ln, char *line) {
        const char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '%') {
                size_t wl = strcspn(s, " \t\f\r#");
                char *word = xstrndup(s, wl);
                int r = 1;
                if (!strcmp(word, "%end")) r = close_section(p, file, ln);
                else if (!strcmp(word, "%include")) {
                        char **args = NULL, *msg = NULL;
                        if (ks_split(s, &args, &msg) < 0) {
                                r = fail(p, file, ln, "%s", msg);
                                free(msg);
                        } else if (!args[1] || args[2])
                                r = fail(p, file, ln, "%%include: exactly one file name expected");
                        else
                                r = include_file(p, file, ln, args[1]);
                        strv_free(args);
                } else if (!strcmp(word, "%ksappend"))
                        r = warn(p, file, ln, "%%ksappend is not supported (ignored)");
                else if (is_section(word))
                        r = fail(p, file, ln, "%s (opened at %s) is not closed by %%end before %s", p->sect_name,
                                 p->sect_origin, word);
                free(word);
                if (r <= 0) return r;
        }
        switch (p->state) {
        case S_PACKAGES:
                return package_line(p, file, ln, line);
        case S_POST: {
                buf b = { p->body, p->body_len, p->body_cap };
                buf_add(&b, line, strlen(line));
                buf_add(&b, "\n", 1);
                p->body = b.s, p->body_len = b.len, p->body_cap = b.cap;
                return 0;
        }
        default:
                return 0;
        }
}

static int parse_buffer(parser *p, const char *name, const char *data, size_t len) {
        size_t bad_line;
        char *msg;
        if (len > KS_MAX_FILE) return fail(p, name, 1, "file larger than %u bytes", KS_MAX_FILE);
        if (text_check(data, len, KS_MAX_LINE, &bad_line, &msg) < 0) {
                int r = fail(p, name, bad_line, "%s", msg);
                free(msg);
                return r;
        }
        strv_push(&p->ks->files, xstrdup(name));
        size_t i = 0, ln = 0;
        if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) i = 3;
        while (i < len) {
                const char *e = memchr(data + i, '\n', len - i);
                size_t l = e ? (size_t)(e - (data + i)) : len - i;
                char *line = xstrndup(data + i, l);
                i += l + (e ? 1 : 0);
                size_t first = ++ln;
                if (l && line[l - 1] == '\r') line[--l] = '\0';
                /* Command lines continue after a trailing (unescaped) '\'. */
                while (p->state == S_TOP && i < len) {
                        size_t bs = 0;
                        while (bs < l && line[l - 1 - bs] == '\\') bs++;
                        if (bs % 2 == 0) break;
                        line[--l] = '\0';
                        e = memchr(data + i, '\n', len - i);
                        size_t l2 = e ? (size_t)(e - (data + i)) : len - i;
                        line = xrealloc(line, l + l2 + 1);
                        memcpy(line + l, data + i, l2);
                        l += l2;
                        line[l] = '\0';
                        i += l2 + (e ? 1 : 0);
                        ln++;
                        if (l && line[l - 1] == '\r') line[--l] = '\0';
                        if (l > KS_MAX_LINE) {
                                free(line);
                                return fail(p, name, first, "continued line too long (more than %d bytes)", KS_MAX_LINE);
                        }
                }
                int r = p->state == S_TOP ? top_line(p, name, first, line) : section_line(p, name, first, line);
                free(line);
                if (r < 0) return r;
        }
        return 0;
}

static int parse_top(const char *name, const char *real, const char *data, size_t len, unsigned flags,
                     kickstart **ret, char **ret_error) {
        kickstart *ks = xcalloc(1, sizeof *ks);
        ks->path = xstrdup(name);
        ks->kdump = -1;
        ks->bootloader.timeout = -1;
        ks->system.network_onboot = true;
        parser p = { .ks = ks, .flags = flags };
        strv_push(&p.stack, xstrdup(real));
        int r = 0;
        bool blank = true;
        for (size_t i = 0; i < len && blank; i++)
                if (!isspace((unsigned char)data[i])) blank = false;
        if (blank) r = fail(&p, name, 1, "empty kickstart");
        if (r >= 0) r = parse_buffer(&p, name, data, len);
        if (r >= 0 && p.state != S_TOP) {
                p.error = xasprintf("%s: %s is not closed by %%end (end of file reached)", p.sect_origin,
                                    p.sect_name);
                r = ERR_INPUT;
        }
        plan_script_clear(&p.post);
        free(p.body);
        free(p.sect_name);
        free(p.sect_origin);
        strv_free(p.stack);
        if (r < 0) {
                *ret_error = p.error ? p.error : xasprintf("%s: invalid kickstart", name);
                ks_free(ks);
                return ERR_INPUT;
        }
        free(p.error);
        *ret = ks;
        return 0;
}

int ks_parse_string(const char *name, const char *data, size_t len, unsigned flags, kickstart **ret,
                    char **ret_error) {
        return parse_top(name, name, data, len, flags, ret, ret_error);
}

int ks_parse_file(const char *path, unsigned flags, kickstart **ret, char **ret_error) {
        struct stat st;
        if (stat(path, &st) < 0) {
                int r = -errno;
                *ret_error = xasprintf("%s: %s", path, strerror(errno));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                *ret_error = xasprintf("%s: not a regular file", path);
                return ERR_INPUT;
        }
        if (st.st_size > (off_t)KS_MAX_FILE) {
                *ret_error = xasprintf("%s:1: file larger than %u bytes", path, KS_MAX_FILE);
                return ERR_INPUT;
        }
        char *data;
        size_t len;
        int r = read_file(path, &data, &len);
        if (r < 0) {
                *ret_error = xasprintf("%s: %s", path, strerror(-r));
                return r;
        }
        char *real = realpath(path, NULL);
        r = parse_top(path, real ? real : path, data, len, flags, ret, ret_error);
        free(real);
        free(data);
        return r;
}
