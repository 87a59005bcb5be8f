# tests/lib.sh — helpers for integration tests (source it).
# Env from tests/run-integration.sh: TOP IMGBUILD FIXTURE WORK SLOW SHARED.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skip: $*"; exit 77; }
need_slow() { [ "${SLOW:-1}" = 1 ] || skip "slow test (SLOW=0)"; }

# expect_exit CODE CMD…: run CMD, require exit CODE; output in $OUT.
expect_exit() {
        local want=$1; shift
        set +e
        OUT=$("$@" 2>&1)
        local got=$?
        set -e
        [ "$got" = "$want" ] || fail "expected exit $want, got $got from: $*
$OUT"
}

assert_contains() { # HAYSTACK NEEDLE [WHAT]
        case "$1" in *"$2"*) ;; *) fail "${3:-output} does not contain '$2':
$1" ;; esac
}

assert_not_contains() {
        case "$1" in *"$2"*) fail "${3:-output} contains '$2':
$1" ;; *) ;; esac
}

# The demo image, built once per test run and shared by the tests that need
# it (boot, check, outputs).  Prints the output directory.
demo_image_dir() {
        local dir="$SHARED/demo"
        (
                flock 9
                if [ ! -f "$dir/.done" ]; then
                        rm -rf "$dir"
                        mkdir -p "$dir"
                        "$IMGBUILD" build --profile demo --release 20190619 --format qcow2,vhd \
                                --output-dir "$dir" > "$SHARED/demo-build.log" 2>&1 \
                                || { cat "$SHARED/demo-build.log" >&2; exit 1; }
                        touch "$dir/.done"
                fi
        ) 9> "$SHARED/demo.lock" || fail "demo image build failed"
        echo "$dir"
}

lockset() { # LOCK: "name-[epoch:]version-release.arch repo" per package, by name
        python3 - "$1" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
for p in sorted(l["packages"], key=lambda p: p["name"]):
    e = "%d:" % p["epoch"] if p["epoch"] else ""
    print("%s-%s%s-%s.%s %s" % (p["name"], e, p["version"], p["release"], p["arch"], p["repo"]))
PY
}

dnfset() { # PLAN.json KERNEL-SPEC-or-"" INSTALLROOT: dnf's set for the plan (tests/dnfset.py)
        /usr/bin/python3 "$TOP/tests/dnfset.py" "$@"
}
