/* repomd.h — rpm-md repository metadata: fetch (libcurl: file://, http(s)://,
 * mirrorlist, metalink), verify (every file against repomd.xml's checksum;
 * repomd.xml.asc against the repo's gpgkey when repo_gpgcheck=1, using rpm's
 * own OpenPGP code from rpmpgp.h — no gpg binary, no keyring on disk), cache
 * (one libsolv .solv file per repo, keyed by the sha256 of repomd.xml,
 * written atomically under <cache_dir>/repodata/<repo id>/).
 *
 * Nothing is cached until every file has been verified and parsed.  Helpers
 * never print; errors come back as a message naming the repo and the URL. */
#ifndef IMGBUILD_REPOMD_H
#define IMGBUILD_REPOMD_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "plan.h"

struct s_Pool;
struct s_Repo;

/* Connect timeout for every URL (seconds); env IMGBUILD_CONNECT_TIMEOUT
 * overrides.  Short on purpose: an unreachable mirror must fail fast. */
#define REPOMD_CONNECT_TIMEOUT 5

/* What we learnt about one loaded repo. */
typedef struct repomd_info {
        char *id;
        char *baseurl;          /* the base URL that answered (for package locations) */
        char *repomd_sha256;    /* sha256 of repomd.xml: cache key and lock input */
        bool from_cache;        /* .solv loaded, no XML parsed */
        bool signature_checked; /* repomd.xml.asc verified */
        bool filelists;         /* file lists loaded (or the repo has none) */
        bool filelists_from_cache;
} repomd_info;

void repomd_info_free(repomd_info *info);

/* Load one repo's metadata into pool as a new Repo named r->id (appdata
 * unset).  offline: only the cache.  Returns 0, or
 *   -EHOSTUNREACH  no URL could be fetched (network error, HTTP error),
 *                  at least one because its host could not be reached;
 *   -ENODATA       every URL answered "not found" (HTTP 404/410, no such
 *                  file): the path or release does not exist there;
 *   -ENOENT        offline and nothing usable in the cache;
 *   ERR_FETCH      checksum mismatch, bad or missing signature, corrupt
 *                  gzip/XML, no usable URL, every mirror stale (its
 *                  repomd.xml matches none of the metalink's <hash>es);
 * with *ret_error (caller frees) saying what, naming repo and URL.
 * Loads primary and comps only: file lists are decided over the whole pool
 * (repomd_missing_files, repomd_load_filelists). */
int repomd_load(build_ctx *ctx, const plan_repo *r, const char *arch, bool offline,
                struct s_Pool *pool, struct s_Repo **ret_repo, repomd_info **ret_info,
                char **ret_error);

/* Number of file paths that some package of the pool requires, or that
 * paths (kickstart names; entries not starting with '/' are ignored) name,
 * and that nothing provides: no explicit Provides, no entry in the file
 * lists loaded so far.  *ret_missing (may be NULL; caller frees) lists them. */
int repomd_missing_files(struct s_Pool *pool, char *const *paths, char ***ret_missing);

/* Add the repo's filelists.xml to repo (loaded by repomd_load): from the
 * cache (<sha256>.filelists.solv, a libsolv extension of the repo's .solv),
 * else fetched, verified and parsed, then cached.  A repo whose repomd.xml
 * lists no filelists is left alone.  Returns 0, -ENOENT (offline, not
 * cached) or ERR_FETCH, with *ret_error naming repo and URL. */
int repomd_load_filelists(build_ctx *ctx, const plan_repo *r, bool offline, struct s_Repo *repo,
                          repomd_info *info, char **ret_error);

/* Building blocks, exported for tests and for the fetch stage. */

/* Download url to dest (atomically). sslverify=false skips TLS checks.
 * Returns 0, -ENOENT (HTTP 404/410, no such file), -EHOSTUNREACH
 * (connect/DNS/timeout/other HTTP error) or -errno. */
int repomd_download(const char *url, const char *dest, bool sslverify, char **ret_error);

/* Check a file against an expected checksum (type "sha256", "sha1",
 * "sha512", "md5"…).  Returns 0 or ERR_FETCH with a message. */
int repomd_check_file(const char *path, const char *type, const char *hex, char **ret_error);

/* Verify a detached OpenPGP signature (armored or binary) of data_path
 * against any key in the armored key files.  Returns 0 or ERR_FETCH. */
int repomd_verify_signature(const char *data_path, const char *sig_path,
                            char *const *key_paths, char **ret_error);

/* Parse a local repo directory (dir/repodata/repomd.xml …) into a new Repo
 * named id, verifying every file against repomd.xml.  Used by repomd_load
 * after downloading and directly by tests.  *ret_sha256 = sha256 of
 * repomd.xml (caller frees). */
int repomd_parse_dir(struct s_Pool *pool, const char *id, const char *dir,
                     struct s_Repo **ret_repo, char **ret_sha256, char **ret_error);

/* Mirror lists: "mirrorlist" (one URL a line) or metalink XML → base URLs
 * (the "/repodata/repomd.xml" suffix of metalink URLs removed). */
char **repomd_parse_mirrorlist(const char *text);
char **repomd_parse_metalink(const char *text);

/* The repomd.xml hashes a metalink gives (<verification><hash type=…>),
 * of the strongest type present: *ret_type ("sha512" … "md5") and the
 * accepted values, the current file's first, then those of older versions
 * listed under <mm0:alternates> (librepo accepts those too).  Returns 0 or
 * -ENOENT (no hash). */
int repomd_metalink_hashes(const char *text, char **ret_type, char ***ret_values);

#endif
