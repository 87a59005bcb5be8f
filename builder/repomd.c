/* repomd.c — rpm-md metadata: fetch, verify, cache.  See repomd.h. */
#include "repomd.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rpm/rpmbase64.h>
#include <rpm/rpmcrypto.h>
#include <rpm/rpmpgp.h>

#include <solv/chksum.h>
#include <solv/pool.h>
#include <solv/repo.h>
#include <solv/repo_comps.h>
#include <solv/repo_repomdxml.h>
#include <solv/repo_rpmmd.h>
#include <solv/repo_solv.h>
#include <solv/repo_write.h>
#include <solv/solv_xfopen.h>

#include "options.h"
#include "util.h"

void repomd_info_free(repomd_info *info) {
        if (!info) return;
        free(info->id);
        free(info->baseurl);
        free(info->repomd_sha256);
        free(info);
}

/* ---- download ----------------------------------------------------------- */

static int connect_timeout(void) { return (int)env_number("IMGBUILD_CONNECT_TIMEOUT", REPOMD_CONNECT_TIMEOUT); }

static int progress_cb(void *p, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
        (void)p, (void)a, (void)b, (void)c, (void)d;
        return interrupted() ? 1 : 0;
}

static void curl_init_once(void) {
        static bool done;
        if (!done) {
                curl_global_init(CURL_GLOBAL_DEFAULT);
                done = true;
        }
}

int repomd_download(const char *url, const char *dest, bool sslverify, char **ret_error) {
        curl_init_once();
        _cleanup_free_ char *tmp = xasprintf("%s.part.XXXXXX", dest);
        int fd = mkstemp(tmp);
        if (fd < 0) {
                int r = -errno;
                *ret_error = xasprintf("%s: cannot create %s: %s", url, tmp, strerror(-r));
                return r;
        }
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int r = -errno;
                close(fd);
                unlink(tmp);
                *ret_error = xasprintf("%s: %s", url, strerror(-r));
                return r;
        }
        CURL *c = curl_easy_init();
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        /* Fail fast on dead mirrors, but let slow-yet-alive ones finish. */
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)connect_timeout());
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "imgbuild/" IMGBUILD_VERSION);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "file,http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, sslverify ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, sslverify ? 2L : 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        CURLcode res = curl_easy_perform(c);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        int r = 0;
        if (res != CURLE_OK) {
                if (res == CURLE_ABORTED_BY_CALLBACK) {
                        r = ERR_INTERRUPTED;
                        *ret_error = xasprintf("%s: interrupted", url);
                } else if (res == CURLE_HTTP_RETURNED_ERROR) {
                        /* The server answered: "not there" is not "unreachable". */
                        r = code == 404 || code == 410 ? -ENOENT : -EHOSTUNREACH;
                        *ret_error = xasprintf("%s: HTTP %ld%s", url, code, code == 404 ? " (not found)" : "");
                } else if (res == CURLE_FILE_COULDNT_READ_FILE || res == CURLE_REMOTE_FILE_NOT_FOUND) {
                        r = -ENOENT;
                        *ret_error = xasprintf("%s: no such file", url);
                } else {
                        r = -EHOSTUNREACH;
                        *ret_error = xasprintf("%s: %s", url, *errbuf ? errbuf : curl_easy_strerror(res));
                }
        }
        if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
                if (r == 0) {
                        r = -errno;
                        *ret_error = xasprintf("%s: writing %s: %s", url, tmp, strerror(-r));
                }
        }
        fclose(f);
        if (r == 0 && rename(tmp, dest) < 0) {
                r = -errno;
                *ret_error = xasprintf("%s: cannot rename to %s: %s", url, dest, strerror(-r));
        }
        if (r < 0) unlink(tmp);
        return r;
}

static char *url_join(const char *base, const char *rel) {
        size_t l = strlen(base);
        while (l > 0 && base[l - 1] == '/') l--;
        while (*rel == '/') rel++;
        return xasprintf("%.*s/%s", (int)l, base, rel);
}

/* ---- checksums ---------------------------------------------------------- */

/* Hex digest of a file; type as solv_chksum_str2type() knows it. */
static int file_digest(const char *path, const char *type, char **ret_hex) {
        Id t = solv_chksum_str2type(type);
        if (!t) return -EINVAL;
        FILE *f = fopen(path, "re");
        if (!f) return -errno;
        Chksum *c = solv_chksum_create(t);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) solv_chksum_add(c, buf, (int)n);
        bool err = ferror(f);
        fclose(f);
        int len;
        const unsigned char *bin = solv_chksum_get(c, &len);
        char *got = xmalloc((size_t)len * 2 + 1);
        for (int i = 0; i < len; i++) sprintf(got + 2 * i, "%02x", bin[i]);
        solv_chksum_free(c, NULL);
        if (err) {
                free(got);
                return -EIO;
        }
        *ret_hex = got;
        return 0;
}

int repomd_check_file(const char *path, const char *type, const char *hex, char **ret_error) {
        char *got = NULL;
        int q = file_digest(path, type, &got);
        if (q == -EINVAL) {
                *ret_error = xasprintf("%s: unknown checksum type \"%s\"", path, type);
                return ERR_FETCH;
        }
        if (q < 0) {
                *ret_error = xasprintf("%s: %s", path, q == -EIO ? "read error" : strerror(-q));
                return ERR_FETCH;
        }
        int r = 0;
        if (strcasecmp(got, hex) != 0) {
                *ret_error = xasprintf("%s checksum mismatch: repomd.xml says %s, the file has %s", type, hex, got);
                r = ERR_FETCH;
        }
        free(got);
        return r;
}

/* ---- OpenPGP (rpm's rpmpgp.h) ------------------------------------------- */

/* One armored block starting at *pos → binary packets; *pos moves past it.
 * (rpm's pgpParsePkts() only knows PUBLIC KEY BLOCK armor.) */
static int dearmor_next(const char **pos, uint8_t **ret_pkt, size_t *ret_len) {
        const char *b = strstr(*pos, "-----BEGIN PGP ");
        if (!b) return -ENOENT;
        const char *end = strstr(b, "-----END PGP ");
        if (!end) return -EBADMSG;
        const char *p = strchr(b, '\n');
        if (!p || p > end) return -EBADMSG;
        p++;
        size_t cap = (size_t)(end - p) + 1, n = 0;
        _cleanup_free_ char *b64 = xmalloc(cap);
        while (p < end) {
                const char *e = memchr(p, '\n', (size_t)(end - p));
                if (!e) e = end;
                /* Header lines ("Version: …") have a colon, base64 has none;
                 * the "=XXXX" CRC line ends the data. */
                if (*p == '=') break;
                if (!memchr(p, ':', (size_t)(e - p)))
                        for (const char *c = p; c < e; c++)
                                if (!isspace((unsigned char)*c)) b64[n++] = *c;
                p = e + 1;
        }
        b64[n] = '\0';
        *pos = end + 5;
        void *bin = NULL;
        size_t bl = 0;
        if (n == 0 || rpmBase64Decode(b64, &bin, &bl) != 0 || !bin) return -EBADMSG;
        *ret_pkt = bin;
        *ret_len = bl;
        return 0;
}

/* Every OpenPGP packet block of a file: each armored block, or the whole
 * file when it is binary.  Returns the number of blocks (≥ 1) or -errno. */
static int read_pgp_blocks(const char *path, uint8_t ***ret_pkts, size_t **ret_lens) {
        char *data = NULL;
        size_t len = 0;
        int r = read_file(path, &data, &len);
        if (r < 0) return r;
        uint8_t **pkts = NULL;
        size_t *lens = NULL;
        int n = 0;
        if (len > 0 && !(data[0] & 0x80)) { /* text: armored */
                const char *pos = data;
                uint8_t *pk;
                size_t pl;
                while (dearmor_next(&pos, &pk, &pl) == 0) {
                        pkts = xrealloc(pkts, (size_t)(n + 1) * sizeof *pkts);
                        lens = xrealloc(lens, (size_t)(n + 1) * sizeof *lens);
                        pkts[n] = pk;
                        lens[n++] = pl;
                }
                free(data);
        } else if (len > 0) {
                pkts = xmalloc(sizeof *pkts);
                lens = xmalloc(sizeof *lens);
                pkts[0] = (uint8_t *)data;
                lens[0] = len;
                n = 1;
        } else
                free(data);
        if (n == 0) return -EBADMSG;
        *ret_pkts = pkts;
        *ret_lens = lens;
        return n;
}

static void free_blocks(uint8_t **pkts, size_t *lens, int n) {
        for (int i = 0; i < n; i++) free(pkts[i]);
        free(pkts);
        free(lens);
}

static bool keyid_eq(const uint8_t *a, const uint8_t *b) { return memcmp(a, b, PGP_KEYID_LEN) == 0; }

static char *keyid_hex(const uint8_t *id) {
        char *s = xmalloc(PGP_KEYID_LEN * 2 + 1);
        for (int i = 0; i < PGP_KEYID_LEN; i++) sprintf(s + 2 * i, "%02x", id[i]);
        return s;
}

int repomd_verify_signature(const char *data_path, const char *sig_path, char *const *key_paths, char **ret_error) {
        static bool crypto_ready;
        if (!crypto_ready) {
                rpmInitCrypto();
                crypto_ready = true;
        }
        uint8_t **sigpkts = NULL;
        size_t *siglens = NULL;
        pgpDigParams sig = NULL;
        int r = read_pgp_blocks(sig_path, &sigpkts, &siglens);
        if (r < 0 || pgpPrtParams(sigpkts[0], siglens[0], PGPTAG_SIGNATURE, &sig) < 0) {
                *ret_error = xasprintf("%s is not an OpenPGP signature", strrchr(sig_path, '/') ? strrchr(sig_path, '/') + 1 : sig_path);
                if (r > 0) free_blocks(sigpkts, siglens, r);
                return ERR_FETCH;
        }
        free_blocks(sigpkts, siglens, r);
        char *data = NULL;
        size_t dlen = 0;
        if ((r = read_file(data_path, &data, &dlen)) < 0) {
                *ret_error = xasprintf("%s: %s", data_path, strerror(-r));
                pgpDigParamsFree(sig);
                return ERR_FETCH;
        }
        _cleanup_free_ char *want = keyid_hex(pgpDigParamsSignID(sig));
        r = ERR_FETCH;
        bool key_found = false;
        for (size_t i = 0; key_paths && key_paths[i] && r < 0; i++) {
                uint8_t **kps = NULL;
                size_t *kls = NULL;
                int nb = read_pgp_blocks(key_paths[i], &kps, &kls);
                for (int bi = 0; bi < nb && r < 0; bi++) {
                uint8_t *kp = kps[bi];
                size_t kl = kls[bi];
                pgpDigParams key = NULL, *subs = NULL;
                int nsubs = 0;
                if (pgpPrtParams(kp, kl, PGPTAG_PUBLIC_KEY, &key) < 0) continue;
                pgpPrtParamsSubkeys(kp, kl, key, &subs, &nsubs);
                for (int k = -1; k < nsubs && r < 0; k++) {
                        pgpDigParams cand = k < 0 ? key : subs[k];
                        if (!keyid_eq(pgpDigParamsSignID(cand), pgpDigParamsSignID(sig))) continue;
                        key_found = true;
                        DIGEST_CTX ctx = rpmDigestInit(pgpDigParamsAlgo(sig, PGPVAL_HASHALGO), RPMDIGEST_NONE);
                        if (!ctx) continue;
                        rpmDigestUpdate(ctx, data, dlen);
                        if (pgpVerifySignature(cand, sig, ctx) == RPMRC_OK) r = 0;
                        rpmDigestFinal(ctx, NULL, NULL, 0);
                }
                for (int k = 0; k < nsubs; k++) pgpDigParamsFree(subs[k]);
                free(subs);
                pgpDigParamsFree(key);
                }
                if (nb > 0) free_blocks(kps, kls, nb);
        }
        free(data);
        pgpDigParamsFree(sig);
        if (r < 0)
                *ret_error = key_found ? xasprintf("BAD signature (key %s): the file is not what was signed", want)
                                       : xasprintf("signed by key %s, which is not among the repo's gpgkey files", want);
        return r;
}

/* ---- mirror lists ------------------------------------------------------- */

char **repomd_parse_mirrorlist(const char *text) {
        char **v = NULL;
        const char *p = text;
        while (p && *p) {
                const char *e = strchr(p, '\n');
                size_t l = e ? (size_t)(e - p) : strlen(p);
                while (l > 0 && isspace((unsigned char)*p)) p++, l--;
                while (l > 0 && isspace((unsigned char)p[l - 1])) l--;
                if (l > 0 && *p != '#' && memmem(p, l, "://", 3)) strv_push(&v, xstrndup(p, l));
                p = e ? e + 1 : NULL;
        }
        return v;
}

char **repomd_parse_metalink(const char *text) {
        char **v = NULL;
        const char *p = text;
        while ((p = strstr(p, "<url"))) {
                const char *gt = strchr(p, '>');
                if (!gt) break;
                const char *end = strstr(gt, "</url>");
                if (!end) break;
                const char *s = gt + 1;
                size_t l = (size_t)(end - s);
                while (l > 0 && isspace((unsigned char)*s)) s++, l--;
                while (l > 0 && isspace((unsigned char)s[l - 1])) l--;
                char *u = xstrndup(s, l);
                if (str_endswith(u, "repodata/repomd.xml")) u[strlen(u) - strlen("repodata/repomd.xml")] = '\0';
                if (str_startswith(u, "http://") || str_startswith(u, "https://") || str_startswith(u, "file://"))
                        strv_push(&v, u);
                else
                        free(u);
                p = end;
        }
        return v;
}

/* Value of attribute name in the start tag at tag (up to its '>'). */
static char *tag_attr(const char *tag, const char *name) {
        const char *gt = strchr(tag, '>');
        _cleanup_free_ char *pat = xasprintf(" %s=", name);
        const char *a = strstr(tag, pat);
        if (!a || (gt && a > gt)) return NULL;
        a += strlen(pat);
        char q = *a;
        if (q != '"' && q != '\'') return NULL;
        const char *e = strchr(a + 1, q);
        return e ? xstrndup(a + 1, (size_t)(e - a - 1)) : NULL;
}

int repomd_metalink_hashes(const char *text, char **ret_type, char ***ret_values) {
        /* The <file name="repomd.xml"> element, else the whole document. */
        const char *file = strstr(text, "<file name=\"repomd.xml\"");
        if (!file) file = strstr(text, "<file name='repomd.xml'");
        if (!file) file = text;
        const char *file_end = strstr(file, "</file>");
        if (!file_end) file_end = file + strlen(file);
        /* Hashes inside <mm0:alternates> belong to older repomd.xml
         * versions that are still acceptable (librepo takes them too). */
        const char *alt = strstr(file, "alternates>");
        const char *alt_end = alt ? strstr(alt + 1, "alternates>") : NULL;
        if (alt && alt >= file_end) alt = alt_end = NULL;
        static const char *const strength[] = { "sha512", "sha384", "sha256", "sha224", "sha1", "md5" };
        int best = -1;
        for (int pass = 0; pass < 2; pass++) {
                char **cur = NULL, **alts = NULL;
                for (const char *p = file; (p = strstr(p, "<hash")) && p < file_end; p += 5) {
                        if (p[5] != ' ' && p[5] != '>') continue;
                        _cleanup_free_ char *type = tag_attr(p, "type");
                        const char *gt = strchr(p, '>');
                        const char *end = gt ? strstr(gt, "</hash>") : NULL;
                        if (!type || !end || end > file_end) continue;
                        int k = -1;
                        for (int i = 0; i < (int)(sizeof strength / sizeof *strength); i++)
                                if (!strcasecmp(type, strength[i])) k = i;
                        if (k < 0) continue;
                        if (pass == 0) {
                                if (best < 0 || k < best) best = k;
                                continue;
                        }
                        if (k != best) continue;
                        const char *v = gt + 1;
                        size_t l = (size_t)(end - v);
                        while (l > 0 && isspace((unsigned char)*v)) v++, l--;
                        while (l > 0 && isspace((unsigned char)v[l - 1])) l--;
                        bool is_alt = alt && alt_end && p > alt && p < alt_end;
                        strv_push(is_alt ? &alts : &cur, xstrndup(v, l));
                }
                if (pass == 0 && best < 0) return -ENOENT;
                if (pass == 1) {
                        if (!cur && !alts) return -ENOENT;
                        for (size_t i = 0; alts && alts[i]; i++) strv_push(&cur, alts[i]);
                        free(alts);
                        *ret_type = xstrdup(strength[best]);
                        *ret_values = cur;
                }
        }
        return 0;
}

/* ---- parsing a repo directory ------------------------------------------- */

typedef struct md_entry {
        const char *href;
        char *chktype;
        char *chk;
} md_entry;

/* Entry of type `what` in the repomd data added to repo. */
static bool md_find(Repo *repo, const char *what, md_entry *ret) {
        Pool *pool = repo->pool;
        Dataiterator di;
        bool found = false;
        dataiterator_init(&di, pool, repo, SOLVID_META, REPOSITORY_REPOMD_TYPE, what, SEARCH_STRING);
        dataiterator_prepend_keyname(&di, REPOSITORY_REPOMD);
        if (dataiterator_step(&di)) {
                dataiterator_setpos_parent(&di);
                Id t = 0;
                const unsigned char *bin = pool_lookup_bin_checksum(pool, SOLVID_POS, REPOSITORY_REPOMD_CHECKSUM, &t);
                const char *href = pool_lookup_str(pool, SOLVID_POS, REPOSITORY_REPOMD_LOCATION);
                if (href && bin && t) {
                        ret->href = href;
                        ret->chktype = xstrdup(solv_chksum_type2str(t));
                        ret->chk = xstrdup(pool_bin2hex(pool, bin, solv_chksum_len(t)));
                        found = true;
                }
        }
        dataiterator_free(&di);
        return found;
}

static void md_entry_clear(md_entry *e) {
        free(e->chktype);
        free(e->chk);
        memset(e, 0, sizeof *e);
}

enum md_kind { MD_PRIMARY, MD_FILELISTS, MD_COMPS };

/* Fetch (when base is set), verify and parse one metadata file. */
static int md_load_one(Repo *repo, const char *dir, const char *base, bool sslverify, const md_entry *e,
                       enum md_kind kind, char **ret_error) {
        _cleanup_free_ char *path = url_join(dir, e->href);
        _cleanup_free_ char *url = base ? url_join(base, e->href) : xasprintf("%s", path);
        int r;
        if (base) {
                _cleanup_free_ char *sub = xstrdup(path);
                *strrchr(sub, '/') = '\0';
                if ((r = mkdir_p(sub, 0755)) < 0) {
                        *ret_error = xasprintf("%s: %s", sub, strerror(-r));
                        return r;
                }
                char *err = NULL;
                if ((r = repomd_download(url, path, sslverify, &err)) < 0) {
                        *ret_error = err;
                        return r == -EHOSTUNREACH || r == -ENOENT ? ERR_FETCH : r;
                }
        }
        char *err = NULL;
        if (repomd_check_file(path, e->chktype, e->chk, &err) < 0) {
                *ret_error = xasprintf("%s: %s", url, err);
                free(err);
                return ERR_FETCH;
        }
        FILE *f = solv_xfopen(path, "r");
        if (!f) {
                *ret_error = xasprintf("%s: cannot open: %s", url, strerror(errno));
                return ERR_FETCH;
        }
        int q = kind == MD_PRIMARY     ? repo_add_rpmmd(repo, f, NULL, REPO_NO_INTERNALIZE)
                : kind == MD_FILELISTS ? repo_add_rpmmd(repo, f, NULL, REPO_EXTEND_SOLVABLES | REPO_NO_INTERNALIZE)
                                       : repo_add_comps(repo, f, REPO_NO_INTERNALIZE);
        bool rerr = ferror(f);
        fclose(f);
        if (q != 0 || rerr) {
                *ret_error = xasprintf("%s: corrupt or truncated data: %s", url,
                                       q != 0 ? pool_errstr(repo->pool) : "decompression/read error");
                return ERR_FETCH;
        }
        return 0;
}

/* primary.xml lists only the "interesting" files (/etc, bin dirs); a file
 * dependency outside them needs filelists.  Decided over the whole pool:
 * a package of one repo may need a file only another repo's filelists
 * list, and the kickstart may name a path. */
int repomd_missing_files(Pool *pool, char *const *paths, char ***ret_missing) {
        /* Explicit provides only: pool_addfileprovides would record the
         * file list it saw and miss files loaded later. */
        pool_createwhatprovides(pool);
        Queue want; /* each such path once (thousands of packages require /bin/sh) */
        queue_init(&want);
        bool unknown = false;
        for (size_t i = 0; paths && paths[i]; i++) {
                if (paths[i][0] != '/') continue;
                /* Lookup only: a path no package mentions is not a known
                 * string yet (only a file list can say who has it). */
                Id id = pool_str2id(pool, paths[i], 0);
                if (!id)
                        unknown = true;
                else if (!*pool_whatprovides_ptr(pool, id))
                        queue_pushunique(&want, id);
        }
        Map seen;
        map_init(&seen, pool->ss.nstrings);
        for (int i = 0; i < want.count; i++) MAPSET(&seen, want.elements[i]);
        Solvable *s;
        Id p;
        FOR_POOL_SOLVABLES(p) {
                s = pool->solvables + p;
                if (!s->repo || !s->requires) continue;
                for (Id *dp = s->repo->idarraydata + s->requires; *dp; dp++) {
                        if (*dp == SOLVABLE_PREREQMARKER || ISRELDEP(*dp) || MAPTST(&seen, *dp)) continue;
                        MAPSET(&seen, *dp);
                        if (pool_id2str(pool, *dp)[0] == '/' && !*pool_whatprovides_ptr(pool, *dp))
                                queue_push(&want, *dp);
                }
        }
        map_free(&seen);
        /* Then one pass over every file list loaded so far. */
        int nwant = want.count;
        if (nwant) {
                Map w;
                map_init(&w, pool->ss.nstrings);
                for (int i = 0; i < want.count; i++) MAPSET(&w, want.elements[i]);
                Dataiterator di;
                dataiterator_init(&di, pool, 0, 0, SOLVABLE_FILELIST, 0, SEARCH_FILES);
                while (nwant && dataiterator_step(&di)) {
                        Id id = pool_str2id(pool, di.kv.str, 0);
                        if (id && id < w.size * 8 && MAPTST(&w, id)) {
                                MAPCLR(&w, id);
                                nwant--;
                        }
                }
                dataiterator_free(&di);
                for (int i = 0; i < want.count; i++)
                        if (!MAPTST(&w, want.elements[i])) want.elements[i] = 0;
                map_free(&w);
        }
        char **v = NULL;
        for (int i = 0; ret_missing && i < want.count; i++)
                if (want.elements[i]) strv_push(&v, xstrdup(pool_id2str(pool, want.elements[i])));
        /* Kickstart paths no package mentions: only a file list can say. */
        for (size_t i = 0; unknown && paths && paths[i]; i++)
                if (paths[i][0] == '/' && !pool_str2id(pool, paths[i], 0)) {
                        nwant++;
                        if (ret_missing) strv_push(&v, xstrdup(paths[i]));
                }
        queue_free(&want);
        if (ret_missing) *ret_missing = v;
        return nwant;
}

/* libsolv marks primary's file list "filtered": authoritative for
 * createrepo's primary paths (bin dirs, /etc), so pool_addfileprovides
 * never looks for such a path in the filelists extension.  A primary that
 * misses a path we need is not authoritative: make every file list a plain
 * one, searched in full. */
static void filelists_unfilter(Repo *repo) {
        for (Id rdid = 1; rdid < repo->nrepodata; rdid++)
                repodata_set_filelisttype(repo_id2repodata(repo, rdid), 0);
}

/* Parse dir/repodata/repomd.xml (already there), then fetch (base != NULL)
 * or read the files it lists, verify and parse them into a new repo. */
static int load_repo_dir(Pool *pool, const char *id, const char *dir, const char *base, bool sslverify,
                         bool filelists_on_demand, Repo **ret_repo, char **ret_error) {
        _cleanup_free_ char *repomd = xasprintf("%s/repodata/repomd.xml", dir);
        _cleanup_free_ char *where = base ? url_join(base, "repodata/repomd.xml") : xstrdup(repomd);
        FILE *f = fopen(repomd, "re");
        if (!f) {
                *ret_error = xasprintf("%s: %s", where, strerror(errno));
                return ERR_FETCH;
        }
        Repo *repo = repo_create(pool, id);
        int q = repo_add_repomdxml(repo, f, REPO_NO_INTERNALIZE);
        fclose(f);
        if (q != 0) {
                *ret_error = xasprintf("%s: not a valid repomd.xml: %s", where, pool_errstr(pool));
                repo_free(repo, 1);
                return ERR_FETCH;
        }
        repo_internalize(repo);
        md_entry primary = { 0 }, filelists = { 0 }, comps = { 0 };
        int r = 0;
        if (!md_find(repo, "primary", &primary)) {
                *ret_error = xasprintf("%s: lists no primary metadata", where);
                r = ERR_FETCH;
                goto out;
        }
        if ((r = md_load_one(repo, dir, base, sslverify, &primary, MD_PRIMARY, ret_error)) < 0) goto out;
        repo_internalize(repo);
        if (filelists_on_demand && md_find(repo, "filelists", &filelists) &&
            repomd_missing_files(pool, NULL, NULL) > 0) {
                log_debug("repo %s: file dependencies outside primary.xml: loading filelists", id);
                if ((r = md_load_one(repo, dir, base, sslverify, &filelists, MD_FILELISTS, ret_error)) < 0)
                        goto out;
                filelists_unfilter(repo);
        }
        if (md_find(repo, "group_gz", &comps) || md_find(repo, "group", &comps))
                if ((r = md_load_one(repo, dir, base, sslverify, &comps, MD_COMPS, ret_error)) < 0) goto out;
        repo_internalize(repo);
out:
        md_entry_clear(&primary);
        md_entry_clear(&filelists);
        md_entry_clear(&comps);
        if (r < 0) {
                repo_free(repo, 1);
                return r;
        }
        *ret_repo = repo;
        return 0;
}

int repomd_parse_dir(Pool *pool, const char *id, const char *dir, Repo **ret_repo, char **ret_sha256,
                     char **ret_error) {
        _cleanup_free_ char *repomd = xasprintf("%s/repodata/repomd.xml", dir);
        char hex[SHA256_HEX_LEN + 1];
        int r = sha256_file(repomd, hex);
        if (r < 0) {
                *ret_error = xasprintf("%s: %s", repomd, strerror(-r));
                return ERR_FETCH;
        }
        Repo *repo;
        if ((r = load_repo_dir(pool, id, dir, NULL, true, true, &repo, ret_error)) < 0) return r;
        *ret_repo = repo;
        if (ret_sha256) *ret_sha256 = xstrdup(hex);
        return 0;
}

/* ---- cache -------------------------------------------------------------- */

/* Per repomd.xml sha256: primary + comps, and the file lists as a libsolv
 * extension of it, present only once some build needed them. */
#define SOLV_PRIMARY ".primary.solv"
#define SOLV_FILELISTS ".filelists.solv"

static char *cache_dir_for(build_ctx *ctx, const char *id) {
        return xasprintf("%s/repodata/%s", ctx->cache_dir, id);
}

static int cache_load(Pool *pool, const char *id, const char *solv_path, Repo **ret_repo) {
        FILE *f = fopen(solv_path, "re");
        if (!f) return -errno;
        Repo *repo = repo_create(pool, id);
        int q = repo_add_solv(repo, f, 0);
        fclose(f);
        if (q != 0) {
                repo_free(repo, 1);
                return -EBADMSG;
        }
        *ret_repo = repo;
        return 0;
}

/* dir/name written atomically (hidden temp name, fsync, rename): the whole
 * repo, or only data (a libsolv extension of it) when data is non-NULL. */
static int solv_write_atomic(const char *dir, const char *name, Repo *repo, Repodata *data) {
        _cleanup_free_ char *final = xasprintf("%s/%s", dir, name);
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.XXXXXX", dir, name);
        int fd = mkstemp(tmp);
        if (fd < 0) return -errno;
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int r = -errno;
                close(fd);
                unlink(tmp);
                return r;
        }
        int r = (data ? repodata_write(data, f) : repo_write(repo, f)) != 0 ? -EIO : 0;
        if (fflush(f) != 0 || fsync(fd) < 0) r = -errno;
        if (fclose(f) != 0 && r == 0) r = -EIO;
        if (r == 0 && fchmodat(AT_FDCWD, tmp, 0644, 0) < 0) r = -errno;
        if (r == 0 && rename(tmp, final) < 0) r = -errno;
        if (r < 0) unlink(tmp);
        return r;
}

/* Write the .solv and the repomd.xml it came from; old entries of the repo
 * are removed afterwards.  Failure to cache is not fatal for the caller. */
static int cache_store(build_ctx *ctx, Repo *repo, const char *id, const char *repomd_path, const char *sha) {
        _cleanup_free_ char *dir = cache_dir_for(ctx, id);
        int r = mkdir_p(dir, 0755);
        if (r < 0) return r;
        _cleanup_free_ char *name = xasprintf("%s" SOLV_PRIMARY, sha);
        if ((r = solv_write_atomic(dir, name, repo, NULL)) < 0) return r;
        char *data = NULL;
        size_t len = 0;
        _cleanup_free_ char *md = xasprintf("%s/repomd.xml", dir);
        if ((r = read_file(repomd_path, &data, &len)) == 0) r = write_file_atomic(md, data, len, 0644);
        free(data);
        if (r < 0) return r;
        /* Drop older generations of this repo (and older cache formats). */
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                _cleanup_free_ char *keep = xasprintf("%s" SOLV_PRIMARY, sha);
                _cleanup_free_ char *keep_fl = xasprintf("%s" SOLV_FILELISTS, sha);
                while ((de = readdir(d)))
                        if (str_endswith(de->d_name, ".solv") && strcmp(de->d_name, keep) != 0 &&
                            strcmp(de->d_name, keep_fl) != 0)
                                unlinkat(dirfd(d), de->d_name, 0);
                closedir(d);
        }
        return 0;
}

/* ---- the entry point ---------------------------------------------------- */

static int load_offline(build_ctx *ctx, const plan_repo *r, Pool *pool, Repo **ret_repo, repomd_info **ret_info,
                        char **ret_error) {
        _cleanup_free_ char *dir = cache_dir_for(ctx, r->id);
        _cleanup_free_ char *md = xasprintf("%s/repomd.xml", dir);
        char hex[SHA256_HEX_LEN + 1];
        if (sha256_file(md, hex) < 0) {
                *ret_error = xasprintf("repo '%s': --offline, but no cached metadata (%s missing); "
                                       "run once without --offline to fill the cache", r->id, md);
                return -ENOENT;
        }
        _cleanup_free_ char *solv = xasprintf("%s/%s" SOLV_PRIMARY, dir, hex);
        Repo *repo;
        int q = cache_load(pool, r->id, solv, &repo);
        if (q < 0) {
                *ret_error = xasprintf("repo '%s': --offline, but the cached metadata %s is %s; "
                                       "run once without --offline to refresh the cache", r->id, solv,
                                       q == -ENOENT ? "missing" : "unreadable");
                return -ENOENT;
        }
        repomd_info *info = xcalloc(1, sizeof *info);
        info->id = xstrdup(r->id);
        info->baseurl = r->baseurls && r->baseurls[0] ? xstrdup(r->baseurls[0]) : NULL;
        info->repomd_sha256 = xstrdup(hex);
        info->from_cache = true;
        info->signature_checked = r->repo_gpgcheck;
        *ret_repo = repo;
        *ret_info = info;
        return 0;
}

/* Candidate base URLs: baseurl=, else the mirrorlist/metalink's entries;
 * with a metalink also the repomd.xml hashes it gives (type NULL: none). */
typedef struct mirror_set {
        char **bases;
        char *hash_type;
        char **hashes;
} mirror_set;

static void mirror_set_clear(mirror_set *m) {
        strv_free(m->bases);
        free(m->hash_type);
        strv_free(m->hashes);
        memset(m, 0, sizeof *m);
}

static int base_urls(const plan_repo *r, const char *dir, mirror_set *ret, char **ret_error) {
        if (r->baseurls && r->baseurls[0]) {
                ret->bases = strv_copy(r->baseurls);
                return 0;
        }
        const char *list = r->metalink ? r->metalink : r->mirrorlist;
        if (!list) {
                *ret_error = xasprintf("repo '%s' (%s) has no baseurl, mirrorlist or metalink", r->id,
                                       r->origin ? r->origin : "?");
                return ERR_FETCH;
        }
        _cleanup_free_ char *path = xasprintf("%s/mirrorlist", dir);
        char *err = NULL;
        int q = repomd_download(list, path, r->sslverify, &err);
        if (q < 0) {
                *ret_error = xasprintf("repo '%s': cannot fetch the %s %s", r->id,
                                       r->metalink ? "metalink" : "mirrorlist", err);
                free(err);
                return q == -ENOENT ? -ENODATA : q;
        }
        char *text = NULL;
        read_file(path, &text, NULL);
        char **v = NULL;
        bool metalink = text && strstr(text, "<metalink");
        if (text) v = metalink ? repomd_parse_metalink(text) : repomd_parse_mirrorlist(text);
        if (!v) {
                free(text);
                *ret_error = xasprintf("repo '%s': %s lists no usable URL", r->id, list);
                return ERR_FETCH;
        }
        ret->bases = v;
        if (metalink) repomd_metalink_hashes(text, &ret->hash_type, &ret->hashes);
        free(text);
        return 0;
}

static int check_signature(build_ctx *ctx, const plan_repo *r, const char *dir, const char *base,
                           const char *repomd, char **ret_error) {
        _cleanup_free_ char *asc = xasprintf("%s/repodata/repomd.xml.asc", dir);
        _cleanup_free_ char *asc_url = url_join(base, "repodata/repomd.xml.asc");
        char *err = NULL;
        int q = repomd_download(asc_url, asc, r->sslverify, &err);
        if (q < 0) {
                *ret_error = xasprintf("repo '%s': repo_gpgcheck=1 but the signature is missing: %s", r->id, err);
                free(err);
                return ERR_FETCH;
        }
        if (!r->gpgkeys || !r->gpgkeys[0]) {
                *ret_error = xasprintf("repo '%s': repo_gpgcheck=1 but no gpgkey= is configured", r->id);
                return ERR_FETCH;
        }
        char **keys = NULL;
        for (size_t i = 0; r->gpgkeys[i]; i++) {
                char *kp = xasprintf("%s/gpgkey-%zu", dir, i);
                if ((q = repomd_download(r->gpgkeys[i], kp, r->sslverify, &err)) < 0) {
                        *ret_error = xasprintf("repo '%s': cannot fetch gpgkey %s", r->id, err);
                        free(err);
                        free(kp);
                        strv_free(keys);
                        return ERR_FETCH;
                }
                strv_push(&keys, kp);
        }
        (void)ctx;
        q = repomd_verify_signature(repomd, asc, keys, &err);
        strv_free(keys);
        if (q < 0) {
                _cleanup_free_ char *u = url_join(base, "repodata/repomd.xml");
                char *kl = NULL;
                for (size_t i = 0; r->gpgkeys[i]; i++) {
                        char *t = xasprintf("%s%s%s", kl ? kl : "", kl ? " " : "", r->gpgkeys[i]);
                        free(kl);
                        kl = t;
                }
                *ret_error = xasprintf("repo '%s': %s: %s (gpgkey: %s)", r->id, u, err, kl);
                free(kl);
                free(err);
                return ERR_FETCH;
        }
        return 0;
}

int repomd_load(build_ctx *ctx, const plan_repo *r, const char *arch, bool offline, Pool *pool, Repo **ret_repo,
                repomd_info **ret_info, char **ret_error) {
        (void)arch;
        if (offline) return load_offline(ctx, r, pool, ret_repo, ret_info, ret_error);

        _cleanup_free_ char *dir = xasprintf("%s/repos/%s", ctx->work_dir, r->id);
        _cleanup_free_ char *repodata = xasprintf("%s/repodata", dir);
        int q = mkdir_p(repodata, 0755);
        if (q < 0) {
                *ret_error = xasprintf("%s: %s", repodata, strerror(-q));
                return q;
        }
        mirror_set ms = { 0 };
        if ((q = base_urls(r, dir, &ms, ret_error)) < 0) return q;

        /* First base URL whose repomd.xml answers and, with a metalink,
         * matches one of its hashes (else the mirror is stale: next). */
        _cleanup_free_ char *repomd = xasprintf("%s/repomd.xml", repodata);
        char *errs = NULL;
        const char *base = NULL;
        int n_unreachable = 0, n_stale = 0;
        for (size_t i = 0; ms.bases[i]; i++) {
                _cleanup_free_ char *url = url_join(ms.bases[i], "repodata/repomd.xml");
                char *err = NULL;
                q = repomd_download(url, repomd, r->sslverify, &err);
                if (q == 0 && ms.hash_type) {
                        char *got = NULL;
                        if (file_digest(repomd, ms.hash_type, &got) < 0) got = xstrdup("(unreadable)");
                        bool ok = false;
                        for (size_t k = 0; ms.hashes[k]; k++)
                                if (!strcasecmp(got, ms.hashes[k])) ok = true;
                        if (!ok) {
                                size_t nalt = strv_length(ms.hashes) - 1;
                                _cleanup_free_ char *more = nalt ? xasprintf(" (or one of %zu older ones)", nalt) : NULL;
                                err = xasprintf("%s: does not match the metalink %s (stale mirror?): %s expected %s%s, "
                                                "got %s", url, r->metalink, ms.hash_type, ms.hashes[0],
                                                more ? more : "", got);
                                unlink(repomd);
                                n_stale++;
                                q = ERR_FETCH;
                        }
                        free(got);
                }
                if (q == 0) {
                        base = ms.bases[i];
                        break;
                }
                if (q != ERR_FETCH && q != -ENOENT) n_unreachable++;
                char *n = xasprintf("%s%s  %s", errs ? errs : "", errs ? "\n" : "", err);
                free(errs);
                free(err);
                errs = n;
                if (q == ERR_INTERRUPTED) break;
        }
        if (!base) {
                *ret_error = xasprintf("repo '%s' (%s): %s:\n%s", r->id, r->origin ? r->origin : "no origin",
                                       n_stale ? "no mirror serves the metadata the metalink describes"
                                               : "cannot download its metadata",
                                       errs ? errs : "  no URL");
                free(errs);
                mirror_set_clear(&ms);
                /* Unreachable wins over "not found": the hint differs. */
                return q == ERR_INTERRUPTED ? q : n_stale ? ERR_FETCH : n_unreachable ? -EHOSTUNREACH : -ENODATA;
        }
        free(errs);
        char *base_copy = xstrdup(base);
        mirror_set_clear(&ms);
        _cleanup_free_ char *cdir = NULL, *solv = NULL;
        int ret;

        if (r->repo_gpgcheck && (ret = check_signature(ctx, r, dir, base_copy, repomd, ret_error)) < 0) goto fail;

        char hex[SHA256_HEX_LEN + 1];
        if ((q = sha256_file(repomd, hex)) < 0) {
                *ret_error = xasprintf("%s: %s", repomd, strerror(-q));
                ret = ERR_FETCH;
                goto fail;
        }
        repomd_info *info = xcalloc(1, sizeof *info);
        info->id = xstrdup(r->id);
        info->baseurl = base_copy;
        info->repomd_sha256 = xstrdup(hex);
        info->signature_checked = r->repo_gpgcheck;

        /* Warm path: a .solv for exactly this repomd.xml. */
        cdir = cache_dir_for(ctx, r->id);
        solv = xasprintf("%s/%s" SOLV_PRIMARY, cdir, hex);
        Repo *repo = NULL;
        if (cache_load(pool, r->id, solv, &repo) == 0) {
                info->from_cache = true;
                *ret_repo = repo;
                *ret_info = info;
                return 0;
        }
        if ((ret = load_repo_dir(pool, r->id, dir, base_copy, r->sslverify, false, &repo, ret_error)) < 0) {
                char *m = xasprintf("repo '%s': %s", r->id, *ret_error);
                free(*ret_error);
                *ret_error = m;
                repomd_info_free(info);
                return ret;
        }
        /* Only verified, fully parsed metadata reaches the cache.  Then solve
         * from the cache too, so a cold and a warm resolve see identical
         * solvables and give the same transaction order (byte-identical
         * locks).  The fresh repo is the pool's last, so its ids are reused. */
        if (cache_store(ctx, repo, r->id, repomd, hex) == 0) {
                repo_free(repo, 1);
                repo = NULL;
                if (cache_load(pool, r->id, solv, &repo) < 0 &&
                    (ret = load_repo_dir(pool, r->id, dir, base_copy, r->sslverify, false, &repo, ret_error)) < 0) {
                        char *m = xasprintf("repo '%s': %s", r->id, *ret_error);
                        free(*ret_error);
                        *ret_error = m;
                        repomd_info_free(info);
                        return ret;
                }
        }
        *ret_repo = repo;
        *ret_info = info;
        return 0;
fail:
        free(base_copy);
        return ret;
}

/* ---- file lists, on demand ---------------------------------------------- */

static int ext_load(Repo *repo, const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) return -errno;
        int q = repo_add_solv(repo, f, REPO_EXTEND_SOLVABLES);
        fclose(f);
        return q != 0 ? -EBADMSG : 0;
}

static int ext_store(Repodata *data, const char *dir, const char *sha) {
        _cleanup_free_ char *name = xasprintf("%s" SOLV_FILELISTS, sha);
        return solv_write_atomic(dir, name, NULL, data);
}

/* Fetch, verify and parse filelists.xml for repo, caching it as an extension. */
static int filelists_fetch(build_ctx *ctx, const plan_repo *r, Repo *repo, const repomd_info *info, const char *cdir,
                           const char *ext, char **ret_error) {
        _cleanup_free_ char *dir = xasprintf("%s/repos/%s", ctx->work_dir, r->id);
        _cleanup_free_ char *repomd = xasprintf("%s/repodata/repomd.xml", dir);
        _cleanup_free_ char *where = info->baseurl ? url_join(info->baseurl, "repodata/repomd.xml") : xstrdup(repomd);
        _cleanup_free_ char *main_solv = xasprintf("%s/%s" SOLV_PRIMARY, cdir, info->repomd_sha256);
        /* A scratch pool: the real one sees only the extension loaded from
         * the cache, exactly as a warm run does (byte-identical locks). */
        Pool *sp = pool_create();
        pool_setdisttype(sp, DISTTYPE_RPM);
        Repo *mdrepo = repo_create(sp, "repomd");
        FILE *f = fopen(repomd, "re");
        int q = f ? repo_add_repomdxml(mdrepo, f, 0) : -1;
        if (f) fclose(f);
        md_entry e = { 0 };
        char *err = NULL;
        int ret = 0;
        Repo *m = NULL;
        if (q != 0) {
                *ret_error = xasprintf("repo '%s': %s: cannot read it again for the file lists", r->id, where);
                ret = ERR_FETCH;
                goto out;
        }
        if (!md_find(mdrepo, "filelists", &e)) goto out; /* none: nothing to load */
        if (cache_load(sp, r->id, main_solv, &m) == 0) {
                if ((ret = md_load_one(m, dir, info->baseurl, r->sslverify, &e, MD_FILELISTS, &err)) < 0) goto fail;
                repo_internalize(m);
                /* repodata_write stores the block from data->start: make it
                 * the whole repo, as the extension is loaded against it. */
                Repodata *d = repo_id2repodata(m, m->nrepodata - 1);
                repodata_extend_block(d, m->start, m->end - m->start);
                if (ext_store(d, cdir, info->repomd_sha256) == 0 && ext_load(repo, ext) == 0) goto out;
        }
        /* No usable cache: straight from the XML into the real pool. */
        if ((ret = md_load_one(repo, dir, info->baseurl, r->sslverify, &e, MD_FILELISTS, &err)) < 0) goto fail;
        repo_internalize(repo);
        goto out;
fail:
        *ret_error = xasprintf("repo '%s': %s", r->id, err);
        free(err);
out:
        md_entry_clear(&e);
        pool_free(sp);
        return ret;
}

int repomd_load_filelists(build_ctx *ctx, const plan_repo *r, bool offline, Repo *repo, repomd_info *info,
                          char **ret_error) {
        if (info->filelists) return 0;
        _cleanup_free_ char *cdir = cache_dir_for(ctx, r->id);
        _cleanup_free_ char *ext = xasprintf("%s/%s" SOLV_FILELISTS, cdir, info->repomd_sha256);
        if (ext_load(repo, ext) == 0)
                info->filelists_from_cache = true;
        else if (offline) {
                *ret_error = xasprintf("repo '%s': --offline, but a file dependency needs its file lists, which are "
                                       "not in the cache (%s missing); run once without --offline to fill the cache",
                                       r->id, ext);
                return -ENOENT;
        } else {
                int q = filelists_fetch(ctx, r, repo, info, cdir, ext, ret_error);
                if (q < 0) return q;
        }
        filelists_unfilter(repo);
        info->filelists = true;
        return 0;
}
