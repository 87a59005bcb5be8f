/* util.h — small shared helpers: logging, errors/exit codes, strings, files,
 * child processes, digests.  Helpers never print on failure; they return a
 * negative errno or an ERR_* code and the stage entry point reports once. */
#ifndef IMGBUILD_UTIL_H
#define IMGBUILD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IMGBUILD_VERSION "0.1.0"

/* Process exit codes (documented in README). */
enum exit_code {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,      /* bug or unexpected system error */
        EXIT_USAGE = 2,         /* bad command line or bad input file */
        EXIT_UNSOLVABLE = 3,    /* package set cannot be resolved */
        EXIT_FETCH = 4,         /* repo/package download or verification failed */
        EXIT_INSTALL = 5,       /* rpm transaction failed */
        EXIT_IMAGE = 6,         /* disk assembly or conversion failed */
        EXIT_BOOT = 7,          /* boot test failed */
        EXIT_CHECK = 8,         /* ECS compliance check found FAILED items */
        EXIT_BAD_IMAGE = 9,     /* file given is not a readable disk image */
        EXIT_UNAVAILABLE = 10,  /* command not implemented in this build */
        EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM */
};

/* Project error codes, negative like errnos but outside their range. */
#define ERR_BASE        4096
#define ERR_INPUT       (-(ERR_BASE + 1))
#define ERR_UNSOLVABLE  (-(ERR_BASE + 2))
#define ERR_FETCH       (-(ERR_BASE + 3))
#define ERR_INSTALL     (-(ERR_BASE + 4))
#define ERR_IMAGE       (-(ERR_BASE + 5))
#define ERR_BOOT        (-(ERR_BASE + 6))
#define ERR_CHECK       (-(ERR_BASE + 7))
#define ERR_BAD_IMAGE   (-(ERR_BASE + 8))
#define ERR_UNAVAILABLE (-(ERR_BASE + 9))
#define ERR_INTERRUPTED (-(ERR_BASE + 10))

/* Map a return value (0, -errno or ERR_*) to a process exit code. */
int exit_code_for(int r);

/* Logging.  log_error/log_warn always print to stderr; log_info is silenced
 * by --quiet. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
void log_set_quiet(bool quiet);
void log_set_verbose(bool verbose);
bool log_is_quiet(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Memory: abort on OOM — an image builder cannot do anything useful then. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void freep(void *p) { extern void free(void *); free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(freep)))

/* NULL-terminated string vectors. */
size_t strv_length(char *const *v);
void strv_push(char ***v, char *s);          /* takes ownership of s */
void strv_free(char **v);
char **strv_copy(char *const *v);
bool strv_contains(char *const *v, const char *s);

bool str_startswith(const char *s, const char *prefix);
bool str_endswith(const char *s, const char *suffix);
/* 1/0, on/off, yes/no, true/false, any case (yum's and pykickstart's
 * booleans alike); -EINVAL otherwise. */
int parse_boolean(const char *s, bool *ret);

/* Files. */
int read_file(const char *path, char **ret_data, size_t *ret_len);
/* Write via temp file in the same directory + fsync + rename. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
int mkdir_p(const char *path, mode_t mode);
int rm_rf(const char *path);
bool path_exists(const char *path);

/* pwrite(2) until all len bytes are at off (EINTR retried; a zero-byte
 * write is -EIO).  0 or -errno. */
int pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* Digests (lowercase hex, NUL-terminated). */
#define SHA256_HEX_LEN 64
int sha256_file(const char *path, char ret_hex[SHA256_HEX_LEN + 1]);
void sha256_buf(const void *data, size_t len, char ret_hex[SHA256_HEX_LEN + 1]);

/* Run a program (argv[0] looked up in PATH), stdout+stderr appended to
 * log_path (or inherited when NULL).  Returns 0, the exit status as a
 * positive number, or a negative errno.  The child is killed if we get
 * SIGINT/SIGTERM meanwhile (see interrupt_*). */
int run_command(char *const argv[], const char *log_path);

/* In a freshly forked child: own process group (a terminal's Ctrl-C reaches
 * us and we decide how the child ends), killed if we die (parent = our pid
 * before fork), default signals, stdin from /dev/null, stdout+stderr to
 * out_fd; then exec argv.  Never returns. */
void child_exec(pid_t parent, int out_fd, char *const argv[]) __attribute__((noreturn));

/* Interruption: install once; long loops poll interrupted(). */
void interrupt_install_handlers(void);
bool interrupted(void);
/* Record an interruption noticed elsewhere (e.g. by librpm's handlers). */
void interrupt_raise(void);

/* Monotonic seconds, for stage timings. */
double now_seconds(void);

#endif
