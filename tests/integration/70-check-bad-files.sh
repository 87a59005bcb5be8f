#!/bin/bash
# 70-check-bad-files: damaged or non-image files give a clear error and exit
# 9 (EXIT_BAD_IMAGE), never a crash; usage errors exit 2.  Most are caught by
# the format probe (no appliance); the image with no OS and the qcow2 cut in
# the middle need one launch, shared.
set -euo pipefail
here=$TOP/tests/check
syn=${SHARED:-$WORK}/check-images
"$here/make-good-image.sh" "$syn"
cd "$WORK"
: > empty.img
printf 'hello, this is not a disk image\n%.0s' $(seq 1 50000) > text.img
qemu-img convert -O qcow2 "$syn/good.raw" full.qcow2
sz=$(stat -c %s full.qcow2)
head -c 65536 full.qcow2 > trunc-head.qcow2        # header only: tables cut off
head -c $((sz / 2)) full.qcow2 > trunc-mid.qcow2    # header fine, data cut
rm -f full.qcow2
head -c 100 "$syn/good.raw" > tiny.img
printf 'conectix' > fake-vhd.img; head -c 2000000 /dev/zero >> fake-vhd.img
mkdir adir

expect() {  # expect CODE PATTERN ARGS… — exit code and a message on stderr
        local want=$1 pat=$2; shift 2
        local rc=0
        "$IMGBUILD" check "$@" > out.txt 2> err.txt || rc=$?
        if [ "$rc" -ne "$want" ] || ! grep -qi -- "$pat" err.txt; then
                echo "FAIL: imgbuild check $* → exit $rc (want $want), stderr:"; cat err.txt; exit 1
        fi
        echo "ok    exit $rc  $*: $(head -c 200 err.txt | tr '\n' ' ')"
}
expect 9 "empty file" empty.img
expect 9 "text file" text.img
expect 9 "truncated qcow2" trunc-head.qcow2
expect 9 "too small" tiny.img
expect 9 "directory" adir
expect 9 "cannot open" does-not-exist.img
expect 9 "VHD\|image" fake-vhd.img
expect 2 "no image given"
expect 2 "unknown profile" --profile centos9 empty.img
expect 2 "rpmdb format" --rpmdb ndb empty.img
# one launch for the two that need the appliance; both must be reported
expect 9 "no operating system" "$syn/noos.raw" trunc-mid.qcow2
grep -q "trunc-mid.qcow2" err.txt || { echo "FAIL: nothing said about trunc-mid.qcow2"; cat err.txt; exit 1; }
grep -q "noos.raw" err.txt || { echo "FAIL: nothing said about noos.raw"; cat err.txt; exit 1; }
# --json with a bad image among others: an array with an error object
rc=0; "$IMGBUILD" check --json empty.img text.img > j.json 2>/dev/null || rc=$?
python3 -c 'import json,sys; d=json.load(open("j.json")); assert len(d)==2 and all("error" in x for x in d), d' ||
        { echo "FAIL: --json error objects"; cat j.json; exit 1; }
echo "all bad files rejected cleanly"
