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
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "install.h"
#include "options.h"
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

/* A job goes QUEUED → BUSY → DONE; in a streamed run a package still to
 * download goes QUEUED → BUSY → HEADER (its first bytes fetched) → BUSY →
 * DONE. */
enum { JOB_QUEUED, JOB_BUSY, JOB_HEADER, JOB_DONE };

typedef struct fetch_job {
        const lock_package *pkg;
        const plan_repo *repo;          /* NULL: not in the plan (e.g. @local) */
        rpmKeyring keyring;             /* gpgcheck: this repo's keys */
        char *path;                     /* result */
        char *header_path;              /* streamed: its lead, signature and header */
        char *url;                      /* what failed, for the message */
        char *error;
        int r;
        int state;
} fetch_job;

/* The payloads of a streamed run download in a child process: rpm
 * chroot()s the whole process in and out of the root all through the
 * transaction, so a download thread beside it would open and rename cache
 * files inside the image root.  The child reports each finished package
 * on a pipe as a record (a struct done_record and its strings). */
struct fetch_run {
        pthread_mutex_t mu;
        fetch_job *jobs;
        size_t n, ndone;
        size_t next;                    /* first pass: the next job */
        size_t *order;                  /* second pass (payloads) in this order */
        bool streamed, second_pass, cancelled;
        bool offline;                   /* --offline: the package cache or nothing */
        uint64_t bytes_done;
        double t0;
        progress *pr;
        char *cache_root, *header_dir;
        int lockfd;
        rpmKeyring *keyrings;
        size_t n_keyrings;
        pid_t child;                    /* the second pass; 0: not started */
        int pipe_fd;                    /* parent: read end; child: write end */
        char *records;                  /* parent: bytes read, not yet parsed */
        size_t records_len;
        char **unreachable;             /* base URLs that could not be connected to */
};

typedef struct done_record {
        uint32_t index;
        int32_t r;
        uint32_t path_len, url_len, error_len;
} done_record;

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

/* DL_UNREACHABLE: like DL_TRANSIENT, but no connection was made at all. */
enum { DL_OK = 0, DL_TRANSIENT = 1, DL_PERMANENT = 2, DL_UNREACHABLE = 3 };

/* Whether a failed transfer never reached the server (name, connect, or a
 * connect that timed out) rather than failing on the way. */
static bool never_connected(CURL *c, CURLcode cc) {
        if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_COULDNT_CONNECT)
                return true;
        curl_off_t connected = 0;
        return cc == CURLE_OPERATION_TIMEDOUT &&
               curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK && connected == 0;
}

/* c reset for a GET of url (the caller sets where the body goes). */
static void curl_setup(CURL *c, const char *url, bool sslverify) {
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xfer_cb);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "imgbuild/" IMGBUILD_VERSION);
        /* libcurl's default 16 KiB costs a poll and a recv per 16 KiB on a
         * fast link, on the core rpm shares with the download */
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
        if (!sslverify) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
}

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
        curl_setup(c, url, sslverify);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
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
                              : never_connected(c, cc)                                        ? DL_UNREACHABLE
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
        }
        /* No fdatasync: each one is an ext4 journal commit, and every use of
         * a cache entry verifies it again, so an entry torn by a crash is
         * fetched anew.  close() still reports a late write error. */
        if (close(fd) < 0 && ret == DL_OK) {
                *ret_error = xasprintf("writing %s: %s", tmp, strerror(errno));
                ret = DL_PERMANENT;
        }
        free(hex);
        return ret;
}

static bool base_unreachable(fetch_run *run, const char *base) {
        pthread_mutex_lock(&run->mu);
        bool r = base && strv_contains(run->unreachable, base);
        pthread_mutex_unlock(&run->mu);
        return r;
}

/* Remembers that base could not be connected to: the rest of the run tries
 * the repo's other base URLs first (a dead mirror would otherwise cost each
 * package its retries, up to a connect timeout each). */
static void mark_unreachable(fetch_run *run, const char *base, const char *why) {
        if (!base || !*base) return;
        pthread_mutex_lock(&run->mu);
        bool known = strv_contains(run->unreachable, base);
        if (!known) strv_push(&run->unreachable, xstrdup(base));
        pthread_mutex_unlock(&run->mu);
        if (!known)
                log_warn("fetch: %s does not answer (%s): the other packages try it last", base, why);
}

static void fetch_one(fetch_run *st, fetch_job *j, CURL *c) {
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
                if (st->offline) {
                        j->url = first;
                        j->error = xstrdup("not in the package cache, and --offline forbids downloading it");
                        j->r = ERR_FETCH;
                        free(dest);
                        return;
                }
                char *dir = xstrndup(dest, (size_t)(strrchr(dest, '/') - dest));
                mkdir_p(dir, 0755);
                char *tmp = xasprintf("%s/.%s.%d.%lx.part", dir, strrchr(dest, '/') + 1, (int)getpid(),
                                      (unsigned long)pthread_self());
                free(dir);
                /* Base URLs to try: the lock's, then the repo's others; any
                 * that did not answer earlier in this run go last. */
                char **bases = NULL;
                strv_push(&bases, xstrdup(pkg->baseurl ? pkg->baseurl : ""));   /* "": the location is a URL */
                for (size_t i = 0; j->repo && j->repo->baseurls && j->repo->baseurls[i]; i++)
                        if (!strv_contains(bases, j->repo->baseurls[i]))
                                strv_push(&bases, xstrdup(j->repo->baseurls[i]));
                size_t nb = strv_length(bases);
                for (size_t i = 0, moved = 0; i + moved < nb;) {
                        if (!base_unreachable(st, bases[i])) { i++; continue; }
                        char *b = bases[i];
                        memmove(bases + i, bases + i + 1, (nb - i - 1) * sizeof(char *));
                        bases[nb - 1] = b;
                        moved++;
                }
                bool sslverify = j->repo ? j->repo->sslverify : true;
                int res = DL_PERMANENT;
                for (size_t u = 0; u < nb && res != DL_OK && !interrupted(); u++) {
                        char *url = join_url(bases[u], pkg->location);
                        for (int attempt = 0; attempt <= FETCH_RETRIES; attempt++) {
                                free(err);
                                err = NULL;
                                res = download_once(c, url, j, sslverify, tmp, &err);
                                if ((res != DL_TRANSIENT && res != DL_UNREACHABLE) || interrupted()) break;
                                if (attempt < FETCH_RETRIES) usleep((useconds_t)(250000u << attempt));
                        }
                        if (res == DL_UNREACHABLE) mark_unreachable(st, bases[u], err);
                        free(j->url);
                        j->url = url;
                }
                strv_free(bases);
                free(first);
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

/* ---------------------------------------------------------------- streaming */

/* Bytes asked for first: the lead and signature of any package and the
 * whole header of most. */
#define HEADER_PROBE (64 * 1024)

int64_t fetch_rpm_header_end(const unsigned char *buf, size_t len) {
        static const unsigned char magic[3] = { 0x8e, 0xad, 0xe8 };
        const size_t lead = 96;
        if (len < 4) return 0;
        if (memcmp(buf, "\xed\xab\xee\xdb", 4)) return -1;
        uint64_t off = lead;
        for (int h = 0; h < 2; h++) {           /* the signature header, then the header */
                if (len < off + 16) return 0;
                if (memcmp(buf + off, magic, sizeof magic)) return -1;
                uint64_t il = (uint64_t)buf[off + 8] << 24 | (uint64_t)buf[off + 9] << 16 |
                              (uint64_t)buf[off + 10] << 8 | buf[off + 11];
                uint64_t dl = (uint64_t)buf[off + 12] << 24 | (uint64_t)buf[off + 13] << 16 |
                              (uint64_t)buf[off + 14] << 8 | buf[off + 15];
                if (il > 0xffff || dl > (256u << 20)) return -1;        /* rpm's own limits */
                off += 16 + il * 16 + dl;
                if (h == 0) off = (off + 7) & ~(uint64_t)7;             /* the signature is padded to 8 */
        }
        return (int64_t)off;
}

typedef struct membuf {
        unsigned char *data;
        size_t len, cap;
} membuf;

static size_t membuf_write(char *data, size_t size, size_t nmemb, void *userdata) {
        membuf *m = userdata;
        size_t len = size * nmemb;
        if (m->len + len > m->cap) return 0;    /* more than asked: the server ignored the range */
        memcpy(m->data + m->len, data, len);
        m->len += len;
        return len;
}

/* Bytes from..to of url appended to m; whether the server sent exactly them
 * (*unreachable: it could not be connected to). */
static bool get_range(CURL *c, const char *url, bool sslverify, uint64_t from, uint64_t to, membuf *m,
                      bool *unreachable) {
        char range[64];
        snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, from, to);
        curl_setup(c, url, sslverify);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, membuf_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
        size_t before = m->len;
        CURLcode cc = curl_easy_perform(c);
        long http = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
        *unreachable = cc != CURLE_OK && never_connected(c, cc);
        return cc == CURLE_OK && http == 206 && m->len - before == to - from + 1;
}

/* Whether j is a package to download (not local, not in the cache). */
static bool needs_download(const fetch_run *run, const fetch_job *j) {
        char *url = join_url(j->pkg->baseurl, j->pkg->location);
        char *dest = fetch_cache_path(run->cache_root, j->pkg);
        bool r = dest && !run->offline && !url_is_local(url) && !path_exists(dest);
        free(url);
        free(dest);
        return r;
}

/* Package i's first bytes, through the end of its header, into
 * header_dir/<i>.rpm-header with two range requests at most.  False if the
 * server will not do ranges, or anything else goes wrong: the caller then
 * downloads the whole package (with its retries, mirrors and messages). */
static bool fetch_header(fetch_run *run, fetch_job *j, size_t i, CURL *c) {
        const lock_package *pkg = j->pkg;
        if (pkg->size < 112 || base_unreachable(run, pkg->baseurl)) return false;
        char *url = join_url(pkg->baseurl, pkg->location);
        bool sslverify = j->repo ? j->repo->sslverify : true;
        membuf m = { .cap = pkg->size < HEADER_PROBE ? pkg->size : HEADER_PROBE };
        m.data = xmalloc(m.cap);
        bool unreachable = false;
        bool ok = get_range(c, url, sslverify, 0, m.cap - 1, &m, &unreachable);
        if (unreachable) mark_unreachable(run, pkg->baseurl, "could not connect");
        int64_t end = ok ? fetch_rpm_header_end(m.data, m.len) : -1;
        ok = end > 0 && (uint64_t)end <= pkg->size;
        if (ok && (uint64_t)end > m.len) {
                m.cap = (size_t)end;
                m.data = xrealloc(m.data, m.cap);
                ok = get_range(c, url, sslverify, m.len, (uint64_t)end - 1, &m, &unreachable);
        }
        if (ok) {
                char *path = xasprintf("%s/%zu.rpm-header", run->header_dir, i);
                FILE *f = fopen(path, "wbe");        /* scratch in the work dir: no fsync */
                ok = f && fwrite(m.data, 1, (size_t)end, f) == (size_t)end;
                if (f && fclose(f) != 0) ok = false;
                if (ok) j->header_path = path;
                else free(path);
        }
        free(m.data);
        free(url);
        return ok;
}

/* Whether the verified package at path starts with the bytes its header
 * was read from (a server could answer a range with other bytes). */
static bool header_matches(const char *header_path, const char *path) {
        char *h = NULL;
        size_t hl = 0;
        if (read_file(header_path, &h, &hl) < 0) return false;
        char *pkg = xmalloc(hl ? hl : 1);
        FILE *f = fopen(path, "rbe");
        bool same = f && fread(pkg, 1, hl, f) == hl && !memcmp(h, pkg, hl);
        if (f) fclose(f);
        free(h);
        free(pkg);
        return same;
}

/* ---------------------------------------------------------------- workers */

/* The next job (called locked): the first pass takes the lock's packages
 * in turn; the second (the child of a streamed run) the payloads of
 * packages whose header alone was fetched, in the order fetch_prefer set.
 * NULL when nothing is left or we are interrupted. */
static fetch_job *take_job(fetch_run *run) {
        if (interrupted()) return NULL;
        if (!run->second_pass) return run->next < run->n ? &run->jobs[run->next++] : NULL;
        for (size_t k = 0; k < run->n; k++) {
                fetch_job *j = &run->jobs[run->order[k]];
                if (j->state != JOB_HEADER) continue;
                j->state = JOB_BUSY;
                return j;
        }
        return NULL;
}

/* j has its result (in this process, or reported by the child's record). */
static void mark_done(fetch_run *run, fetch_job *j) {
        j->state = JOB_DONE;
        run->ndone++;
        run->bytes_done += j->pkg->size;
        char *nevra = lock_package_nevra(j->pkg);
        progress_update(run->pr, run->bytes_done, nevra);
        free(nevra);
}

static void send_record(const fetch_run *run, size_t i) {
        const fetch_job *j = &run->jobs[i];
        /* at most PIPE_BUF in all: one write() is one whole record */
        const char *path = j->path ? j->path : "", *url = j->url ? j->url : "", *err = j->error ? j->error : "";
        done_record rec = { .index = (uint32_t)i, .r = j->r, .path_len = (uint32_t)strnlen(path, 1300),
                            .url_len = (uint32_t)strnlen(url, 1300), .error_len = (uint32_t)strnlen(err, 1300) };
        char buf[sizeof rec + 3 * 1300];
        size_t len = 0;
        memcpy(buf, &rec, sizeof rec);
        len += sizeof rec;
        memcpy(buf + len, path, rec.path_len);
        len += rec.path_len;
        memcpy(buf + len, url, rec.url_len);
        len += rec.url_len;
        memcpy(buf + len, err, rec.error_len);
        len += rec.error_len;
        while (write(run->pipe_fd, buf, len) < 0 && errno == EINTR) {}
}

static void *worker(void *arg) {
        fetch_run *run = arg;
        CURL *c = curl_easy_init();
        fetch_job *j;
        pthread_mutex_lock(&run->mu);
        while ((j = take_job(run))) {
                pthread_mutex_unlock(&run->mu);
                size_t i = (size_t)(j - run->jobs);
                bool header_only = !run->second_pass && run->streamed && needs_download(run, j) &&
                                   fetch_header(run, j, i, c);
                if (!header_only) {
                        fetch_one(run, j, c);
                        if (j->r == 0 && j->header_path && !header_matches(j->header_path, j->path)) {
                                j->error = xstrdup("the server's answer to a range request differs from the package");
                                j->r = ERR_FETCH;
                        }
                }
                pthread_mutex_lock(&run->mu);
                if (header_only) {
                        j->state = JOB_HEADER;
                        continue;
                }
                mark_done(run, j);
                if (run->second_pass) send_record(run, i);
                if (j->r < 0) break;            /* fail fast: first error ends the stage */
        }
        if (j) run->next = run->n;              /* stop the other workers too */
        if (j && run->second_pass)
                for (size_t k = 0; k < run->n; k++)
                        if (run->jobs[k].state == JOB_HEADER) run->jobs[k].state = JOB_BUSY;
        pthread_mutex_unlock(&run->mu);
        curl_easy_cleanup(c);
        return NULL;
}

static int fetch_jobs(void);

/* Downloads at a time for run: IMGBUILD_FETCH_JOBS, at most one per package. */
static int worker_count(const fetch_run *run) {
        int njobs = fetch_jobs();
        return (size_t)njobs > run->n ? (int)(run->n ? run->n : 1) : njobs;
}

/* Runs the workers of a pass and waits for them. */
static void run_pass(fetch_run *run) {
        int njobs = worker_count(run);
        pthread_t *th = xcalloc((size_t)njobs, sizeof(pthread_t));
        int started = 0;
        for (int t = 0; t < njobs; t++) {
                if (pthread_create(&th[t], NULL, worker, run) != 0) break;
                started++;
        }
        if (started == 0) worker(run);
        for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
        free(th);
}

/* The second pass, in a child process (see struct fetch_run).  Without a
 * child (fork failed) it runs here, before the install needs it. */
static void start_second_pass(fetch_run *run) {
        if (run->child || run->second_pass) return;
        bool pending = false;
        for (size_t i = 0; i < run->n; i++) pending |= run->jobs[i].state == JOB_HEADER;
        if (!pending) return;
        int fds[2];
        pid_t pid = pipe2(fds, O_CLOEXEC) == 0 ? fork() : -1;
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);       /* the build is gone: stop */
                close(fds[0]);
                rpmlogSetCallback(NULL, NULL);  /* install's, for its own transaction */
                run->pipe_fd = fds[1];
                run->second_pass = true;
                run_pass(run);
                _exit(0);
        }
        if (pid < 0) {
                log_warn("fetch: cannot start the download process (%s); downloading before the install",
                         strerror(errno));
                run->second_pass = true;
                run->pipe_fd = -1;
                run_pass(run);
                run->second_pass = false;
                for (size_t i = 0; i < run->n; i++)
                        if (run->jobs[i].state == JOB_BUSY) run->jobs[i].state = JOB_QUEUED;  /* never started */
                return;
        }
        close(fds[1]);
        run->pipe_fd = fds[0];
        run->child = pid;
        /* The payloads' own bar: it shows while rpm waits for one of them;
         * rpm's bar takes the line back when it goes on. */
        uint64_t pending_bytes = 0;
        for (size_t i = 0; i < run->n; i++)
                if (run->jobs[i].state == JOB_HEADER) pending_bytes += run->jobs[i].pkg->size;
        run->bytes_done = 0;
        run->pr = progress_new("download", pending_bytes, "B");
}

/* Takes in what the child has reported, waiting up to timeout_ms for it.
 * False once the child is done (end of the pipe). */
static bool read_records(fetch_run *run, int timeout_ms) {
        if (run->pipe_fd < 0 || !run->child) return false;
        struct pollfd pfd = { .fd = run->pipe_fd, .events = POLLIN };
        if (poll(&pfd, 1, timeout_ms) <= 0) return true;
        char buf[16384];
        ssize_t got = read(run->pipe_fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) return true;
        if (got <= 0) {
                close(run->pipe_fd);
                run->pipe_fd = -1;
                return false;
        }
        run->records = xrealloc(run->records, run->records_len + (size_t)got);
        memcpy(run->records + run->records_len, buf, (size_t)got);
        run->records_len += (size_t)got;
        size_t off = 0;
        for (;;) {
                done_record rec;
                if (run->records_len - off < sizeof rec) break;
                memcpy(&rec, run->records + off, sizeof rec);
                size_t len = sizeof rec + rec.path_len + rec.url_len + rec.error_len;
                if (run->records_len - off < len) break;
                const char *str = run->records + off + sizeof rec;
                if (rec.index < run->n && run->jobs[rec.index].state != JOB_DONE) {
                        fetch_job *j = &run->jobs[rec.index];
                        j->r = rec.r;
                        j->path = rec.path_len ? xstrndup(str, rec.path_len) : NULL;
                        free(j->url);
                        j->url = rec.url_len ? xstrndup(str + rec.path_len, rec.url_len) : NULL;
                        j->error = rec.error_len ? xstrndup(str + rec.path_len + rec.url_len, rec.error_len) : NULL;
                        mark_done(run, j);
                }
                off += len;
        }
        memmove(run->records, run->records + off, run->records_len - off);
        run->records_len -= off;
        return true;
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

static int fetch_jobs(void) { return (int)env_number("IMGBUILD_FETCH_JOBS", FETCH_DEFAULT_JOBS); }

int fetch_start(build_ctx *ctx, const plan *p, const lock *l, bool streamed, fetch_run **ret,
                char ***ret_header_paths) {
        char *err = NULL;
        if (install_rpm_init(p->arch) < 0) {
                log_error("fetch: cannot initialise librpm");
                return ERR_FETCH;
        }
        static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
        pthread_once(&curl_once, curl_init_once);

        fetch_run *run = xcalloc(1, sizeof *run);
        pthread_mutex_init(&run->mu, NULL);
        run->n = l->n_packages;
        run->streamed = streamed;
        run->offline = p->offline;
        run->lockfd = run->pipe_fd = -1;
        run->t0 = now_seconds();
        run->jobs = xcalloc(run->n ? run->n : 1, sizeof(fetch_job));
        run->order = xcalloc(run->n ? run->n : 1, sizeof(size_t));
        run->n_keyrings = p->n_repos;
        run->keyrings = xcalloc(p->n_repos + 1, sizeof(rpmKeyring));
        int r = ctx_cache_subdir(ctx, "packages", &run->cache_root);
        if (r < 0) {
                log_error("fetch: cannot create the package cache under %s: %s", ctx->cache_dir, strerror(-r));
                fetch_finish(run, NULL);
                return ERR_FETCH;
        }
        /* Shared while we use the cache; a pruner takes it exclusive. */
        char *lockpath = xasprintf("%s/.lock", run->cache_root);
        run->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        free(lockpath);
        if (run->lockfd < 0 || flock(run->lockfd, LOCK_SH) < 0) {
                log_error("fetch: cannot lock the package cache %s: %s", run->cache_root, strerror(errno));
                fetch_finish(run, NULL);
                return ERR_FETCH;
        }
        if (streamed) {
                run->header_dir = xasprintf("%s/headers", ctx->work_dir);
                if (mkdir_p(run->header_dir, 0755) < 0) {
                        log_error("fetch: cannot create %s: %s", run->header_dir, strerror(errno));
                        fetch_finish(run, NULL);
                        return ERR_FETCH;
                }
        }

        /* One keyring per gpgcheck'd repo, loaded before any download. */
        uint64_t total = 0;
        for (size_t i = 0; i < run->n; i++) {
                fetch_job *j = &run->jobs[i];
                run->order[i] = i;
                j->pkg = &l->packages[i];
                total += j->pkg->size;
                for (size_t k = 0; k < p->n_repos; k++) {
                        if (!p->repos[k].id || strcmp(p->repos[k].id, j->pkg->repo_id)) continue;
                        j->repo = &p->repos[k];
                        if (p->repos[k].gpgcheck) {
                                if (!run->keyrings[k] && repo_keyring(ctx, &p->repos[k], &run->keyrings[k], &err) < 0) {
                                        log_error("fetch: %s", err);
                                        free(err);
                                        fetch_finish(run, NULL);
                                        return ERR_FETCH;
                                }
                                j->keyring = run->keyrings[k];
                        }
                        break;
                }
                if (!j->repo && strcmp(j->pkg->repo_id, "@local"))
                        log_warn("fetch: %s: repo \"%s\" is not in the plan; no signature check",
                                 j->pkg->name, j->pkg->repo_id);
        }

        log_info("fetching %zu packages (%.1f MiB, %d at a time)", run->n, (double)total / 1048576.0,
                 worker_count(run));
        /* A streamed run's headers are quick; its payloads get a bar of their own. */
        if (!streamed) run->pr = progress_new("download", total, "B");
        run_pass(run);
        bool failed = interrupted() || (!streamed && run->ndone < run->n);
        for (size_t i = 0; i < run->n; i++) failed |= run->jobs[i].state == JOB_QUEUED || run->jobs[i].r < 0;
        if (failed) {
                r = fetch_finish(run, NULL);
                return r < 0 ? r : ERR_FETCH;
        }
        if (streamed) {
                char **paths = xcalloc(run->n + 1, sizeof(char *));
                size_t pending = 0;
                for (size_t i = 0; i < run->n; i++) {
                        const fetch_job *j = &run->jobs[i];
                        paths[i] = xstrdup(j->state == JOB_HEADER ? j->header_path : j->path);
                        pending += j->state == JOB_HEADER;
                }
                *ret_header_paths = paths;
                if (pending)
                        log_info("fetch: every header is in (%.1f s); %zu packages download during the install",
                                 now_seconds() - run->t0, pending);
        }
        *ret = run;
        return 0;
}

void fetch_prefer(fetch_run *run, const size_t *order, size_t n) {
        if (n == run->n) memcpy(run->order, order, n * sizeof *order);
        start_second_pass(run);
}

const char *fetch_wait(fetch_run *run, size_t i) {
        if (i >= run->n) return NULL;
        start_second_pass(run);
        while (run->jobs[i].state != JOB_DONE && !interrupted() && read_records(run, 100)) {}
        const fetch_job *j = &run->jobs[i];
        return j->state == JOB_DONE && j->r == 0 ? j->path : NULL;
}

const char *fetch_ready(fetch_run *run, size_t i) {
        if (i >= run->n) return NULL;
        if (run->jobs[i].state != JOB_DONE) read_records(run, 0);
        const fetch_job *j = &run->jobs[i];
        return j->state == JOB_DONE && j->r == 0 ? j->path : NULL;
}

void fetch_cancel(fetch_run *run) {
        run->cancelled = true;
        if (run->child > 0) kill(run->child, SIGTERM);
}

static const char *source_wait(void *data, size_t i) { return fetch_wait(data, i); }

static const char *source_ready(void *data, size_t i) { return fetch_ready(data, i); }

static void source_prefer(void *data, const size_t *order, size_t n) { fetch_prefer(data, order, n); }

install_source fetch_source(fetch_run *run) {
        return (install_source){ .wait = source_wait, .ready = source_ready, .prefer = source_prefer, .data = run };
}

int fetch_finish(fetch_run *run, char ***ret_paths) {
        int status = 0;
        if (run->child > 0) {
                while (read_records(run, 100)) {}
                while (waitpid(run->child, &status, 0) < 0 && errno == EINTR) {}
        }
        if (run->pipe_fd >= 0) close(run->pipe_fd);
        progress_free(run->pr);
        int r = 0;
        /* Report every failure (not only the first): each names package + URL. */
        for (size_t i = 0; i < run->n; i++) {
                fetch_job *j = &run->jobs[i];
                if (j->r < 0 && j->r != ERR_INTERRUPTED) {
                        char *nevra = lock_package_nevra(j->pkg);
                        log_error("fetch: %s (%s): %s", nevra, j->url ? j->url : j->pkg->location, j->error);
                        free(nevra);
                        r = ERR_FETCH;
                }
        }
        if (r == 0 && !interrupted() && !run->cancelled && run->ndone < run->n) {
                /* nothing reported why: the download process died */
                size_t i = 0;
                while (run->jobs[i].state == JOB_DONE) i++;
                char *nevra = lock_package_nevra(run->jobs[i].pkg);
                log_error("fetch: %s was never downloaded: the download process %s %d", nevra,
                          WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                free(nevra);
        }
        if (r == 0 && (interrupted() || run->ndone < run->n)) r = interrupted() ? ERR_INTERRUPTED : ERR_FETCH;
        if (r == 0 && run->child && !run->cancelled)
                log_info("fetch: the last of %zu packages verified %.1f s after the fetch began", run->n,
                         now_seconds() - run->t0);
        if (r == 0 && ret_paths) {
                char **paths = xcalloc(run->n + 1, sizeof(char *));
                for (size_t i = 0; i < run->n; i++) {
                        paths[i] = run->jobs[i].path;
                        run->jobs[i].path = NULL;
                }
                *ret_paths = paths;
        }
        for (size_t i = 0; i < run->n; i++) {
                free(run->jobs[i].path);
                free(run->jobs[i].header_path);
                free(run->jobs[i].url);
                free(run->jobs[i].error);
        }
        if (run->header_dir) rm_rf(run->header_dir);
        for (size_t k = 0; k < run->n_keyrings; k++) rpmKeyringFree(run->keyrings[k]);
        if (run->lockfd >= 0) {
                flock(run->lockfd, LOCK_UN);
                close(run->lockfd);
        }
        pthread_mutex_destroy(&run->mu);
        free(run->keyrings);
        free(run->jobs);
        free(run->order);
        free(run->records);
        strv_free(run->unreachable);
        free(run->cache_root);
        free(run->header_dir);
        free(run);
        return r;
}

int fetch_packages(build_ctx *ctx, const plan *p, const lock *l, char ***ret_paths) {
        fetch_run *run = NULL;
        int r = fetch_start(ctx, p, l, false, &run, NULL);
        return r < 0 ? r : fetch_finish(run, ret_paths);
}
