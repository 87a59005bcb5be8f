/* fetch.c — see fetch.h. */
#include "fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <rpm/header.h>
#include <rpm/rpmcrypto.h>
#include <rpm/rpmio.h>
#include <rpm/rpmkeyring.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"
#include "progress.h"
#include "util.h"

/* ---------------------------------------------------------------- digests */

static int hash_algo(const char *type) {
        if (!type) return -1;
        if (!strcasecmp(type, "sha256")) return RPM_HASH_SHA256;
        if (!strcasecmp(type, "sha512")) return RPM_HASH_SHA512;
        if (!strcasecmp(type, "sha384")) return RPM_HASH_SHA384;
        if (!strcasecmp(type, "sha224")) return RPM_HASH_SHA224;
        if (!strcasecmp(type, "sha1") || !strcasecmp(type, "sha")) return RPM_HASH_SHA1;
        if (!strcasecmp(type, "md5")) return RPM_HASH_MD5;
        return -1;
}

static bool is_hex(const char *s) {
        if (!s || !*s) return false;
        for (; *s; s++)
                if (!isxdigit((unsigned char)*s)) return false;
        return true;
}

static char *digest_final_hex(DIGEST_CTX dctx) {
        void *hex = NULL;
        rpmDigestFinal(dctx, &hex, NULL, 1);
        return hex;
}

char *fetch_cache_path(const char *cache_root, const lock_package *pkg) {
        if (hash_algo(pkg->checksum_type) < 0 || !is_hex(pkg->checksum)) return NULL;
        char *type = xstrdup(pkg->checksum_type), *hex = xstrdup(pkg->checksum);
        for (char *c = type; *c; c++) *c = (char)tolower((unsigned char)*c);
        for (char *c = hex; *c; c++) *c = (char)tolower((unsigned char)*c);
        char *r = xasprintf("%s/%s/%s.rpm", cache_root, type, hex);
        free(type);
        free(hex);
        return r;
}

int fetch_verify_file(const char *path, uint64_t size, const char *checksum_type,
                      const char *checksum, char **ret_error) {
        int algo = hash_algo(checksum_type);
        if (algo < 0) {
                *ret_error = xasprintf("unsupported checksum type \"%s\"", checksum_type ? checksum_type : "");
                return ERR_FETCH;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        if ((uint64_t)st.st_size != size) {
                close(fd);
                *ret_error = xasprintf("size %" PRIu64 " bytes, the lock says %" PRIu64, (uint64_t)st.st_size, size);
                return ERR_FETCH;
        }
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        DIGEST_CTX dctx = rpmDigestInit(algo, RPMDIGEST_NONE);
        static const size_t bufsz = 256 * 1024;
        char *buf = xmalloc(bufsz);
        ssize_t n;
        while ((n = read(fd, buf, bufsz)) > 0) rpmDigestUpdate(dctx, buf, (size_t)n);
        int saved = errno;
        free(buf);
        close(fd);
        char *hex = digest_final_hex(dctx);
        if (n < 0) {
                free(hex);
                return -saved;
        }
        int r = 0;
        if (!hex || strcasecmp(hex, checksum)) {
                *ret_error = xasprintf("%s checksum mismatch: got %s, the lock says %s", checksum_type,
                                       hex ? hex : "?", checksum);
                r = ERR_FETCH;
        }
        free(hex);
        return r;
}

/* ---------------------------------------------------------------- OpenPGP */

int fetch_keyring_load(char *const *key_paths, struct rpmKeyring_s **ret, char **ret_error) {
        rpmKeyring kr = rpmKeyringNew();
        size_t nkeys = 0;
        for (size_t i = 0; key_paths && key_paths[i]; i++) {
                char *data = NULL;
                size_t len;
                int r = read_file(key_paths[i], &data, &len);
                if (r < 0) {
                        *ret_error = xasprintf("gpg key %s: %s", key_paths[i], strerror(-r));
                        rpmKeyringFree(kr);
                        return ERR_FETCH;
                }
                /* A key file may hold several armored blocks: take each. */
                size_t before = nkeys;
                const char *blk = data;
                while ((blk = strstr(blk, "-----BEGIN PGP PUBLIC KEY BLOCK-----"))) {
                        const char *end = strstr(blk, "-----END PGP PUBLIC KEY BLOCK-----");
                        if (!end) break;
                        end += strlen("-----END PGP PUBLIC KEY BLOCK-----");
                        char *one = xstrndup(blk, (size_t)(end - blk));
                        uint8_t *pkt = NULL;
                        size_t pktlen = 0;
                        if (pgpParsePkts(one, &pkt, &pktlen) == PGPARMOR_PUBKEY) {
                                rpmPubkey key = rpmPubkeyNew(pkt, pktlen);
                                if (key) {
                                        /* subkeys sign too (rpm 4.18 verifies with them) */
                                        int nsub = 0;
                                        rpmPubkey *subs = rpmGetSubkeys(key, &nsub);
                                        for (int s = 0; s < nsub; s++) {
                                                rpmKeyringAddKey(kr, subs[s]);
                                                rpmPubkeyFree(subs[s]);
                                        }
                                        free(subs);
                                        if (rpmKeyringAddKey(kr, key) >= 0) nkeys++;
                                        rpmPubkeyFree(key);
                                }
                        }
                        free(pkt);
                        free(one);
                        blk = end;
                }
                free(data);
                if (nkeys == before) {
                        *ret_error = xasprintf("gpg key %s: no usable OpenPGP public key in it", key_paths[i]);
                        rpmKeyringFree(kr);
                        return ERR_FETCH;
                }
        }
        if (nkeys == 0) {
                *ret_error = xstrdup("gpgcheck is on but the repo names no gpgkey");
                rpmKeyringFree(kr);
                return ERR_FETCH;
        }
        *ret = kr;
        return 0;
}

int fetch_verify_signature(const char *rpm_path, struct rpmKeyring_s *keyring, char **ret_error) {
        int r = install_rpm_init(NULL);
        if (r < 0) {
                *ret_error = xstrdup("cannot initialise librpm");
                return ERR_FETCH;
        }
        FD_t fd = Fopen(rpm_path, "r.ufdio");
        if (!fd || Ferror(fd)) {
                *ret_error = xasprintf("cannot open: %s", fd ? Fstrerror(fd) : strerror(errno));
                if (fd) Fclose(fd);
                return ERR_FETCH;
        }
        rpmts ts = rpmtsCreate();
        rpmtsSetKeyring(ts, keyring);   /* only this repo's keys: nothing from any rpmdb */
        rpmtsSetVSFlags(ts, 0);
        Header h = NULL;
        rpmRC rc = rpmReadPackageFile(ts, fd, rpm_path, &h);
        r = ERR_FETCH;
        switch (rc) {
        case RPMRC_OK:
                break;
        case RPMRC_NOKEY:
                *ret_error = xstrdup("signed with a key that is not among the repo's gpgkey(s)");
                goto out;
        case RPMRC_NOTTRUSTED:
                *ret_error = xstrdup("signed with an untrusted key");
                goto out;
        case RPMRC_NOTFOUND:
                *ret_error = xstrdup("not an rpm package");
                goto out;
        default:
                *ret_error = xstrdup("bad signature or corrupt header (tampered package?)");
                goto out;
        }
        if (!headerIsEntry(h, RPMTAG_RSAHEADER) && !headerIsEntry(h, RPMTAG_DSAHEADER) &&
            !headerIsEntry(h, 5090 /* RPMTAG_OPENPGP, rpm 4.20+ */)) {
                *ret_error = xstrdup("not signed (gpgcheck is on for its repo)");
                goto out;
        }
        /* The header signature covers the payload digest; check the payload
         * against it.  (Packages older than rpm 4.14 carry none: their
         * payload is covered by the lock's checksum and by rpm's per-file
         * digests at unpack.) */
        struct rpmtd_s td;
        if (headerGet(h, RPMTAG_PAYLOADDIGEST, &td, HEADERGET_MINMEM)) {
                const char *want = rpmtdGetString(&td);
                uint32_t algo = (uint32_t)headerGetNumber(h, RPMTAG_PAYLOADDIGESTALGO);
                if (!algo) algo = RPM_HASH_SHA256;
                DIGEST_CTX dctx = rpmDigestInit((int)algo, RPMDIGEST_NONE);
                static const size_t bufsz = 256 * 1024;
                char *buf = xmalloc(bufsz);
                ssize_t n;
                while ((n = Fread(buf, 1, bufsz, fd)) > 0) rpmDigestUpdate(dctx, buf, (size_t)n);
                free(buf);
                char *got = digest_final_hex(dctx);
                bool ok = n >= 0 && !Ferror(fd) && got && want && !strcasecmp(got, want);
                free(got);
                rpmtdFreeData(&td);
                if (!ok) {
                        *ret_error = xstrdup("payload does not match the signed payload digest (tampered or truncated)");
                        goto out;
                }
        }
        r = 0;
out:
        headerFree(h);
        rpmtsFree(ts);
        Fclose(fd);
        return r;
}

/* ---------------------------------------------------------------- download */

typedef struct fetch_job {
        const lock_package *pkg;
        const plan_repo *repo;          /* NULL: not in the plan (e.g. @local) */
        rpmKeyring keyring;             /* gpgcheck: this repo's keys */
        char *path;                     /* result */
        char *url;                      /* what failed, for the message */
        char *error;
        int r;
} fetch_job;

typedef struct fetch_state {
        pthread_mutex_t mu;
        fetch_job *jobs;
        size_t n, next, ndone;
        uint64_t bytes_done;
        progress *pr;
        const char *cache_root;
        bool stop;
} fetch_state;

typedef struct sink {
        int fd;
        DIGEST_CTX dctx;
        uint64_t written, limit;
        int err;
} sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata) {
        sink *s = userdata;
        size_t len = size * nmemb;
        if (s->written + len > s->limit) {      /* more than the lock says: stop now */
                s->err = EFBIG;
                return 0;
        }
        rpmDigestUpdate(s->dctx, data, len);
        for (size_t off = 0; off < len;) {
                ssize_t w = write(s->fd, data + off, len - off);
                if (w < 0) {
                        if (errno == EINTR) continue;
                        s->err = errno;
                        return 0;
                }
                off += (size_t)w;
        }
        s->written += len;
        return len;
}

static int xfer_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        (void)clientp; (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
        return interrupted() ? 1 : 0;
}

static bool url_is_local(const char *u) {
        return str_startswith(u, "file://") || u[0] == '/';
}

static char *join_url(const char *base, const char *loc) {
        if (!base || !*base || url_is_local(loc) || strstr(loc, "://")) return xstrdup(loc);
        size_t bl = strlen(base);
        return xasprintf("%s%s%s", base, base[bl - 1] == '/' ? "" : "/", loc);
}

static char *local_path(const char *u) {
        if (str_startswith(u, "file://")) u += strlen("file://");
        /* file://localhost/path */
        if (str_startswith(u, "localhost/")) u += strlen("localhost");
        return xstrdup(u);
}

enum { DL_OK = 0, DL_TRANSIENT = 1, DL_PERMANENT = 2 };

/* One attempt: url → dest temp file, digest checked.  Returns DL_*. */
static int download_once(CURL *c, const char *url, const fetch_job *j, bool sslverify, const char *tmp,
                         char **ret_error) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                *ret_error = xasprintf("cannot create %s: %s", tmp, strerror(errno));
                return DL_PERMANENT;
        }
        sink s = { .fd = fd, .dctx = rpmDigestInit(hash_algo(j->pkg->checksum_type), RPMDIGEST_NONE),
                   .limit = j->pkg->size };
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_cb);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "imgbuild/" IMGBUILD_VERSION);
        if (!sslverify) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        CURLcode cc = curl_easy_perform(c);
        long http = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
        char *hex = digest_final_hex(s.dctx);
        int ret = DL_OK;
        if (cc != CURLE_OK) {
                if (s.err == EFBIG) {
                        *ret_error = xasprintf("server sent more than the %" PRIu64 " bytes the lock says", j->pkg->size);
                        ret = DL_PERMANENT;
                } else if (s.err) {
                        *ret_error = xasprintf("writing %s: %s", tmp, strerror(s.err));
                        ret = DL_PERMANENT;
                } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
                        *ret_error = xstrdup("interrupted");
                        ret = DL_PERMANENT;
                } else {
                        *ret_error = xasprintf("%s", curl_easy_strerror(cc));
                        ret = (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) ? DL_PERMANENT
                                                                                               : DL_TRANSIENT;
                }
        } else if (http >= 400 || (http && http < 200)) {
                *ret_error = xasprintf("HTTP %ld", http);
                ret = (http >= 500 || http == 429 || http == 408) ? DL_TRANSIENT : DL_PERMANENT;
        } else if (s.written != j->pkg->size) {
                *ret_error = xasprintf("got %" PRIu64 " bytes, the lock says %" PRIu64, s.written, j->pkg->size);
                ret = DL_TRANSIENT;     /* a short read is worth another try */
        } else if (!hex || strcasecmp(hex, j->pkg->checksum)) {
                *ret_error = xasprintf("%s checksum mismatch: got %s, the lock says %s", j->pkg->checksum_type,
                                       hex ? hex : "?", j->pkg->checksum);
                ret = DL_PERMANENT;
        } else if (fdatasync(fd) < 0) {
                *ret_error = xasprintf("writing %s: %s", tmp, strerror(errno));
                ret = DL_PERMANENT;
        }
        free(hex);
        close(fd);
        return ret;
}

static void fetch_one(fetch_state *st, fetch_job *j, CURL *c) {
        const lock_package *pkg = j->pkg;
        char *err = NULL;
        int r;

        if (hash_algo(pkg->checksum_type) < 0 || !is_hex(pkg->checksum)) {
                j->error = xasprintf("unsupported or malformed checksum \"%s:%s\" in the lock",
                                     pkg->checksum_type ? pkg->checksum_type : "", pkg->checksum ? pkg->checksum : "");
                j->r = ERR_FETCH;
                return;
        }
        char *first = join_url(pkg->baseurl, pkg->location);
        if (url_is_local(first)) {
                /* Read in place: verified, never copied. */
                char *path = local_path(first);
                j->url = first;
                r = fetch_verify_file(path, pkg->size, pkg->checksum_type, pkg->checksum, &err);
                if (r < 0) {
                        j->error = err ? err : xasprintf("%s", strerror(-r));
                        j->r = ERR_FETCH;
                        free(path);
                        return;
                }
                j->path = path;
        } else {
                char *dest = fetch_cache_path(st->cache_root, pkg);
                /* A cache hit is verified like a download: a name in the cache
                 * is complete, but the disk may have rotted. */
                if (path_exists(dest)) {
                        r = fetch_verify_file(dest, pkg->size, pkg->checksum_type, pkg->checksum, &err);
                        if (r == 0) {
                                j->path = dest;
                                free(first);
                                goto verified;
                        }
                        free(err);
                        err = NULL;
                        unlink(dest);
                }
                char *dir = xstrndup(dest, (size_t)(strrchr(dest, '/') - dest));
                mkdir_p(dir, 0755);
                char *tmp = xasprintf("%s/.%s.%d.%lx.part", dir, strrchr(dest, '/') + 1, (int)getpid(),
                                      (unsigned long)pthread_self());
                free(dir);
                /* URLs to try: the lock's base URL, then the repo's others. */
                char **urls = NULL;
                strv_push(&urls, first);
                for (size_t i = 0; j->repo && j->repo->baseurls && j->repo->baseurls[i]; i++) {
                        if (pkg->baseurl && !strcmp(j->repo->baseurls[i], pkg->baseurl)) continue;
                        strv_push(&urls, join_url(j->repo->baseurls[i], pkg->location));
                }
                bool sslverify = j->repo ? j->repo->sslverify : true;
                int res = DL_PERMANENT;
                for (size_t u = 0; urls[u] && res != DL_OK && !interrupted(); u++) {
                        for (int attempt = 0; attempt <= FETCH_RETRIES; attempt++) {
                                free(err);
                                err = NULL;
                                res = download_once(c, urls[u], j, sslverify, tmp, &err);
                                if (res != DL_TRANSIENT || interrupted()) break;
                                if (attempt < FETCH_RETRIES) usleep((useconds_t)(250000u << attempt));
                        }
                        free(j->url);
                        j->url = xstrdup(urls[u]);
                }
                strv_free(urls);
                if (res != DL_OK || rename(tmp, dest) < 0) {
                        if (res == DL_OK) err = xasprintf("rename into the cache: %s", strerror(errno));
                        unlink(tmp);
                        free(tmp);
                        free(dest);
                        j->error = err ? err : xstrdup("download failed");
                        j->r = interrupted() ? ERR_INTERRUPTED : ERR_FETCH;
                        return;
                }
                free(err);
                err = NULL;
                free(tmp);
                j->path = dest;
        }
verified:
        if (j->keyring) {
                r = fetch_verify_signature(j->path, j->keyring, &err);
                if (r < 0) {
                        j->error = xasprintf("signature check failed: %s", err);
                        free(err);
                        j->r = ERR_FETCH;
                        return;
                }
        }
        j->r = 0;
}

static void *worker(void *arg) {
        fetch_state *st = arg;
        CURL *c = curl_easy_init();
        for (;;) {
                pthread_mutex_lock(&st->mu);
                if (st->stop || st->next >= st->n || interrupted()) {
                        pthread_mutex_unlock(&st->mu);
                        break;
                }
                fetch_job *j = &st->jobs[st->next++];
                pthread_mutex_unlock(&st->mu);

                fetch_one(st, j, c);

                pthread_mutex_lock(&st->mu);
                st->ndone++;
                st->bytes_done += j->pkg->size;
                if (j->r < 0) st->stop = true;  /* fail fast: first error ends the stage */
                char *nevra = lock_package_nevra(j->pkg);
                progress_update(st->pr, st->bytes_done, nevra);
                free(nevra);
                pthread_mutex_unlock(&st->mu);
        }
        curl_easy_cleanup(c);
        return NULL;
}

/* gpgkey URLs → local files (remote keys downloaded into the work dir). */
static int repo_keyring(build_ctx *ctx, const plan_repo *repo, rpmKeyring *ret, char **ret_error) {
        char **paths = NULL;
        int r = 0;
        for (size_t i = 0; repo->gpgkeys && repo->gpgkeys[i]; i++) {
                const char *u = repo->gpgkeys[i];
                if (url_is_local(u)) {
                        strv_push(&paths, local_path(u));
                        continue;
                }
                char *dest = xasprintf("%s/gpgkey-%s-%zu.asc", ctx->work_dir, repo->id, i);
                CURL *c = curl_easy_init();
                FILE *f = fopen(dest, "we");
                CURLcode cc = CURLE_WRITE_ERROR;
                long http = 0;
                if (f) {
                        curl_easy_setopt(c, CURLOPT_URL, u);
                        curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
                        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
                        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
                        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
                        if (!repo->sslverify) curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                        cc = curl_easy_perform(c);
                        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
                        fclose(f);
                }
                curl_easy_cleanup(c);
                if (cc != CURLE_OK || http >= 400) {
                        *ret_error = xasprintf("repo %s: cannot fetch gpgkey %s: %s", repo->id, u,
                                               cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error");
                        free(dest);
                        r = ERR_FETCH;
                        goto out;
                }
                strv_push(&paths, dest);
        }
        char *err = NULL;
        r = fetch_keyring_load(paths, ret, &err);
        if (r < 0) {
                *ret_error = xasprintf("repo %s: %s", repo->id, err);
                free(err);
        }
out:
        strv_free(paths);
        return r;
}

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int fetch_jobs(void) {
        const char *e = getenv("IMGBUILD_FETCH_JOBS");
        if (e && *e) {
                char *end;
                long v = strtol(e, &end, 10);
                if (!*end && v >= 1 && v <= 64) return (int)v;
        }
        return FETCH_DEFAULT_JOBS;
}

int fetch_packages(build_ctx *ctx, const plan *p, const lock *l, char ***ret_paths) {
        int r;
        char *err = NULL;
        if (install_rpm_init(p->arch) < 0) {
                log_error("fetch: cannot initialise librpm");
                return ERR_FETCH;
        }
        static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
        pthread_once(&curl_once, curl_init_once);

        char *cache_root = NULL;
        r = ctx_cache_subdir(ctx, "packages", &cache_root);
        if (r < 0) {
                log_error("fetch: cannot create the package cache under %s: %s", ctx->cache_dir, strerror(-r));
                return ERR_FETCH;
        }
        /* Shared while we use the cache; a pruner takes it exclusive. */
        char *lockpath = xasprintf("%s/.lock", cache_root);
        int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        free(lockpath);
        if (lockfd < 0 || flock(lockfd, LOCK_SH) < 0) {
                log_error("fetch: cannot lock the package cache %s: %s", cache_root, strerror(errno));
                if (lockfd >= 0) close(lockfd);
                free(cache_root);
                return ERR_FETCH;
        }

        /* One keyring per gpgcheck'd repo, loaded before any download. */
        rpmKeyring *keyrings = xcalloc(p->n_repos + 1, sizeof(rpmKeyring));
        fetch_state st = { .mu = PTHREAD_MUTEX_INITIALIZER, .n = l->n_packages, .cache_root = cache_root };
        st.jobs = xcalloc(l->n_packages ? l->n_packages : 1, sizeof(fetch_job));
        uint64_t total = 0;
        r = 0;
        for (size_t i = 0; i < l->n_packages; i++) {
                fetch_job *j = &st.jobs[i];
                j->pkg = &l->packages[i];
                total += j->pkg->size;
                for (size_t k = 0; k < p->n_repos; k++) {
                        if (!p->repos[k].id || strcmp(p->repos[k].id, j->pkg->repo_id)) continue;
                        j->repo = &p->repos[k];
                        if (p->repos[k].gpgcheck) {
                                if (!keyrings[k] && repo_keyring(ctx, &p->repos[k], &keyrings[k], &err) < 0) {
                                        log_error("fetch: %s", err);
                                        free(err);
                                        r = ERR_FETCH;
                                        goto out;
                                }
                                j->keyring = keyrings[k];
                        }
                        break;
                }
                if (!j->repo && strcmp(j->pkg->repo_id, "@local"))
                        log_warn("fetch: %s: repo \"%s\" is not in the plan; no signature check",
                                 j->pkg->name, j->pkg->repo_id);
        }

        int njobs = fetch_jobs();
        if ((size_t)njobs > l->n_packages) njobs = (int)(l->n_packages ? l->n_packages : 1);
        log_info("fetching %zu packages (%.1f MiB, %d at a time)", l->n_packages, (double)total / 1048576.0, njobs);
        st.pr = progress_new("download", total, "B");
        pthread_t *th = xcalloc((size_t)njobs, sizeof(pthread_t));
        int started = 0;
        for (int t = 0; t < njobs; t++) {
                if (pthread_create(&th[t], NULL, worker, &st) != 0) break;
                started++;
        }
        if (started == 0) worker(&st);
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
        free(th);
        progress_free(st.pr);

        /* Report every failure (not only the first): each names package + URL. */
        for (size_t i = 0; i < st.n; i++) {
                fetch_job *j = &st.jobs[i];
                if (j->r < 0 && j->r != ERR_INTERRUPTED) {
                        char *nevra = lock_package_nevra(j->pkg);
                        log_error("fetch: %s (%s): %s", nevra, j->url ? j->url : j->pkg->location, j->error);
                        free(nevra);
                        r = ERR_FETCH;
                }
        }
        if (r == 0 && (interrupted() || st.ndone < st.n)) r = interrupted() ? ERR_INTERRUPTED : ERR_FETCH;
        if (r == 0) {
                char **paths = xcalloc(st.n + 1, sizeof(char *));
                for (size_t i = 0; i < st.n; i++) {
                        paths[i] = st.jobs[i].path;
                        st.jobs[i].path = NULL;
                }
                *ret_paths = paths;
        }
out:
        for (size_t i = 0; i < st.n; i++) {
                free(st.jobs[i].path);
                free(st.jobs[i].url);
                free(st.jobs[i].error);
        }
        free(st.jobs);
        for (size_t k = 0; k < p->n_repos; k++) rpmKeyringFree(keyrings[k]);
        free(keyrings);
        flock(lockfd, LOCK_UN);
        close(lockfd);
        free(cache_root);
        return r;
}
