# lib.sh — shared by tests/check/*.sh: one guestfish appliance per script,
# driven with --listen/--remote so the shell can compute between commands.
# Sourced; callers use `set -euo pipefail`.

# KVM is not usable on most of our machines: let libguestfs use TCG then.
if ! { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
        export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
fi
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}

gf_start() {
        eval "$(guestfish --listen)"
        [ -n "${GUESTFISH_PID:-}" ] || { echo "guestfish --listen failed" >&2; return 1; }
        trap gf_stop EXIT
}
gf() { guestfish --remote -- "$@"; }
gf_stop() {
        if [ -n "${GUESTFISH_PID:-}" ]; then
                guestfish --remote -- exit 2>/dev/null || kill "$GUESTFISH_PID" 2>/dev/null || true
                GUESTFISH_PID=
        fi
}
