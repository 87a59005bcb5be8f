/* options.h — the command line of `imgbuild build` / `imgbuild resolve` →
 * one validated plan.
 *
 * plan_from_args() parses the options (getopt_long), then plan_load() reads
 * the profile, the kickstart (+ %includes), the .repo files, kernel-config/
 * and overlays/ and validates everything up front.  Later stages take the
 * plan and nothing else.  See `imgbuild build --help` for the options. */
#ifndef IMGBUILD_OPTIONS_H
#define IMGBUILD_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "plan.h"

/* plan_from_args() returns this when --help was given (usage printed on
 * stdout): the caller exits with EXIT_OK. */
#define PLAN_HELP 1

/* argv[0] is the command name ("build" or "resolve").  Returns 0 and the
 * plan in *ret, PLAN_HELP, or ERR_INPUT after printing a precise error
 * (usage errors and bad input files alike: exit code EXIT_USAGE).
 * Warnings are printed; with --strict they are errors. */
int plan_from_args(int argc, char **argv, plan **ret);

/* The plan as JSON (pretty, one object, trailing newline). */
void plan_print_json(const plan *p, FILE *f);

/* The option help of build/resolve. */
void plan_usage(FILE *f, const char *command);

/* Everything the command line says, unvalidated (strings point into argv;
 * the vectors are owned and freed by plan_options_clear). */
typedef struct plan_options {
        const char *command;            /* build, resolve */
        const char *profile;            /* NULL = aliyun2 */
        const char *kickstart;          /* NULL = the profile's */
        const char *release;            /* YYYYMMDD, NULL = today (UTC) */
        char **repo_files;              /* replace the profile's when set */
        const char *mirror;             /* scheme://host[:port][/prefix] */
        char **repo_urls;               /* "ID=URL" */
        char **enable_repos;
        char **disable_repos;
        const char *vars_dir;           /* yum vars dir (/etc/yum/vars style) */
        const char *kernel;             /* --kernel NEVRA */
        const char *kernel_rpm;         /* --kernel-rpm FILE */
        bool ignoremissing;
        char **sets;                    /* --set KEY=VALUE */
        const char *output_dir;         /* NULL = ./images */
        const char *formats;            /* "qcow2,vhd" */
        const char *vhd_type;
        const char *disk_size;          /* "20G", "20480M" */
        const char *lock_file;
        const char *lock_out;
        const char *datadir;            /* NULL = $IMGBUILD_DATADIR or next to the binary */
        bool offline, strict, keep_work, no_check, dry_run, quiet, verbose;
} plan_options;

void plan_options_clear(plan_options *o);

/* Validate and load.  Returns 0 and the plan, or ERR_INPUT with *ret_error
 * ("file:line: what is wrong", caller frees).  Non-fatal notes are appended
 * to *warnings (strv, caller frees); with o->strict the first one is an
 * error instead.  Prints nothing. */
int plan_load(const plan_options *o, plan **ret_plan, char ***warnings, char **ret_error);

/* The IMGBUILD_* tuning variables (IMGBUILD_QCOW2_LEVEL, …_FETCH_JOBS, …),
 * checked once before any command runs: a value none of them understands
 * is an error naming the variable, the value and what it accepts (exit
 * EXIT_USAGE), not a silent fallback to the default.  Returns 0 or
 * ERR_INPUT after printing the error. */
int env_check(void);

/* A numeric IMGBUILD_* variable's value by env_check's rules, or fallback
 * when it is unset or not one env_check accepts (reached by the test
 * drivers, which skip env_check).  The one parser of these values. */
long long env_number(const char *name, long long fallback);

#endif
