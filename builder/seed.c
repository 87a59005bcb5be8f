/* seed.c — see seed.h.  The files are checked the way cloud-init will read
 * them (user-data type from its first bytes, YAML through libyaml), staged
 * under their NoCloud names and packed by xorriso (iso9660, like
 * cloud-localds) or mkfs.vfat + mcopy. */
#include "seed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util.h"

/* cloud-init matches these against the lower-cased, left-stripped start of
 * the data; longer prefixes first. */
static const struct {
        const char *prefix;
        const char *type;
} starts[] = {
        { "#cloud-config-archive", "cloud-config-archive" },
        { "#cloud-config-jsonp", "cloud-config-jsonp" },
        { "#cloud-config", "cloud-config" },
        { "#cloud-boothook", "cloud-boothook" },
        { "#include-once", "include-once" },
        { "#include", "include" },
        { "#part-handler", "part-handler" },
        { "#upstart-job", "upstart-job" },
        { "## template: jinja", "jinja" },
        { "#!", "script" },
};

static bool has_ci_substring(const char *data, size_t len, const char *needle) {
        size_t n = strlen(needle);
        for (size_t i = 0; i + n <= len; i++)
                if (!strncasecmp(data + i, needle, n)) return true;
        return false;
}

const char *seed_user_data_type(const char *data, size_t len, const char **ret_why) {
        if (len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b) return "gzip";
        /* A MIME message: cloud-init looks for the header in the first 4 KiB. */
        size_t head = len < 4096 ? len : 4096;
        if (has_ci_substring(data, head, "mime-version:")) {
                if (has_ci_substring(data, head, "content-type: multipart/")) return "mime-multipart";
                if (has_ci_substring(data, head, "content-type:")) return "mime";
                *ret_why = "a MIME header without a Content-Type";
                return NULL;
        }
        size_t i = 0;
        while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r')) i++;
        for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
                size_t n = strlen(starts[k].prefix);
                if (len - i >= n && !strncasecmp(data + i, starts[k].prefix, n)) return starts[k].type;
        }
        if (i == len)
                *ret_why = "it is empty";
        else if (memchr(data, '\0', len))
                *ret_why = "it is binary data";
        else
                *ret_why = "its first line is not #cloud-config, a #! script, #include, #cloud-boothook, "
                           "## template: jinja or a MIME multipart header";
        return NULL;
}

/* Parses YAML; the top level must be a mapping (or nothing).  On error
 * returns ERR_INPUT with a message naming the line. */
static int yaml_check_mapping(const char *what, const char *path, const char *data, size_t len, char **ret_error) {
        yaml_parser_t parser;
        yaml_event_t ev;
        if (!yaml_parser_initialize(&parser)) return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
        int r = 0, depth = 0;
        bool top_seen = false;
        for (;;) {
                if (!yaml_parser_parse(&parser, &ev)) {
                        *ret_error = xasprintf("%s %s: line %zu: not valid YAML: %s", what, path,
                                               parser.problem_mark.line + 1,
                                               parser.problem ? parser.problem : "parse error");
                        r = ERR_INPUT;
                        break;
                }
                yaml_event_type_t t = ev.type;
                if (depth == 0 && !top_seen &&
                    (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT ||
                     t == YAML_ALIAS_EVENT)) {
                        top_seen = true;
                        bool empty_scalar = t == YAML_SCALAR_EVENT && ev.data.scalar.length == 0;
                        if (t != YAML_MAPPING_START_EVENT && !empty_scalar) {
                                *ret_error = xasprintf("%s %s: line %zu: the top level must be a mapping of keys "
                                                       "(key: value), found a %s",
                                                       what, path, ev.start_mark.line + 1,
                                                       t == YAML_SEQUENCE_START_EVENT ? "list" : "plain value");
                                r = ERR_INPUT;
                                yaml_event_delete(&ev);
                                break;
                        }
                }
                if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) depth++;
                if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) depth--;
                if (t == YAML_DOCUMENT_END_EVENT) top_seen = true;      /* only the first document counts */
                yaml_event_delete(&ev);
                if (t == YAML_STREAM_END_EVENT) break;
        }
        yaml_parser_delete(&parser);
        return r;
}

static int load(const char *what, const char *path, char **ret_data, size_t *ret_len, char **ret_error) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
                *ret_error = xasprintf("%s %s: is a directory", what, path);
                return ERR_INPUT;
        }
        int r = read_file(path, ret_data, ret_len);
        if (r < 0) {
                *ret_error = xasprintf("%s %s: %s", what, path, strerror(-r));
                return ERR_INPUT;
        }
        return 0;
}

static int check_user_data(const char *what, const char *path, const char *data, size_t len, char **ret_error) {
        const char *why = NULL;
        const char *type = seed_user_data_type(data, len, &why);
        if (!type) {
                *ret_error = xasprintf("%s %s: cloud-init would ignore it: %s", what, path, why);
                return ERR_INPUT;
        }
        if (!strcmp(type, "cloud-config")) return yaml_check_mapping(what, path, data, len, ret_error);
        return 0;
}

static char *log_tail_text(const char *path) {
        char *data = NULL;
        size_t len;
        if (read_file(path, &data, &len) < 0) return xstrdup("");
        size_t start = len > 2000 ? len - 2000 : 0;
        char *t = xstrdup(data + start);
        free(data);
        return t;
}

int seed_make(const seed_files *f, seed_fs fs, const char *out, char **ret_error) {
        static const char *const names[] = { "user-data", "meta-data", "network-config", "vendor-data" };
        const char *paths[] = { f->user_data, f->meta_data, f->network_config, f->vendor_data };
        char *data[4] = { 0 };
        size_t lens[4] = { 0 };
        int r = 0;
        char *stage = NULL, *tmp = NULL, *log_path = NULL, *files_dir = NULL;

        if (!f->user_data || !f->meta_data) {
                *ret_error = xstrdup("both user-data and meta-data are required");
                return ERR_INPUT;
        }
        for (size_t i = 0; i < 4; i++) {
                if (!paths[i]) continue;
                r = load(names[i], paths[i], &data[i], &lens[i], ret_error);
                if (r < 0) goto out;
        }
        r = check_user_data("user-data", paths[0], data[0], lens[0], ret_error);
        if (r < 0) goto out;
        r = yaml_check_mapping("meta-data", paths[1], data[1], lens[1], ret_error);
        if (r < 0) goto out;
        if (paths[2] && (r = yaml_check_mapping("network-config", paths[2], data[2], lens[2], ret_error)) < 0) goto out;
        if (paths[3] && (r = check_user_data("vendor-data", paths[3], data[3], lens[3], ret_error)) < 0) goto out;

        /* Stage the files under their NoCloud names. */
        const char *tmpdir = getenv("TMPDIR");
        stage = xasprintf("%s/imgbuild-seed.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(stage)) {
                r = -errno;
                *ret_error = xasprintf("cannot create a temporary directory: %s", strerror(errno));
                free(stage);
                stage = NULL;
                goto out;
        }
        log_path = xasprintf("%s/tool.log", stage);
        files_dir = xasprintf("%s/files", stage);
        if (mkdir(files_dir, 0755) < 0) {
                r = -errno;
                goto out;
        }
        size_t total = 0;
        for (size_t i = 0; i < 4; i++) {
                if (!paths[i]) continue;
                _cleanup_free_ char *dst = xasprintf("%s/%s", files_dir, names[i]);
                r = write_file_atomic(dst, data[i], lens[i], 0644);
                if (r < 0) {
                        *ret_error = xasprintf("cannot stage %s: %s", names[i], strerror(-r));
                        goto out;
                }
                total += lens[i];
        }

        const char *slash = strrchr(out, '/');
        tmp = slash ? xasprintf("%.*s/.%s.tmp.%d", (int)(slash - out), out, slash + 1, (int)getpid())
                    : xasprintf(".%s.tmp.%d", out, (int)getpid());
        unlink(tmp);
        if (fs == SEED_FS_ISO9660) {
                char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-output", tmp, "-volid", "cidata",
                                 "-joliet", "-rock", files_dir, NULL };
                r = run_command(argv, log_path);
        } else {
                /* FAT12 needs room for its tables: files + 1 MiB, whole KiB. */
                _cleanup_free_ char *kib = xasprintf("%zu", (total + 1023) / 1024 + 1024);
                char *mkfs[] = { "mkfs.vfat", "-n", "cidata", "-C", tmp, kib, NULL };
                r = run_command(mkfs, log_path);
                for (size_t i = 0; r == 0 && i < 4; i++) {
                        if (!paths[i]) continue;
                        _cleanup_free_ char *src = xasprintf("%s/%s", files_dir, names[i]);
                        _cleanup_free_ char *dst = xasprintf("::%s", names[i]);
                        char *mcopy[] = { "mcopy", "-o", "-i", tmp, src, dst, NULL };
                        r = run_command(mcopy, log_path);
                }
        }
        if (r == ERR_INTERRUPTED) goto out;
        if (r != 0) {
                _cleanup_free_ char *tail = log_tail_text(log_path);
                *ret_error = r < 0 ? xasprintf("cannot run the %s tool: %s", fs == SEED_FS_ISO9660 ? "iso9660" : "vfat",
                                               strerror(-r))
                                   : xasprintf("%s failed:\n%s", fs == SEED_FS_ISO9660 ? "xorriso" : "mkfs.vfat/mcopy",
                                               tail);
                r = ERR_IMAGE;
                goto out;
        }
        if (interrupted()) {
                r = ERR_INTERRUPTED;
                goto out;
        }
        if (rename(tmp, out) < 0) {
                r = -errno;
                *ret_error = xasprintf("cannot rename %s to %s: %s", tmp, out, strerror(errno));
                goto out;
        }
        free(tmp);
        tmp = NULL;
out:
        if (tmp) unlink(tmp);
        free(tmp);
        if (stage) rm_rf(stage);
        free(stage);
        free(log_path);
        free(files_dir);
        for (size_t i = 0; i < 4; i++) free(data[i]);
        return r;
}
