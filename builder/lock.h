/* lock.h — the lock file: the ordered install transaction plus the digests of
 * the inputs that produced it.  The contract between "what to install"
 * (resolve) and "how to build it" (fetch, install, assemble). */
#ifndef IMGBUILD_LOCK_H
#define IMGBUILD_LOCK_H

#include <stddef.h>
#include <stdint.h>

#define LOCK_FORMAT_VERSION 1

typedef struct lock_package {
        char *name;
        uint32_t epoch;
        char *version;
        char *release;
        char *arch;
        char *repo_id;          /* "@local" for --kernel-rpm */
        char *location;         /* href relative to the repo's base URL, or a path */
        char *baseurl;          /* repo base URL the location is relative to */
        char *checksum_type;    /* sha256 … as repomd gives it */
        char *checksum;
        uint64_t size;          /* package file size, bytes */
} lock_package;

typedef struct lock_input {
        char *kind;             /* kickstart, repomd, kernel-rpm, … */
        char *id;               /* path or repo id */
        char *sha256;           /* or the repomd checksum */
} lock_input;

typedef struct lock {
        char *release;
        char *arch;
        lock_package *packages; /* install order */
        size_t n_packages;
        lock_input *inputs;
        size_t n_inputs;
} lock;

lock *lock_new(void);
void lock_free(lock *l);
lock_package *lock_add_package(lock *l);   /* zeroed, owned by l */
void lock_add_input(lock *l, const char *kind, const char *id, const char *sha256);
/* "name-[epoch:]version-release.arch" (epoch only when non-zero); caller frees. */
char *lock_package_nevra(const lock_package *p);

/* Read/write JSON.  lock_read returns ERR_INPUT for a malformed file and sets
 * *ret_error to a message naming what is wrong (caller frees). */
int lock_write(const lock *l, const char *path);
char *lock_to_json(const lock *l);
int lock_read(const char *path, lock **ret, char **ret_error);

#endif
