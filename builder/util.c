/* util.c — see util.h. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <rpm/rpmio.h>
#include <rpm/rpmpgp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static bool quiet_flag, verbose_flag;

void log_set_quiet(bool quiet) { quiet_flag = quiet; }
void log_set_verbose(bool verbose) { verbose_flag = verbose; }
bool log_is_quiet(void) { return quiet_flag; }

void log_msg(enum log_level level, const char *fmt, ...) {
        static const char *const prefix[] = {
                [LOG_ERROR] = "imgbuild: error: ",
                [LOG_WARN] = "imgbuild: warning: ",
                [LOG_INFO] = "",
                [LOG_DEBUG] = "imgbuild: debug: ",
        };
        if (level == LOG_INFO && quiet_flag)
                return;
        if (level == LOG_DEBUG && !verbose_flag)
                return;
        va_list ap;
        va_start(ap, fmt);
        fputs(prefix[level], stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

int exit_code_for(int r) {
        switch (r) {
        case 0: return EXIT_OK;
        case ERR_INPUT: return EXIT_USAGE;
        case ERR_UNSOLVABLE: return EXIT_UNSOLVABLE;
        case ERR_FETCH: return EXIT_FETCH;
        case ERR_INSTALL: return EXIT_INSTALL;
        case ERR_IMAGE: return EXIT_IMAGE;
        case ERR_BOOT: return EXIT_BOOT;
        case ERR_CHECK: return EXIT_CHECK;
        case ERR_BAD_IMAGE: return EXIT_BAD_IMAGE;
        case ERR_UNAVAILABLE: return EXIT_UNAVAILABLE;
        case ERR_INTERRUPTED: return EXIT_INTERRUPTED;
        default: return EXIT_INTERNAL;
        }
}

static void oom(void) {
        fputs("imgbuild: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);
        if (!p) oom();
        return p;
}

void *xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p) oom();
        return p;
}

void *xrealloc(void *p, size_t n) {
        p = realloc(p, n ? n : 1);
        if (!p) oom();
        return p;
}

char *xstrdup(const char *s) {
        if (!s) return NULL;
        char *d = strdup(s);
        if (!d) oom();
        return d;
}

char *xstrndup(const char *s, size_t n) {
        char *d = strndup(s, n);
        if (!d) oom();
        return d;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) oom();
        return s;
}

size_t strv_length(char *const *v) {
        size_t n = 0;
        while (v && v[n]) n++;
        return n;
}

void strv_push(char ***v, char *s) {
        size_t n = strv_length(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++) free(v[i]);
        free(v);
}

char **strv_copy(char *const *v) {
        char **c = xcalloc(strv_length(v) + 1, sizeof(char *));
        for (size_t i = 0; v && v[i]; i++) c[i] = xstrdup(v[i]);
        return c;
}

bool strv_contains(char *const *v, const char *s) {
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0) return true;
        return false;
}

bool str_startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_endswith(const char *s, const char *suffix) {
        size_t ls = strlen(s), lx = strlen(suffix);
        return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "on", "yes", "true", NULL };
        static const char *const no[] = { "0", "off", "no", "false", NULL };
        for (size_t i = 0; yes[i]; i++)
                if (!strcasecmp(s, yes[i])) return *ret = true, 0;
        for (size_t i = 0; no[i]; i++)
                if (!strcasecmp(s, no[i])) return *ret = false, 0;
        return -EINVAL;
}

int read_file(const char *path, char **ret_data, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        size_t cap = 8192, len = 0;
        char *buf = xmalloc(cap);
        for (;;) {
                if (len + 1 >= cap) buf = xrealloc(buf, cap *= 2);
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR) continue;
                        int r = -errno;
                        free(buf);
                        close(fd);
                        return r;
                }
                if (n == 0) break;
                len += (size_t)n;
        }
        close(fd);
        buf[len] = '\0';
        *ret_data = buf;
        if (ret_len) *ret_len = len;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0) return -errno;
        const char *p = data;
        size_t left = len;
        while (left > 0) {
                ssize_t n = write(fd, p, left);
                if (n < 0) {
                        if (errno == EINTR) continue;
                        goto fail;
                }
                p += n;
                left -= (size_t)n;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) goto fail;
        if (close(fd) < 0) {
                fd = -1;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                fd = -1;
                goto fail;
        }
        return 0;
fail:;
        int r = -errno;
        if (fd >= 0) close(fd);
        unlink(tmp);
        return r;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + 1; *s; s++) {
                if (*s != '/') continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST) return -errno;
        return 0;
}

static int rm_rf_at(int parent_fd, const char *name) {
        struct stat st;
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
                int q = rm_rf_at(dirfd(d), de->d_name);
                if (q < 0 && r == 0) r = q;
        }
        closedir(d);
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0) r = -errno;
        return r;
}

int rm_rf(const char *path) { return rm_rf_at(AT_FDCWD, path); }

bool path_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

static void digest_hex(DIGEST_CTX ctx, char ret_hex[SHA256_HEX_LEN + 1]) {
        char *hex = NULL;
        rpmDigestFinal(ctx, (void **)&hex, NULL, 1);
        snprintf(ret_hex, SHA256_HEX_LEN + 1, "%s", hex ? hex : "");
        free(hex);
}

void sha256_buf(const void *data, size_t len, char ret_hex[SHA256_HEX_LEN + 1]) {
        DIGEST_CTX ctx = rpmDigestInit(PGPHASHALGO_SHA256, RPMDIGEST_NONE);
        rpmDigestUpdate(ctx, data, len);
        digest_hex(ctx, ret_hex);
}

int sha256_file(const char *path, char ret_hex[SHA256_HEX_LEN + 1]) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        DIGEST_CTX ctx = rpmDigestInit(PGPHASHALGO_SHA256, RPMDIGEST_NONE);
        static __thread char buf[1 << 16];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0) {
                        if (errno == EINTR) continue;
                        int r = -errno;
                        char junk[SHA256_HEX_LEN + 1];
                        digest_hex(ctx, junk);
                        close(fd);
                        return r;
                }
                if (n == 0) break;
                rpmDigestUpdate(ctx, buf, (size_t)n);
        }
        close(fd);
        digest_hex(ctx, ret_hex);
        return 0;
}

static volatile sig_atomic_t interrupt_flag;
static volatile pid_t running_child;

static void on_interrupt(int sig) {
        (void)sig;
        interrupt_flag = 1;
        if (running_child > 0) kill(running_child, SIGTERM);
}

void interrupt_install_handlers(void) {
        struct sigaction sa = { .sa_handler = on_interrupt };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

bool interrupted(void) { return interrupt_flag != 0; }

void interrupt_raise(void) { interrupt_flag = 1; }

int run_command(char *const argv[], const char *log_path) {
        if (interrupted()) return ERR_INTERRUPTED;
        int logfd = -1;
        if (log_path) {
                logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (logfd < 0) return -errno;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                if (logfd >= 0) close(logfd);
                return r;
        }
        if (pid == 0) {
                /* Own process group: a terminal's Ctrl-C reaches us, and we
                 * decide how the child ends. */
                setpgid(0, 0);
                signal(SIGINT, SIG_DFL);
                signal(SIGTERM, SIG_DFL);
                if (logfd >= 0) {
                        dup2(logfd, STDOUT_FILENO);
                        dup2(logfd, STDERR_FILENO);
                }
                execvp(argv[0], argv);
                dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        running_child = pid;
        int status;
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        running_child = 0;
                        if (logfd >= 0) close(logfd);
                        return -errno;
                }
        }
        running_child = 0;
        if (logfd >= 0) close(logfd);
        if (interrupted()) return ERR_INTERRUPTED;
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

void child_exec(pid_t parent, int out_fd, char *const argv[]) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int pwrite_all(int fd, const void *buf, size_t len, off_t off) {
        const unsigned char *p = buf;
        while (len > 0) {
                ssize_t w = pwrite(fd, p, len, off);
                if (w < 0) {
                        if (errno == EINTR) continue;
                        return -errno;
                }
                if (w == 0) return -EIO;
                p += w;
                len -= (size_t)w;
                off += w;
        }
        return 0;
}
