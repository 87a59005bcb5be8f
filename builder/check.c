/* check.c — `imgbuild check`: ECS import compliance of disk images.
 *
 * Two halves: gather (libguestfs: one read-only appliance for all images,
 * inspection, then a lazily filled, cached view of the guest's files) and
 * judge (one function per item over that view and the disk facts).  The
 * rules come from Alibaba's "Notes for importing images" and the image
 * compliance tool (item names "driver", "shadow", … are the tool's). */
#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <guestfs.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "initramfs.h"
#include "util.h"

#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)

/* ------------------------------------------------------------------ */
/* profiles                                                            */

typedef struct profile {
        const char *name;
        const char *datasource;   /* cloud-init datasource that must be listed */
        bool el7_network;         /* EL7 network service required (else WARNING) */
        const char *rpmdb;        /* required rpmdb format, NULL = either */
        bool growpart_required;
} profile;

static const profile profiles[] = {
        { "aliyun2", "AliYun", true, "bdb", true },
        { "nocloud", "NoCloud", false, NULL, false },
};

const char *check_profile_canonical(const char *p) {
        if (!p || !strcmp(p, "aliyun2") || !strcmp(p, "ecs")) return "aliyun2";
        if (!strcmp(p, "nocloud") || !strcmp(p, "demo")) return "nocloud";
        return NULL;
}

static const profile *profile_get(const char *p) {
        const char *c = check_profile_canonical(p);
        for (size_t i = 0; c && i < sizeof profiles / sizeof profiles[0]; i++)
                if (!strcmp(profiles[i].name, c)) return &profiles[i];
        return NULL;
}

/* ------------------------------------------------------------------ */
/* small string helpers                                                */

static char *trim(char *s) {
        while (isspace((unsigned char)*s)) s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
        return s;
}

/* A growing text buffer for "found" descriptions. */
typedef struct sbuf {
        char *s;
        size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *t;
        if (vasprintf(&t, fmt, ap) < 0) abort();
        va_end(ap);
        size_t n = strlen(t);
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->s = xrealloc(b->s, b->cap);
        }
        memcpy(b->s + b->len, t, n + 1);
        b->len += n;
        free(t);
}

/* "; "-separated list item */
static void sb_item(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_item(sbuf *b, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *t;
        if (vasprintf(&t, fmt, ap) < 0) abort();
        va_end(ap);
        sb_add(b, "%s%s", b->len ? "; " : "", t);
        free(t);
}

static char *sb_take(sbuf *b) {
        char *s = b->s ? b->s : xstrdup("");
        b->s = NULL;
        b->len = b->cap = 0;
        return s;
}

/* Value of "KEY=value" lines (shell-style config), unquoted; NULL if absent. */
static char *kv_get(const char *text, const char *key) {
        if (!text) return NULL;
        char *res = NULL;
        size_t kl = strlen(key);
        for (const char *l = text; l && *l;) {
                const char *e = strchr(l, '\n');
                size_t n = e ? (size_t)(e - l) : strlen(l);
                char *line = xstrndup(l, n);
                char *t = trim(line);
                if (!strncmp(t, key, kl) && t[kl] == '=') {
                        char *v = trim(t + kl + 1);
                        size_t vl = strlen(v);
                        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
                                v[vl - 1] = '\0';
                                v++;
                        }
                        free(res);
                        res = xstrdup(v);
                }
                free(line);
                l = e ? e + 1 : NULL;
        }
        return res;
}

/* ------------------------------------------------------------------ */
/* format probe                                                        */

static uint64_t be64(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | p[i];
        return v;
}
static uint32_t be32(const unsigned char *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int bad(char **ret_reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(char **ret_reason, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *t;
        if (vasprintf(&t, fmt, ap) < 0) abort();
        va_end(ap);
        if (ret_reason) *ret_reason = t;
        else free(t);
        return ERR_BAD_IMAGE;
}

int check_probe_format(const char *path, char **ret_format, uint64_t *ret_virtual_size,
                       char **ret_reason) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                return bad(ret_reason, "cannot open: %s", strerror(-r));
        }
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                bool dir = S_ISDIR(st.st_mode);
                close(fd);
                /* block devices are fine for qemu but we only take files */
                return bad(ret_reason, dir ? "is a directory, not a disk image file"
                                           : "not a regular file");
        }
        uint64_t fsize = (uint64_t)st.st_size;
        unsigned char head[512] = { 0 }, foot[512] = { 0 };
        ssize_t hn = pread(fd, head, sizeof head, 0);
        ssize_t fn = fsize >= 512 ? pread(fd, foot, 512, (off_t)(fsize - 512)) : 0;
        close(fd);
        if (hn < 0 || fn < 0) return bad(ret_reason, "cannot read: %s", strerror(errno));
        if (fsize == 0) return bad(ret_reason, "empty file (0 bytes), not a disk image");

        const char *fmt = NULL;
        uint64_t vsize = 0;
        if (hn >= 4 && !memcmp(head, "QFI\xfb", 4)) {
                fmt = "qcow2";
                if (hn < 72) return bad(ret_reason, "truncated qcow2 image: header cut short (%zd bytes)", hn);
                uint32_t version = be32(head + 4);
                if (version < 2 || version > 3)
                        return bad(ret_reason, "qcow2 image with unknown version %u", version);
                vsize = be64(head + 24);
                uint32_t cluster_bits = be32(head + 20);
                uint64_t l1_off = be64(head + 40), refcount_off = be64(head + 48);
                uint32_t l1_size = be32(head + 36);
                if (cluster_bits < 9 || cluster_bits > 21)
                        return bad(ret_reason, "corrupt qcow2 header (cluster bits %u)", cluster_bits);
                if (refcount_off >= fsize || (l1_size && l1_off + (uint64_t)l1_size * 8 > fsize))
                        return bad(ret_reason, "truncated qcow2 image: its tables lie beyond the end of the "
                                   "file (%" PRIu64 " bytes)", fsize);
        } else if (fn == 512 && !memcmp(foot, "conectix", 8)) {
                fmt = "vpc";
                vsize = be64(foot + 48);
                uint32_t type = be32(foot + 60);
                if (type == 4)
                        return bad(ret_reason, "differencing VHD (needs its parent): ECS imports a fixed or "
                                   "dynamic VHD");
        } else if (hn >= 8 && !memcmp(head, "conectix", 8)) {
                /* dynamic VHD whose footer copy at the end is missing: truncated */
                fmt = "vpc";
                vsize = be64(head + 48);
                if (fsize < 512 + 1024)
                        return bad(ret_reason, "truncated VHD image (%" PRIu64 " bytes)", fsize);
                if (fn != 512 || memcmp(foot, "conectix", 8))
                        return bad(ret_reason, "truncated VHD image: the footer at the end of the file is missing");
        } else if (hn >= 4 && !memcmp(head, "KDMV", 4)) {
                return bad(ret_reason, "VMDK image: ECS imports raw, qcow2 or VHD (convert with qemu-img "
                           "convert -O qcow2)");
        } else if (hn >= 68 && be32(head + 64) == 0xbeda107f) {
                return bad(ret_reason, "VDI image: ECS imports raw, qcow2 or VHD (convert with qemu-img "
                           "convert -O qcow2)");
        } else {
                fmt = "raw";
                vsize = fsize;
                if (fsize < MIB)
                        return bad(ret_reason, "too small for a disk image (%" PRIu64 " bytes): not a raw, "
                                   "qcow2 or VHD image", fsize);
                if (fsize % 512)
                        return bad(ret_reason, "not a disk image: raw size %" PRIu64 " is not a whole number "
                                   "of 512-byte sectors, and no qcow2/VHD header", fsize);
                bool text = true;
                for (ssize_t i = 0; i < hn && text; i++)
                        if (head[i] == 0 || (head[i] < 32 && !isspace(head[i]))) text = false;
                if (text)
                        return bad(ret_reason, "a text file, not a disk image");
        }
        *ret_format = xstrdup(fmt);
        *ret_virtual_size = vsize;
        return 0;
}

/* ------------------------------------------------------------------ */
/* GRUB 2 configuration: the default entry                             */

/* Split a grub.cfg into commands (NULL-terminated word vectors). */
static char ***grub_commands(const char *cfg, size_t *ret_n) {
        char ***cmds = NULL;
        size_t n = 0;
        char **cur = xcalloc(1, sizeof(char *));
        sbuf w = { 0 };
        bool inword = false;
        const char *p = cfg;
        for (;;) {
                char c = *p;
                bool end = c == '\0';
                if (end || c == '\n' || c == ';' || c == ' ' || c == '\t' || c == '\r') {
                        if (inword) {
                                char *word = sb_take(&w);
                                inword = false;
                                if (!strcmp(word, "}")) { /* "}" always starts a command of its own */
                                        if (cur[0]) {
                                                cmds = xrealloc(cmds, (n + 1) * sizeof *cmds);
                                                cmds[n++] = cur;
                                                cur = xcalloc(1, sizeof(char *));
                                        }
                                        strv_push(&cur, word);
                                        cmds = xrealloc(cmds, (n + 1) * sizeof *cmds);
                                        cmds[n++] = cur;
                                        cur = xcalloc(1, sizeof(char *));
                                } else {
                                        bool brace = !strcmp(word, "{");
                                        strv_push(&cur, word);
                                        if (brace) { /* "{" ends the opening command */
                                                cmds = xrealloc(cmds, (n + 1) * sizeof *cmds);
                                                cmds[n++] = cur;
                                                cur = xcalloc(1, sizeof(char *));
                                        }
                                }
                        }
                        if (end || c == '\n' || c == ';') {
                                if (cur[0]) {
                                        cmds = xrealloc(cmds, (n + 1) * sizeof *cmds);
                                        cmds[n++] = cur;
                                        cur = xcalloc(1, sizeof(char *));
                                }
                        }
                        if (end) break;
                        p++;
                        continue;
                }
                if (c == '#' && !inword) {
                        while (*p && *p != '\n') p++;
                        continue;
                }
                if (c == '\\' && p[1] == '\n') { /* line continuation */
                        p += 2;
                        continue;
                }
                inword = true;
                if (c == '\'') {
                        const char *e = strchr(p + 1, '\'');
                        if (!e) e = p + strlen(p);
                        sb_add(&w, "%.*s", (int)(e - p - 1), p + 1);
                        p = *e ? e + 1 : e;
                        continue;
                }
                if (c == '"') {
                        p++;
                        while (*p && *p != '"') {
                                if (*p == '\\' && p[1]) p++;
                                sb_add(&w, "%c", *p++);
                        }
                        if (*p) p++;
                        continue;
                }
                if (c == '\\' && p[1]) {
                        if (p[1] != '\n') sb_add(&w, "%c", p[1]);
                        p += 2;
                        continue;
                }
                sb_add(&w, "%c", c);
                p++;
        }
        free(w.s);
        strv_free(cur);
        *ret_n = n;
        return cmds;
}

typedef struct gentry {
        char *index;   /* "1", "2>0" */
        char *titles;  /* "Title", "Submenu>Title" */
        char *ids;
        char *title;
        char *kernel;
        char *cmdline;
        char **initrds;
} gentry;

static void gentry_free(gentry *e) {
        free(e->index);
        free(e->titles);
        free(e->ids);
        free(e->title);
        free(e->kernel);
        free(e->cmdline);
        strv_free(e->initrds);
}

static char *grubenv_get(const char *env, const char *key) {
        return kv_get(env, key);
}

int grub_default_entry(const char *cfg, const char *grubenv, grub_entry *ret) {
        size_t n = 0;
        char ***cmds = grub_commands(cfg, &n);
        gentry *ents = NULL;
        size_t ne = 0;
        /* stack of open blocks: 'e' entry, 's' submenu; indexes per level */
        char kinds[16];
        int counters[16] = { 0 };
        char *sub_index = NULL, *sub_title = NULL, *sub_id = NULL;
        int depth = 0;
        gentry *cur = NULL;
        char *def = NULL;
        for (size_t i = 0; i < n; i++) {
                char **w = cmds[i];
                while (w[0] && (!strcmp(w[0], "then") || !strcmp(w[0], "else") || !strcmp(w[0], "do"))) w++;
                if (!w[0]) continue;
                size_t nw = strv_length(w);
                bool opens = nw >= 2 && !strcmp(w[nw - 1], "{");
                if (!strcmp(w[0], "}")) {
                        if (depth > 0) {
                                depth--;
                                if (kinds[depth] == 'e') cur = NULL;
                                else if (kinds[depth] == 's') {
                                        free(sub_index);
                                        free(sub_title);
                                        free(sub_id);
                                        sub_index = sub_title = sub_id = NULL;
                                        counters[1] = 0;
                                }
                        }
                        continue;
                }
                if ((!strcmp(w[0], "menuentry") || !strcmp(w[0], "submenu")) && opens && depth < 15) {
                        const char *title = nw > 2 ? w[1] : "";
                        const char *id = NULL;
                        for (size_t k = 2; k + 1 < nw; k++)
                                if (!strcmp(w[k], "--id") || !strcmp(w[k], "$menuentry_id_option") ||
                                    !strcmp(w[k], "${menuentry_id_option}"))
                                        id = w[k + 1];
                        int level = sub_index ? 1 : 0;
                        int idx = counters[level]++;
                        char *index = sub_index ? xasprintf("%s>%d", sub_index, idx) : xasprintf("%d", idx);
                        char *titles = sub_title ? xasprintf("%s>%s", sub_title, title) : xstrdup(title);
                        char *ids = sub_id ? xasprintf("%s>%s", sub_id, id ? id : "") : xstrdup(id ? id : "");
                        if (w[0][0] == 's') {
                                if (!sub_index) {
                                        sub_index = index;
                                        sub_title = titles;
                                        sub_id = ids;
                                } else {
                                        free(index);
                                        free(titles);
                                        free(ids);
                                }
                                kinds[depth++] = 's';
                                continue;
                        }
                        ents = xrealloc(ents, (ne + 1) * sizeof *ents);
                        cur = &ents[ne++];
                        *cur = (gentry){ index, titles, ids, xstrdup(title), NULL, NULL,
                                         xcalloc(1, sizeof(char *)) };
                        kinds[depth++] = 'e';
                        continue;
                }
                if (opens && depth < 15) { /* some other block, e.g. function */
                        kinds[depth++] = 'o';
                        continue;
                }
                if (cur && (!strcmp(w[0], "linux") || !strcmp(w[0], "linux16") ||
                            !strcmp(w[0], "linuxefi") || !strcmp(w[0], "kernel")) && nw >= 2) {
                        free(cur->kernel);
                        free(cur->cmdline);
                        cur->kernel = xstrdup(w[1]);
                        sbuf b = { 0 };
                        for (size_t k = 2; k < nw; k++) sb_add(&b, "%s%s", k > 2 ? " " : "", w[k]);
                        cur->cmdline = sb_take(&b);
                } else if (cur && (!strcmp(w[0], "initrd") || !strcmp(w[0], "initrd16") ||
                                   !strcmp(w[0], "initrdefi")) && nw >= 2) {
                        strv_free(cur->initrds);
                        cur->initrds = strv_copy(w + 1);
                } else if (!cur && !strcmp(w[0], "set") && nw >= 2 && str_startswith(w[1], "default=")) {
                        const char *v = w[1] + 8;
                        if (!strstr(v, "next_entry")) {
                                free(def);
                                def = xstrdup(v);
                        }
                }
        }
        for (size_t i = 0; i < n; i++) strv_free(cmds[i]);
        free(cmds);
        free(sub_index);
        free(sub_title);
        free(sub_id);

        char *want = def ? xstrdup(def) : xstrdup("0");
        if (strstr(want, "saved_entry")) {
                char *s = grubenv ? grubenv_get(grubenv, "saved_entry") : NULL;
                free(want);
                want = s ? s : xstrdup("0");
        }
        gentry *pick = NULL;
        for (size_t i = 0; i < ne && !pick; i++)
                if (!strcmp(ents[i].index, want) || !strcmp(ents[i].titles, want) ||
                    (ents[i].ids[0] && !strcmp(ents[i].ids, want)))
                        pick = &ents[i];
        /* A bare title or id of a nested entry also matches (grub does). */
        for (size_t i = 0; i < ne && !pick; i++)
                if (!strcmp(ents[i].title, want)) pick = &ents[i];
        if (!pick) /* GRUB falls back to the first entry */
                for (size_t i = 0; i < ne && !pick; i++)
                        if (!strcmp(ents[i].index, "0") || str_startswith(ents[i].index, "0>")) pick = &ents[i];
        int r = -ENOENT;
        if (pick && pick->kernel) {
                char *cmdline = xstrdup(pick->cmdline ? pick->cmdline : "");
                /* EL8-style $kernelopts from grubenv */
                char *kopts = grubenv ? grubenv_get(grubenv, "kernelopts") : NULL;
                if (kopts && strstr(cmdline, "$kernelopts")) {
                        char *at = strstr(cmdline, "$kernelopts");
                        char *nc = xasprintf("%.*s%s%s", (int)(at - cmdline), cmdline, kopts, at + 11);
                        free(cmdline);
                        cmdline = nc;
                }
                free(kopts);
                *ret = (grub_entry){ xstrdup(pick->title), xstrdup(pick->kernel), strv_copy(pick->initrds),
                                     cmdline };
                r = 0;
        }
        free(want);
        free(def);
        for (size_t i = 0; i < ne; i++) gentry_free(&ents[i]);
        free(ents);
        return r;
}

void grub_entry_done(grub_entry *e) {
        if (!e) return;
        free(e->title);
        free(e->kernel);
        strv_free(e->initrds);
        free(e->cmdline);
        *e = (grub_entry){ 0 };
}

/* Value of a kernel command line parameter (last wins), NULL if absent. */
static char *cmdline_get(const char *cmdline, const char *key) {
        char *res = NULL;
        if (!cmdline) return NULL;
        char *copy = xstrdup(cmdline), *save = NULL;
        size_t kl = strlen(key);
        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
                if (!strncmp(t, key, kl) && t[kl] == '=') {
                        free(res);
                        res = xstrdup(t + kl + 1);
                }
        free(copy);
        return res;
}

/* ------------------------------------------------------------------ */
/* the guest view: files looked up through libguestfs, cached.
 *
 * Every guestfs call is a round trip into the appliance (≈0.1–0.4 s under
 * TCG on a loaded machine), so the view is filled in bulk where it can be:
 * whole trees (/etc, the systemd unit dirs, GRUB's dir) come in one tar_out
 * each, whole directories in one ls; a path under a fetched tree or absent
 * from a listed directory is known absent without a call.  Symlinks are
 * resolved from the cache (lstat semantics for the last component, like
 * the guest's kernel would for the others). */

enum vtype { V_ABSENT, V_FILE, V_DIR, V_LINK, V_OTHER };

typedef struct ventry {
        char *path;
        enum vtype type;
        int64_t size;
        bool have_data, have_list, have_link, have_attrs;
        char *data;
        size_t len;
        char **list;
        char *link;
        char *attrs;
} ventry;

typedef struct view {
        guestfs_h *g;
        ventry *e;
        size_t n;
        char **trees;           /* fetched whole: nothing else below them */
        const char *tmpdir;
        unsigned calls;         /* guestfs round trips made for the view */
} view;

static void free_strings(char **l) {
        if (!l) return;
        for (size_t i = 0; l[i]; i++) free(l[i]);
        free(l);
}

static void view_done(view *v) {
        for (size_t i = 0; i < v->n; i++) {
                ventry *e = &v->e[i];
                free(e->path);
                free(e->data);
                strv_free(e->list);
                free(e->link);
                free(e->attrs);
        }
        free(v->e);
        strv_free(v->trees);
        v->e = NULL;
        v->trees = NULL;
        v->n = 0;
}

static ventry *v_find(view *v, const char *path) {
        for (size_t i = 0; i < v->n; i++)
                if (!strcmp(v->e[i].path, path)) return &v->e[i];
        return NULL;
}

static ventry *v_new(view *v, const char *path, enum vtype t) {
        v->e = xrealloc(v->e, (v->n + 1) * sizeof *v->e);
        ventry *e = &v->e[v->n++];
        *e = (ventry){ .path = xstrdup(path), .type = t, .size = -1 };
        return e;
}

static char *parent_of(const char *path) {
        const char *s = strrchr(path, '/');
        if (!s || s == path) return xstrdup("/");
        return xstrndup(path, (size_t)(s - path));
}

/* Join and normalise ("." and ".." removed). */
static char *path_join(const char *dir, const char *rel) {
        char *full = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", dir, rel);
        char **parts = NULL;
        char *save = NULL;
        for (char *t = strtok_r(full, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (!strcmp(t, ".")) continue;
                if (!strcmp(t, "..")) {
                        size_t n = strv_length(parts);
                        if (n) {
                                free(parts[n - 1]);
                                parts[n - 1] = NULL;
                        }
                        continue;
                }
                strv_push(&parts, xstrdup(t));
        }
        sbuf b = { 0 };
        for (size_t i = 0; parts && parts[i]; i++) sb_add(&b, "/%s", parts[i]);
        strv_free(parts);
        free(full);
        return b.len ? sb_take(&b) : (free(b.s), xstrdup("/"));
}

static bool under(const char *path, const char *dir) {
        size_t l = strlen(dir);
        return !strncmp(path, dir, l) && (path[l] == '/' || path[l] == '\0');
}

/* Known absent without asking: under a fetched tree, or not in the cached
 * listing of its directory. */
static bool v_known_absent(view *v, const char *path) {
        for (size_t i = 0; v->trees && v->trees[i]; i++)
                if (under(path, v->trees[i]) && strcmp(path, v->trees[i])) return true;
        char *p = parent_of(path);
        ventry *pe = v_find(v, p);
        free(p);
        if (pe && pe->have_list) {
                const char *b = strrchr(path, '/');
                return !pe->list || !strv_contains(pe->list, b ? b + 1 : path);
        }
        return false;
}

/* Resolve symlinks of the directory components from the cache. */
static char *v_canon(view *v, const char *path) {
        char *cur = path_join("/", path);
        for (int hops = 0; hops < 16; hops++) {
                bool changed = false;
                /* each proper prefix, shortest first */
                for (char *s = strchr(cur + 1, '/'); s && !changed; s = strchr(s + 1, '/')) {
                        char *pre = xstrndup(cur, (size_t)(s - cur));
                        ventry *e = v_find(v, pre);
                        if (e && e->type == V_LINK && e->have_link && e->link) {
                                char *dir = parent_of(pre);
                                char *target = path_join(dir, e->link);
                                char *next = xasprintf("%s%s", target, s);
                                free(dir);
                                free(target);
                                free(cur);
                                cur = path_join("/", next);
                                free(next);
                                changed = true;
                        }
                        free(pre);
                }
                if (!changed) break;
        }
        return cur;
}

static ventry *v_get(view *v, const char *path) {
        char *c = v_canon(v, path);
        ventry *e = v_find(v, c);
        if (!e) {
                if (v_known_absent(v, c)) {
                        e = v_new(v, c, V_ABSENT);
                        e->have_data = e->have_list = e->have_link = e->have_attrs = true;
                } else {
                        e = v_new(v, c, V_ABSENT);
                        v->calls++;
                        log_debug("view: lstat %s", c);
                        struct guestfs_statns *st = guestfs_lstatns(v->g, c);
                        if (st) {
                                int64_t m = st->st_mode & 0170000;
                                e->type = m == 0100000 ? V_FILE : m == 0040000 ? V_DIR : m == 0120000 ? V_LINK : V_OTHER;
                                e->size = st->st_size;
                                guestfs_free_statns(st);
                        }
                }
        }
        free(c);
        return e;
}

static const char *v_readlink(view *v, const char *path) {
        ventry *e = v_get(v, path);
        if (!e->have_link) {
                e->have_link = true;
                if (e->type == V_LINK) {
                        v->calls++;
                        log_debug("view: readlink %s", e->path);
                        e->link = guestfs_readlink(v->g, e->path);
                }
        }
        return e->link;
}

/* Follow a final symlink chain through the cache; the entry it ends at. */
static ventry *v_follow(view *v, const char *path) {
        ventry *e = v_get(v, path);
        for (int hops = 0; e->type == V_LINK && hops < 16; hops++) {
                const char *l = v_readlink(v, e->path);
                if (!l) break;
                char *dir = parent_of(e->path);
                char *t = path_join(dir, l);
                free(dir);
                e = v_get(v, t);
                free(t);
        }
        return e;
}

static enum vtype v_type(view *v, const char *path) {
        return v_get(v, path)->type;
}

/* Exists, following a final symlink. */
static bool v_exists(view *v, const char *path) {
        ventry *e = v_follow(v, path);
        return e->type != V_ABSENT && e->type != V_LINK;
}

static bool v_is_file(view *v, const char *path) {
        return v_follow(v, path)->type == V_FILE;
}

/* Content of a (small) file, following symlinks; NULL if not readable.
 * Files over 4 MiB: their first 4 MiB. */
static const char *v_read(view *v, const char *path, size_t *ret_len) {
        ventry *e = v_follow(v, path);
        if (!e->have_data) {
                e->have_data = true;
                if (e->type == V_FILE) {
                        size_t n = 0;
                        v->calls++;
                        log_debug("view: read %s", e->path);
                        char *d = e->size > 4 * (int64_t)MIB ? guestfs_pread(v->g, e->path, 4 * MIB, 0, &n)
                                                              : guestfs_read_file(v->g, e->path, &n);
                        if (d) {
                                e->data = xrealloc(d, n + 1);
                                e->data[n] = '\0';
                                e->len = n;
                        }
                }
        }
        if (ret_len) *ret_len = e->len;
        return e->data;
}

/* Directory entries (sorted), following symlinks; NULL if none. */
static char **v_ls(view *v, const char *path) {
        ventry *e = v_follow(v, path);
        if (!e->have_list) {
                e->have_list = true;
                if (e->type == V_DIR) {
                        v->calls++;
                        log_debug("view: ls %s", e->path);
                        char **l = guestfs_ls(v->g, e->path);
                        if (l) {
                                e->list = strv_copy(l);
                                free_strings(l);
                        }
                }
        }
        return e->list;
}

static const char *v_attrs(view *v, const char *path) {
        ventry *e = v_follow(v, path);
        if (!e->have_attrs) {
                e->have_attrs = true;
                if (e->type == V_FILE) {
                        v->calls++;
                        e->attrs = guestfs_get_e2attrs(v->g, e->path);
                }
        }
        return e->attrs;
}

/* The first of paths that exists (following links); NULL if none. */
static const char *v_first(view *v, const char *const *paths) {
        for (size_t i = 0; paths[i]; i++)
                if (v_exists(v, paths[i])) return paths[i];
        return NULL;
}

/* -- bulk fill ----------------------------------------------------- */

static uint64_t tar_num(const unsigned char *p, size_t n) {
        if (p[0] & 0x80) { /* GNU base-256 */
                uint64_t v = p[0] & 0x7f;
                for (size_t i = 1; i < n; i++) v = v << 8 | p[i];
                return v;
        }
        uint64_t v = 0;
        size_t i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\0')) i++;
        for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) v = v * 8 + (uint64_t)(p[i] - '0');
        return v;
}

static void v_add_child(view *v, const char *path) {
        if (!strcmp(path, "/")) return;
        char *p = parent_of(path);
        ventry *pe = v_find(v, p);
        if (pe && pe->type == V_DIR && pe->have_list) {
                const char *b = strrchr(path, '/') + 1;
                if (!pe->list || !strv_contains(pe->list, b)) strv_push(&pe->list, xstrdup(b));
        }
        free(p);
}

/* Fill the view from a tar of the guest directory `dir` (GNU/ustar/pax). */
int view_load_tar(view *v, const char *dir, const unsigned char *buf, size_t len);
int view_load_tar(view *v, const char *dir, const unsigned char *buf, size_t len) {
        char *longname = NULL, *longlink = NULL;
        size_t off = 0;
        int r = 0;
        while (off + 512 <= len) {
                const unsigned char *h = buf + off;
                bool zero = true;
                for (size_t i = 0; i < 512 && zero; i++) zero = h[i] == 0;
                if (zero) break;
                uint64_t size = tar_num(h + 124, 12);
                char type = (char)h[156];
                off += 512;
                if (size > len - off) {
                        r = -EBADMSG;
                        break;
                }
                const unsigned char *data = buf + off;
                off += (size + 511) / 512 * 512;
                if (off > len) off = len;
                if (type == 'L' || type == 'K') {
                        char **dst = type == 'L' ? &longname : &longlink;
                        free(*dst);
                        *dst = xstrndup((const char *)data, size);
                        continue;
                }
                if (type == 'x' || type == 'g') { /* pax: "LEN key=value\n" records */
                        size_t p = 0;
                        while (p < size) {
                                const char *rec = (const char *)data + p;
                                size_t rl = (size_t)strtoul(rec, NULL, 10);
                                const char *kv = memchr(rec, ' ', size - p);
                                if (!rl || rl > size - p || !kv || kv >= rec + rl) break;
                                kv++;
                                size_t kvl = (size_t)(rec + rl - kv);
                                if (kvl > 5 && !strncmp(kv, "path=", 5) && type == 'x') {
                                        free(longname);
                                        longname = xstrndup(kv + 5, kvl - 6);
                                } else if (kvl > 9 && !strncmp(kv, "linkpath=", 9) && type == 'x') {
                                        free(longlink);
                                        longlink = xstrndup(kv + 9, kvl - 10);
                                }
                                p += rl;
                        }
                        continue;
                }
                char *name;
                if (longname) {
                        name = longname;
                        longname = NULL;
                } else {
                        char n[101] = { 0 }, pre[156] = { 0 };
                        memcpy(n, h, 100);
                        if (!memcmp(h + 257, "ustar", 5)) memcpy(pre, h + 345, 155);
                        name = pre[0] ? xasprintf("%s/%s", pre, n) : xstrdup(n);
                }
                char *link;
                if (longlink) {
                        link = longlink;
                        longlink = NULL;
                } else {
                        char l[101] = { 0 };
                        memcpy(l, h + 157, 100);
                        link = xstrdup(l);
                }
                char *path = path_join(dir, name);
                free(name);
                if (!v_find(v, path)) {
                        enum vtype t = type == '0' || type == '\0' || type == '7' || type == '1' ? V_FILE
                                       : type == '5' ? V_DIR : type == '2' ? V_LINK : V_OTHER;
                        ventry *e = v_new(v, path, t);
                        e->size = (int64_t)size;
                        e->have_link = true;
                        if (t == V_LINK) e->link = xstrdup(link);
                        if (t == V_DIR) {
                                e->have_list = true;
                                e->list = xcalloc(1, sizeof(char *));
                        } else {
                                e->have_list = true;
                        }
                        if (t == V_FILE && type != '1' && size <= 4 * MIB) {
                                e->have_data = true;
                                e->data = xmalloc(size + 1);
                                memcpy(e->data, data, size);
                                e->data[size] = '\0';
                                e->len = size;
                        } else if (t != V_FILE) {
                                e->have_data = true;
                        }
                        e->have_attrs = false;
                        v_add_child(v, path);
                }
                free(path);
                free(link);
        }
        free(longname);
        free(longlink);
        return r;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One tar_out for a whole guest tree. */
static int v_fetch_tree(view *v, const char *dir, char *const *excludes) {
        ventry *d = v_get(v, dir);
        if (d->type != V_DIR) return -ENOENT;
        char *local = xasprintf("%s/tree.XXXXXX", v->tmpdir);
        int fd = mkstemp(local);
        if (fd < 0) {
                free(local);
                return -errno;
        }
        close(fd);
        v->calls++;
        log_debug("view: tar_out %s", dir);
        int r = guestfs_tar_out_opts(v->g, dir, local, GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1,
                                     GUESTFS_TAR_OUT_OPTS_EXCLUDES, excludes, -1);
        char *buf = NULL;
        size_t len = 0;
        if (r == 0) r = read_file(local, &buf, &len);
        unlink(local);
        free(local);
        if (r < 0) return r;
        d->have_list = true;
        if (!d->list) d->list = xcalloc(1, sizeof(char *));
        r = view_load_tar(v, dir, (const unsigned char *)buf, len);
        free(buf);
        /* tar order is directory order; listings are sorted like ls (config
         * dirs are read in name order: the last file wins) */
        for (size_t i = 0; i < v->n; i++)
                if (v->e[i].list && under(v->e[i].path, dir))
                        qsort(v->e[i].list, strv_length(v->e[i].list), sizeof(char *), cmp_str);
        if (r == 0) strv_push(&v->trees, xstrdup(dir));
        return r;
}


/* Types (and link targets) of a directory's entries: two calls. */
static void v_fetch_stats(view *v, const char *dir) {
        char **names = v_ls(v, dir);
        if (!names || !names[0]) return;
        ventry *d = v_follow(v, dir);
        char *real = xstrdup(d->path);
        char **todo = NULL;
        for (size_t i = 0; names[i]; i++) {
                char *p = path_join(real, names[i]);
                if (!v_find(v, p)) strv_push(&todo, xstrdup(names[i]));
                free(p);
        }
        if (!todo) {
                free(real);
                return;
        }
        v->calls++;
        struct guestfs_statns_list *sl = guestfs_lstatnslist(v->g, real, todo);
        char **links = NULL;
        for (size_t i = 0; sl && i < sl->len && todo[i]; i++) {
                char *p = path_join(real, todo[i]);
                int64_t m = sl->val[i].st_mode & 0170000;
                enum vtype t = sl->val[i].st_ino == -1 ? V_ABSENT
                               : m == 0100000 ? V_FILE : m == 0040000 ? V_DIR : m == 0120000 ? V_LINK : V_OTHER;
                ventry *e = v_new(v, p, t);
                e->size = sl->val[i].st_size;
                if (t == V_LINK) strv_push(&links, xstrdup(todo[i]));
                free(p);
        }
        if (sl) guestfs_free_statns_list(sl);
        if (links) {
                v->calls++;
                char **targets = guestfs_readlinklist(v->g, real, links);
                for (size_t i = 0; targets && links[i] && targets[i]; i++) {
                        char *p = path_join(real, links[i]);
                        ventry *e = v_find(v, p);
                        if (e) {
                                e->have_link = true;
                                e->link = *targets[i] ? xstrdup(targets[i]) : NULL;
                        }
                        free(p);
                }
                free_strings(targets);
        }
        strv_free(links);
        strv_free(todo);
        free(real);
}

/* What every check reads, in as few round trips as we can. */
static void view_prefetch(view *v) {
        char *const etc_ex[] = { (char *)"selinux/targeted", (char *)"selinux/mls", (char *)"selinux/minimum",
                                 (char *)"pki/ca-trust", (char *)"ssl/certs", (char *)"udev/hwdb.bin",
                                 (char *)"ld.so.cache", (char *)"fonts", (char *)"gconf", NULL };
        char *const grub_ex[] = { (char *)"i386-pc", (char *)"x86_64-efi", (char *)"fonts", (char *)"locale",
                                  (char *)"themes", (char *)"*.mod", (char *)"*.pf2", NULL };
        char *const none[] = { NULL };
        v_fetch_stats(v, "/");
        v_fetch_tree(v, "/etc", etc_ex);
        v_fetch_tree(v, "/usr/lib/systemd/system", none);
        const char *l = v_readlink(v, "/lib");
        if (!l || (strcmp(l, "usr/lib") && strcmp(l, "/usr/lib")))
                v_fetch_tree(v, "/lib/systemd/system", none);
        v_fetch_stats(v, "/usr/bin");
        v_fetch_stats(v, "/usr/sbin");
        v_fetch_stats(v, "/var/lib/rpm");
        v_fetch_stats(v, "/boot");
        if (v_type(v, "/boot/grub2") == V_DIR) v_fetch_tree(v, "/boot/grub2", grub_ex);
        if (v_type(v, "/boot/grub") == V_DIR) v_fetch_tree(v, "/boot/grub", grub_ex);
}

/* ------------------------------------------------------------------ */
/* per-image facts gathered before judging                             */

typedef struct part_fact {
        int num;
        uint64_t start, end;   /* bytes */
        char *dev;
        char *fstype;
} part_fact;

typedef struct facts {
        const profile *prof;
        const char *rpmdb_want;  /* bdb, sqlite, NULL = either */
        char *dev;               /* /dev/sda */
        uint64_t vsize;
        char *parttype;          /* msdos, gpt, NULL = none */
        part_fact *parts;
        size_t n_parts;
        char *lvm;               /* LVM found on this disk: description */
        char *root;              /* root mountable */
        int root_partnum;        /* partition holding root or its PV; 0 = none */
        char *root_fstype, *root_uuid, *root_label, *root_features;
        bool have_statvfs;
        uint64_t bsize, blocks, bfree, bavail, files, ffree;
        /* boot */
        char *grub_cfg;          /* path of the config used, NULL = none */
        bool have_entry;
        grub_entry entry;
        char *kernel;            /* guest path of the default kernel */
        char *kver;
        char **initrds;          /* guest paths */
        char **initrd_names;     /* union of the listings */
        char *initrd_segments;   /* "cpio + zstd+cpio" */
        char *initrd_builtin;    /* modules.builtin inside */
        char *initrd_error;
        view v;
} facts;

static void facts_done(facts *f) {
        free(f->dev);
        free(f->parttype);
        for (size_t i = 0; i < f->n_parts; i++) {
                free(f->parts[i].dev);
                free(f->parts[i].fstype);
        }
        free(f->parts);
        free(f->lvm);
        free(f->root);
        free(f->root_fstype);
        free(f->root_uuid);
        free(f->root_label);
        free(f->root_features);
        free(f->grub_cfg);
        grub_entry_done(&f->entry);
        free(f->kernel);
        free(f->kver);
        strv_free(f->initrds);
        strv_free(f->initrd_names);
        free(f->initrd_segments);
        free(f->initrd_builtin);
        free(f->initrd_error);
        view_done(&f->v);
}

/* ------------------------------------------------------------------ */
/* systemd / SysV service state                                        */

enum svc { SVC_ABSENT, SVC_DISABLED, SVC_ENABLED, SVC_MASKED };

/* Unit directories; /lib/systemd/system is skipped when /lib → usr/lib. */
static void unit_dirs(view *v, const char *out[4]) {
        size_t n = 0;
        out[n++] = "/etc/systemd/system";
        out[n++] = "/usr/lib/systemd/system";
        const char *l = v_readlink(v, "/lib");
        if (!l || (strcmp(l, "usr/lib") && strcmp(l, "/usr/lib") && strcmp(l, "./usr/lib")))
                out[n++] = "/lib/systemd/system";
        out[n] = NULL;
}

static bool unit_file_exists(view *v, const char *unit) {
        const char *dirs[4];
        unit_dirs(v, dirs);
        for (size_t i = 0; dirs[i]; i++) {
                char *p = xasprintf("%s/%s", dirs[i], unit);
                enum vtype t = v_type(v, p);
                bool ok = t == V_FILE || (t == V_LINK && strcmp(v_readlink(v, p) ?: "", "/dev/null"));
                free(p);
                if (ok) return true;
        }
        return false;
}

/* Where unit is pulled in: "multi-user.target.wants" etc, or NULL. */
static char *unit_wanted_by(view *v, const char *unit) {
        const char *dirs[4];
        unit_dirs(v, dirs);
        for (size_t i = 0; dirs[i]; i++) {
                char **l = v_ls(v, dirs[i]);
                for (size_t k = 0; l && l[k]; k++) {
                        if (!str_endswith(l[k], ".wants") && !str_endswith(l[k], ".requires")) continue;
                        char *d = xasprintf("%s/%s", dirs[i], l[k]);
                        char **sub = v_ls(v, d);
                        free(d);
                        if (sub && strv_contains(sub, unit)) return xasprintf("%s/%s", dirs[i], l[k]);
                }
        }
        return NULL;
}

/* SysV: an S link in rc2..5.d; returns the link path or NULL. */
static char *sysv_enabled(view *v, const char *name) {
        static const char *const rcdirs[] = { "/etc/rc.d/rc3.d", "/etc/rc3.d", "/etc/rc.d/rc5.d", "/etc/rc5.d",
                                              "/etc/rc2.d", NULL };
        for (size_t i = 0; rcdirs[i]; i++) {
                char **l = v_ls(v, rcdirs[i]);
                for (size_t k = 0; l && l[k]; k++)
                        if (l[k][0] == 'S' && isdigit((unsigned char)l[k][1]) &&
                            isdigit((unsigned char)l[k][2]) && !strcmp(l[k] + 3, name))
                                return xasprintf("%s/%s", rcdirs[i], l[k]);
        }
        return NULL;
}

static bool sysv_script(view *v, const char *name) {
        char *a = xasprintf("/etc/rc.d/init.d/%s", name), *b = xasprintf("/etc/init.d/%s", name);
        bool r = v_exists(v, a) || v_exists(v, b);
        free(a);
        free(b);
        return r;
}

/* State of a service ("sshd.service"); *ret_where says why it is enabled. */
static enum svc svc_state(view *v, const char *unit, char **ret_where) {
        *ret_where = NULL;
        char *etc = xasprintf("/etc/systemd/system/%s", unit);
        const char *target = v_type(v, etc) == V_LINK ? v_readlink(v, etc) : NULL;
        free(etc);
        if (target && !strcmp(target, "/dev/null")) return SVC_MASKED;
        if (target) { /* an alias made by enabling, e.g. sshd.service → ssh.service */
                const char *base = strrchr(target, '/');
                base = base ? base + 1 : target;
                if (strcmp(base, unit) && str_endswith(base, ".service")) {
                        char *w = unit_wanted_by(v, base);
                        if (w) {
                                *ret_where = xasprintf("%s (alias of %s)", w, base);
                                free(w);
                                return SVC_ENABLED;
                        }
                }
        }
        char *w = unit_wanted_by(v, unit);
        if (w) {
                *ret_where = w;
                return SVC_ENABLED;
        }
        bool native = unit_file_exists(v, unit);
        char *name = xstrdup(unit);
        if (str_endswith(name, ".service")) name[strlen(name) - 8] = '\0';
        enum svc s = native ? SVC_DISABLED : SVC_ABSENT;
        if (!native && sysv_script(v, name)) {
                char *l = sysv_enabled(v, name);
                s = l ? SVC_ENABLED : SVC_DISABLED;
                if (l) *ret_where = xasprintf("SysV %s", l);
                free(l);
        }
        free(name);
        return s;
}

static bool svc_on(view *v, const char *unit, char **ret_where) {
        return svc_state(v, unit, ret_where) == SVC_ENABLED;
}

/* ------------------------------------------------------------------ */
/* items                                                               */

static void set(check_item *it, enum check_status s, char *found, char *fix) {
        it->status = s;
        free(it->found);
        free(it->fix);
        it->found = found;
        it->fix = s == CHECK_OK ? (free(fix), NULL) : fix;
}

static const char *base_name(const char *p) {
        const char *b = strrchr(p, '/');
        return b ? b + 1 : p;
}

static bool module_in(char **names, const char *mod) {
        for (size_t i = 0; names && names[i]; i++) {
                const char *b = base_name(names[i]);
                size_t ml = strlen(mod);
                if (!strncmp(b, mod, ml) && str_startswith(b + ml, ".ko") &&
                    (!b[ml + 3] || !strcmp(b + ml + 3, ".xz") || !strcmp(b + ml + 3, ".zst") ||
                     !strcmp(b + ml + 3, ".gz")))
                        return true;
        }
        return false;
}

static bool builtin_in(const char *modules_builtin, const char *mod) {
        if (!modules_builtin) return false;
        char *pat = xasprintf("/%s.ko", mod);
        bool r = false;
        for (const char *p = strstr(modules_builtin, pat); p && !r; p = strstr(p + 1, pat)) {
                char e = p[strlen(pat)];
                r = e == '\n' || e == '\0';
        }
        free(pat);
        return r;
}

static void item_driver(facts *f, check_item *it) {
        static const char *const mods[] = { "virtio_blk", "virtio_net", "virtio_pci" };
        static const char *const syms[] = { "CONFIG_VIRTIO_BLK=y", "CONFIG_VIRTIO_NET=y", "CONFIG_VIRTIO_PCI=y" };
        if (!f->kernel) {
                set(it, CHECK_FAILED, xstrdup("no kernel found (no GRUB 2 entry, no /boot/vmlinuz-*)"),
                    xstrdup("install a kernel and a GRUB 2 configuration"));
                return;
        }
        bool debian = v_exists(&f->v, "/etc/initramfs-tools");
        char *p = xasprintf("/lib/modules/%s/modules.builtin", f->kver);
        const char *disk_builtin = v_read(&f->v, p, NULL);
        free(p);
        p = xasprintf("/boot/config-%s", f->kver);
        const char *config = v_read(&f->v, p, NULL);
        free(p);
        p = xasprintf("/lib/modules/%s/modules.dep", f->kver);
        const char *dep = v_read(&f->v, p, NULL);
        free(p);
        sbuf ok = { 0 }, miss = { 0 };
        for (int i = 0; i < 3; i++) {
                const char *m = mods[i];
                if (f->initrd_names && module_in(f->initrd_names, m)) sb_item(&ok, "%s (module in the initramfs)", m);
                else if (builtin_in(f->initrd_builtin, m) || builtin_in(disk_builtin, m) ||
                         (config && strstr(config, syms[i])))
                        sb_item(&ok, "%s (built into the kernel)", m);
                else {
                        char *pat = xasprintf("/%s.ko", m);
                        bool on_disk = dep && strstr(dep, pat);
                        free(pat);
                        sb_item(&miss, "%s%s", m, on_disk ? " (on disk, but not in the initramfs)" : "");
                }
        }
        char *initrds = NULL;
        if (f->initrds && f->initrds[0]) {
                sbuf b = { 0 };
                for (size_t i = 0; f->initrds[i]; i++) sb_add(&b, "%s%s", i ? " " : "", f->initrds[i]);
                if (f->initrd_segments) sb_add(&b, " [%s]", f->initrd_segments);
                initrds = sb_take(&b);
        } else {
                initrds = xstrdup("no initramfs");
        }
        if (f->initrd_error) {
                set(it, CHECK_FAILED,
                    xasprintf("kernel %s: initramfs %s cannot be read: %s", f->kver, initrds, f->initrd_error),
                    xasprintf("regenerate it: %s", debian ? "update-initramfs -c -k VERSION"
                                                           : "dracut -f /boot/initramfs-VERSION.img VERSION"));
        } else if (miss.len) {
                set(it, CHECK_FAILED,
                    xasprintf("default kernel %s, %s: missing %s%s%s", f->kver, initrds, miss.s,
                              ok.len ? "; present: " : "", ok.len ? ok.s : ""),
                    debian ? xasprintf("add virtio_blk, virtio_net and virtio_pci to /etc/initramfs-tools/modules "
                                       "and run update-initramfs -u -k %s", f->kver)
                           : xasprintf("add add_drivers+=\" virtio_blk virtio_net virtio_pci \" to "
                                       "/etc/dracut.conf.d/virtio.conf and run dracut -f %s %s",
                                       f->initrds && f->initrds[0] ? f->initrds[0] : "/boot/initramfs-VERSION.img",
                                       f->kver));
        } else {
                set(it, CHECK_OK, xasprintf("default kernel %s, %s: %s", f->kver, initrds, ok.s), NULL);
        }
        free(initrds);
        free(ok.s);
        free(miss.s);
}

static void item_shadow(facts *f, check_item *it) {
        if (v_type(&f->v, "/etc/shadow") != V_FILE) {
                set(it, CHECK_FAILED, xstrdup("/etc/shadow is missing or not a regular file"),
                    xstrdup("restore /etc/shadow (pwconv creates it from /etc/passwd)"));
                return;
        }
        const char *a = v_attrs(&f->v, "/etc/shadow");
        if (a && (strchr(a, 'i') || strchr(a, 'a')))
                set(it, CHECK_FAILED,
                    xasprintf("/etc/shadow has the %s attribute (lsattr: %s): passwords cannot be set",
                              strchr(a, 'i') ? "immutable" : "append-only", a),
                    xstrdup("chattr -i -a /etc/shadow"));
        else
                set(it, CHECK_OK, xasprintf("/etc/shadow is writable (attributes: %s)", a && *a ? a : "none"),
                    NULL);
}

static void item_selinux(facts *f, check_item *it) {
        const char *cfg = v_read(&f->v, "/etc/selinux/config", NULL);
        char *cmd_selinux = f->have_entry ? cmdline_get(f->entry.cmdline, "selinux") : NULL;
        char *cmd_enforcing = f->have_entry ? cmdline_get(f->entry.cmdline, "enforcing") : NULL;
        char *mode = kv_get(cfg, "SELINUX");
        if (cmd_selinux && !strcmp(cmd_selinux, "0"))
                set(it, CHECK_OK, xasprintf("disabled on the kernel command line (selinux=0)%s%s",
                                            mode ? "; /etc/selinux/config: SELINUX=" : "", mode ? mode : ""),
                    NULL);
        else if (!cfg)
                set(it, CHECK_OK, xstrdup("no /etc/selinux/config: SELinux is not configured"), NULL);
        else if ((mode && !strcmp(mode, "enforcing")) || (cmd_enforcing && !strcmp(cmd_enforcing, "1")))
                set(it, CHECK_FAILED,
                    xasprintf("SELinux is enforcing (%s)", mode && !strcmp(mode, "enforcing")
                                                                   ? "/etc/selinux/config: SELINUX=enforcing"
                                                                   : "kernel command line enforcing=1"),
                    xstrdup("set SELINUX=disabled in /etc/selinux/config"));
        else if (mode && !strcmp(mode, "permissive"))
                set(it, CHECK_WARNING, xstrdup("SELinux is permissive (/etc/selinux/config)"),
                    xstrdup("set SELINUX=disabled in /etc/selinux/config, as ECS images do"));
        else
                set(it, CHECK_OK, xasprintf("/etc/selinux/config: SELINUX=%s", mode ? mode : "(unset)"), NULL);
        free(mode);
        free(cmd_selinux);
        free(cmd_enforcing);
}

static void item_qemu_ga(facts *f, check_item *it) {
        static const char *const bins[] = { "/usr/bin/qemu-ga", "/usr/sbin/qemu-ga",
                                            NULL };
        static const char *const units[] = { "qemu-guest-agent.service", "qemu-ga.service", NULL };
        sbuf b = { 0 };
        const char *bin = v_first(&f->v, bins);
        if (bin) sb_item(&b, "%s", bin);
        for (size_t i = 0; units[i]; i++)
                if (unit_file_exists(&f->v, units[i])) sb_item(&b, "unit %s", units[i]);
        if (v_exists(&f->v, "/etc/rc.d/init.d/qemu-ga") || v_exists(&f->v, "/etc/init.d/qemu-guest-agent"))
                sb_item(&b, "SysV init script");
        if (b.len)
                set(it, CHECK_FAILED, xasprintf("qemu-guest-agent is installed: %s", b.s),
                    xstrdup("remove it (yum remove qemu-guest-agent / apt-get purge qemu-guest-agent): ECS "
                            "services need the virtio serial channel it takes"));
        else
                set(it, CHECK_OK, xstrdup("qemu-guest-agent is not installed"), NULL);
        free(b.s);
}

static void item_network(facts *f, check_item *it) {
        view *v = &f->v;
        char *w = NULL;
        if (svc_on(v, "NetworkManager.service", &w)) {
                set(it, CHECK_FAILED, xasprintf("NetworkManager is enabled (%s)", w),
                    xstrdup(f->prof->el7_network
                                    ? "systemctl disable NetworkManager; chkconfig network on"
                                    : "systemctl disable NetworkManager and let ifupdown/networkd or the "
                                      "network service manage eth0"));
                free(w);
                return;
        }
        free(w);
        w = NULL;
        bool network = svc_on(v, "network.service", &w);
        char *ifcfg_desc = NULL;
        enum check_status ifcfg_st = CHECK_OK;
        const char *ifcfg = v_read(v, "/etc/sysconfig/network-scripts/ifcfg-eth0", NULL);
        if (ifcfg) {
                char *bp = kv_get(ifcfg, "BOOTPROTO");
                char *onboot = kv_get(ifcfg, "ONBOOT");
                if (!bp || strcasecmp(bp, "dhcp") || (onboot && strcasecmp(onboot, "yes"))) {
                        ifcfg_st = CHECK_WARNING;
                        ifcfg_desc = xasprintf("ifcfg-eth0 has BOOTPROTO=%s ONBOOT=%s (ECS needs DHCP)",
                                               bp ? bp : "(unset)", onboot ? onboot : "(unset)");
                } else {
                        ifcfg_desc = xstrdup("ifcfg-eth0: DHCP, ONBOOT=yes");
                }
                free(bp);
                free(onboot);
        } else {
                ifcfg_st = CHECK_WARNING;
                ifcfg_desc = xstrdup("no /etc/sysconfig/network-scripts/ifcfg-eth0 (left to cloud-init)");
        }
        if (network) {
                set(it, ifcfg_st, xasprintf("network service enabled (%s); NetworkManager not enabled; %s", w,
                                            ifcfg_desc),
                    xstrdup("write /etc/sysconfig/network-scripts/ifcfg-eth0 with DEVICE=eth0 BOOTPROTO=dhcp "
                            "ONBOOT=yes"));
                free(w);
                free(ifcfg_desc);
                return;
        }
        free(w);
        free(ifcfg_desc);
        w = NULL;
        const char *alt = NULL;
        if (svc_on(v, "networking.service", &w)) alt = "ifupdown (networking.service)";
        else if (free(w), w = NULL, svc_on(v, "systemd-networkd.service", &w)) alt = "systemd-networkd";
        if (alt && !f->prof->el7_network)
                set(it, CHECK_WARNING,
                    xasprintf("network brought up by %s (%s), not the EL7 network service; fine for this "
                              "profile, ECS's own configuration expects /etc/sysconfig/network-scripts",
                              alt, w),
                    xstrdup("for an ECS image use the network service with ifcfg-eth0 (DHCP)"));
        else if (alt)
                set(it, CHECK_FAILED,
                    xasprintf("network brought up by %s (%s), the EL7 network service is not enabled", alt, w),
                    xstrdup("install initscripts, chkconfig network on, write ifcfg-eth0 with BOOTPROTO=dhcp"));
        else
                set(it, CHECK_FAILED, xstrdup("no network service enabled (network, networking, systemd-networkd)"),
                    xstrdup(f->prof->el7_network ? "chkconfig network on (initscripts) and write ifcfg-eth0 "
                                                   "with BOOTPROTO=dhcp"
                                                 : "enable networking.service (ifupdown) or systemd-networkd"));
        free(w);
}

/* sshd semantics: the first value of a keyword wins, Match blocks aside. */
static char *sshd_option(view *v, const char *path, const char *key, int depth) {
        const char *cfg = v_read(v, path, NULL);
        if (!cfg || depth > 3) return NULL;
        char *copy = xstrdup(cfg), *save = NULL, *res = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l && !res; l = strtok_r(NULL, "\n", &save)) {
                char *t = trim(l);
                if (!*t || *t == '#') continue;
                if (!strncasecmp(t, "Match", 5) && isspace((unsigned char)t[5])) break;
                size_t kl = strcspn(t, " \t=");
                char *val = trim(t + kl + strspn(t + kl, " \t="));
                if (kl == 7 && !strncasecmp(t, "Include", 7)) {
                        /* only the common "DIR/<glob>.conf" form */
                        char *pat = xstrdup(val);
                        char *star = strstr(pat, "/*.conf");
                        if (star) {
                                *star = '\0';
                                char *dir = pat[0] == '/' ? xstrdup(pat) : xasprintf("/etc/ssh/%s", pat);
                                char **l2 = v_ls(v, dir);
                                for (size_t i = 0; l2 && l2[i] && !res; i++)
                                        if (str_endswith(l2[i], ".conf")) {
                                                char *p = xasprintf("%s/%s", dir, l2[i]);
                                                res = sshd_option(v, p, key, depth + 1);
                                                free(p);
                                        }
                                free(dir);
                        }
                        free(pat);
                        continue;
                }
                if (kl == strlen(key) && !strncasecmp(t, key, kl)) res = xstrdup(val);
        }
        free(copy);
        return res;
}

static void item_ssh(facts *f, check_item *it) {
        view *v = &f->v;
        static const char *const bins[] = { "/usr/sbin/sshd", "/usr/bin/sshd", NULL };
        if (!v_first(v, bins)) {
                set(it, CHECK_FAILED, xstrdup("sshd is not installed (/usr/sbin/sshd)"),
                    xstrdup("install openssh-server and enable sshd"));
                return;
        }
        char *w = NULL;
        bool on = svc_on(v, "sshd.service", &w);
        if (!on) {
                free(w);
                on = svc_on(v, "ssh.service", &w);
        }
        if (!on) {
                set(it, CHECK_FAILED, xstrdup("sshd is installed but not enabled"),
                    xstrdup("systemctl enable sshd (Debian: ssh)"));
                free(w);
                return;
        }
        char *prl = sshd_option(v, "/etc/ssh/sshd_config", "PermitRootLogin", 0);
        if (prl && !strcasecmp(prl, "no"))
                set(it, CHECK_WARNING, xasprintf("sshd enabled (%s) but PermitRootLogin %s", w, prl),
                    xstrdup("do not set PermitRootLogin no: ECS logs in as root with the password or key pair "
                            "it sets"));
        else
                set(it, CHECK_OK, xasprintf("sshd enabled (%s)%s%s", w, prl ? "; PermitRootLogin " : "",
                                            prl ? prl : ""),
                    NULL);
        free(prl);
        free(w);
}

static void item_firewall(facts *f, check_item *it) {
        static const char *const units[] = { "firewalld.service", "iptables.service", "ip6tables.service",
                                             "nftables.service", "ufw.service", "SuSEfirewall2.service", NULL };
        sbuf b = { 0 };
        for (size_t i = 0; units[i]; i++) {
                char *w = NULL;
                if (svc_on(&f->v, units[i], &w)) {
                        if (!strcmp(units[i], "ufw.service")) {
                                char *en = kv_get(v_read(&f->v, "/etc/ufw/ufw.conf", NULL), "ENABLED");
                                bool active = en && !strcasecmp(en, "yes");
                                free(en);
                                if (!active) {
                                        free(w);
                                        continue;
                                }
                        }
                        sb_item(&b, "%s (%s)", units[i], w);
                }
                free(w);
        }
        if (b.len)
                set(it, CHECK_FAILED, xasprintf("firewall enabled: %s", b.s),
                    xstrdup("disable it (systemctl disable firewalld iptables ip6tables nftables; ufw disable): "
                            "ECS security groups filter traffic and TCP 22 must be reachable"));
        else
                set(it, CHECK_OK, xstrdup("no firewall service enabled (firewalld, iptables, nftables, ufw)"),
                    NULL);
        free(b.s);
}

static bool has_feature(const char *features, const char *feat) {
        if (!features) return false;
        char *copy = xstrdup(features), *save = NULL;
        bool r = false;
        for (char *t = strtok_r(copy, " \t", &save); t && !r; t = strtok_r(NULL, " \t", &save))
                r = !strcmp(t, feat);
        free(copy);
        return r;
}

static void item_filesystem(facts *f, check_item *it) {
        const char *t = f->root_fstype ? f->root_fstype : "unknown";
        if (!strcmp(t, "ext4") && has_feature(f->root_features, "64bit")) {
                set(it, CHECK_FAILED, xasprintf("root filesystem %s is ext4 with the 64bit feature", f->root),
                    xstrdup("make it with mkfs.ext4 -O ^64bit (the feature cannot be removed in place: "
                            "resize2fs -s needs an unmounted, shrinkable filesystem)"));
                return;
        }
        if (!strcmp(t, "xfs") || !strcmp(t, "ext3") || !strcmp(t, "ext4")) {
                static const char *const el7_unknown[] = { "metadata_csum", "metadata_csum_seed", "orphan_file",
                                                           "large_dir", "ea_inode", "casefold", "encrypt",
                                                           "verity", "stable_inodes", "fast_commit", NULL };
                sbuf b = { 0 };
                for (size_t i = 0; f->prof->el7_network && el7_unknown[i]; i++)
                        if (has_feature(f->root_features, el7_unknown[i])) sb_item(&b, "%s", el7_unknown[i]);
                if (b.len) {
                        set(it, CHECK_WARNING,
                            xasprintf("root filesystem %s is %s with features EL7's e2fsprogs 1.42 does not know: "
                                      "%s (boot-time fsck and resize2fs fail)", f->root, t, b.s),
                            xasprintf("make it with mkfs.ext4 -O ^64bit,^%s", b.s));
                        free(b.s);
                        return;
                }
                set(it, CHECK_OK, xasprintf("root filesystem %s is %s%s", f->root, t,
                                            !strcmp(t, "ext4") ? " without the 64bit feature" : ""),
                    NULL);
        } else if (!strcmp(t, "ext2")) {
                set(it, CHECK_WARNING, xasprintf("root filesystem %s is ext2 (allowed, no journal)", f->root),
                    xstrdup("use ext4 (without 64bit), ext3 or xfs"));
        } else {
                set(it, CHECK_FAILED, xasprintf("root filesystem %s is %s", f->root, t),
                    xstrdup("use xfs, ext3 or ext4 (without 64bit): ECS cannot resize other filesystems"));
        }
}

static bool is_disk_name(const char *dev) {
        static const char *const pfx[] = { "/dev/sd", "/dev/vd", "/dev/hd", "/dev/xvd", "/dev/nvme", NULL };
        for (size_t i = 0; pfx[i]; i++)
                if (str_startswith(dev, pfx[i])) return true;
        return false;
}

/* Does a device spec (UUID=…, LABEL=…, /dev/disk/by-uuid/…) name the root fs? */
static bool spec_matches_root(facts *f, const char *spec) {
        if (str_startswith(spec, "UUID=")) return f->root_uuid && !strcasecmp(spec + 5, f->root_uuid);
        if (str_startswith(spec, "/dev/disk/by-uuid/"))
                return f->root_uuid && !strcasecmp(spec + 18, f->root_uuid);
        if (str_startswith(spec, "LABEL=")) return f->root_label && !strcmp(spec + 6, f->root_label);
        return true; /* PARTUUID=, /dev/mapper/…: not checked */
}

static void item_device_id(facts *f, check_item *it) {
        view *v = &f->v;
        sbuf bad = { 0 }, good = { 0 }, warn = { 0 };
        const char *fstab = v_read(v, "/etc/fstab", NULL);
        bool root_seen = false;
        if (!fstab) sb_item(&warn, "no /etc/fstab");
        char *copy = xstrdup(fstab ? fstab : ""), *save = NULL;
        int lineno = 0;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                lineno++;
                char *t = trim(l);
                if (!*t || *t == '#') continue;
                char spec[512] = "", mp[512] = "";
                if (sscanf(t, "%511s %511s", spec, mp) < 2) continue;
                if (is_disk_name(spec)) {
                        sb_item(&bad, "/etc/fstab: %s %s by device name", spec, mp);
                        continue;
                }
                if (!strcmp(mp, "/")) {
                        root_seen = true;
                        if (!spec_matches_root(f, spec))
                                sb_item(&bad, "/etc/fstab: / is %s but the root filesystem's UUID is %s", spec,
                                        f->root_uuid ? f->root_uuid : "unknown");
                        else
                                sb_item(&good, "fstab / by %s", spec);
                }
        }
        free(copy);
        if (fstab && !root_seen) sb_item(&warn, "/etc/fstab has no entry for /");
        if (!f->grub_cfg) {
                sb_item(&bad, "no GRUB 2 configuration (/boot/grub2/grub.cfg, /boot/grub/grub.cfg)");
        } else if (!f->have_entry) {
                sb_item(&bad, "%s has no usable default entry", f->grub_cfg);
        } else {
                char *root = cmdline_get(f->entry.cmdline, "root");
                if (!root) sb_item(&bad, "%s: default entry has no root= parameter", f->grub_cfg);
                else if (is_disk_name(root))
                        sb_item(&bad, "%s: root=%s by device name", f->grub_cfg, root);
                else if (!spec_matches_root(f, root))
                        sb_item(&bad, "%s: root=%s but the root filesystem's UUID is %s", f->grub_cfg, root,
                                f->root_uuid ? f->root_uuid : "unknown");
                else
                        sb_item(&good, "boot loader root=%s", root);
                free(root);
        }
        if (bad.len)
                set(it, CHECK_FAILED, xasprintf("%s", bad.s),
                    xasprintf("refer to filesystems by UUID (UUID=%s) in /etc/fstab and root= of the boot loader "
                              "(grub2-mkconfig): ECS disks are /dev/vda, names change",
                              f->root_uuid ? f->root_uuid : "…"));
        else if (warn.len)
                set(it, CHECK_WARNING, xasprintf("%s%s%s", warn.s, good.len ? "; " : "", good.len ? good.s : ""),
                    xasprintf("add \"UUID=%s / %s defaults 0 0\" to /etc/fstab", f->root_uuid ? f->root_uuid : "…",
                              f->root_fstype ? f->root_fstype : "ext4"));
        else
                set(it, CHECK_OK, xasprintf("%s", good.s ? good.s : ""), NULL);
        free(bad.s);
        free(good.s);
        free(warn.s);
}

static void item_root(facts *f, check_item *it) {
        const char *pw = v_read(&f->v, "/etc/passwd", NULL);
        bool found = false;
        char *uid = NULL;
        for (const char *l = pw; l && *l && !found;) {
                if (str_startswith(l, "root:")) {
                        found = true;
                        const char *p = strchr(l + 5, ':');
                        if (p) uid = xstrndup(p + 1, strcspn(p + 1, ":\n"));
                }
                l = strchr(l, '\n');
                if (l) l++;
        }
        if (!pw)
                set(it, CHECK_FAILED, xstrdup("/etc/passwd is missing"), xstrdup("restore /etc/passwd"));
        else if (!found)
                set(it, CHECK_FAILED, xstrdup("no root account in /etc/passwd"),
                    xstrdup("keep the root account (root:x:0:0:root:/root:/bin/bash)"));
        else if (!uid || strcmp(uid, "0"))
                set(it, CHECK_FAILED, xasprintf("root has uid %s", uid ? uid : "(none)"),
                    xstrdup("root must have uid 0"));
        else
                set(it, CHECK_OK, xstrdup("root account present (uid 0)"), NULL);
        free(uid);
}

static void item_passwd(facts *f, check_item *it) {
        static const char *const bins[] = { "/usr/bin/passwd", "/bin/passwd", NULL };
        const char *b = v_first(&f->v, bins);
        if (b) set(it, CHECK_OK, xasprintf("%s present", b), NULL);
        else
                set(it, CHECK_FAILED, xstrdup("no passwd command (/usr/bin/passwd)"),
                    xstrdup("install passwd (EL: passwd; Debian: passwd): ECS sets passwords with it"));
}

static void item_partition_table(facts *f, check_item *it) {
        if (!f->parttype)
                set(it, CHECK_FAILED, xasprintf("no partition table on the disk (filesystem on the whole disk)"),
                    xstrdup("use an MBR (msdos) partition table with the root filesystem on a partition"));
        else if (!strcmp(f->parttype, "msdos"))
                set(it, CHECK_OK, xstrdup("MBR (msdos) partition table"), NULL);
        else
                set(it, CHECK_FAILED, xasprintf("%s partition table", !strcmp(f->parttype, "gpt") ? "GPT" : f->parttype),
                    xstrdup("use an MBR (msdos) partition table: ECS boots imported images by BIOS"));
}

static void item_lvm(facts *f, check_item *it) {
        if (f->lvm)
                set(it, CHECK_FAILED, xasprintf("LVM in use: %s", f->lvm),
                    xstrdup("put the root filesystem directly on a partition (no LVM)"));
        else
                set(it, CHECK_OK, xstrdup("no LVM"), NULL);
}

static void item_root_partition(facts *f, check_item *it) {
        if (!f->root_partnum) {
                set(it, CHECK_FAILED, xasprintf("root filesystem %s is not on a partition of the disk", f->root),
                    xstrdup("use one partition holding the root filesystem"));
                return;
        }
        const part_fact *rp = NULL, *last = NULL;
        for (size_t i = 0; i < f->n_parts; i++) {
                if (f->parts[i].num == f->root_partnum) rp = &f->parts[i];
                if (!last || f->parts[i].end > last->end) last = &f->parts[i];
        }
        sbuf others = { 0 };
        for (size_t i = 0; i < f->n_parts; i++)
                if (&f->parts[i] != rp)
                        sb_item(&others, "partition %d (%s, %" PRIu64 " MiB)", f->parts[i].num,
                                f->parts[i].fstype ? f->parts[i].fstype : "no filesystem",
                                (f->parts[i].end - f->parts[i].start + 1) / MIB);
        if (rp && last && rp != last)
                set(it, CHECK_FAILED,
                    xasprintf("root partition %d is not the last one (partition %d follows it): cloud-init's "
                              "growpart cannot grow it", rp->num, last->num),
                    xstrdup("make the root partition the last one on the disk"));
        else if (others.len)
                set(it, CHECK_WARNING, xasprintf("root is partition %d; other partitions: %s", f->root_partnum, others.s),
                    xstrdup("ECS supports a single root partition only"));
        else
                set(it, CHECK_OK, xasprintf("single root partition %d, the last one", f->root_partnum), NULL);
        free(others.s);
}

static void item_lib(facts *f, check_item *it) {
        sbuf bad = { 0 }, ok = { 0 };
        static const char *const libs[] = { "/lib", "/lib64", NULL };
        for (size_t i = 0; libs[i]; i++) {
                enum vtype t = v_type(&f->v, libs[i]);
                if (t == V_LINK) {
                        const char *l = v_readlink(&f->v, libs[i]);
                        if (l && l[0] == '/') sb_item(&bad, "%s -> %s (absolute)", libs[i], l);
                        else sb_item(&ok, "%s -> %s", libs[i], l ? l : "?");
                } else if (t == V_DIR) {
                        sb_item(&ok, "%s is a directory", libs[i]);
                }
        }
        if (bad.len)
                set(it, CHECK_FAILED, xasprintf("%s", bad.s),
                    xstrdup("make the links relative, e.g. ln -sfn usr/lib /lib; ln -sfn usr/lib64 /lib64"));
        else
                set(it, CHECK_OK, xasprintf("%s", ok.len ? ok.s : "no /lib, /lib64"), NULL);
        free(bad.s);
        free(ok.s);
}

static void item_disk_size(facts *f, check_item *it) {
        double g = (double)f->vsize / (double)GIB;
        if (f->vsize < 5 * GIB || f->vsize > 500 * GIB)
                set(it, CHECK_FAILED, xasprintf("virtual size %.1f GiB is outside ECS's 5-500 GiB", g),
                    xstrdup("resize the image (qemu-img resize) to 20-500 GiB, then grow the partition"));
        else if (f->vsize < 20 * GIB)
                set(it, CHECK_WARNING, xasprintf("virtual size %.1f GiB (ECS system disks are 20-500 GiB)", g),
                    xstrdup("make the image at least 20 GiB (qemu-img resize), or import with a larger "
                            "system disk"));
        else
                set(it, CHECK_OK, xasprintf("virtual size %.1f GiB", g), NULL);
}

static void item_disk_usage(facts *f, check_item *it) {
        if (!f->have_statvfs) {
                set(it, CHECK_FAILED, xstrdup("cannot read the root filesystem's usage"), xstrdup("run fsck"));
                return;
        }
        uint64_t used = f->blocks - f->bfree, avail = f->bavail * f->bsize;
        double pct = used + f->bavail ? 100.0 * (double)used / (double)(used + f->bavail) : 100.0;
        char *found = xasprintf("root filesystem %.0f%% used, %" PRIu64 " MiB available", pct, avail / MIB);
        if (avail < 256 * MIB || pct >= 95)
                set(it, CHECK_FAILED, found,
                    xstrdup("free space or grow the filesystem: ECS installs drivers and agents at first boot"));
        else if (avail < GIB || pct >= 85)
                set(it, CHECK_WARNING, found, xstrdup("leave at least 1 GiB free on the root filesystem"));
        else
                set(it, CHECK_OK, found, NULL);
}

static void item_inode_usage(facts *f, check_item *it) {
        if (!f->have_statvfs || f->files == 0) {
                set(it, CHECK_OK, xstrdup("the filesystem allocates inodes dynamically"), NULL);
                return;
        }
        uint64_t used = f->files - f->ffree;
        double pct = 100.0 * (double)used / (double)f->files;
        char *found = xasprintf("%" PRIu64 " of %" PRIu64 " inodes used (%.0f%%), %" PRIu64 " free", used, f->files,
                                pct, f->ffree);
        if (f->ffree < 1000 || pct >= 95)
                set(it, CHECK_FAILED, found, xstrdup("delete files or make the filesystem with more inodes "
                                                     "(mkfs -N/-i)"));
        else if (pct >= 85)
                set(it, CHECK_WARNING, found, xstrdup("keep inode usage below 85%"));
        else
                set(it, CHECK_OK, found, NULL);
}

/* datasource_list of cloud-init's config (last setting wins); NULL if unset. */
static char **cloud_datasources(view *v, char **ret_where) {
        char **files = NULL;
        strv_push(&files, xstrdup("/etc/cloud/cloud.cfg"));
        char **d = v_ls(v, "/etc/cloud/cloud.cfg.d");
        for (size_t i = 0; d && d[i]; i++)
                if (str_endswith(d[i], ".cfg")) strv_push(&files, xasprintf("/etc/cloud/cloud.cfg.d/%s", d[i]));
        char **res = NULL;
        *ret_where = NULL;
        for (size_t i = 0; files && files[i]; i++) {
                const char *c = v_read(v, files[i], NULL);
                for (const char *l = c; l && *l;) {
                        const char *e = strchr(l, '\n');
                        size_t n = e ? (size_t)(e - l) : strlen(l);
                        if (!strncmp(l, "datasource_list:", 16)) {
                                char **list = xcalloc(1, sizeof(char *));
                                char *val = xstrndup(l + 16, n - 16);
                                char *t = trim(val);
                                char *hash = strchr(t, '#');
                                if (hash) *hash = '\0';
                                t = trim(t);
                                if (*t == '[') { /* flow sequence */
                                        char *save = NULL;
                                        for (char *tok = strtok_r(t + 1, ",]", &save); tok;
                                             tok = strtok_r(NULL, ",]", &save)) {
                                                char *x = trim(tok);
                                                size_t xl = strlen(x);
                                                if (xl >= 2 && (x[0] == '"' || x[0] == '\'')) {
                                                        x[xl - 1] = '\0';
                                                        x++;
                                                }
                                                if (*x) strv_push(&list, xstrdup(x));
                                        }
                                } else { /* block sequence on the following lines */
                                        const char *m = e ? e + 1 : NULL;
                                        while (m && *m) {
                                                const char *me = strchr(m, '\n');
                                                size_t mn = me ? (size_t)(me - m) : strlen(m);
                                                char *ml = xstrndup(m, mn);
                                                char *mt = trim(ml);
                                                if (*mt == '-') {
                                                        char *x = trim(mt + 1);
                                                        size_t xl = strlen(x);
                                                        if (xl >= 2 && (x[0] == '"' || x[0] == '\'')) {
                                                                x[xl - 1] = '\0';
                                                                x++;
                                                        }
                                                        strv_push(&list, xstrdup(x));
                                                } else if (*mt && *mt != '#') {
                                                        free(ml);
                                                        break;
                                                }
                                                free(ml);
                                                m = me ? me + 1 : NULL;
                                        }
                                }
                                free(val);
                                strv_free(res);
                                res = list;
                                free(*ret_where);
                                *ret_where = xstrdup(files[i]);
                        }
                        l = e ? e + 1 : NULL;
                }
        }
        strv_free(files);
        return res;
}

static void item_cloud_init(facts *f, check_item *it) {
        view *v = &f->v;
        static const char *const bins[] = { "/usr/bin/cloud-init", "/bin/cloud-init", "/usr/local/bin/cloud-init",
                                            NULL };
        const char *ds = f->prof->datasource;
        if (!v_first(v, bins)) {
                set(it, CHECK_FAILED, xstrdup("cloud-init is not installed"),
                    xasprintf("install cloud-init with datasource_list: [ %s ] (Alibaba's \"Install cloud-init\")",
                              ds));
                return;
        }
        if (v_exists(v, "/etc/cloud/cloud-init.disabled")) {
                set(it, CHECK_FAILED, xstrdup("cloud-init is disabled by /etc/cloud/cloud-init.disabled"),
                    xstrdup("remove /etc/cloud/cloud-init.disabled"));
                return;
        }
        static const char *const units[] = { "cloud-init-local.service", "cloud-init.service", "cloud-config.service",
                                             "cloud-final.service", NULL };
        sbuf off = { 0 };
        for (size_t i = 0; units[i]; i++) {
                char *w = NULL;
                if (!svc_on(v, units[i], &w)) sb_item(&off, "%s", units[i]);
                free(w);
        }
        if (off.len) {
                set(it, CHECK_FAILED, xasprintf("cloud-init installed but not enabled: %s", off.s),
                    xstrdup("systemctl enable cloud-init-local cloud-init cloud-config cloud-final"));
                free(off.s);
                return;
        }
        char *where = NULL;
        char **list = cloud_datasources(v, &where);
        sbuf b = { 0 };
        for (size_t i = 0; list && list[i]; i++) sb_add(&b, "%s%s", i ? ", " : "", list[i]);
        if (!list)
                set(it, CHECK_WARNING,
                    xasprintf("cloud-init enabled; no datasource_list: cloud-init probes every datasource "
                              "(needs ds-identify to find %s)", ds),
                    xasprintf("set datasource_list: [ %s ] in /etc/cloud/cloud.cfg.d/", ds));
        else if (!strv_contains(list, ds))
                set(it, CHECK_FAILED,
                    xasprintf("cloud-init enabled, but datasource_list [ %s ] (%s) lacks %s", b.s ? b.s : "", where,
                              ds),
                    xasprintf("add %s to datasource_list in %s", ds, where));
        else
                set(it, CHECK_OK, xasprintf("cloud-init enabled, datasource_list [ %s ] (%s)", b.s, where), NULL);
        free(b.s);
        strv_free(list);
        free(where);
}

static void item_growpart(facts *f, check_item *it) {
        static const char *const bins[] = { "/usr/bin/growpart", "/bin/growpart", "/usr/sbin/growpart", NULL };
        const char *b = v_first(&f->v, bins);
        if (b) set(it, CHECK_OK, xasprintf("%s present (cloud-utils-growpart)", b), NULL);
        else if (f->prof->growpart_required)
                set(it, CHECK_FAILED, xstrdup("growpart is not installed: the root partition will not grow to "
                                              "the system disk's size"),
                    xstrdup("install cloud-utils-growpart"));
        else
                set(it, CHECK_WARNING, xstrdup("growpart is not installed: the root partition will not grow to "
                                               "the disk's size (the on-premise profile allows it)"),
                    xstrdup("install cloud-utils-growpart (Debian: cloud-guest-utils)"));
}

static const char *rpmdb_kind(view *v, const char *path) {
        size_t n = 0;
        ventry *e = v_get(v, path);
        if (e->type != V_FILE) return NULL;
        char *d = guestfs_pread(v->g, path, 16, 0, &n);
        const char *k = "unknown";
        if (d && n >= 16) {
                const unsigned char *u = (const unsigned char *)d;
                uint32_t le = u[12] | u[13] << 8 | u[14] << 16 | (uint32_t)u[15] << 24;
                uint32_t be = be32(u + 12);
                if (le == 0x061561 || be == 0x061561 || le == 0x053162 || be == 0x053162) k = "bdb";
                else if (!memcmp(d, "SQLite format 3", 15)) k = "sqlite";
                else if (!memcmp(d, "\x1a\x01\x7a\x72", 4) || n >= 4) k = "unknown";
        }
        free(d);
        return k;
}

static void item_rpmdb(facts *f, check_item *it) {
        view *v = &f->v;
        const char *pk = rpmdb_kind(v, "/var/lib/rpm/Packages");
        const char *sq = rpmdb_kind(v, "/var/lib/rpm/rpmdb.sqlite");
        if (!sq) sq = rpmdb_kind(v, "/usr/lib/sysimage/rpm/rpmdb.sqlite");
        const char *want = f->rpmdb_want;
        bool bdb = pk && !strcmp(pk, "bdb"), sqlite = sq && !strcmp(sq, "sqlite");
        sbuf found = { 0 };
        if (pk) sb_item(&found, "/var/lib/rpm/Packages (%s)", !strcmp(pk, "bdb") ? "Berkeley DB" : "unrecognised");
        if (sq) sb_item(&found, "rpmdb.sqlite (%s)", !strcmp(sq, "sqlite") ? "sqlite" : "unrecognised");
        if (!bdb && !sqlite) {
                char **l = v_ls(v, "/var/lib/rpm");
                sbuf in = { 0 };
                for (size_t i = 0; l && l[i] && i < 8; i++) sb_add(&in, "%s%s", i ? " " : "", l[i]);
                if (!found.len)
                        sb_item(&found, "%s", !l ? "no /var/lib/rpm" : in.len ? "/var/lib/rpm holds: " : "/var/lib/rpm is empty");
                if (in.len) sb_add(&found, "%s", in.s);
                free(in.s);
                set(it, CHECK_FAILED, xasprintf("no rpm database: %s", found.s),
                    xstrdup("the image needs /var/lib/rpm in the target's format (EL7: Berkeley DB Packages): "
                            "rpm -qa and yum see nothing otherwise"));
        } else if (want && !strcmp(want, "bdb") && !bdb) {
                set(it, CHECK_FAILED,
                    xasprintf("%s, but the target's rpm (4.11, EL7) reads only Berkeley DB /var/lib/rpm/Packages",
                              found.s),
                    xstrdup("write the rpmdb as Berkeley DB (Packages + indexes)"));
        } else if (want && !strcmp(want, "sqlite") && !sqlite) {
                set(it, CHECK_FAILED, xasprintf("%s, but the target's rpm reads sqlite", found.s),
                    xstrdup("write the rpmdb as sqlite (rpmdb.sqlite)"));
        } else if (bdb && (!want || !strcmp(want, "bdb"))) {
                static const char *const idx[] = { "Name", "Basenames", "Providename", NULL };
                sbuf miss = { 0 };
                for (size_t i = 0; idx[i]; i++) {
                        char *p = xasprintf("/var/lib/rpm/%s", idx[i]);
                        if (v_type(v, p) != V_FILE) sb_item(&miss, "%s", idx[i]);
                        free(p);
                }
                if (miss.len)
                        set(it, CHECK_WARNING,
                            xasprintf("%s without the index databases %s: rpm -q NAME and rpm -qf find nothing",
                                      found.s, miss.s),
                            xstrdup("write the index databases too (or run rpm --rebuilddb in the image)"));
                else
                        set(it, CHECK_OK, xasprintf("%s with its indexes", found.s), NULL);
                free(miss.s);
        } else {
                set(it, CHECK_OK, xasprintf("%s", found.s), NULL);
        }
        free(found.s);
}

static void item_machine_id(facts *f, check_item *it) {
        view *v = &f->v;
        sbuf bad = { 0 };
        size_t n = 0;
        const char *mid = v_read(v, "/etc/machine-id", &n);
        bool present = v_type(v, "/etc/machine-id") != V_ABSENT;
        if (mid && n > 0 && strcmp(mid, "uninitialized\n") && strcmp(mid, "\n"))
                sb_item(&bad, "/etc/machine-id is set (%.32s)", mid);
        if (v_type(v, "/var/lib/dbus/machine-id") == V_FILE) {
                const char *d = v_read(v, "/var/lib/dbus/machine-id", &n);
                if (d && n > 0) sb_item(&bad, "/var/lib/dbus/machine-id is set (%.32s)", d);
        }
        if (bad.len)
                set(it, CHECK_FAILED, xasprintf("%s: every instance would share it", bad.s),
                    xstrdup("truncate -s 0 /etc/machine-id; rm -f /var/lib/dbus/machine-id (or link it to "
                            "/etc/machine-id)"));
        else
                set(it, CHECK_OK, xstrdup(present ? "/etc/machine-id is empty (set at first boot)"
                                                  : "no /etc/machine-id (created at first boot)"),
                    NULL);
        free(bad.s);
}

static void item_ssh_host_keys(facts *f, check_item *it) {
        char **l = v_ls(&f->v, "/etc/ssh");
        sbuf b = { 0 };
        for (size_t i = 0; l && l[i]; i++)
                if (str_startswith(l[i], "ssh_host_") && strstr(l[i], "key")) sb_item(&b, "/etc/ssh/%s", l[i]);
        if (b.len)
                set(it, CHECK_FAILED, xasprintf("ssh host keys of the build are in the image: %s", b.s),
                    xstrdup("rm -f /etc/ssh/ssh_host_*: sshd makes new ones at first boot"));
        else
                set(it, CHECK_OK, xstrdup("no ssh host keys"), NULL);
        free(b.s);
}

static const struct item_def {
        const char *name;
        const char *title;
        void (*fn)(facts *f, check_item *it);
} item_defs[] = {
        { "driver", "driver", item_driver },
        { "shadow", "shadow file authority", item_shadow },
        { "selinux", "security", item_selinux },
        { "qemu-ga", "qemu-ga", item_qemu_ga },
        { "network", "network", item_network },
        { "ssh", "ssh", item_ssh },
        { "firewall", "firewall", item_firewall },
        { "filesystem", "filesystem", item_filesystem },
        { "device_id", "device id", item_device_id },
        { "root", "root account", item_root },
        { "passwd", "password", item_passwd },
        { "partition_table", "partition table", item_partition_table },
        { "lvm", "lvm", item_lvm },
        { "root_partition", "root partition", item_root_partition },
        { "lib", "lib", item_lib },
        { "disk_size", "disk size", item_disk_size },
        { "disk_usage", "disk use rate", item_disk_usage },
        { "inode_usage", "inode use rate", item_inode_usage },
        { "cloud_init", "cloud-init", item_cloud_init },
        { "growpart", "growpart", item_growpart },
        { "rpmdb", "rpm database", item_rpmdb },
        { "machine_id", "machine-id", item_machine_id },
        { "ssh_host_keys", "ssh host keys", item_ssh_host_keys },
};

/* ------------------------------------------------------------------ */
/* gathering                                                           */

/* LVM UUIDs, with or without their dashes. */
static bool uuid_eq(const char *a, const char *b) {
        for (;;) {
                while (*a == '-') a++;
                while (*b == '-') b++;
                if (*a != *b) return false;
                if (!*a) return true;
                a++;
                b++;
        }
}

/* A partition's disk by name: "/dev/sdb3" → "/dev/sdb", 3 (devs: the
 * session's whole devices).  NULL if name is no partition of them. */
static const char *partition_disk(char **devs, const char *name, int *ret_num) {
        for (size_t i = 0; devs && devs[i]; i++) {
                size_t l = strlen(devs[i]);
                const char *rest = name + l;
                if (strncmp(name, devs[i], l) || !*rest || strspn(rest, "0123456789") != strlen(rest)) continue;
                *ret_num = atoi(rest);
                return devs[i];
        }
        return NULL;
}

/* The disk and partition number a mountable lives on, through LVM. */
static char *mountable_disk(guestfs_h *g, char **devs, const char *m, bool *ret_lvm, int *ret_partnum) {
        *ret_lvm = false;
        *ret_partnum = 0;
        int pn = 0;
        const char *d = partition_disk(devs, m, &pn);
        if (d) {
                *ret_partnum = pn;
                return xstrdup(d);
        }
        if (strv_contains(devs, m)) return xstrdup(m);
        if (guestfs_is_lv(g, m) <= 0) return NULL;
        *ret_lvm = true;
        char *canon = guestfs_lvm_canonical_lv_name(g, m);
        char *vg = NULL, *pv = NULL;
        if (canon && str_startswith(canon, "/dev/")) {
                const char *s = canon + 5, *e = strchr(s, '/');
                if (e) vg = xstrndup(s, (size_t)(e - s));
        }
        free(canon);
        /* pvs_full's pv_name can be the device name the PV had when it was
         * made (measured: /dev/sda1 for a PV now on /dev/sdc1): map through
         * pvs + pvuuid instead. */
        char **uuids = vg ? guestfs_vgpvuuids(g, vg) : NULL;
        char **pvs = uuids ? guestfs_pvs(g) : NULL;
        for (size_t i = 0; pvs && pvs[i] && !pv; i++) {
                char *u = guestfs_pvuuid(g, pvs[i]);
                for (size_t k = 0; u && uuids[k] && !pv; k++)
                        if (uuid_eq(u, uuids[k])) pv = xstrdup(pvs[i]);
                free(u);
        }
        free_strings(pvs);
        free_strings(uuids);
        free(vg);
        if (!pv) return NULL;
        d = partition_disk(devs, pv, &pn);
        char *res = d ? xstrdup(d) : strv_contains(devs, pv) ? xstrdup(pv) : NULL;
        *ret_partnum = d ? pn : 0;
        free(pv);
        return res;
}

typedef struct session {
        guestfs_h *g;
        char **devs;            /* whole devices, in the order added */
        char **parts;           /* all partitions */
        char **lvs;             /* all logical volumes */
} session;

static void gather_disk(session *s, facts *f) {
        guestfs_h *g = s->g;
        int64_t sz = guestfs_blockdev_getsize64(g, f->dev);
        if (sz > 0) f->vsize = (uint64_t)sz;
        f->parttype = guestfs_part_get_parttype(g, f->dev);
        if (f->parttype && !strcmp(f->parttype, "loop")) { /* parted: a filesystem on the whole disk */
                free(f->parttype);
                f->parttype = NULL;
        }
        if (f->parttype) {
                struct guestfs_partition_list *pl = guestfs_part_list(g, f->dev);
                for (size_t i = 0; pl && i < pl->len; i++) {
                        part_fact p = { .num = pl->val[i].part_num, .start = pl->val[i].part_start,
                                        .end = pl->val[i].part_end };
                        for (size_t k = 0; s->parts && s->parts[k] && !p.dev; k++) {
                                int pn = 0;
                                const char *d = partition_disk(s->devs, s->parts[k], &pn);
                                if (d && !strcmp(d, f->dev) && pn == p.num) p.dev = xstrdup(s->parts[k]);
                        }
                        if (p.dev) {
                                char *t = guestfs_vfs_type(g, p.dev);
                                if (t && *t) p.fstype = t;
                                else free(t);
                        }
                        f->parts = xrealloc(f->parts, (f->n_parts + 1) * sizeof *f->parts);
                        f->parts[f->n_parts++] = p;
                        if (p.fstype && !strcmp(p.fstype, "LVM2_member")) {
                                char *old = f->lvm;
                                f->lvm = xasprintf("%s%sphysical volume %s", old ? old : "", old ? ", " : "", p.dev);
                                free(old);
                        }
                }
                if (pl) guestfs_free_partition_list(pl);
        } else {
                char *t = guestfs_vfs_type(g, f->dev);
                if (t && !strcmp(t, "LVM2_member")) f->lvm = xasprintf("physical volume %s (whole disk)", f->dev);
                free(t);
        }
}

static bool mountable_type(const char *t) {
        static const char *const ok[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "reiserfs", "jfs", "f2fs", NULL };
        for (size_t i = 0; t && ok[i]; i++)
                if (!strcmp(t, ok[i])) return true;
        return false;
}

/* Does the filesystem mounted at / look like a Linux root? */
static bool looks_like_root(guestfs_h *g) {
        return guestfs_is_dir(g, "/etc") > 0 &&
               (guestfs_is_file_opts(g, "/etc/fstab", GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1, -1) > 0 ||
                guestfs_exists(g, "/etc/os-release") > 0) &&
               (guestfs_exists(g, "/bin") > 0 || guestfs_exists(g, "/usr/bin") > 0);
}

/* Find the root filesystem of this disk, mount it read-only at /: partitions
 * in order, then logical volumes on it, then the whole disk.  (Our own
 * probe: guestfs_inspect_os takes ~30 s per disk under TCG.)  Returns 0 or
 * ERR_BAD_IMAGE with *ret_err. */
static int find_and_mount_root(session *s, facts *f, char **ret_err) {
        guestfs_h *g = s->g;
        char **cands = NULL;
        sbuf seen = { 0 };
        for (size_t i = 0; i < f->n_parts; i++)
                if (f->parts[i].dev && f->parts[i].fstype && strcmp(f->parts[i].fstype, "LVM2_member")) {
                        sb_item(&seen, "%s %s", f->parts[i].dev, f->parts[i].fstype);
                        if (mountable_type(f->parts[i].fstype)) strv_push(&cands, xstrdup(f->parts[i].dev));
                }
        for (size_t i = 0; f->lvm && s->lvs && s->lvs[i]; i++) {
                bool lv;
                int pn;
                char *d = mountable_disk(g, s->devs, s->lvs[i], &lv, &pn);
                log_debug("check: %s: logical volume %s is on %s", f->dev, s->lvs[i], d ? d : "(unknown)");
                if (d && !strcmp(d, f->dev)) {
                        char *t = guestfs_vfs_type(g, s->lvs[i]);
                        sb_item(&seen, "%s %s", s->lvs[i], t && *t ? t : "unknown");
                        if (mountable_type(t)) strv_push(&cands, xstrdup(s->lvs[i]));
                        free(t);
                }
                free(d);
        }
        if (!f->parttype && !f->lvm) {
                char *t = guestfs_vfs_type(g, f->dev);
                if (t && *t) sb_item(&seen, "%s %s", f->dev, t);
                if (mountable_type(t)) strv_push(&cands, xstrdup(f->dev));
                free(t);
        }
        sbuf mount_errs = { 0 };
        for (size_t i = 0; cands && cands[i] && !f->root; i++) {
                if (guestfs_mount_ro(g, cands[i], "/") < 0) {
                        sb_item(&mount_errs, "%s: %s", cands[i], guestfs_last_error(g) ?: "cannot mount");
                        continue;
                }
                if (looks_like_root(g)) f->root = xstrdup(cands[i]);
                else guestfs_umount_all(g);
        }
        strv_free(cands);
        int r = 0;
        if (!f->root) {
                *ret_err = xasprintf("no operating system found (filesystems: %s%s%s)", seen.len ? seen.s : "none",
                                     mount_errs.len ? "; not mountable: " : "", mount_errs.len ? mount_errs.s : "");
                r = ERR_BAD_IMAGE;
        }
        free(seen.s);
        free(mount_errs.s);
        return r;
}

static void gather_root(session *s, facts *f) {
        guestfs_h *g = s->g;
        bool lv = false;
        int pn = 0;
        char *disk = mountable_disk(g, s->devs, f->root, &lv, &pn);
        free(disk);
        f->root_partnum = pn;
        if (lv) {
                char *old = f->lvm;
                f->lvm = xasprintf("%s%sroot filesystem on logical volume %s", old ? old : "", old ? "; " : "",
                                   f->root);
                free(old);
        }
        f->root_fstype = guestfs_vfs_type(g, f->root);
        f->root_uuid = guestfs_vfs_uuid(g, f->root);
        f->root_label = guestfs_vfs_label(g, f->root);
        if (f->root_uuid && !*f->root_uuid) {
                free(f->root_uuid);
                f->root_uuid = NULL;
        }
        if (f->root_fstype && str_startswith(f->root_fstype, "ext")) {
                char **kv = guestfs_tune2fs_l(g, f->root);
                for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
                        if (!strcmp(kv[i], "Filesystem features")) f->root_features = xstrdup(kv[i + 1]);
                free_strings(kv);
        }
}

/* Separate /boot, /usr, /var of the same disk (by UUID= or LABEL= in fstab):
 * the boot loader files and the rpmdb may live there. */
static bool mount_others(session *s, facts *f) {
        static const char *const wanted[] = { "/boot", "/usr", "/var", NULL };
        const char *fstab = v_read(&f->v, "/etc/fstab", NULL);
        if (!fstab || f->n_parts < 2) return false;
        bool mounted = false;
        for (size_t w = 0; wanted[w]; w++) {
                char *copy = xstrdup(fstab), *save = NULL;
                for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                        char spec[512], mp[512];
                        if (sscanf(l, " %511s %511s", spec, mp) < 2 || spec[0] == '#' || strcmp(mp, wanted[w]))
                                continue;
                        for (size_t i = 0; i < f->n_parts; i++) {
                                const part_fact *p = &f->parts[i];
                                if (!p->dev || !mountable_type(p->fstype) || !strcmp(p->dev, f->root)) continue;
                                char *u = NULL, *lab = NULL;
                                bool match = false;
                                if (str_startswith(spec, "UUID=")) {
                                        u = guestfs_vfs_uuid(s->g, p->dev);
                                        match = u && !strcasecmp(u, spec + 5);
                                } else if (str_startswith(spec, "LABEL=")) {
                                        lab = guestfs_vfs_label(s->g, p->dev);
                                        match = lab && !strcmp(lab, spec + 6);
                                }
                                free(u);
                                free(lab);
                                if (match && guestfs_is_dir(s->g, mp) > 0 &&
                                    guestfs_mount_ro(s->g, p->dev, mp) == 0) {
                                        mounted = true;
                                        break;
                                }
                        }
                }
                free(copy);
        }
        if (mounted) { /* the view cached lookups under the mountpoints */
                guestfs_h *g = f->v.g;
                const char *tmp = f->v.tmpdir;
                view_done(&f->v);
                f->v.g = g;
                f->v.tmpdir = tmp;
        }
        return mounted;
}

/* Resolve a boot loader path: as is, or under /boot (separate /boot). */
static char *boot_path(view *v, const char *p) {
        if (!p || p[0] != '/') return NULL;
        if (v_is_file(v, p)) return xstrdup(p);
        char *b = xasprintf("/boot%s", p);
        if (v_is_file(v, b)) return b;
        free(b);
        return NULL;
}

static int cmp_ver_desc(const void *a, const void *b) {
        return strverscmp(*(char *const *)b, *(char *const *)a);
}

static void gather_boot(facts *f, const char *tmpdir) {
        view *v = &f->v;
        static const char *const cfgs[] = { "/boot/grub2/grub.cfg", "/boot/grub/grub.cfg", NULL };
        for (size_t i = 0; cfgs[i] && !f->grub_cfg; i++)
                if (v_is_file(v, cfgs[i])) f->grub_cfg = xstrdup(cfgs[i]);
        if (f->grub_cfg) {
                const char *cfg = v_read(v, f->grub_cfg, NULL);
                char *envp = xstrdup(f->grub_cfg);
                strcpy(strrchr(envp, '/') + 1, "grubenv");
                const char *env = v_read(v, envp, NULL);
                free(envp);
                if (cfg && grub_default_entry(cfg, env, &f->entry) == 0) f->have_entry = true;
        }
        if (f->have_entry) {
                f->kernel = boot_path(v, f->entry.kernel);
                f->initrds = xcalloc(1, sizeof(char *));
                for (size_t i = 0; f->entry.initrds && f->entry.initrds[i]; i++) {
                        char *p = boot_path(v, f->entry.initrds[i]);
                        if (p) strv_push(&f->initrds, p);
                        else if (!f->initrd_error)
                                f->initrd_error = xasprintf("%s (named by the boot entry) does not exist",
                                                            f->entry.initrds[i]);
                }
        }
        if (!f->kernel) { /* no usable boot entry: the newest kernel in /boot */
                char **l = v_ls(v, "/boot");
                char **ks = NULL;
                for (size_t i = 0; l && l[i]; i++)
                        if (str_startswith(l[i], "vmlinuz-") && !strstr(l[i], "rescue")) strv_push(&ks, xstrdup(l[i]));
                if (ks) {
                        qsort(ks, strv_length(ks), sizeof(char *), cmp_ver_desc);
                        f->kernel = xasprintf("/boot/%s", ks[0]);
                        const char *ver = ks[0] + 8;
                        char *cands[] = { xasprintf("/boot/initramfs-%s.img", ver), xasprintf("/boot/initrd.img-%s", ver),
                                          xasprintf("/boot/initrd-%s", ver), NULL };
                        strv_free(f->initrds);
                        f->initrds = xcalloc(1, sizeof(char *));
                        for (size_t i = 0; cands[i]; i++) {
                                if (f->initrds[0] == NULL && v_is_file(v, cands[i])) strv_push(&f->initrds, cands[i]);
                                else free(cands[i]);
                        }
                }
                strv_free(ks);
        }
        if (!f->kernel) return;
        const char *b = base_name(f->kernel);
        f->kver = xstrdup(str_startswith(b, "vmlinuz-") ? b + 8 : str_startswith(b, "vmlinux-") ? b + 8 : b);
        if (f->initrd_error) return;
        sbuf segs = { 0 };
        char *const keep[] = { (char *)"modules.builtin", NULL };
        f->initrd_names = xcalloc(1, sizeof(char *));
        for (size_t i = 0; f->initrds && f->initrds[i]; i++) {
                char *local = xasprintf("%s/initrd.XXXXXX", tmpdir);
                int fd = mkstemp(local);
                if (fd < 0) {
                        f->initrd_error = xasprintf("cannot make a temporary file: %s", strerror(errno));
                        free(local);
                        break;
                }
                close(fd);
                if (guestfs_download(v->g, f->initrds[i], local) < 0) {
                        f->initrd_error = xasprintf("download of %s failed: %s", f->initrds[i],
                                                    guestfs_last_error(v->g) ?: "unknown error");
                } else {
                        initramfs_listing *l = NULL;
                        char *reason = NULL;
                        int r = initramfs_list(local, keep, &l, &reason);
                        if (r < 0) {
                                f->initrd_error = xasprintf("%s: %s", f->initrds[i], reason ? reason : strerror(-r));
                        } else {
                                for (size_t k = 0; l->names[k]; k++) strv_push(&f->initrd_names, xstrdup(l->names[k]));
                                for (size_t k = 0; l->segments[k]; k++)
                                        sb_add(&segs, "%s%s", segs.len ? " + " : "", l->segments[k]);
                                if (l->kept_data[0] && !f->initrd_builtin) f->initrd_builtin = xstrdup(l->kept_data[0]);
                                initramfs_listing_free(l);
                        }
                        free(reason);
                }
                unlink(local);
                free(local);
                if (f->initrd_error) break;
        }
        f->initrd_segments = sb_take(&segs);
}

/* Name, distro id, version from os-release (or release files); arch from
 * the ELF header of the shell. */
static void gather_os(facts *f, check_report *r) {
        view *v = &f->v;
        const char *osr = v_read(v, "/etc/os-release", NULL);
        if (!osr) osr = v_read(v, "/usr/lib/os-release", NULL);
        r->os = kv_get(osr, "PRETTY_NAME");
        r->distro = kv_get(osr, "ID");
        r->version = kv_get(osr, "VERSION_ID");
        if (!r->os) {
                const char *rel = v_read(v, "/etc/redhat-release", NULL);
                if (rel) r->os = xstrndup(rel, strcspn(rel, "\n"));
        }
        static const char *const shells[] = { "/usr/bin/bash", "/bin/sh", "/usr/bin/ls", NULL };
        for (size_t i = 0; shells[i] && !r->arch; i++) {
                if (!v_exists(v, shells[i])) continue;
                size_t n = 0;
                char *h = guestfs_pread(v->g, shells[i], 20, 0, &n);
                if (h && n >= 20 && !memcmp(h, "\x7f" "ELF", 4)) {
                        unsigned m = (unsigned char)h[18] | (unsigned)(unsigned char)h[19] << 8;
                        r->arch = xstrdup(m == 0x3e ? "x86_64" : m == 0xb7 ? "aarch64" : m == 3 ? "i686"
                                          : m == 0x28 ? "arm" : m == 0xf3 ? "riscv64" : "unknown");
                }
                free(h);
                if (!r->arch) r->arch = xstrdup("unknown");
        }
}

static check_report *judge(facts *f, const char *path, const char *format) {
        check_report *r = xcalloc(1, sizeof *r);
        r->image = xstrdup(path);
        r->format = xstrdup(format);
        r->profile = xstrdup(f->prof->name);
        r->virtual_size = f->vsize;
        gather_os(f, r);
        r->n_items = sizeof item_defs / sizeof item_defs[0];
        r->items = xcalloc(r->n_items, sizeof *r->items);
        for (size_t i = 0; i < r->n_items; i++) {
                r->items[i].name = item_defs[i].name;
                r->items[i].title = item_defs[i].title;
                item_defs[i].fn(f, &r->items[i]);
        }
        return r;
}

static bool kvm_usable(void) {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) return false;
        close(fd);
        return true;
}

static int run_session(char *const *paths, char **formats, size_t n, const profile *prof,
                       const char *rpmdb_want, check_report **reports, char **errors, int *codes,
                       char **ret_global_error) {
        /* Only when KVM is unusable: a real build host with KVM keeps it. */
        if (!getenv("LIBGUESTFS_BACKEND_SETTINGS") && !kvm_usable())
                setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 1);
        guestfs_h *g = guestfs_create();
        if (!g) {
                *ret_global_error = xstrdup("cannot create a libguestfs handle");
                return -ENOMEM;
        }
        guestfs_set_error_handler(g, NULL, NULL);
        session s = { .g = g };
        int r = 0;
        size_t added = 0;
        size_t *idx = xcalloc(n + 1, sizeof *idx);
        char *tmpdir = NULL;
        for (size_t i = 0; i < n; i++) {
                if (!formats[i]) continue;
                if (guestfs_add_drive_opts(g, paths[i], GUESTFS_ADD_DRIVE_OPTS_FORMAT, formats[i],
                                           GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0) {
                        errors[i] = xasprintf("cannot add the image: %s", guestfs_last_error(g) ?: "?");
                        codes[i] = ERR_BAD_IMAGE;
                        continue;
                }
                idx[added++] = i;
        }
        if (added == 0) goto out;
        double t0 = now_seconds();
        log_info("check: starting the libguestfs appliance for %zu image%s%s", added, added > 1 ? "s" : "",
                 getenv("LIBGUESTFS_BACKEND_SETTINGS") ? " (TCG: no KVM)" : "");
        if (guestfs_launch(g) < 0) {
                *ret_global_error = xasprintf("the libguestfs appliance did not start: %s",
                                              guestfs_last_error(g) ?: "unknown error");
                r = interrupted() ? ERR_INTERRUPTED : ERR_BAD_IMAGE;
                goto out;
        }
        log_info("check: appliance up in %.1f s", now_seconds() - t0);
        s.devs = guestfs_list_devices(g);
        s.parts = guestfs_list_partitions(g);
        s.lvs = guestfs_lvs(g);
        if (!s.devs || strv_length(s.devs) < added) {
                *ret_global_error = xasprintf("the appliance lists no devices: %s", guestfs_last_error(g) ?: "?");
                r = ERR_BAD_IMAGE;
                goto out;
        }
        tmpdir = xasprintf("%s/imgbuild-check.XXXXXX", getenv("TMPDIR") ?: "/var/tmp");
        if (!mkdtemp(tmpdir)) {
                r = -errno;
                *ret_global_error = xasprintf("cannot make a temporary directory: %s", strerror(-r));
                free(tmpdir);
                tmpdir = NULL;
                goto out;
        }
        for (size_t a = 0; a < added; a++) {
                size_t i = idx[a];
                if (interrupted()) {
                        r = ERR_INTERRUPTED;
                        break;
                }
                double t1 = now_seconds();
                facts f = { .prof = prof, .rpmdb_want = rpmdb_want, .dev = xstrdup(s.devs[a]) };
                f.v.g = g;
                gather_disk(&s, &f);
                char *err = NULL;
                if (find_and_mount_root(&s, &f, &err) < 0) {
                        errors[i] = err;
                        codes[i] = ERR_BAD_IMAGE;
                        guestfs_umount_all(g);
                        facts_done(&f);
                        continue;
                }
                gather_root(&s, &f);
                f.v.tmpdir = tmpdir;
                view_prefetch(&f.v);
                if (mount_others(&s, &f)) view_prefetch(&f.v);
                log_debug("check: %s: prefetched %zu paths in %.1f s, %u calls", paths[i], f.v.n,
                          now_seconds() - t1, f.v.calls);
                struct guestfs_statvfs *st = guestfs_statvfs(g, "/");
                if (st) {
                        f.have_statvfs = true;
                        f.bsize = (uint64_t)(st->frsize ? st->frsize : st->bsize);
                        f.blocks = (uint64_t)st->blocks;
                        f.bfree = (uint64_t)st->bfree;
                        f.bavail = (uint64_t)st->bavail;
                        f.files = (uint64_t)st->files;
                        f.ffree = (uint64_t)st->ffree;
                        guestfs_free_statvfs(st);
                }
                gather_boot(&f, tmpdir);
                reports[i] = judge(&f, paths[i], formats[i]);
                codes[i] = 0;
                log_info("check: %s (%s, root %s) checked in %.1f s (%u view calls)", paths[i], f.dev, f.root,
                         now_seconds() - t1, f.v.calls);
                guestfs_umount_all(g);
                facts_done(&f);
        }
        guestfs_shutdown(g);
out:
        if (tmpdir) {
                rm_rf(tmpdir);
                free(tmpdir);
        }
        free_strings(s.devs);
        free_strings(s.parts);
        free_strings(s.lvs);
        guestfs_close(g);
        free(idx);
        return r;
}

int check_run(char *const *paths, size_t n, const check_options *opts, check_report **ret_reports,
              char **ret_errors, int *ret_codes) {
        const profile *prof = profile_get(opts ? opts->profile : NULL);
        if (!prof) return ERR_INPUT;
        const char *rpmdb_want = opts && opts->rpmdb_format ? opts->rpmdb_format : prof->rpmdb;
        char **formats = xcalloc(n + 1, sizeof(char *));
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
                ret_reports[i] = NULL;
                ret_errors[i] = NULL;
                ret_codes[i] = 0;
                uint64_t vs = 0;
                int r = check_probe_format(paths[i], &formats[i], &vs, &ret_errors[i]);
                if (r < 0) ret_codes[i] = r;
                else ok++;
        }
        int r = 0;
        if (ok > 0) {
                char *gerr = NULL;
                r = run_session(paths, formats, n, prof, rpmdb_want, ret_reports, ret_errors, ret_codes, &gerr);
                if (r == ERR_BAD_IMAGE && ok > 1) {
                        /* One image can stop qemu or the inspection for all: isolate it. */
                        free(gerr);
                        gerr = NULL;
                        r = 0;
                        for (size_t i = 0; i < n && r != ERR_INTERRUPTED; i++) {
                                if (!formats[i] || ret_reports[i] || ret_errors[i]) continue;
                                char *one_err = NULL;
                                int k = run_session(paths + i, formats + i, 1, prof, rpmdb_want, ret_reports + i,
                                                    ret_errors + i, ret_codes + i, &one_err);
                                if (k < 0) {
                                        ret_errors[i] = one_err;
                                        ret_codes[i] = k;
                                        if (k == ERR_INTERRUPTED) r = k;
                                } else {
                                        free(one_err);
                                }
                        }
                } else if (r == ERR_BAD_IMAGE) {
                        for (size_t i = 0; i < n; i++)
                                if (formats[i] && !ret_reports[i] && !ret_errors[i]) {
                                        ret_errors[i] = xstrdup(gerr);
                                        ret_codes[i] = ERR_BAD_IMAGE;
                                }
                        r = 0;
                } else if (r < 0) {
                        for (size_t i = 0; i < n; i++)
                                if (formats[i] && !ret_reports[i] && !ret_errors[i]) {
                                        ret_errors[i] = xstrdup(gerr ? gerr : strerror(-r));
                                        ret_codes[i] = r;
                                }
                }
                free(gerr);
        }
        for (size_t i = 0; i < n; i++) free(formats[i]);
        free(formats);
        return r == ERR_INTERRUPTED ? r : 0;
}

/* ------------------------------------------------------------------ */
/* reports                                                             */

const char *check_status_name(enum check_status s) {
        return s == CHECK_OK ? "OK" : s == CHECK_WARNING ? "WARNING" : "FAILED";
}

size_t check_report_count(const check_report *r, enum check_status s) {
        size_t n = 0;
        for (size_t i = 0; i < r->n_items; i++)
                if (r->items[i].status == s) n++;
        return n;
}

void check_report_print(const check_report *r, FILE *out) {
        fprintf(out, "Image:          %s (%s)\n", r->image, r->format);
        fprintf(out, "System:         %s (%s %s, %s)\n", r->os ? r->os : "unknown", r->distro ? r->distro : "?",
                r->version ? r->version : "?", r->arch ? r->arch : "?");
        fprintf(out, "System disk:    %.1f GiB\n", (double)r->virtual_size / (double)GIB);
        fprintf(out, "Profile:        %s\n", r->profile);
        fprintf(out, "-----------------------------------------\n");
        for (size_t i = 0; i < r->n_items; i++) {
                const check_item *it = &r->items[i];
                char label[64];
                snprintf(label, sizeof label, "Check %s", it->title);
                const char *s = it->status == CHECK_OK ? "  OK  " : it->status == CHECK_WARNING ? "WARNING" : "FAILED";
                fprintf(out, "%-50s [%s]\n", label, s);
                fprintf(out, "    %s\n", it->found ? it->found : "");
                if (it->fix) fprintf(out, "    fix: %s\n", it->fix);
        }
        fprintf(out, "-----------------------------------------\n");
        fprintf(out, "%zu items are OK\n%zu items are failed\n%zu items are warning\n",
                check_report_count(r, CHECK_OK), check_report_count(r, CHECK_FAILED),
                check_report_count(r, CHECK_WARNING));
}

static json_object *jstr(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

char *check_report_json(const check_report *r) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "image", jstr(r->image));
        json_object_object_add(o, "format", jstr(r->format));
        json_object_object_add(o, "profile", jstr(r->profile));
        json_object_object_add(o, "platform", jstr(r->os));
        json_object_object_add(o, "distro", jstr(r->distro));
        json_object_object_add(o, "version", jstr(r->version));
        json_object_object_add(o, "architecture", jstr(r->arch));
        json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)r->virtual_size));
        json_object_object_add(o, "system_disk_size",
                               json_object_new_int64((int64_t)((r->virtual_size + GIB - 1) / GIB)));
        json_object *items = json_object_new_array();
        for (size_t i = 0; i < r->n_items; i++) {
                const check_item *it = &r->items[i];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "name", jstr(it->name));
                json_object_object_add(j, "result", jstr(check_status_name(it->status)));
                json_object_object_add(j, "description", jstr(it->found ? it->found : ""));
                json_object_object_add(j, "fix", it->fix ? jstr(it->fix) : NULL);
                json_object_array_add(items, j);
        }
        json_object_object_add(o, "check_items", items);
        json_object_object_add(o, "ok", json_object_new_int((int)check_report_count(r, CHECK_OK)));
        json_object_object_add(o, "warning", json_object_new_int((int)check_report_count(r, CHECK_WARNING)));
        json_object_object_add(o, "failed", json_object_new_int((int)check_report_count(r, CHECK_FAILED)));
        char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

void check_report_free(check_report *r) {
        if (!r) return;
        for (size_t i = 0; i < r->n_items; i++) {
                free(r->items[i].found);
                free(r->items[i].fix);
        }
        free(r->items);
        free(r->image);
        free(r->format);
        free(r->profile);
        free(r->os);
        free(r->distro);
        free(r->version);
        free(r->arch);
        free(r);
}

int check_image(const char *image_path, const char *profile, bool json, FILE *out, int *ret_failed_count) {
        check_options o = { .profile = profile };
        check_report *rep = NULL;
        char *err = NULL;
        int code = 0;
        char *paths[] = { (char *)image_path, NULL };
        int r = check_run(paths, 1, &o, &rep, &err, &code);
        if (r < 0) return r;
        if (!rep) {
                log_error("%s: %s", image_path, err ? err : "cannot be checked");
                free(err);
                return code < 0 ? code : ERR_BAD_IMAGE;
        }
        if (json) {
                char *s = check_report_json(rep);
                fprintf(out, "%s\n", s);
                free(s);
        } else {
                check_report_print(rep, out);
        }
        *ret_failed_count = (int)check_report_count(rep, CHECK_FAILED);
        check_report_free(rep);
        free(err);
        return 0;
}
