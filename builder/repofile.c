/* repofile.c — see repofile.h.  inih does the INI syntax; this file maps
 * keys to plan_repo fields the way yum 3 reads them.  inih does not pass
 * line numbers to the handler, so a pre-scan that classifies lines the same
 * way (comment, continuation, section, key) lets errors name file:line. */
#include "repofile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kickstart.h"
#include "util.h"

/* ---- variables ------------------------------------------------------------ */

const char *yumvars_get(char *const *vars, const char *name) {
        size_t l = strlen(name);
        const char *r = NULL;
        for (size_t i = 0; vars && vars[i]; i++)
                if (!strncmp(vars[i], name, l) && vars[i][l] == '=') r = vars[i] + l + 1;
        return r;
}

void yumvars_set(char ***vars, const char *name, const char *value) {
        size_t l = strlen(name);
        for (size_t i = 0; *vars && (*vars)[i]; i++)
                if (!strncmp((*vars)[i], name, l) && (*vars)[i][l] == '=') {
                        free((*vars)[i]);
                        (*vars)[i] = xasprintf("%s=%s", name, value);
                        return;
                }
        strv_push(vars, xasprintf("%s=%s", name, value));
}

static bool var_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

char *yumvars_expand(const char *s, char *const *vars, char **ret_unknown) {
        size_t cap = strlen(s) + 1, len = 0;
        char *out = xmalloc(cap);
        if (ret_unknown) *ret_unknown = NULL;
        for (size_t i = 0; s[i];) {
                const char *val = NULL;
                size_t skip = 0;
                if (s[i] == '$') {
                        bool brace = s[i + 1] == '{';
                        size_t st = i + 1 + brace, e = st;
                        while (var_char(s[e])) e++;
                        if (e > st && (!brace || s[e] == '}')) {
                                char *name = xstrndup(s + st, e - st);
                                val = yumvars_get(vars, name);
                                if (!val && ret_unknown && !*ret_unknown) *ret_unknown = xstrdup(name);
                                free(name);
                                skip = e - i + brace;
                        }
                }
                const char *add = val ? val : s + i;
                size_t n = val ? strlen(val) : 1;
                if (!val) skip = 1;
                if (len + n + 1 > cap) out = xrealloc(out, cap = (len + n + 1) * 2);
                memcpy(out + len, add, n);
                len += n;
                i += skip;
        }
        out[len] = '\0';
        return out;
}

int yumvars_load_dir(const char *dir, char ***vars, char **ret_error) {
        DIR *d = opendir(dir);
        if (!d) {
                *ret_error = xasprintf("--vars-dir %s: %s", dir, strerror(errno));
                return ERR_INPUT;
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d)) && r == 0) {
                if (de->d_name[0] == '.') continue;
                char *path = xasprintf("%s/%s", dir, de->d_name);
                struct stat st;
                char *data = NULL;
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                        bool ok = true;
                        for (const char *c = de->d_name; *c; c++)
                                if (!var_char(*c)) ok = false;
                        size_t bl;
                        char *msg = NULL;
                        if (!ok) {
                                *ret_error = xasprintf("%s: not a yum variable name (letters, digits, _)", path);
                                r = ERR_INPUT;
                        } else if (st.st_size > 4096 || read_file(path, &data, NULL) < 0) {
                                *ret_error = xasprintf("%s: unreadable or larger than 4096 bytes", path);
                                r = ERR_INPUT;
                        } else if (text_check(data, strlen(data), 1024, &bl, &msg) < 0) {
                                *ret_error = xasprintf("%s:%zu: %s", path, bl, msg);
                                free(msg);
                                r = ERR_INPUT;
                        } else {
                                data[strcspn(data, "\r\n")] = '\0';
                                yumvars_set(vars, de->d_name, data);
                        }
                }
                free(data);
                free(path);
        }
        closedir(d);
        return r;
}

/* ---- parsing -------------------------------------------------------------------- */

typedef struct entry { size_t line; bool cont; } entry;

typedef struct rctx {
        const char *file;
        char *const *vars;
        unsigned flags;
        plan_repo *repos;
        size_t n_repos;
        size_t *sect_lines;     /* header line of each section, in order */
        size_t n_sect;
        entry *ent;             /* one per handler call, in order */
        size_t n_ent, cur;
        plan_repo *last;        /* repo of the previous call */
        char *last_key;
        char **seen;            /* "section\nkey" of keys already set */
        char ***warnings;
        char *error;
} rctx;

static int rfail(rctx *c, size_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rfail(rctx *c, size_t line, const char *fmt, ...) {
        if (c->error) return 0;
        va_list ap;
        va_start(ap, fmt);
        char *m;
        if (vasprintf(&m, fmt, ap) < 0) abort();
        va_end(ap);
        c->error = xasprintf("%s:%zu: %s", c->file, line, m);
        free(m);
        return 0;
}

static int rwarn(rctx *c, size_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rwarn(rctx *c, size_t line, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *m;
        if (vasprintf(&m, fmt, ap) < 0) abort();
        va_end(ap);
        if (c->flags & REPO_STRICT) rfail(c, line, "%s (an error with --strict)", m);
        else strv_push(c->warnings, xasprintf("%s:%zu: %s", c->file, line, m));
        free(m);
        return !(c->flags & REPO_STRICT);
}

/* Mirrors inih's line classification (ini.c, ini_parse_stream). */
static int prescan(rctx *c, const char *data) {
        bool have_prev = false;
        size_t ln = 0;
        char **names = NULL;
        for (const char *s = data; *s;) {
                const char *e = strchr(s, '\n');
                size_t l = e ? (size_t)(e - s) : strlen(s);
                ln++;
                const char *t = s, *end = s + l;
                if (ln == 1 && l >= 3 && !memcmp(t, "\xEF\xBB\xBF", 3)) t += 3;
                const char *start = t;
                while (t < end && isspace((unsigned char)*t)) t++;
                while (end > t && isspace((unsigned char)end[-1])) end--;
                if (t == end) {
                        /* blank: nothing */
                } else if (*t == ';' || *t == '#') {
                        /* comment */
                } else if (have_prev && t > start) {
                        c->ent = xrealloc(c->ent, (c->n_ent + 1) * sizeof *c->ent);
                        c->ent[c->n_ent++] = (entry){ ln, true };
                } else if (*t == '[') {
                        const char *close = memchr(t, ']', (size_t)(end - t));
                        if (!close) {
                                strv_free(names);
                                return rfail(c, ln, "section header without ']'"), ERR_INPUT;
                        }
                        char *id = xstrndup(t + 1, (size_t)(close - t - 1));
                        bool ok = *id && strlen(id) <= 49;
                        for (const char *x = id; *x && ok; x++)
                                if (!isalnum((unsigned char)*x) && !strchr("-_.:", *x)) ok = false;
                        if (!ok) {
                                rfail(c, ln, "bad repo id [%s] (1-49 of letters, digits, '-', '_', '.', ':')", id);
                                free(id);
                                strv_free(names);
                                return ERR_INPUT;
                        }
                        for (size_t i = 0; names && names[i]; i++)
                                if (!strcmp(names[i], id)) {
                                        rfail(c, ln, "repo [%s] is defined twice in this file (first at line %zu)", id,
                                              c->sect_lines[i]);
                                        free(id);
                                        strv_free(names);
                                        return ERR_INPUT;
                                }
                        strv_push(&names, id);
                        c->sect_lines = xrealloc(c->sect_lines, (c->n_sect + 1) * sizeof *c->sect_lines);
                        c->sect_lines[c->n_sect++] = ln;
                        have_prev = false;
                } else {
                        size_t kl = strcspn(t, "=:");
                        if (t + kl >= end) {
                                strv_free(names);
                                return rfail(c, ln, "expected 'key=value' or '[repo-id]'"), ERR_INPUT;
                        }
                        if (kl > 49) {
                                strv_free(names);
                                return rfail(c, ln, "key name longer than 49 characters"), ERR_INPUT;
                        }
                        c->ent = xrealloc(c->ent, (c->n_ent + 1) * sizeof *c->ent);
                        c->ent[c->n_ent++] = (entry){ ln, false };
                        have_prev = true;
                }
                s = e ? e + 1 : s + l;
        }
        strv_free(names);
        return 0;
}

static int parse_int(const char *v, long min, long max, int *ret) {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < min || x > max) return -EINVAL;
        *ret = (int)x;
        return 0;
}

static bool url_ok(const char *u) {
        return (str_startswith(u, "http://") || str_startswith(u, "https://") || str_startswith(u, "ftp://") ||
                str_startswith(u, "file://")) && strlen(u) > 7;
}

/* Expand variables, split on spaces/commas, push. Returns false on error. */
static bool push_urls(rctx *c, size_t line, const char *key, const char *value, char ***v, bool urls) {
        char *unknown = NULL;
        char *x = yumvars_expand(value, c->vars, &unknown);
        if (unknown) {
                rfail(c, line, "%s: unknown yum variable $%s (define it in a --vars-dir)", key, unknown);
                free(unknown);
                free(x);
                return false;
        }
        char *save = NULL;
        bool ok = true;
        for (char *t = strtok_r(x, " \t,", &save); t && ok; t = strtok_r(NULL, " \t,", &save)) {
                if (urls && !url_ok(t)) {
                        rfail(c, line, "%s: '%s' is not an http(s)://, ftp:// or file:// URL", key, t);
                        ok = false;
                } else if (!strv_contains(*v, t))
                        strv_push(v, xstrdup(t));
        }
        free(x);
        return ok;
}

static const char *const ignored_keys[] = {
        "metadata_expire", "mirrorlist_expire", "failovermethod", "type", "proxy", "proxy_username",
        "proxy_password", "username", "password", "keepalive", "timeout", "retries", "http_caching",
        "throttle", "bandwidth", "minrate", "ip_resolve", "enablegroups", "async", "keepcache",
        "deltarpm_percentage", "deltarpm_metadata_percentage", "module_hotfixes", "countme",
        "sslcacert", "sslclientcert", "sslclientkey", "mediaid", "ui_repoid_vars", "autorefresh",
        "metadata_expire_filter", "gpgcakey", "skip_if_unavailable_", "fastestmirror_enabled",
        "max_connections", "protect", "exactarch", "mdpolicy", "mirrorlist_random", NULL };

static int handler(void *user, const char *section, const char *key, const char *value) {
        rctx *c = user;
        entry e = c->cur < c->n_ent ? c->ent[c->cur++] : (entry){ 0, false };
        if (c->error) return 0;
        if (!*section) return rfail(c, e.line, "'%s' outside a [repo] section", key);
        plan_repo *r = NULL;
        for (size_t i = 0; i < c->n_repos; i++)
                if (!strcmp(c->repos[i].id, section)) r = &c->repos[i];
        if (!r) {
                size_t sl = c->n_repos < c->n_sect ? c->sect_lines[c->n_repos] : e.line;
                c->repos = xrealloc(c->repos, (c->n_repos + 1) * sizeof *c->repos);
                r = &c->repos[c->n_repos++];
                *r = (plan_repo){ .id = xstrdup(section), .priority = 99, .cost = 1000, .enabled = true,
                                  .gpgcheck = false, .sslverify = true, .origin = xasprintf("%s:%zu", c->file, sl) };
        }
        bool cont = e.cont;
        if (!cont) {
                char *k = xasprintf("%s\n%s", section, key);
                if (strv_contains(c->seen, k)) {
                        free(k);
                        if (!rwarn(c, e.line, "[%s] %s is set twice: the last one wins", section, key)) return 0;
                        /* yum (ConfigParser): the later line replaces the earlier */
                        if (!strcmp(key, "baseurl")) strv_free(r->baseurls), r->baseurls = NULL;
                        else if (!strcmp(key, "gpgkey")) strv_free(r->gpgkeys), r->gpgkeys = NULL;
                        else if (!strcmp(key, "exclude")) strv_free(r->excludes), r->excludes = NULL;
                        else if (!strcmp(key, "includepkgs")) strv_free(r->includes), r->includes = NULL;
                } else
                        strv_push(&c->seen, k);
        }
        size_t ln = e.line;
        bool b;
        if (!strcmp(key, "name")) {
                char *x = yumvars_expand(value, c->vars, NULL);
                if (cont && r->name) {
                        char *n = xasprintf("%s %s", r->name, x);
                        free(x);
                        x = n;
                }
                free(r->name);
                r->name = x;
        } else if (!strcmp(key, "baseurl")) {
                if (!push_urls(c, ln, key, value, &r->baseurls, true)) return 0;
        } else if (!strcmp(key, "gpgkey")) {
                if (!push_urls(c, ln, key, value, &r->gpgkeys, true)) return 0;
        } else if (!strcmp(key, "exclude") || !strcmp(key, "excludepkgs")) {
                if (!push_urls(c, ln, key, value, &r->excludes, false)) return 0;
        } else if (!strcmp(key, "includepkgs")) {
                if (!push_urls(c, ln, key, value, &r->includes, false)) return 0;
        } else if (cont) {
                return rfail(c, ln, "[%s] %s: continuation lines are only allowed for lists (baseurl, gpgkey, exclude, includepkgs)",
                             section, key);
        } else if (!strcmp(key, "mirrorlist") || !strcmp(key, "metalink")) {
                char **v = NULL;
                if (!push_urls(c, ln, key, value, &v, true)) {
                        strv_free(v);
                        return 0;
                }
                if (strv_length(v) != 1) {
                        strv_free(v);
                        return rfail(c, ln, "[%s] %s: exactly one URL expected", section, key);
                }
                char **dst = !strcmp(key, "mirrorlist") ? &r->mirrorlist : &r->metalink;
                free(*dst);
                *dst = xstrdup(v[0]);
                strv_free(v);
        } else if (!strcmp(key, "enabled") || !strcmp(key, "gpgcheck") || !strcmp(key, "repo_gpgcheck") ||
                   !strcmp(key, "skip_if_unavailable") || !strcmp(key, "sslverify")) {
                if (parse_boolean(value, &b) < 0)
                        return rfail(c, ln, "[%s] %s: '%s' is not a boolean (1/0, yes/no, true/false, on/off)",
                                     section, key, value);
                if (!strcmp(key, "enabled")) r->enabled = b;
                else if (!strcmp(key, "gpgcheck")) r->gpgcheck = b;
                else if (!strcmp(key, "repo_gpgcheck")) r->repo_gpgcheck = b;
                else if (!strcmp(key, "skip_if_unavailable")) r->skip_if_unavailable = b;
                else r->sslverify = b;
        } else if (!strcmp(key, "priority")) {
                if (parse_int(value, 1, 99, &r->priority) < 0)
                        return rfail(c, ln, "[%s] priority: '%s' is not a number from 1 to 99", section, value);
        } else if (!strcmp(key, "cost")) {
                if (parse_int(value, 0, 1000000, &r->cost) < 0)
                        return rfail(c, ln, "[%s] cost: '%s' is not a number from 0 to 1000000", section, value);
        } else {
                bool known = false;
                for (size_t i = 0; ignored_keys[i]; i++)
                        if (!strcmp(key, ignored_keys[i])) known = true;
                if (!known && !rwarn(c, ln, "[%s] unknown key '%s' (ignored)", section, key)) return 0;
        }
        return 1;
}

int repofile_parse_string(const char *name, const char *data, size_t len, char *const *vars,
                          unsigned flags, plan_repo **ret_repos, size_t *ret_n, char ***warnings,
                          char **ret_error) {
        rctx c = { .file = name, .vars = vars, .flags = flags, .warnings = warnings };
        size_t bl;
        char *msg, *text = NULL;
        int r = 0;
        if (text_check(data, len, REPO_MAX_LINE, &bl, &msg) < 0) {
                rfail(&c, bl, "%s%s", msg, strstr(msg, "too long") ? " (split long lists over indented continuation lines)" : "");
                free(msg);
                r = ERR_INPUT;
        }
        if (r == 0) {
                text = xstrndup(data, len);     /* inih wants a C string */
                r = prescan(&c, text);
        }
        if (r == 0) {
                int ir = ini_parse_string(text, handler, &c);
                if (!c.error && ir > 0) rfail(&c, (size_t)ir, "syntax error (expected 'key=value' or '[repo-id]')");
                if (!c.error && ir < 0) rfail(&c, 1, "cannot parse (inih error %d)", ir);
                if (!c.error && c.n_repos == 0) rfail(&c, 1, "no [repo] sections");
                for (size_t i = 0; i < c.n_repos && !c.error; i++) {
                        plan_repo *rp = &c.repos[i];
                        const char *o = strrchr(rp->origin, ':');
                        size_t line = o ? strtoul(o + 1, NULL, 10) : 1;
                        if (!rp->name) rp->name = xstrdup(rp->id);
                        if (!rp->baseurls && !rp->mirrorlist && !rp->metalink)
                                rfail(&c, line, "repo [%s] has no baseurl, mirrorlist or metalink", rp->id);
                        else if (rp->enabled && (rp->gpgcheck || rp->repo_gpgcheck) && !rp->gpgkeys)
                                rfail(&c, line, "repo [%s] has gpgcheck/repo_gpgcheck on but no gpgkey", rp->id);
                }
                r = c.error ? ERR_INPUT : 0;
        }
        free(text);
        free(c.sect_lines);
        free(c.ent);
        strv_free(c.seen);
        if (r < 0) {
                for (size_t i = 0; i < c.n_repos; i++) plan_repo_clear(&c.repos[i]);
                free(c.repos);
                *ret_error = c.error;
                return r;
        }
        *ret_repos = c.repos;
        *ret_n = c.n_repos;
        return 0;
}

int repofile_parse_file(const char *path, char *const *vars, unsigned flags, plan_repo **ret_repos,
                        size_t *ret_n, char ***warnings, char **ret_error) {
        struct stat st;
        if (stat(path, &st) < 0) {
                int r = -errno;
                *ret_error = xasprintf("%s: %s", path, strerror(errno));
                return r;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
                *ret_error = xasprintf("%s: not a regular file of at most 1 MiB", path);
                return ERR_INPUT;
        }
        char *data;
        size_t len;
        int r = read_file(path, &data, &len);
        if (r < 0) {
                *ret_error = xasprintf("%s: %s", path, strerror(-r));
                return r;
        }
        r = repofile_parse_string(path, data, len, vars, flags, ret_repos, ret_n, warnings, ret_error);
        free(data);
        return r;
}
