/* manifest.c — see manifest.h.  JSON through json-c; image digests are
 * computed once (two at a time: the images are the big files) and serve
 * both the manifest and SHA256SUMS. */
#include "manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "convert.h"
#include "util.h"

typedef struct image_info {
        const char *path;
        const char *format;             /* qemu-img driver */
        uint64_t virtual_size;
        uint64_t file_size;
        char sha256[SHA256_HEX_LEN + 1];
        int r;                          /* 0 or the error reading it */
} image_info;

static const char *base_name(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

void manifest_timestamp(char *buf, size_t len) {
        time_t t = time(NULL);
        const char *sde = getenv("SOURCE_DATE_EPOCH");
        if (sde && *sde) {
                char *end;
                long long v = strtoll(sde, &end, 10);
                if (!*end && v >= 0) t = (time_t)v;
        }
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const lock_package *manifest_find_kernel(const lock *l) {
        static const char *const skip[] = { "-headers", "-devel", "-tools", "-doc", "-firmware", "-debug",
                                            "-abi-whitelists", "-libs", "-common", NULL };
        for (size_t i = 0; i < l->n_packages; i++)
                if (l->packages[i].name && !strcmp(l->packages[i].name, "kernel")) return &l->packages[i];
        for (size_t i = 0; i < l->n_packages; i++) {
                const char *n = l->packages[i].name;
                if (!n || !(str_startswith(n, "kernel-") || str_startswith(n, "linux-image-"))) continue;
                bool bad = false;
                for (size_t k = 0; skip[k]; k++)
                        if (strstr(n, skip[k])) bad = true;
                if (!bad) return &l->packages[i];
        }
        return NULL;
}

/* ---- image facts ---------------------------------------------------------- */

static void image_info_fill(image_info *ii) {
        struct stat st;
        if (stat(ii->path, &st) < 0) {
                ii->r = -errno;
                return;
        }
        ii->file_size = (uint64_t)st.st_size;
        ii->r = image_detect_format(ii->path, &ii->format);
        if (ii->r == 0) ii->r = image_virtual_size(ii->path, ii->format, &ii->virtual_size);
        if (ii->r == 0) ii->r = sha256_file(ii->path, ii->sha256);
}

typedef struct digest_job {
        image_info *infos;
        size_t n;
        size_t next;
        pthread_mutex_t lock;
} digest_job;

static void *digest_worker(void *data) {
        digest_job *j = data;
        for (;;) {
                pthread_mutex_lock(&j->lock);
                size_t i = j->next++;
                pthread_mutex_unlock(&j->lock);
                if (i >= j->n) return NULL;
                image_info_fill(&j->infos[i]);
        }
}

static image_info *images_inspect(char *const *images, size_t *ret_n) {
        size_t n = strv_length(images);
        image_info *infos = xcalloc(n + 1, sizeof *infos);
        for (size_t i = 0; i < n; i++) infos[i].path = images[i];
        digest_job j = { .infos = infos, .n = n };
        pthread_mutex_init(&j.lock, NULL);
        pthread_t th;
        bool threaded = n > 1 && pthread_create(&th, NULL, digest_worker, &j) == 0;
        digest_worker(&j);
        if (threaded) pthread_join(th, NULL);
        pthread_mutex_destroy(&j.lock);
        *ret_n = n;
        return infos;
}

/* ---- manifest ------------------------------------------------------------- */

static void add_str(json_object *o, const char *key, const char *val) {
        json_object_object_add(o, key, val ? json_object_new_string(val) : json_object_new_null());
}

static json_object *package_json(const lock_package *p) {
        json_object *o = json_object_new_object();
        _cleanup_free_ char *nevra = lock_package_nevra(p);
        add_str(o, "nevra", nevra);
        add_str(o, "name", p->name);
        json_object_object_add(o, "epoch", json_object_new_int64(p->epoch));
        add_str(o, "version", p->version);
        add_str(o, "release", p->release);
        add_str(o, "arch", p->arch);
        add_str(o, "repo", p->repo_id);
        add_str(o, "checksum_type", p->checksum_type);
        add_str(o, "checksum", p->checksum);
        json_object_object_add(o, "size", json_object_new_int64((int64_t)p->size));
        return o;
}

static char *to_text(json_object *root) {
        char *s = xasprintf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                              JSON_C_TO_STRING_SPACED |
                                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return s;
}

static char *manifest_json_from(const build_ctx *ctx, const plan *p, const lock *l, const image_info *infos,
                                size_t n_images, const char *created) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "manifest_format", json_object_new_int(MANIFEST_FORMAT_VERSION));
        add_str(root, "generator", "imgbuild " IMGBUILD_VERSION);
        add_str(root, "created", created);
        add_str(root, "release", p->release);
        add_str(root, "image_name", p->image_name);
        add_str(root, "profile", p->profile);
        add_str(root, "arch", p->arch ? p->arch : l->arch);
        add_str(root, "releasever", p->releasever);

        json_object *imgs = json_object_new_array();
        for (size_t i = 0; i < n_images; i++) {
                json_object *o = json_object_new_object();
                add_str(o, "file", base_name(infos[i].path));
                add_str(o, "format", !strcmp(infos[i].format, IMG_FMT_VPC) ? "vhd" : infos[i].format);
                if (!strcmp(infos[i].format, IMG_FMT_VPC))
                        add_str(o, "vhd_type", p->vhd_type ? p->vhd_type : "dynamic");
                json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)infos[i].virtual_size));
                json_object_object_add(o, "file_size", json_object_new_int64((int64_t)infos[i].file_size));
                add_str(o, "sha256", infos[i].sha256);
                json_object_array_add(imgs, o);
        }
        json_object_object_add(root, "images", imgs);

        const lock_package *k = manifest_find_kernel(l);
        if (k) {
                json_object *o = json_object_new_object();
                _cleanup_free_ char *nevra = lock_package_nevra(k);
                add_str(o, "name", k->name);
                add_str(o, "nevra", nevra);
                json_object_object_add(root, "kernel", o);
        } else {
                json_object_object_add(root, "kernel", json_object_new_null());
        }

        /* Inputs: what made this image, so two releases can be compared. */
        json_object *inputs = json_object_new_object();
        _cleanup_free_ char *lock_text = lock_to_json(l);
        char lock_digest[SHA256_HEX_LEN + 1];
        sha256_buf(lock_text, strlen(lock_text), lock_digest);
        json_object *lk = json_object_new_object();
        add_str(lk, "sha256", lock_digest);
        add_str(lk, "file", p->lock_file ? p->lock_file : p->lock_out);
        json_object_object_add(inputs, "lock", lk);
        json_object *ks = json_object_new_object();
        add_str(ks, "path", p->kickstart);
        add_str(ks, "sha256", p->kickstart_sha256);
        json_object_object_add(inputs, "kickstart", ks);
        json_object *li = json_object_new_array();
        for (size_t i = 0; i < l->n_inputs; i++) {
                json_object *o = json_object_new_object();
                add_str(o, "kind", l->inputs[i].kind);
                add_str(o, "id", l->inputs[i].id);
                add_str(o, "sha256", l->inputs[i].sha256);
                json_object_array_add(li, o);
        }
        json_object_object_add(inputs, "lock_inputs", li);
        json_object_object_add(root, "inputs", inputs);

        json_object_object_add(root, "package_count", json_object_new_int64((int64_t)l->n_packages));
        json_object *pkgs = json_object_new_array();
        for (size_t i = 0; i < l->n_packages; i++) json_object_array_add(pkgs, package_json(&l->packages[i]));
        json_object_object_add(root, "packages", pkgs);

        json_object *stages = json_object_new_array();
        double total = 0;
        if (ctx) {
                for (size_t i = 0; i < ctx->n_stages; i++) {
                        json_object *o = json_object_new_object();
                        add_str(o, "name", ctx->stages[i].name);
                        json_object_object_add(o, "seconds", json_object_new_double(ctx->stages[i].seconds));
                        json_object_array_add(stages, o);
                        total += ctx->stages[i].seconds;
                }
                if (ctx->current_stage) {
                        /* The stage writing this file: its time so far. */
                        double s = now_seconds() - ctx->stage_started;
                        json_object *o = json_object_new_object();
                        add_str(o, "name", ctx->current_stage);
                        json_object_object_add(o, "seconds", json_object_new_double(s));
                        json_object_object_add(o, "in_progress", json_object_new_boolean(true));
                        json_object_array_add(stages, o);
                        total += s;
                }
        }
        json_object_object_add(root, "stages", stages);
        json_object_object_add(root, "total_seconds", json_object_new_double(total));
        return to_text(root);
}

char *manifest_to_json(const build_ctx *ctx, const plan *p, const lock *l, char *const *images,
                       const char *created, char **ret_error) {
        size_t n;
        image_info *infos = images_inspect(images, &n);
        for (size_t i = 0; i < n; i++)
                if (infos[i].r < 0) {
                        *ret_error = xasprintf("%s: %s", infos[i].path,
                                               infos[i].r == ERR_BAD_IMAGE ? "not a readable disk image"
                                                                           : strerror(-infos[i].r));
                        free(infos);
                        return NULL;
                }
        char *s = manifest_json_from(ctx, p, l, infos, n, created);
        free(infos);
        return s;
}

/* ---- SBOM (SPDX 2.3) ------------------------------------------------------ */

/* purl components: percent-encode all but unreserved characters. */
static char *purl_encode(const char *s) {
        size_t n = strlen(s);
        char *out = xmalloc(n * 3 + 1), *o = out;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == '~')
                        *o++ = (char)c;
                else
                        o += sprintf(o, "%%%02X", c);
        }
        *o = '\0';
        return out;
}

/* SPDX identifiers allow letters, digits, '.' and '-' only. */
static char *spdx_id(const char *prefix, size_t index, const char *name) {
        char *s = xasprintf("%s-%zu-%s", prefix, index, name ? name : "");
        for (char *c = s; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                      *c == '-'))
                        *c = '-';
        return s;
}

static const char *spdx_algorithm(const char *type) {
        static const char *const map[][2] = {
                { "sha256", "SHA256" }, { "sha", "SHA1" },       { "sha1", "SHA1" },
                { "sha224", "SHA224" }, { "sha384", "SHA384" }, { "sha512", "SHA512" },
                { "md5", "MD5" },
        };
        if (!type) return NULL;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
                if (!strcasecmp(type, map[i][0])) return map[i][1];
        return NULL;
}

static json_object *relationship(const char *a, const char *type, const char *b) {
        json_object *o = json_object_new_object();
        add_str(o, "spdxElementId", a);
        add_str(o, "relationshipType", type);
        add_str(o, "relatedSpdxElement", b);
        return o;
}

char *sbom_to_json(const plan *p, const lock *l, const char *created) {
        json_object *root = json_object_new_object();
        add_str(root, "spdxVersion", "SPDX-2.3");
        add_str(root, "dataLicense", "CC0-1.0");
        add_str(root, "SPDXID", "SPDXRef-DOCUMENT");
        add_str(root, "name", p->image_name);
        /* Unique per content: the lock digest identifies the package set. */
        _cleanup_free_ char *lock_text = lock_to_json(l);
        char digest[SHA256_HEX_LEN + 1];
        sha256_buf(lock_text, strlen(lock_text), digest);
        _cleanup_free_ char *enc_name = purl_encode(p->image_name);
        _cleanup_free_ char *ns = xasprintf("https://imgbuild.invalid/spdx/%s-%s", enc_name, digest);
        add_str(root, "documentNamespace", ns);
        json_object *ci = json_object_new_object();
        add_str(ci, "created", created);
        json_object *creators = json_object_new_array();
        json_object_array_add(creators, json_object_new_string("Tool: imgbuild-" IMGBUILD_VERSION));
        json_object_object_add(ci, "creators", creators);
        json_object_object_add(root, "creationInfo", ci);

        const char *arch = p->arch ? p->arch : l->arch;
        json_object *pkgs = json_object_new_array();
        json_object *rels = json_object_new_array();
        json_object *img = json_object_new_object();
        add_str(img, "SPDXID", "SPDXRef-Image");
        add_str(img, "name", p->image_name);
        add_str(img, "versionInfo", p->release);
        add_str(img, "downloadLocation", "NOASSERTION");
        json_object_object_add(img, "filesAnalyzed", json_object_new_boolean(false));
        add_str(img, "primaryPackagePurpose", "OPERATING_SYSTEM");
        add_str(img, "licenseConcluded", "NOASSERTION");
        add_str(img, "licenseDeclared", "NOASSERTION");
        add_str(img, "copyrightText", "NOASSERTION");
        json_object_array_add(pkgs, img);
        json_object_array_add(rels, relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));

        for (size_t i = 0; i < l->n_packages; i++) {
                const lock_package *lp = &l->packages[i];
                json_object *o = json_object_new_object();
                _cleanup_free_ char *id = spdx_id("SPDXRef-Package-rpm", i + 1, lp->name);
                _cleanup_free_ char *ver = lp->epoch ? xasprintf("%" PRIu32 ":%s-%s", lp->epoch, lp->version, lp->release)
                                                     : xasprintf("%s-%s", lp->version, lp->release);
                add_str(o, "SPDXID", id);
                add_str(o, "name", lp->name);
                add_str(o, "versionInfo", ver);
                _cleanup_free_ char *nevra = lock_package_nevra(lp);
                _cleanup_free_ char *rpmfile = lp->location ? xstrdup(base_name(lp->location))
                                                            : xasprintf("%s.rpm", nevra);
                add_str(o, "packageFileName", rpmfile);
                /* Only network locations are meaningful to a reader. */
                _cleanup_free_ char *url = NULL;
                if (lp->baseurl && lp->location &&
                    (str_startswith(lp->baseurl, "http://") || str_startswith(lp->baseurl, "https://") ||
                     str_startswith(lp->baseurl, "ftp://")))
                        url = xasprintf("%s%s%s", lp->baseurl, str_endswith(lp->baseurl, "/") ? "" : "/", lp->location);
                add_str(o, "downloadLocation", url ? url : "NOASSERTION");
                json_object_object_add(o, "filesAnalyzed", json_object_new_boolean(false));
                const char *alg = spdx_algorithm(lp->checksum_type);
                if (alg && lp->checksum) {
                        json_object *cs = json_object_new_array();
                        json_object *c = json_object_new_object();
                        add_str(c, "algorithm", alg);
                        add_str(c, "checksumValue", lp->checksum);
                        json_object_array_add(cs, c);
                        json_object_object_add(o, "checksums", cs);
                }
                add_str(o, "licenseConcluded", "NOASSERTION");
                add_str(o, "licenseDeclared", "NOASSERTION");
                add_str(o, "copyrightText", "NOASSERTION");
                _cleanup_free_ char *en = purl_encode(lp->name ? lp->name : "");
                _cleanup_free_ char *ev = purl_encode(lp->version ? lp->version : "");
                _cleanup_free_ char *er = purl_encode(lp->release ? lp->release : "");
                _cleanup_free_ char *ea = purl_encode(lp->arch ? lp->arch : (arch ? arch : "noarch"));
                _cleanup_free_ char *purl = lp->epoch ? xasprintf("pkg:rpm/%s@%s-%s?arch=%s&epoch=%" PRIu32, en, ev, er, ea, lp->epoch)
                                                      : xasprintf("pkg:rpm/%s@%s-%s?arch=%s", en, ev, er, ea);
                json_object *refs = json_object_new_array();
                json_object *ref = json_object_new_object();
                add_str(ref, "referenceCategory", "PACKAGE-MANAGER");
                add_str(ref, "referenceType", "purl");
                add_str(ref, "referenceLocator", purl);
                json_object_array_add(refs, ref);
                json_object_object_add(o, "externalRefs", refs);
                json_object_array_add(pkgs, o);
                json_object_array_add(rels, relationship("SPDXRef-Image", "CONTAINS", id));
        }
        json_object_object_add(root, "packages", pkgs);
        json_object_object_add(root, "relationships", rels);
        return to_text(root);
}

/* ---- SHA256SUMS ----------------------------------------------------------- */

static char *sums_line(const char *hex, const char *path) {
        return xasprintf("%s  %s\n", hex, base_name(path));
}

int sha256sums_write(const char *dir, char *const *files) {
        _cleanup_free_ char *text = xstrdup("");
        for (size_t i = 0; files && files[i]; i++) {
                _cleanup_free_ char *path = files[i][0] == '/' ? xstrdup(files[i]) : xasprintf("%s/%s", dir, files[i]);
                char hex[SHA256_HEX_LEN + 1];
                int r = sha256_file(path, hex);
                if (r < 0) return r;
                _cleanup_free_ char *line = sums_line(hex, path);
                char *t = xasprintf("%s%s", text, line);
                free(text);
                text = t;
        }
        _cleanup_free_ char *out = xasprintf("%s/SHA256SUMS", dir);
        return write_file_atomic(out, text, strlen(text), 0644);
}

int manifest_write(build_ctx *ctx, const plan *p, const lock *l, char *const *outputs) {
        char created[32];
        manifest_timestamp(created, sizeof created);
        size_t n;
        image_info *infos = images_inspect(outputs, &n);
        int r = 0;
        for (size_t i = 0; i < n; i++)
                if (infos[i].r < 0) {
                        log_error("manifest: cannot read %s: %s", infos[i].path,
                                  infos[i].r == ERR_BAD_IMAGE ? "not a readable disk image" : strerror(-infos[i].r));
                        free(infos);
                        return ERR_IMAGE;
                }
        _cleanup_free_ char *mpath = xasprintf("%s/%s.manifest.json", p->output_dir, p->image_name);
        _cleanup_free_ char *spath = xasprintf("%s/%s.spdx.json", p->output_dir, p->image_name);
        _cleanup_free_ char *sums = xasprintf("%s/SHA256SUMS", p->output_dir);
        _cleanup_free_ char *mtext = manifest_json_from(ctx, p, l, infos, n, created);
        _cleanup_free_ char *stext = sbom_to_json(p, l, created);
        _cleanup_free_ char *text = NULL;
        r = write_file_atomic(mpath, mtext, strlen(mtext), 0644);
        if (r < 0) {
                log_error("manifest: cannot write %s: %s", mpath, strerror(-r));
                goto out;
        }
        r = write_file_atomic(spath, stext, strlen(stext), 0644);
        if (r < 0) {
                log_error("manifest: cannot write %s: %s", spath, strerror(-r));
                unlink(mpath);
                goto out;
        }
        /* Digests of the images are already known; add the two new files. */
        text = xstrdup("");
        for (size_t i = 0; i <= n + 1; i++) {
                char hex[SHA256_HEX_LEN + 1];
                const char *path = i < n ? infos[i].path : i == n ? mpath : spath;
                if (i < n)
                        memcpy(hex, infos[i].sha256, sizeof hex);
                else if (i == n)
                        sha256_buf(mtext, strlen(mtext), hex);
                else
                        sha256_buf(stext, strlen(stext), hex);
                _cleanup_free_ char *line = sums_line(hex, path);
                char *t = xasprintf("%s%s", text, line);
                free(text);
                text = t;
        }
        /* Ctrl-C meanwhile: none of the three may stay. */
        r = interrupted() ? ERR_INTERRUPTED : write_file_atomic(sums, text, strlen(text), 0644);
        if (r == 0 && interrupted()) {
                unlink(sums);
                r = ERR_INTERRUPTED;
        }
        if (r < 0) {
                if (r != ERR_INTERRUPTED) log_error("manifest: cannot write %s: %s", sums, strerror(-r));
                unlink(mpath);
                unlink(spath);
                goto out;
        }
        convert_outputs_commit(ctx);
        log_info("    %s\n    %s\n    %s", mpath, spath, sums);
out:
        free(infos);
        return r;
}
