/* progress.c — see progress.h. */
#include "progress.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct progress {
        char *label;
        char *unit;
        uint64_t total, done;
        bool tty, json;
        int last_decile;
        double started, last_print;
};

progress *progress_new(const char *label, uint64_t total, const char *unit) {
        progress *pr = xcalloc(1, sizeof *pr);
        pr->label = xstrdup(label);
        pr->unit = xstrdup(unit ? unit : "");
        pr->total = total;
        pr->tty = isatty(STDERR_FILENO);
        const char *mode = getenv("IMGBUILD_PROGRESS");
        pr->json = mode && !strcmp(mode, "json");
        pr->last_decile = -1;
        pr->started = pr->last_print = now_seconds();
        return pr;
}

static void format_amount(const progress *pr, uint64_t n, char *buf, size_t len) {
        if (!strcmp(pr->unit, "B"))
                snprintf(buf, len, "%.1f MiB", (double)n / (1024.0 * 1024.0));
        else
                snprintf(buf, len, "%" PRIu64 " %s", n, pr->unit);
}

static void print_line(progress *pr, const char *detail, bool final) {
        char done[64], total[64];
        format_amount(pr, pr->done, done, sizeof done);
        format_amount(pr, pr->total, total, sizeof total);
        double elapsed = now_seconds() - pr->started;
        int pct = pr->total ? (int)(pr->done * 100 / pr->total) : -1;
        if (pr->json) {
                fprintf(stderr, "{\"progress\":\"%s\",\"done\":%" PRIu64 ",\"total\":%" PRIu64 ",\"elapsed\":%.1f%s}\n",
                        pr->label, pr->done, pr->total, elapsed, final ? ",\"final\":true" : "");
                return;
        }
        if (pr->tty)
                fprintf(stderr, "\r\033[K");
        if (pct >= 0)
                fprintf(stderr, "    %s: %3d%% (%s of %s) %.0fs%s%s", pr->label, pct, done, total, elapsed,
                        detail ? "  " : "", detail ? detail : "");
        else
                fprintf(stderr, "    %s: %s %.0fs%s%s", pr->label, done, elapsed, detail ? "  " : "", detail ? detail : "");
        if (!pr->tty || final)
                fputc('\n', stderr);
        fflush(stderr);
}

void progress_update(progress *pr, uint64_t done, const char *detail) {
        if (!pr) return;
        pr->done = done;
        if (log_is_quiet()) return;
        double now = now_seconds();
        int decile = pr->total ? (int)(done * 10 / pr->total) : -1;
        if (pr->tty) {
                if (now - pr->last_print < 0.1) return;
        } else if (decile == pr->last_decile || decile >= 10) {
                if (now - pr->last_print < 5.0) return;
        }
        pr->last_decile = decile;
        pr->last_print = now;
        print_line(pr, detail, false);
}

void progress_free(progress *pr) {
        if (!pr) return;
        if (!log_is_quiet()) print_line(pr, NULL, true);
        free(pr->label);
        free(pr->unit);
        free(pr);
}
