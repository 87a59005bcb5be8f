/* test_boottest.c — the console scanner on recorded-style transcripts:
 * pass needs cloud-init's finished line and the marker; each failure kind
 * is recognised; times are taken when the lines arrive; any chunking works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boottest.h"
#include "testutil.h"
#include "util.h"

#define MARK "IMGBUILD-BOOT-MARKER-0123abcd"

static const char *GOOD =
        "\033c\033[?7l\033[2J\033[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
        "Booting from Hard Disk...\r\n"
        "[    0.000000] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP\r\n"
        "[  OK  ] Started cloud-init-local.service - Initial cloud-init job (pre-networking).\r\n"
        "[   41.2] cloud-init[512]: Cloud-init v. 22.4.2 running 'modules:final' at Tue, 01 Dec 2026 16:20:11 +0000.\r\n"
        "\r\nDebian GNU/Linux 12 imgbuild-boot ttyS0\r\n\r\nimgbuild-boot login: "
        MARK "\r\n"
        "[   52.7] cloud-init[512]: Cloud-init v. 22.4.2 finished at Tue, 01 Dec 2026 16:20:22 +0000. "
        "Datasource DataSourceNoCloud [seed=/dev/vdb][dsmode=net].  Up 52.61 seconds\r\n";

/* Feed text in pieces of size step, the clock advancing 1 s per piece. */
static int feed(boot_scan *s, const char *text, size_t step, double *t) {
        int v = -1;
        size_t n = strlen(text);
        for (size_t i = 0; i < n; i += step) {
                size_t k = n - i < step ? n - i : step;
                v = boot_scan_feed(s, text + i, k, *t);
                *t += 1;
        }
        return v;
}

static void test_pass_any_chunking(void) {
        size_t steps[] = { 1, 3, 7, 64, 100000 };
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
                boot_scan *s = boot_scan_new(MARK);
                double t = 0;
                int v = feed(s, GOOD, steps[i], &t);
                CHECK_INTEQ(v, BOOT_PASS);
                double k, l, c;
                boot_scan_times(s, &k, &l, &c);
                CHECK(k >= 0 && l >= k && c >= l);
                if (steps[i] == 1) CHECK(k < l && l < c);     /* taken when each line arrived */
                CHECK(strstr(boot_scan_detail(s), "finished at") != NULL);
                boot_scan_free(s);
        }
}

static void test_login_prompt_without_newline(void) {
        boot_scan *s = boot_scan_new(NULL);
        CHECK_INTEQ(boot_scan_feed(s, "host login: ", 12, 7.5), -1);
        double l;
        boot_scan_times(s, NULL, &l, NULL);
        CHECK(l == 7.5);
        boot_scan_free(s);
}

static void test_marker_required(void) {
        /* finished without our marker: undecided for a while, then a failure. */
        const char *t1 = "Cloud-init v. 22.4.2 finished at Tue. Datasource DataSourceNoCloud [seed=/dev/vdb].  Up 50 seconds\n";
        boot_scan *s = boot_scan_new(MARK);
        CHECK_INTEQ(boot_scan_feed(s, t1, strlen(t1), 50), -1);
        CHECK_INTEQ(boot_scan_feed(s, "", 0, 55), -1);
        CHECK_INTEQ(boot_scan_feed(s, "", 0, 61), BOOT_CLOUDINIT_ERROR);
        CHECK(strstr(boot_scan_detail(s), "marker") != NULL);
        boot_scan_free(s);
        /* The marker text only inside an echo of the user-data does not count:
         * it must be the assembled marker. */
        s = boot_scan_new(MARK);
        const char *t2 = "m=\"IMGBUILD-BOOT-MARKER-$(echo 0123abcd)\"\n";
        boot_scan_feed(s, t2, strlen(t2), 1);
        CHECK_INTEQ(boot_scan_feed(s, t1, strlen(t1), 2), -1);
        boot_scan_free(s);
        /* A given seed: no marker, finished is enough. */
        s = boot_scan_new(NULL);
        CHECK_INTEQ(boot_scan_feed(s, t1, strlen(t1), 3), BOOT_PASS);
        boot_scan_free(s);
}

static void test_failure_kinds(void) {
        static const struct { const char *text; int verdict; } cases[] = {
                { "[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n", BOOT_PANIC },
                { "[    1.9] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n", BOOT_PANIC },
                { "You are in emergency mode. After logging in, type \"journalctl -xb\" to view\n", BOOT_EMERGENCY },
                { "ALERT!  UUID=abcd does not exist.  Dropping to a shell!\n", BOOT_EMERGENCY },
                { "[\033[0;1;31mFAILED\033[0m] Failed to start \033[0;1;39mnetworking.service\033[0m - Raise network interfaces.\n",
                  BOOT_FAILED_UNIT },
                { "Boot failed: not a bootable disk\n", BOOT_NOT_BOOTABLE },
                { "error: file `/boot/grub/i386-pc/normal.mod' not found.\r\ngrub rescue> ", BOOT_EMERGENCY },
                { "Cloud-init v. 22.4.2 finished at X. Datasource DataSourceNone.  Up 80.1 seconds\n", BOOT_CLOUDINIT_ERROR },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                boot_scan *s = boot_scan_new(MARK);
                const char *pre = "[    0.0] Linux version 4.19.91-18.al7.x86_64\n";
                boot_scan_feed(s, pre, strlen(pre), 0.5);
                int v = boot_scan_feed(s, cases[i].text, strlen(cases[i].text), 2);
                CHECK_INTEQ(v, cases[i].verdict);
                /* The detail is the console line, colour codes removed. */
                if (cases[i].verdict == BOOT_FAILED_UNIT)
                        CHECK_STREQ(boot_scan_detail(s), "[FAILED] Failed to start networking.service - Raise network interfaces.");
                /* Once decided, later lines do not change the verdict. */
                CHECK_INTEQ(boot_scan_feed(s, GOOD, strlen(GOOD), 3), cases[i].verdict);
                boot_scan_free(s);
        }
        /* Nothing bad, nothing finished: undecided. */
        boot_scan *s = boot_scan_new(MARK);
        const char *t = "[    0.0] Linux version 6.1\n[  OK  ] Reached target basic.target\n";
        CHECK_INTEQ(boot_scan_feed(s, t, strlen(t), 1), -1);
        boot_scan_free(s);
}

static void test_long_lines(void) {
        boot_scan *s = boot_scan_new(NULL);
        size_t n = 20000;
        char *junk = xmalloc(n + 1);
        memset(junk, 'x', n);
        junk[n] = '\0';
        CHECK_INTEQ(boot_scan_feed(s, junk, n, 1), -1);
        const char *t = "\nCloud-init v. 1 finished at now. Datasource DataSourceNoCloud.\n";
        CHECK_INTEQ(boot_scan_feed(s, t, strlen(t), 2), BOOT_PASS);
        free(junk);
        boot_scan_free(s);
}

static void test_names(void) {
        CHECK_STREQ(boot_verdict_name(BOOT_PASS), "PASS");
        CHECK_STREQ(boot_verdict_name(BOOT_PANIC), "kernel panic");
        CHECK_STREQ(boot_verdict_name(BOOT_EMERGENCY), "emergency shell");
}

TEST_MAIN(test_pass_any_chunking, test_login_prompt_without_newline, test_marker_required, test_failure_kinds,
          test_long_lines, test_names)
