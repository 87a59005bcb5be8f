/* install.c — see install.h. */
#include "install.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmps.h>
#include <rpm/rpmte.h>
#include <rpm/rpmts.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rpm/rpmsq.h>
#include <signal.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "disk.h"
#include "payload.h"
#include "progress.h"
#include "rpmdb.h"
#include "util.h"

/* ---------------------------------------------------------------- librpm setup */

static pthread_mutex_t rpm_init_mu = PTHREAD_MUTEX_INITIALIZER;
static bool rpm_inited;

int install_rpm_init(const char *arch) {
        int r = 0;
        pthread_mutex_lock(&rpm_init_mu);
        if (!rpm_inited) {
                /* rpm's own macro files only: no /etc/rpm, no ~/.rpmmacros,
                 * no /etc/rpmrc, no ~/.rpmrc — the host must not leak in. */
                macrofiles = "/usr/lib/rpm/macros:/usr/lib/rpm/macros.d/macros.*:"
                             "/usr/lib/rpm/platform/%{_target}/macros";
                char *target = xasprintf("%s-linux", arch && *arch ? arch : "x86_64");
                if (rpmReadConfigFiles("/usr/lib/rpm/rpmrc", target) != 0) r = -EIO;
                free(target);
                if (r == 0) {
                        /* Debian's default is ~/.rpmdb; images want the standard path. */
                        rpmPushMacro(NULL, "_dbpath", NULL, "/var/lib/rpm", RMIL_CMDLINE);
                        rpmPushMacro(NULL, "_db_backend", NULL, "sqlite", RMIL_CMDLINE);
                        rpmPushMacro(NULL, "_flush_io", NULL, "0", RMIL_CMDLINE);
                        rpmPushMacro(NULL, "_netsharedpath", NULL, "%{nil}", RMIL_CMDLINE);
                        rpm_inited = true;
                }
        }
        pthread_mutex_unlock(&rpm_init_mu);
        return r;
}

/* ---------------------------------------------------------------- mounts */

typedef struct root_mounts {
        char *paths[3];
        int n;
} root_mounts;

static void mounts_teardown(root_mounts *m) {
        while (m->n > 0) {
                char *p = m->paths[--m->n];
                if (umount2(p, 0) < 0) umount2(p, MNT_DETACH);
                free(p);
        }
}

/* Anything still mounted under root?  (never rm -rf through a mount) */
static bool has_mounts_under(const char *root) {
        FILE *f = fopen("/proc/self/mounts", "re");
        if (!f) return true;
        char line[4096];
        size_t rl = strlen(root);
        bool found = false;
        while (fgets(line, sizeof line, f)) {
                char *sp = strchr(line, ' ');
                if (!sp) continue;
                char *mp = sp + 1;
                char *end = strchr(mp, ' ');
                if (end) *end = 0;
                if (!strncmp(mp, root, rl) && (mp[rl] == '/' || mp[rl] == 0)) found = true;
        }
        fclose(f);
        return found;
}

static int make_dev(const char *dev) {
        static const struct { const char *name; unsigned maj, min; } nodes[] = {
                { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
                { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
        };
        for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
                char *p = xasprintf("%s/%s", dev, nodes[i].name);
                if (mknod(p, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0) {
                        /* no CAP_MKNOD (container): bind the host's node */
                        char *host = xasprintf("/dev/%s", nodes[i].name);
                        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
                        if (fd >= 0) close(fd);
                        int r = mount(host, p, NULL, MS_BIND, NULL);
                        free(host);
                        if (r < 0) {
                                r = -errno;
                                free(p);
                                return r;
                        }
                }
                chmod(p, 0666);
                free(p);
        }
        static const char *links[][2] = {
                { "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
                { "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
        };
        for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
                char *p = xasprintf("%s/%s", dev, links[i][1]);
                if (symlink(links[i][0], p) < 0 && errno != EEXIST) {
                        free(p);
                        return -errno;
                }
                free(p);
        }
        char *shm = xasprintf("%s/shm", dev), *pts = xasprintf("%s/pts", dev);
        mkdir(shm, 01777);
        chmod(shm, 01777);
        mkdir(pts, 0755);
        free(shm);
        free(pts);
        return 0;
}

/* /dev (small tmpfs with the usual nodes, not the host's /dev), /proc,
 * /sys (read-only) inside root, in a private mount namespace when we can
 * get one so nothing leaks to the host even if we are killed. */
static int mounts_setup(const char *root, root_mounts *m, char **ret_error) {
        static bool private_ns;
        if (!private_ns && unshare(CLONE_NEWNS) == 0 &&
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
                private_ns = true;
        static const struct { const char *dir, *type; unsigned long flags; const char *opts; mode_t mode; } mm[] = {
                { "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=16m", 0755 },
                { "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, 0555 },
                { "sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL, 0555 },
        };
        for (size_t i = 0; i < 3; i++) {
                char *p = xasprintf("%s/%s", root, mm[i].dir);
                if (mkdir(p, mm[i].mode) < 0 && errno != EEXIST) {
                        *ret_error = xasprintf("mkdir %s: %s", p, strerror(errno));
                        free(p);
                        mounts_teardown(m);
                        return -EIO;
                }
                if (mount(mm[i].type, p, mm[i].type, mm[i].flags, mm[i].opts) < 0) {
                        *ret_error = xasprintf("mount %s on %s: %s", mm[i].type, p, strerror(errno));
                        free(p);
                        mounts_teardown(m);
                        return -EIO;
                }
                m->paths[m->n++] = p;
                if (i == 0) {
                        int r = make_dev(p);
                        if (r < 0) {
                                *ret_error = xasprintf("populating %s: %s", p, strerror(-r));
                                mounts_teardown(m);
                                return r;
                        }
                }
        }
        return 0;
}

static bool pseudo_dirs_exist(const char *root) {
        static const char *const dirs[] = { "dev", "proc", "sys" };
        for (size_t i = 0; i < 3; i++) {
                char *p = xasprintf("%s/%s", root, dirs[i]);
                struct stat st;
                bool ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
                free(p);
                if (!ok) return false;
        }
        return true;
}

/* librpm replaces our SIGINT/SIGTERM handlers with its own signal queue
 * (so a transaction never stops half-way) and runs the queued actions at
 * safe points: make its action ours, and put our handlers back after. */
static void rpm_signal_action(int signum, siginfo_t *info, void *context) {
        (void)signum;
        (void)info;
        (void)context;
        interrupt_raise();
}

static void rpm_signals_to_rpm(void) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        rpmsqSetAction(SIGINT, rpm_signal_action);
        rpmsqSetAction(SIGTERM, rpm_signal_action);
        rpmsqSetAction(SIGHUP, rpm_signal_action);
#pragma GCC diagnostic pop
}

static void rpm_signals_to_ours(void) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        rpmsqPoll();
        rpmsqSetAction(SIGINT, RPMSQ_DFL);
        rpmsqSetAction(SIGTERM, RPMSQ_DFL);
        rpmsqSetAction(SIGHUP, RPMSQ_DFL);
#pragma GCC diagnostic pop
        interrupt_install_handlers();
}

/* ---------------------------------------------------------------- transaction */

/* What the feeder may hold decompressed ahead of rpm, in memory, and how
 * many packages it may have open ahead of rpm. */
#define FEED_AHEAD_BYTES (256u << 20)
#define FEED_AHEAD_PACKAGES 64

typedef struct inst_pkg {
        const lock_package *lp;
        const char *path;
        char *compressor;       /* the payload's (rpm's PAYLOADCOMPRESSOR) */
        bool pretrans_open;     /* rpm opens it for its %pretrans first: the header will do */
        FD_t fd;
        bool fd_fed;            /* fd is the feeder's copy */
} inst_pkg;

typedef struct path_list {
        char **v;
        size_t n, cap;
} path_list;

static void path_list_add(path_list *l, char *s) {
        if (l->n == l->cap) l->v = xrealloc(l->v, (l->cap = l->cap ? 2 * l->cap : 256) * sizeof(char *));
        l->v[l->n++] = s;
}

static void path_list_free(path_list *l) {
        for (size_t i = 0; i < l->n; i++) free(l->v[i]);
        free(l->v);
}

typedef struct inst_state {
        inst_pkg *pkgs;
        size_t n, started;
        progress *pr;
        FILE *log;              /* rpm's own messages go here as well */
        char *errors;           /* rpm error messages collected during a run */
        char *failed_pkg;       /* first package that failed (unpack/script) */
        char *failed_what;
        /* /dev, /proc, /sys for scriptlets: mounted lazily at the first
         * scriptlet once the package owning those directories has been
         * laid down, so rpm never has to chmod a mount point. */
        const char *root;
        root_mounts *mounts;
        bool mounts_tried;
        char *mount_error;
        const install_source *pending;  /* whole files still downloading */
        bool dry_run;                   /* rpm opens each package even then: the header will do */
        bool download_failed;
        double waited;                  /* seconds rpm waited for downloads */
        /* the real run's payloads, decompressed ahead of rpm (payload.h) */
        payload_feeder *feeder;
        size_t *order;                  /* rpm's install order (indexes into pkgs) */
        size_t feed_next;               /* the first in that order not queued yet */
        size_t opened;                  /* packages rpm has opened to install */
        size_t fed;                     /* packages installed from the feeder's copy */
        /* the directories of the packages' files, made while rpm fingerprints */
        path_list dirs;                 /* sorted, without the trailing '/' */
        path_list made;                 /* by us, parents first: each run removes them again */
        struct stat root_st;
        char *dirs_left;                /* one we could not remove */
} inst_state;

static void append(char **buf, const char *s) {
        char *n = xasprintf("%s%s", *buf ? *buf : "", s);
        free(*buf);
        *buf = n;
}

/* One more message for the run's report, "; " between them. */
static void add_error(inst_state *st, const char *msg) {
        if (st->errors) append(&st->errors, "; ");
        append(&st->errors, msg);
}

static int log_cb(rpmlogRec rec, rpmlogCallbackData data) {
        inst_state *st = data;
        rpmlogLvl lvl = rpmlogRecPriority(rec);
        const char *msg = rpmlogRecMessage(rec);
        if (st->log) {
                fprintf(st->log, "rpm %s: %s", lvl <= RPMLOG_ERR ? "error" : lvl == RPMLOG_WARNING ? "warning" : "info",
                        msg);
                fflush(st->log);
        }
        if (lvl <= RPMLOG_ERR) {
                /* one line per message, joined with "; " for our report */
                char *m = xstrdup(msg);
                size_t n = strlen(m);
                while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) m[--n] = 0;
                for (char *c = m; *c; c++)
                        if (*c == '\n') *c = ' ';
                add_error(st, m);
                free(m);
        }
        return 0;   /* don't let rpm print: the stage reports once */
}

static void set_failed(inst_state *st, const void *key, const char *what) {
        if (st->failed_pkg) return;
        const inst_pkg *ip = key;
        st->failed_pkg = ip ? lock_package_nevra(ip->lp) : xstrdup("?");
        st->failed_what = xstrdup(what);
}

/* Queue for the feeder, in rpm's order, each package whose whole file is
 * here, up to the first that is still downloading. */
static void feed_ahead(inst_state *st) {
        while (st->feeder && st->feed_next < st->n && st->feed_next < st->opened + FEED_AHEAD_PACKAGES) {
                size_t i = st->order[st->feed_next];
                const char *path = st->pending ? st->pending->ready(st->pending->data, i) : st->pkgs[i].path;
                if (!path) break;
                payload_feeder_queue(st->feeder, i, path, st->pkgs[i].compressor);
                st->feed_next++;
        }
}

/* The package as the feeder made it for rpm, or NULL: rpm gets the file
 * (a compressor without a stored form, or a payload the feeder could not
 * decompress: rpm then reports it in its words, the feeder's are added). */
static FD_t take_fed(inst_state *st, inst_pkg *ip) {
        st->opened++;
        feed_ahead(st);
        char *err = NULL;
        int fd = payload_feeder_take(st->feeder, (size_t)(ip - st->pkgs), &err);
        FD_t f = fd >= 0 ? fdDup(fd) : NULL;
        if (fd >= 0) close(fd);
        if (err) {
                char *nevra = lock_package_nevra(ip->lp);
                char *m = xasprintf("%s: %s", nevra, err);
                add_error(st, m);
                free(m);
                free(nevra);
                free(err);
        }
        return f;
}

/* ---------------------------------------------------------------- directories while rpm fingerprints */

/* rpm fingerprints each file by stat()ing its directory in the root and,
 * where that does not exist, each parent up to one that does; it caches
 * only directories it found.  In a root that is still empty that is a
 * failed stat per path component for every file: 38,000 per run for the
 * demo set, in the test run and again in the real one.  So for as long as
 * rpm fingerprints (TRANS_START to TRANS_STOP: inside the root, after
 * %pretrans, before any file is laid) the directories of the packages'
 * files exist, one stat finds each, and they are gone again before rpm
 * goes on: no scriptlet and no install sees them.  A fingerprint then
 * names a directory by its inode instead of by its path below the nearest
 * one that exists; two paths compare the same either way. */

/* Whether the root's file system takes freed inodes back at once.  ext4
 * without a journal (this VM's root file system, for one) hands out no
 * inode freed in the last minutes and scans past every such one at each
 * allocation (the kernel's recently_deleted()): there, the directories,
 * removed again, would slow each file rpm then lays more than they spare
 * (installs on this VM's root file system, 3 by turns: 5.6 -> 7.1 s). */
static bool reuses_freed_inodes(const char *root) {
        struct statfs fs;
        struct stat st;
        if (statfs(root, &fs) < 0 || stat(root, &st) < 0) return false;
        if (fs.f_type != EXT4_SUPER_MAGIC) return true;         /* tmpfs, xfs, btrfs, … */
        /* a journalled one has /proc/fs/jbd2/<device>-<journal inode> */
        char *uevent = xasprintf("/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
        char *text = NULL, *dev = NULL;
        if (read_file(uevent, &text, NULL) == 0 && (dev = strstr(text, "DEVNAME="))) dev[strcspn(dev, "\n")] = 0;
        bool journal = false;
        DIR *d = dev ? opendir("/proc/fs/jbd2") : NULL;
        for (struct dirent *de; d && (de = readdir(d));) {
                size_t n = strlen(dev + 8);
                if (!strncmp(de->d_name, dev + 8, n) && de->d_name[n] == '-') journal = true;
        }
        if (d) closedir(d);
        free(text);
        free(uevent);
        return journal;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Add h's directories (RPMTAG_DIRNAMES) to st->dirs; sort_dirs sorts them. */
static void add_dirs(inst_state *st, Header h) {
        struct rpmtd_s td;
        if (!headerGet(h, RPMTAG_DIRNAMES, &td, HEADERGET_MINMEM)) return;
        const char *d;
        while ((d = rpmtdNextString(&td))) {
                size_t n = strlen(d);
                while (n > 1 && d[n - 1] == '/') n--;
                if (n > 1 && !strstr(d, "/./") && !strstr(d, "/../")) path_list_add(&st->dirs, xstrndup(d, n));
        }
        rpmtdFreeData(&td);
}

static void sort_dirs(inst_state *st) {
        path_list *l = &st->dirs;
        if (l->n) qsort(l->v, l->n, sizeof(char *), cmp_str);
        size_t k = 0;
        for (size_t i = 0; i < l->n; i++)
                if (k && !strcmp(l->v[k - 1], l->v[i])) free(l->v[i]);
                else l->v[k++] = l->v[i];
        l->n = k;
}

/* Make what is missing of each directory, recording what we made.  Only
 * inside the root (rpm has chrooted into it for the fingerprinting): else
 * nothing.  A directory that cannot be made is left to rpm's stat walk. */
static void make_dirs(inst_state *st) {
        struct stat s;
        if (stat("/", &s) < 0 || s.st_dev != st->root_st.st_dev || s.st_ino != st->root_st.st_ino) return;
        for (size_t i = 0; i < st->dirs.n; i++) {
                const char *d = st->dirs.v[i];
                if (mkdir(d, 0755) == 0) {
                        path_list_add(&st->made, xstrdup(d));
                        continue;
                }
                if (errno != ENOENT) continue;  /* there, or not to be made: rpm finds what is there */
                char *p = xstrdup(d);
                for (char *c = p;; *c = '/') {
                        c = strchr(c + 1, '/');
                        if (c) *c = 0;
                        if (mkdir(p, 0755) == 0) path_list_add(&st->made, xstrdup(p));
                        else if (errno != EEXIST) break;
                        if (!c) break;
                }
                free(p);
        }
}

/* Remove what make_dirs made, children first.  The first that will not go
 * is kept in st->dirs_left: the install then fails (the root would not be
 * what the packages make of it). */
static void remove_dirs(inst_state *st) {
        while (st->made.n > 0) {
                char *d = st->made.v[--st->made.n];
                if (rmdir(d) < 0 && errno != ENOENT && !st->dirs_left)
                        st->dirs_left = xasprintf("%s%s: %s", st->root, d, strerror(errno));
                free(d);
        }
}

/* After a run: false (and the error said) if a directory made for the
 * fingerprinting is still there. */
static bool fingerprint_dirs_gone(inst_state *st) {
        if (st->made.n && !st->dirs_left)
                st->dirs_left = xasprintf("%s%s: rpm did not say when it finished fingerprinting", st->root,
                                          st->made.v[st->made.n - 1]);
        if (!st->dirs_left) return true;
        log_error("install: cannot remove %s (made while rpm fingerprinted the files)", st->dirs_left);
        return false;
}

static const char *script_name(rpm_loff_t tag) {
        switch ((rpmTagVal)tag) {
        case RPMTAG_PREIN: return "%pre";
        case RPMTAG_POSTIN: return "%post";
        case RPMTAG_PRETRANS: return "%pretrans";
        case RPMTAG_POSTTRANS: return "%posttrans";
        case RPMTAG_TRIGGERSCRIPTS: return "trigger";
        default: return "scriptlet";
        }
}

static void *notify(const void *h, const rpmCallbackType what, const rpm_loff_t amount,
                    const rpm_loff_t total, fnpyKey key, rpmCallbackData data) {
        (void)h;
        inst_state *st = data;
        inst_pkg *ip = (inst_pkg *)key;
        switch (what) {
        case RPMCALLBACK_INST_OPEN_FILE:
                if (!ip) return NULL;
                const char *path = ip->path;
                if (st->pending && !st->dry_run) {
                        double t = now_seconds();
                        path = st->pending->wait(st->pending->data, (size_t)(ip - st->pkgs));
                        st->waited += now_seconds() - t;
                        if (!path) {
                                st->download_failed = true;
                                set_failed(st, key, "its download failed");
                                return NULL;
                        }
                }
                if (!st->dry_run) {
                        if (ip->pretrans_open)
                                ip->pretrans_open = false;      /* the feeder's copy is for the install */
                        else
                                ip->fd = take_fed(st, ip);
                }
                ip->fd_fed = ip->fd != NULL;
                if (!ip->fd) ip->fd = Fopen(path, "r.ufdio");
                if (!ip->fd || Ferror(ip->fd)) {
                        if (ip->fd) Fclose(ip->fd);
                        ip->fd = NULL;
                        set_failed(st, key, "cannot open the package file");
                }
                return ip->fd;
        case RPMCALLBACK_INST_CLOSE_FILE:
                if (ip && ip->fd) {
                        Fclose(ip->fd);
                        ip->fd = NULL;
                }
                break;
        case RPMCALLBACK_INST_START:
                if (ip) {
                        st->started++;
                        if (ip->fd_fed) st->fed++;
                        char *nevra = lock_package_nevra(ip->lp);
                        progress_update(st->pr, st->started, nevra);
                        if (st->log) fprintf(st->log, "== installing %s\n", nevra), fflush(st->log);
                        free(nevra);
                }
                break;
        case RPMCALLBACK_TRANS_START:
                make_dirs(st);
                break;
        case RPMCALLBACK_TRANS_STOP:
                remove_dirs(st);
                break;
        case RPMCALLBACK_SCRIPT_START:
                if (!st->mounts_tried && pseudo_dirs_exist(st->root)) {
                        st->mounts_tried = true;
                        if (mounts_setup(st->root, st->mounts, &st->mount_error) < 0)
                                set_failed(st, key, "cannot mount /dev, /proc and /sys for its scriptlets");
                }
                break;
        case RPMCALLBACK_UNPACK_ERROR:
        case RPMCALLBACK_CPIO_ERROR:
                set_failed(st, key, "unpacking the payload failed");
                break;
        case RPMCALLBACK_SCRIPT_ERROR: {
                char *w = xasprintf("%s scriptlet failed (exit status %" PRIu64 ")", script_name(amount),
                                    (uint64_t)total);
                set_failed(st, key, w);
                free(w);
                break;
        }
        default:
                break;
        }
        return NULL;
}

static char *problems_text(rpmts ts) {
        rpmps ps = rpmtsProblems(ts);
        char *out = NULL;
        rpmpsi psi = rpmpsInitIterator(ps);
        rpmProblem prob;
        int n = 0;
        while ((prob = rpmpsiNext(psi))) {
                char *s = rpmProblemString(prob);
                if (n++ < 20) {
                        append(&out, "\n    ");
                        append(&out, s);
                }
                free(s);
        }
        rpmpsFreeIterator(psi);
        if (n > 20) {
                char *more = xasprintf("\n    … and %d more", n - 20);
                append(&out, more);
                free(more);
        }
        rpmpsFree(ps);
        return out ? out : xstrdup("");
}

bool install_needs_file_digests(const plan *p, const char *repo_id, bool has_payload_digest) {
        for (size_t k = 0; k < p->n_repos; k++)
                if (p->repos[k].id && repo_id && !strcmp(p->repos[k].id, repo_id))
                        return p->repos[k].gpgcheck && !has_payload_digest;
        return false;           /* @local (--kernel-rpm): its sha256 is among the lock's inputs */
}

/* true for a missing or empty directory */
static bool dir_is_empty(const char *path) {
        DIR *d = opendir(path);
        if (!d) return errno == ENOENT;
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                        empty = false;
                        break;
                }
        closedir(d);
        return empty;
}

/* Closes the transaction's database and removes its directory: it holds
 * nothing yet (the root was empty; only the check and the dry run opened
 * it, with the dummy backend). */
static int forget_empty_rpmdb(rpmts ts, const char *root, char **ret_error) {
        rpmtsCloseDB(ts);
        char *dbpath = rpmGetPath("%{_dbpath}", NULL);
        char *dir = xasprintf("%s%s", root, dbpath);
        int r = rm_rf(dir);
        if (r < 0) *ret_error = xasprintf("cannot remove the dry run's empty rpm database %s: %s", dir, strerror(errno));
        free(dir);
        free(dbpath);
        return r < 0 ? -1 : 0;
}

/* Read the package (or header) file at path into *h; false if rpm cannot
 * (its messages are in the state's errors). */
static bool read_header(rpmts ts, const char *path, Header *h) {
        headerFree(*h);
        *h = NULL;
        FD_t fd = Fopen(path, "r.ufdio");
        rpmRC rc = RPMRC_FAIL;
        if (fd && !Ferror(fd)) rc = rpmReadPackageFile(ts, fd, path, h);
        if (fd) Fclose(fd);
        return rc == RPMRC_OK || rc == RPMRC_NOKEY || rc == RPMRC_NOTTRUSTED;
}

/* Whether h is the package the lock names. */
static bool header_is(Header h, const lock_package *lp) {
        char *want = xasprintf("%s-%s-%s.%s", lp->name, lp->version, lp->release, lp->arch);
        char *nvra = headerGetAsString(h, RPMTAG_NVRA);
        bool same = nvra && !strcmp(nvra, want) && headerGetNumber(h, RPMTAG_EPOCH) == lp->epoch;
        free(want);
        free(nvra);
        return same;
}

/* rpm's install order (indexes into st->pkgs) into st->order, and to
 * where the packages come from; false if it does not cover them all. */
static bool take_order(rpmts ts, inst_state *st) {
        size_t k = 0;
        st->order = xcalloc(st->n ? st->n : 1, sizeof(size_t));
        rpmtsi it = rpmtsiInit(ts);
        rpmte te;
        while ((te = rpmtsiNext(it, TR_ADDED)) && k < st->n) {
                const inst_pkg *ip = rpmteKey(te);
                if (ip) st->order[k++] = (size_t)(ip - st->pkgs);
        }
        rpmtsiFree(it);
        if (k == st->n && st->pending) st->pending->prefer(st->pending->data, st->order, k);
        return k == st->n;
}

int install_packages(build_ctx *ctx, const plan *p, const lock *l, char *const *rpm_paths,
                     const char *root, const install_source *pending) {
        int r = ERR_INSTALL;
        char *err = NULL;
        bool keep = p->keep_work || ctx->keep_work;
        bool root_created = false;
        root_mounts mounts = { 0 };
        rpmts ts = NULL;
        FD_t scriptfd = NULL;
        inst_state st = { .n = l->n_packages, .pending = pending };
        bool check_file_digests = false;
        bool dummy_db = false;

        if (install_rpm_init(p->arch) < 0) {
                log_error("install: cannot initialise librpm");
                return ERR_INSTALL;
        }
        if (strv_length(rpm_paths) != l->n_packages) {
                log_error("install: %zu package files for %zu lock entries", strv_length(rpm_paths), l->n_packages);
                return ERR_INSTALL;
        }
        /* rpmtsSetRootDir() refuses a relative path and leaves the root at
         * "/": the packages would land on the build host itself. */
        if (root[0] != '/' || root[strspn(root, "/")] == '\0') {
                log_error("install: staging root \"%s\" must be an absolute path other than /", root);
                return ERR_INSTALL;
        }
        if (!dir_is_empty(root)) {
                log_error("install: staging root %s exists and is not empty", root);
                return ERR_INSTALL;
        }
        if (mkdir_p(root, 0755) < 0 || stat(root, &st.root_st) < 0) {
                log_error("install: cannot create staging root %s: %s", root, strerror(errno));
                return ERR_INSTALL;
        }
        root_created = true;
        st.root = root;

        /* Per-build macros (the rest is set once in install_rpm_init). */
        const char *langs = p->packages.inst_langs && *p->packages.inst_langs ? p->packages.inst_langs : "all";
        rpmPushMacro(NULL, "_install_langs", NULL, langs, RMIL_CMDLINE);
        rpmPushMacro(NULL, "_pkgverify_level", NULL, "none", RMIL_CMDLINE);   /* fetch verified them */

        char *logpath = xasprintf("%s/install-scriptlets.log", ctx->work_dir);
        st.log = fopen(logpath, "ae");
        scriptfd = Fopen(logpath, "a.ufdio");
        st.pkgs = xcalloc(l->n_packages ? l->n_packages : 1, sizeof(inst_pkg));
        rpmlogSetCallback(log_cb, &st);

        ts = rpmtsCreate();
        if (rpmtsSetRootDir(ts, root) != 0) {
                log_error("install: rpm refused the staging root %s", root);
                goto fail;
        }
        /* Signatures and digests were checked by fetch against the repo keys;
         * the root's (empty) rpmdb has no keys to check them with anyway. */
        rpmtsSetVSFlags(ts, _RPMVSF_NOSIGNATURES | _RPMVSF_NODIGESTS);
        rpmtsSetVfyLevel(ts, 0);
        rpmtsSetNotifyCallback(ts, notify, &st);
        if (scriptfd && !Ferror(scriptfd)) rpmtsSetScriptFd(ts, scriptfd);

        bool fingerprint_dirs = reuses_freed_inodes(root);
        for (size_t i = 0; i < l->n_packages; i++) {
                const lock_package *lp = &l->packages[i];
                inst_pkg *ip = &st.pkgs[i];
                ip->lp = lp;
                char *nevra = lock_package_nevra(lp);
                Header h = NULL;
                const char *path = rpm_paths[i];
                bool readable = read_header(ts, path, &h);
                bool locked = readable && header_is(h, lp);
                if (!locked && pending) {
                        /* A header fetched by range that is not the lock's
                         * package: the whole, verified file tells a bad
                         * download (fetch reports it, naming the URL) from a
                         * package that is wrong itself. */
                        path = pending->wait(pending->data, i);
                        if (!path) {
                                r = ERR_FETCH;
                                log_error("install: stopped: %s could not be downloaded", nevra);
                                free(nevra);
                                goto fail;
                        }
                        free(st.errors);
                        st.errors = NULL;
                        readable = read_header(ts, path, &h);
                        locked = readable && header_is(h, lp);
                }
                ip->path = path;
                if (!readable) {
                        log_error("install: %s: %s is not a readable rpm package (corrupt or truncated)%s%s", nevra,
                                  path, st.errors ? ": " : "", st.errors ? st.errors : "");
                        free(nevra);
                        headerFree(h);
                        goto fail;
                }
                if (!locked) {
                        char *hn = headerGetAsString(h, RPMTAG_NEVRA);
                        log_error("install: %s: %s contains %s", nevra, path, hn ? hn : "?");
                        free(hn);
                        free(nevra);
                        headerFree(h);
                        goto fail;
                }
                const char *compressor = headerGetString(h, RPMTAG_PAYLOADCOMPRESSOR);
                ip->compressor = compressor ? xstrdup(compressor) : NULL;
                ip->pretrans_open = headerIsEntry(h, RPMTAG_PRETRANS) || headerIsEntry(h, RPMTAG_PRETRANSPROG);
                if (install_needs_file_digests(p, lp->repo_id, headerIsEntry(h, RPMTAG_PAYLOADDIGEST)))
                        check_file_digests = true;
                if (fingerprint_dirs) add_dirs(&st, h);
                int ar = rpmtsAddInstallElement(ts, h, (fnpyKey)ip, 0, NULL);
                headerFree(h);
                if (ar != 0) {
                        log_error("install: %s: rpm refused to add it to the transaction", nevra);
                        free(nevra);
                        goto fail;
                }
                free(nevra);
        }

        sort_dirs(&st);

        /* The root is empty (checked above), and so is its database: rpm's
         * dummy backend answers the check's and the dry run's lookups as the
         * empty one would, without sqlite (a query per file name, 15,000
         * for the demo set: 0.19 s of rpm's thread). */
        rpmPushMacro(NULL, "_db_backend", NULL, "dummy", RMIL_CMDLINE);
        dummy_db = true;
        if (rpmtsCheck(ts) != 0) {
                log_error("install: rpm dependency check could not run%s%s", st.errors ? ": " : "", st.errors ? st.errors : "");
                goto fail;
        }
        {
                rpmps ps = rpmtsProblems(ts);
                int np = rpmpsNumProblems(ps);
                rpmpsFree(ps);
                if (np > 0) {
                        char *t = problems_text(ts);
                        log_error("install: the lock's package set is not installable (dependencies):%s", t);
                        free(t);
                        goto fail;
                }
        }
        if (rpmtsOrder(ts) != 0) {
                log_error("install: rpm could not order the transaction (dependency loop it cannot break)");
                goto fail;
        }
        bool ordered = take_order(ts, &st);

        rpmprobFilterFlags filter = RPMPROB_FILTER_IGNOREOS | RPMPROB_FILTER_IGNOREARCH | RPMPROB_FILTER_VERIFY;
#ifdef RPMPROB_FILTER_DEBIAN
        filter |= RPMPROB_FILTER_DEBIAN;        /* Debian's rpm refuses to run on a dpkg host otherwise */
#endif
        rpmtransFlags tflags = RPMTRANS_FLAG_NOPLUGINS;
        if (p->packages.excludedocs) tflags |= RPMTRANS_FLAG_NODOCS;
        if (!check_file_digests) tflags |= RPMTRANS_FLAG_NOFILEDIGEST;

        /* Dry run first: file conflicts and disk space stop us before a file
         * is written. */
        rpmtsSetFlags(ts, tflags | RPMTRANS_FLAG_TEST);
        free(st.errors);
        st.errors = NULL;
        st.dry_run = true;
        int rc = rpmtsRun(ts, NULL, filter);
        st.dry_run = false;
        if (!fingerprint_dirs_gone(&st)) goto fail;
        if (rc != 0) {
                char *t = problems_text(ts);
                log_error("install: the transaction test failed:%s%s%s", t, st.errors ? "\n    " : "",
                          st.errors ? st.errors : "");
                free(t);
                goto fail;
        }
        rpmtsClean(ts);
        rpmPopMacro(NULL, "_db_backend");
        dummy_db = false;
        /* The real run creates its database: rpm syncs every package's
         * commit to a database it did not create (216 fdatasyncs here, each
         * an ext4 journal commit that flushes every file written so far);
         * one it creates itself it writes without fsync.  So it starts from
         * no database, not even the directory the dry run may have made. */
        if (forget_empty_rpmdb(ts, root, &err) < 0) {
                log_error("install: %s", err);
                goto fail;
        }

        st.mounts = &mounts;
        rpmtsSetFlags(ts, tflags);
        st.pr = progress_new("install", l->n_packages, "packages");
        if (ordered) {
                st.feeder = payload_feeder_new(st.n, FEED_AHEAD_BYTES);
                feed_ahead(&st);
        }
        double t0 = now_seconds();
        rpmdb_scratch_begin(root, p->rpmdb_format);
        rpm_signals_to_rpm();
        rc = rpmtsRun(ts, NULL, filter);
        rpm_signals_to_ours();
        rpmdb_scratch_end();
        payload_feeder_free(st.feeder);
        st.feeder = NULL;
        progress_free(st.pr);
        st.pr = NULL;
        mounts_teardown(&mounts);
        if (!fingerprint_dirs_gone(&st)) goto fail;
        if (interrupted()) {
                r = ERR_INTERRUPTED;
                log_error("install: interrupted");
                goto fail;
        }
        if (st.download_failed) {
                r = ERR_FETCH;
                log_error("install: stopped: %s could not be downloaded", st.failed_pkg);
                goto fail;
        }
        if (rc != 0 || st.failed_pkg) {
                char *t = rc > 0 ? problems_text(ts) : xstrdup("");
                if (st.mount_error)
                        append(&st.errors, st.mount_error);
                if (st.failed_pkg)
                        log_error("install: %s: %s%s%s%s (scriptlet output: %s)", st.failed_pkg, st.failed_what,
                                  st.errors ? ": " : "", st.errors ? st.errors : "", t, logpath);
                else
                        log_error("install: the rpm transaction failed%s%s%s (log: %s)", st.errors ? ": " : "",
                                  st.errors ? st.errors : "", t, logpath);
                free(t);
                goto fail;
        }
        if (pending)
                log_info("installed %zu packages in %.1fs (%.1fs of it waiting for downloads; %zu payloads "
                         "decompressed beside rpm)", l->n_packages, now_seconds() - t0, st.waited, st.fed);
        else
                log_info("installed %zu packages in %.1fs (%zu payloads decompressed beside rpm)", l->n_packages,
                         now_seconds() - t0, st.fed);
        rpmtsFree(ts);
        ts = NULL;

        if (rpmdb_finalize(root, p->rpmdb_format ? p->rpmdb_format : "sqlite", &err) < 0) {
                log_error("install: rpm database (%s): %s", p->rpmdb_format ? p->rpmdb_format : "sqlite", err);
                goto fail;
        }
        r = 0;
        goto out;

fail:
        if (r == 0 || r == ERR_INSTALL) r = interrupted() ? ERR_INTERRUPTED : ERR_INSTALL;
out:
        mounts_teardown(&mounts);
        if (ts) rpmtsFree(ts);
        rpmlogSetCallback(NULL, NULL);
        payload_feeder_free(st.feeder);
        for (size_t i = 0; st.pkgs && i < st.n; i++) {
                if (st.pkgs[i].fd) Fclose(st.pkgs[i].fd);
                free(st.pkgs[i].compressor);
        }
        if (scriptfd) Fclose(scriptfd);
        if (st.log) fclose(st.log);
        if (dummy_db) rpmPopMacro(NULL, "_db_backend");
        rpmPopMacro(NULL, "_install_langs");
        rpmPopMacro(NULL, "_pkgverify_level");
        if (r < 0 && root_created) {
                if (keep)
                        log_info("staging root kept for inspection: %s", root);
                else if (has_mounts_under(root))
                        log_error("install: not removing %s: something is still mounted under it", root);
                else
                        rm_rf(root);
        }
        free(st.pkgs);
        free(st.order);
        free(st.errors);
        free(st.failed_pkg);
        free(st.failed_what);
        free(st.mount_error);
        path_list_free(&st.dirs);
        path_list_free(&st.made);
        free(st.dirs_left);
        free(err);
        free(logpath);
        return r;
}

char *install_staging_root(build_ctx *ctx, char *const *rpm_paths) {
        uint64_t installed = 0;
        if (install_rpm_init(NULL) == 0) {
                rpmts ts = rpmtsCreate();
                rpmtsSetVSFlags(ts, _RPMVSF_NOSIGNATURES | _RPMVSF_NODIGESTS);
                for (size_t i = 0; rpm_paths && rpm_paths[i]; i++) {
                        FD_t fd = Fopen(rpm_paths[i], "r.ufdio");
                        Header h = NULL;
                        if (fd && !Ferror(fd) && rpmReadPackageFile(ts, fd, rpm_paths[i], &h) == RPMRC_OK)
                                installed += headerGetNumber(h, RPMTAG_LONGSIZE);
                        if (fd) Fclose(fd);
                        headerFree(h);
                }
                rpmtsFree(ts);
        }
        /* the root, what configure adds (initramfs, overlays), and the raw
         * disk assemble later makes in the same scratch space */
        uint64_t need = installed + installed / 4 + (128ULL << 20) + disk_scratch_bytes(installed);
        const char *dir = installed ? ctx_scratch_dir(ctx, need) : ctx->work_dir;
        if (strcmp(dir, ctx->work_dir)) log_info("install: staging the root in memory (%s)", dir);
        return xasprintf("%s/root", dir);
}
