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

#include "util.h"

void repomd_info_free(repomd_info *info) {
        if (!info) return;
        free(info->id);
        free(info->baseurl);
        free(info->repomd_sha256);
        free(info);
}

/* ---- download ----------------------------------------------------------- */

static int connect_timeout(void) {
        const char *e = getenv("IMGBUILD_CONNECT_TIMEOUT");
        int t = e ? atoi(e) : 0;
        return t > 0 ? t : REPOMD_CONNECT_TIMEOUT;
}

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
                        r = -EHOSTUNREACH;
                        *ret_error = xasprintf("%s: HTTP %ld%s", url, code, code == 404 ? " (not found)" : "");
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

int repomd_check_file(const char *path, const char *type, const char *hex, char **ret_error) {
        Id t = solv_chksum_str2type(type);
        if (!t) {
                *ret_error = xasprintf("%s: unknown checksum type \"%s\"", path, type);
                return ERR_FETCH;
        }
        FILE *f = fopen(path, "re");
        if (!f) {
                *ret_error = xasprintf("%s: %s", path, strerror(errno));
                return ERR_FETCH;
        }
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
        int r = 0;
        if (err) {
                *ret_error = xasprintf("%s: read error", path);
                r = ERR_FETCH;
        } else if (strcasecmp(got, hex) != 0) {
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
                        return r == -EHOSTUNREACH ? ERR_FETCH : r;
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
 * dependency outside them needs filelists.  True when some requirement of
 * repo on a path has no provider among the repos loaded so far: neither an
 * explicit Provides nor an entry in a file list. */
static bool needs_filelists(Repo *repo) {
        Pool *pool = repo->pool;
        /* Explicit provides only: pool_addfileprovides would record the
         * file list it saw and miss files loaded later. */
        pool_createwhatprovides(pool);
        /* Each such path once (thousands of packages require /bin/sh). */
        Map want;
        map_init(&want, pool->ss.nstrings);
        int nwant = 0;
        Solvable *s;
        Id p;
        FOR_REPO_SOLVABLES(repo, p, s) {
                if (!s->requires) continue;
                for (Id *dp = repo->idarraydata + s->requires; *dp; dp++) {
                        if (*dp == SOLVABLE_PREREQMARKER || ISRELDEP(*dp) || MAPTST(&want, *dp)) continue;
                        if (pool_id2str(pool, *dp)[0] == '/' && !*pool_whatprovides_ptr(pool, *dp)) {
                                MAPSET(&want, *dp);
                                nwant++;
                        }
                }
        }
        /* Then one pass over every file list loaded so far. */
        if (nwant) {
                Dataiterator di;
                dataiterator_init(&di, pool, 0, 0, SOLVABLE_FILELIST, 0, SEARCH_FILES);
                while (nwant && dataiterator_step(&di)) {
                        Id id = pool_str2id(pool, di.kv.str, 0);
                        if (id && id < want.size * 8 && MAPTST(&want, id)) {
                                MAPCLR(&want, id);
                                nwant--;
                        }
                }
                dataiterator_free(&di);
        }
        map_free(&want);
        return nwant > 0;
}

/* Parse dir/repodata/repomd.xml (already there), then fetch (base != NULL)
 * or read the files it lists, verify and parse them into a new repo. */
static int load_repo_dir(Pool *pool, const char *id, const char *dir, const char *base, bool sslverify,
                         Repo **ret_repo, char **ret_error) {
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
        if (md_find(repo, "filelists", &filelists) && needs_filelists(repo)) {
                log_debug("repo %s: file dependencies outside primary.xml: loading filelists", id);
                if ((r = md_load_one(repo, dir, base, sslverify, &filelists, MD_FILELISTS, ret_error)) < 0)
                        goto out;
                /* libsolv marks primary's file list "filtered": authoritative
                 * for createrepo's primary paths (bin dirs, /etc), so
                 * pool_addfileprovides never looks for such a path in the
                 * filelists extension.  This primary is missing a path we
                 * need, so it is not authoritative: make every file list a
                 * plain one, searched in full (as the .solv cache, which
                 * merges them, does anyway). */
                for (Id rdid = 1; rdid < repo->nrepodata; rdid++)
                        repodata_set_filelisttype(repo_id2repodata(repo, rdid), 0);
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
        if ((r = load_repo_dir(pool, id, dir, NULL, true, &repo, ret_error)) < 0) return r;
        *ret_repo = repo;
        if (ret_sha256) *ret_sha256 = xstrdup(hex);
        return 0;
}

/* ---- cache -------------------------------------------------------------- */

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

/* Write the .solv and the repomd.xml it came from; old entries of the repo
 * are removed afterwards.  Failure to cache is not fatal for the caller. */
static int cache_store(build_ctx *ctx, Repo *repo, const char *id, const char *repomd_path, const char *sha) {
        _cleanup_free_ char *dir = cache_dir_for(ctx, id);
        int r = mkdir_p(dir, 0755);
        if (r < 0) return r;
        _cleanup_free_ char *final = xasprintf("%s/%s.solv", dir, sha);
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.solv.XXXXXX", dir, sha);
        int fd = mkstemp(tmp);
        if (fd < 0) return -errno;
        FILE *f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                close(fd);
                unlink(tmp);
                return r;
        }
        r = repo_write(repo, f) != 0 ? -EIO : 0;
        if (fflush(f) != 0 || fsync(fd) < 0) r = -errno;
        if (fclose(f) != 0 && r == 0) r = -EIO;
        if (r == 0 && fchmodat(AT_FDCWD, tmp, 0644, 0) < 0) r = -errno;
        if (r == 0 && rename(tmp, final) < 0) r = -errno;
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        char *data = NULL;
        size_t len = 0;
        _cleanup_free_ char *md = xasprintf("%s/repomd.xml", dir);
        if ((r = read_file(repomd_path, &data, &len)) == 0) r = write_file_atomic(md, data, len, 0644);
        free(data);
        if (r < 0) return r;
        /* Drop older generations of this repo. */
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                _cleanup_free_ char *keep = xasprintf("%s.solv", sha);
                while ((de = readdir(d)))
                        if (str_endswith(de->d_name, ".solv") && strcmp(de->d_name, keep) != 0)
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
        _cleanup_free_ char *solv = xasprintf("%s/%s.solv", dir, hex);
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

/* Candidate base URLs: baseurl=, else the mirrorlist/metalink's entries. */
static int base_urls(const plan_repo *r, const char *dir, char ***ret, char **ret_error) {
        if (r->baseurls && r->baseurls[0]) {
                *ret = strv_copy(r->baseurls);
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
                return q;
        }
        char *text = NULL;
        read_file(path, &text, NULL);
        char **v = NULL;
        if (text) v = strstr(text, "<metalink") ? repomd_parse_metalink(text) : repomd_parse_mirrorlist(text);
        free(text);
        if (!v) {
                *ret_error = xasprintf("repo '%s': %s lists no usable URL", r->id, list);
                return ERR_FETCH;
        }
        *ret = v;
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
        char **bases = NULL;
        if ((q = base_urls(r, dir, &bases, ret_error)) < 0) return q;

        /* First base URL whose repomd.xml answers. */
        _cleanup_free_ char *repomd = xasprintf("%s/repomd.xml", repodata);
        char *errs = NULL;
        const char *base = NULL;
        for (size_t i = 0; bases[i]; i++) {
                _cleanup_free_ char *url = url_join(bases[i], "repodata/repomd.xml");
                char *err = NULL;
                q = repomd_download(url, repomd, r->sslverify, &err);
                if (q == 0) {
                        base = bases[i];
                        break;
                }
                char *n = xasprintf("%s%s  %s", errs ? errs : "", errs ? "\n" : "", err);
                free(errs);
                free(err);
                errs = n;
                if (q == ERR_INTERRUPTED) break;
        }
        if (!base) {
                *ret_error = xasprintf("repo '%s' (%s): cannot download its metadata:\n%s", r->id,
                                       r->origin ? r->origin : "no origin", errs ? errs : "  no URL");
                free(errs);
                strv_free(bases);
                return q == ERR_INTERRUPTED ? q : -EHOSTUNREACH;
        }
        free(errs);
        char *base_copy = xstrdup(base);
        strv_free(bases);
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
        solv = xasprintf("%s/%s.solv", cdir, hex);
        Repo *repo = NULL;
        if (cache_load(pool, r->id, solv, &repo) == 0) {
                info->from_cache = true;
                *ret_repo = repo;
                *ret_info = info;
                return 0;
        }
        if ((ret = load_repo_dir(pool, r->id, dir, base_copy, r->sslverify, &repo, ret_error)) < 0) {
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
                    (ret = load_repo_dir(pool, r->id, dir, base_copy, r->sslverify, &repo, ret_error)) < 0) {
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
