/* kickstart.h — a kickstart (pykickstart syntax, the part an image build
 * uses) read into plan pieces.
 *
 * Lines are split like pykickstart does (shlex, POSIX mode, '#' starts a
 * comment); a command line ending in '\' continues on the next line.
 * %include is relative to the including file (loops and depth > 16 are
 * errors).  Sections: %packages, %post, %addon com_redhat_kdump, each closed
 * by %end; %pre, %pre-install, %traceback, %onerror, %anaconda and other
 * %addons are skipped with a warning.  Commands that make no sense for an
 * image build (auth, ignoredisk, cdrom …) and unknown commands are warnings
 * naming file:line; KS_STRICT makes every warning an error.  Inputs with
 * NUL bytes, control characters, invalid UTF-8 or lines over KS_MAX_LINE
 * bytes are refused with file:line. */
#ifndef IMGBUILD_KICKSTART_H
#define IMGBUILD_KICKSTART_H

#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

#define KS_MAX_LINE 8192
#define KS_MAX_FILE (4u << 20)
#define KS_MAX_INCLUDE_DEPTH 16

enum {
        KS_STRICT = 1 << 0,     /* warnings are errors */
        KS_NO_INCLUDE = 1 << 1, /* %include is an error (fuzzing, strings) */
};

typedef struct kickstart {
        char *path;                     /* as given */
        char **files;                   /* every file read, in order */
        plan_repo *repos;               /* `url` (id "anaconda") and `repo` */
        size_t n_repos;
        plan_packages packages;         /* implicit/kernel_* unset */
        bool have_packages;
        plan_partition *parts;          /* fstype NULL = profile default */
        size_t n_parts;
        bool autopart;
        char *ondisk;                   /* the one disk named by --ondisk */
        plan_bootloader bootloader;
        bool have_bootloader;
        plan_system system;
        bool have_firewall, have_selinux, have_rootpw;
        plan_script *posts;
        size_t n_posts;
        int kdump;                      /* -1 unset, 0 off, 1 on (%addon / services) */
        int kdump_reserve_mb;           /* 0 = auto */
        char **warnings;                /* "file:line: message" */
} kickstart;

/* Returns 0, ERR_INPUT (*ret_error = "file:line: message", caller frees) or
 * a negative errno when the top file cannot be read (message set too). */
int ks_parse_file(const char *path, unsigned flags, kickstart **ret, char **ret_error);
/* name is used in messages and to resolve %include (relative to its dir). */
int ks_parse_string(const char *name, const char *data, size_t len, unsigned flags,
                    kickstart **ret, char **ret_error);
void ks_free(kickstart *ks);

/* Shared input hygiene for text inputs (kickstarts, .repo files, manifests):
 * no NUL, no control characters but TAB/CR/LF/FF, valid UTF-8, lines of at
 * most max_line bytes.  Returns 0 or ERR_INPUT with the 1-based line and a
 * message (caller frees). */
int text_check(const char *data, size_t len, size_t max_line, size_t *ret_line, char **ret_msg);

/* Split one line like shlex.split(line, comments=True) (POSIX mode).
 * Returns 0 or ERR_INPUT with a message (unbalanced quotes). */
int ks_split(const char *line, char ***ret_args, char **ret_msg);

/* Freeing helpers for plan pieces (also used by plan_free). */
void plan_repo_clear(plan_repo *r);
void plan_packages_clear(plan_packages *p);
void plan_partition_clear(plan_partition *p);
void plan_system_clear(plan_system *s);
void plan_script_clear(plan_script *s);

#endif
