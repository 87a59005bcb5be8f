/* solve.h — depsolving with libsolv: the plan's package selection against the
 * plan's repos → the ordered install transaction, as a lock.
 *
 * Semantics (the same as yum/dnf/anaconda, written down):
 *  - rpm semantics (DISTTYPE_RPM), the target arch (x86_64 → x86_64 + noarch
 *    and the i?86 compat arches libsolv knows), never the host's;
 *  - yum priority (lower wins) → libsolv repo priority, cost → subpriority;
 *  - excludes (kickstart "-pkg", repo exclude=/includepkgs=) make packages
 *    invisible: they cannot be installed, not even as a dependency;
 *  - groups: mandatory + default packages (libsolv's comps parser stores
 *    default ones as Recommends; we read them and install them explicitly),
 *    --nodefaults → mandatory only, --optional adds optional ones; @core is
 *    added unless --nocore; missing group members are skipped, as anaconda does;
 *    a conditional member (<packagereq type="conditional" requires="X">Y)
 *    installs Y when X ends up in the transaction, whatever --nodefaults
 *    (yum's group_conditionals, which el7's anaconda uses); as in dnf, X and
 *    Y are provides (a Y provided by an installed package adds nothing);
 *  - names may be globs or provides; a name that matches nothing is an error
 *    unless --ignoremissing (then a warning);
 *  - weak deps on unless exclude_weakdeps;
 *  - the newest version wins across repos of equal priority;
 *  - the kernel ("kernel"): from --kernel-rpm FILE (repo "@local") if given,
 *    else matching --kernel / kernel_pin, else the newest in the kernel
 *    repos — enabled repos whose id contains "kernel" — else the newest
 *    anywhere;
 *  - profile packages (plan->packages.implicit: kernel, grub2, dracut …, what
 *    the installer adds beyond @core) are installed like kickstart names. */
#ifndef IMGBUILD_SOLVE_H
#define IMGBUILD_SOLVE_H

#include "context.h"
#include "lock.h"
#include "plan.h"

struct s_Pool;

/* Load every enabled repo of the plan (repomd.c), solve, return the ordered
 * install transaction (libsolv's transaction order, which respects
 * Requires(pre)) with the input digests: kickstart sha256, each repo's
 * repomd.xml sha256, the --kernel-rpm sha256.  Reports its own errors.
 * Returns 0, ERR_FETCH (metadata), ERR_UNSOLVABLE (problems printed, or a
 * missing package), ERR_INPUT (bad --kernel pin, unreadable --kernel-rpm). */
int solve_plan(build_ctx *ctx, const plan *p, lock **ret_lock);

/* For `build --lock FILE`: load the plan's repos and check that every lock
 * package still exists in its repo with the same checksum (packages of
 * "@local" are checked against their file).  Reports its own errors, naming
 * every stale package.  Returns 0, ERR_FETCH (metadata could not be loaded)
 * or ERR_INPUT (the lock no longer matches the repos: re-run resolve). */
int lock_verify_against_repos(build_ctx *ctx, const plan *p, const lock *l);

/* Lower level, for tests and the benchmark: a pool for the target arch with
 * rpm semantics. */
struct s_Pool *solve_pool_new(const char *arch);

/* Solve p->packages against the repos already in pool (each Repo named by
 * its plan repo id; Repo->appdata may point to a repomd_info for base
 * URLs).  Returns 0 and the lock (packages only), or ERR_UNSOLVABLE /
 * ERR_INPUT with *ret_error (caller frees) holding the whole explanation;
 * *ret_warnings (caller frees, may be NULL) gets non-fatal notes such as
 * ignored missing packages. */
int solve_pool(struct s_Pool *pool, const plan *p, lock **ret_lock,
               char **ret_error, char **ret_warnings);

#endif
