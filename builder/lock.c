/* lock.c — lock file JSON (json-c). */
#include "lock.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

lock *lock_new(void) { return xcalloc(1, sizeof(lock)); }

static void lock_package_clear(lock_package *p) {
        free(p->name);
        free(p->version);
        free(p->release);
        free(p->arch);
        free(p->repo_id);
        free(p->location);
        free(p->baseurl);
        free(p->checksum_type);
        free(p->checksum);
}

void lock_free(lock *l) {
        if (!l) return;
        for (size_t i = 0; i < l->n_packages; i++) lock_package_clear(&l->packages[i]);
        for (size_t i = 0; i < l->n_inputs; i++) {
                free(l->inputs[i].kind);
                free(l->inputs[i].id);
                free(l->inputs[i].sha256);
        }
        free(l->packages);
        free(l->inputs);
        free(l->release);
        free(l->arch);
        free(l);
}

lock_package *lock_add_package(lock *l) {
        l->packages = xrealloc(l->packages, (l->n_packages + 1) * sizeof(lock_package));
        lock_package *p = &l->packages[l->n_packages++];
        memset(p, 0, sizeof *p);
        return p;
}

void lock_add_input(lock *l, const char *kind, const char *id, const char *sha256) {
        l->inputs = xrealloc(l->inputs, (l->n_inputs + 1) * sizeof(lock_input));
        l->inputs[l->n_inputs++] = (lock_input){ xstrdup(kind), xstrdup(id), xstrdup(sha256) };
}

char *lock_package_nevra(const lock_package *p) {
        if (p->epoch)
                return xasprintf("%s-%" PRIu32 ":%s-%s.%s", p->name, p->epoch, p->version, p->release, p->arch);
        return xasprintf("%s-%s-%s.%s", p->name, p->version, p->release, p->arch);
}

static void add_str(json_object *o, const char *key, const char *val) {
        if (val) json_object_object_add(o, key, json_object_new_string(val));
}

char *lock_to_json(const lock *l) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "lock_format", json_object_new_int(LOCK_FORMAT_VERSION));
        add_str(root, "release", l->release);
        add_str(root, "arch", l->arch);
        json_object *inputs = json_object_new_array();
        for (size_t i = 0; i < l->n_inputs; i++) {
                json_object *o = json_object_new_object();
                add_str(o, "kind", l->inputs[i].kind);
                add_str(o, "id", l->inputs[i].id);
                add_str(o, "sha256", l->inputs[i].sha256);
                json_object_array_add(inputs, o);
        }
        json_object_object_add(root, "inputs", inputs);
        json_object *pkgs = json_object_new_array();
        for (size_t i = 0; i < l->n_packages; i++) {
                const lock_package *p = &l->packages[i];
                json_object *o = json_object_new_object();
                add_str(o, "name", p->name);
                json_object_object_add(o, "epoch", json_object_new_int64(p->epoch));
                add_str(o, "version", p->version);
                add_str(o, "release", p->release);
                add_str(o, "arch", p->arch);
                add_str(o, "repo", p->repo_id);
                add_str(o, "baseurl", p->baseurl);
                add_str(o, "location", p->location);
                add_str(o, "checksum_type", p->checksum_type);
                add_str(o, "checksum", p->checksum);
                json_object_object_add(o, "size", json_object_new_int64((int64_t)p->size));
                json_object_array_add(pkgs, o);
        }
        json_object_object_add(root, "packages", pkgs);
        char *s = xasprintf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return s;
}

int lock_write(const lock *l, const char *path) {
        _cleanup_free_ char *s = lock_to_json(l);
        return write_file_atomic(path, s, strlen(s), 0644);
}

/* Field readers: a missing or mistyped field is a malformed lock. */
static int get_str(json_object *o, const char *key, bool required, char **ret, char **ret_error, const char *where) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
                if (!required) return 0;
                *ret_error = xasprintf("%s: missing \"%s\"", where, key);
                return ERR_INPUT;
        }
        if (!json_object_is_type(v, json_type_string)) {
                *ret_error = xasprintf("%s: \"%s\" is not a string", where, key);
                return ERR_INPUT;
        }
        *ret = xstrdup(json_object_get_string(v));
        return 0;
}

static int get_uint(json_object *o, const char *key, uint64_t max, uint64_t *ret, char **ret_error, const char *where) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0 || (uint64_t)json_object_get_int64(v) > max) {
                *ret_error = xasprintf("%s: \"%s\" must be an integer in 0..%" PRIu64, where, key, max);
                return ERR_INPUT;
        }
        *ret = (uint64_t)json_object_get_int64(v);
        return 0;
}

static int parse_package(json_object *o, lock_package *p, char **ret_error, const char *where) {
        uint64_t epoch, size;
        int r;
        if (!json_object_is_type(o, json_type_object)) {
                *ret_error = xasprintf("%s: not an object", where);
                return ERR_INPUT;
        }
        if ((r = get_str(o, "name", true, &p->name, ret_error, where)) < 0 ||
            (r = get_uint(o, "epoch", UINT32_MAX, &epoch, ret_error, where)) < 0 ||
            (r = get_str(o, "version", true, &p->version, ret_error, where)) < 0 ||
            (r = get_str(o, "release", true, &p->release, ret_error, where)) < 0 ||
            (r = get_str(o, "arch", true, &p->arch, ret_error, where)) < 0 ||
            (r = get_str(o, "repo", true, &p->repo_id, ret_error, where)) < 0 ||
            (r = get_str(o, "baseurl", false, &p->baseurl, ret_error, where)) < 0 ||
            (r = get_str(o, "location", true, &p->location, ret_error, where)) < 0 ||
            (r = get_str(o, "checksum_type", true, &p->checksum_type, ret_error, where)) < 0 ||
            (r = get_str(o, "checksum", true, &p->checksum, ret_error, where)) < 0 ||
            (r = get_uint(o, "size", UINT64_MAX >> 1, &size, ret_error, where)) < 0)
                return r;
        p->epoch = (uint32_t)epoch;
        p->size = size;
        return 0;
}

int lock_read(const char *path, lock **ret, char **ret_error) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        int r = read_file(path, &data, &len);
        if (r < 0) {
                *ret_error = xasprintf("%s: %s", path, strerror(-r));
                return ERR_INPUT;
        }
        json_tokener *tok = json_tokener_new();
        json_object *root = json_tokener_parse_ex(tok, data, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        json_tokener_free(tok);
        if (!root || jerr != json_tokener_success) {
                *ret_error = xasprintf("%s: not valid JSON (%s)", path, json_tokener_error_desc(jerr));
                json_object_put(root);
                return ERR_INPUT;
        }
        lock *l = lock_new();
        json_object *v, *pkgs, *inputs;
        _cleanup_free_ char *where = NULL;
        if (!json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "lock_format", &v) || json_object_get_int(v) != LOCK_FORMAT_VERSION) {
                *ret_error = xasprintf("%s: not an imgbuild lock file (format %d expected)", path, LOCK_FORMAT_VERSION);
                r = ERR_INPUT;
                goto out;
        }
        if ((r = get_str(root, "release", false, &l->release, ret_error, path)) < 0 ||
            (r = get_str(root, "arch", true, &l->arch, ret_error, path)) < 0)
                goto out;
        if (!json_object_object_get_ex(root, "packages", &pkgs) || !json_object_is_type(pkgs, json_type_array) ||
            json_object_array_length(pkgs) == 0) {
                *ret_error = xasprintf("%s: \"packages\" must be a non-empty array", path);
                r = ERR_INPUT;
                goto out;
        }
        for (size_t i = 0; i < json_object_array_length(pkgs); i++) {
                free(where);
                where = xasprintf("%s: packages[%zu]", path, i);
                if ((r = parse_package(json_object_array_get_idx(pkgs, i), lock_add_package(l), ret_error, where)) < 0)
                        goto out;
        }
        if (json_object_object_get_ex(root, "inputs", &inputs) && json_object_is_type(inputs, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(inputs); i++) {
                        json_object *o = json_object_array_get_idx(inputs, i);
                        char *kind = NULL, *id = NULL, *sha = NULL;
                        free(where);
                        where = xasprintf("%s: inputs[%zu]", path, i);
                        if ((r = get_str(o, "kind", true, &kind, ret_error, where)) < 0 ||
                            (r = get_str(o, "id", true, &id, ret_error, where)) < 0 ||
                            (r = get_str(o, "sha256", true, &sha, ret_error, where)) < 0) {
                                free(kind);
                                free(id);
                                goto out;
                        }
                        lock_add_input(l, kind, id, sha);
                        free(kind);
                        free(id);
                        free(sha);
                }
        }
        r = 0;
out:
        json_object_put(root);
        if (r < 0) {
                lock_free(l);
                return r;
        }
        *ret = l;
        return 0;
}
