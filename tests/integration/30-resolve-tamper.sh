#!/usr/bin/env bash
# Broken or tampered repos are rejected with the fetch exit code and a message
# naming the repo and what is wrong; nothing of them is cached:
#  one byte of primary.xml.gz changed → checksum mismatch;
#  repomd.xml changed after signing → BAD signature;
#  repomd.xml.asc missing → signature missing;
#  a truncated primary.xml.gz, re-listed in a re-signed repomd.xml → corrupt;
#  signed by another key → not among the repo's gpgkey files.
set -u
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$FIXTURE/fixture.env" ] || { echo "no fixture"; exit 77; }
. "$FIXTURE/fixture.env"
export GNUPGHOME="$WORK/gnupg"
cp -r "$FIXTURE/gnupg" "$GNUPGHOME" && chmod 700 "$GNUPGHOME" || { echo "fixture has no gnupg dir"; exit 77; }
trap 'gpgconf --kill all >/dev/null 2>&1' EXIT

fresh() { rm -rf "$WORK/os" && cp -rL "$FIXTURE/repos/os" "$WORK/os" && chmod -R u+w "$WORK/os"; }
sign() { rm -f "$WORK/os/repodata/repomd.xml.asc"; gpg -q --batch --yes --pinentry-mode loopback --passphrase '' \
        --armor --detach-sign -o "$WORK/os/repodata/repomd.xml.asc" "$WORK/os/repodata/repomd.xml"; }
expect_fail() { # label, expected text
        local cache="$WORK/cache-$1"
        IMGBUILD_CACHE_DIR="$cache" "$IMGBUILD" resolve -p demo --repo-file "$FIXTURE/fixture.repo" \
                --repo-url "os=file://$WORK/os" -o "$WORK/x.lock" > "$WORK/out" 2>&1
        local rc=$?
        cat "$WORK/out"
        [ "$rc" = 4 ] || fail "$1: exit $rc, expected 4"
        grep -q "repo 'os'" "$WORK/out" || fail "$1: repo not named"
        grep -qF "$2" "$WORK/out" || fail "$1: expected '$2'"
        ! find "$cache/repodata/os" -name '*.solv' 2>/dev/null | grep -q . || fail "$1: broken metadata was cached"
        echo "ok: $1"
}

primary() { ls "$WORK/os/repodata/"*-primary.xml.* | head -n1; }

fresh
f=$(primary)
printf '\x00' | dd of="$f" bs=1 seek=200 conv=notrunc status=none
expect_fail "flipped-byte" "checksum mismatch"

fresh
echo "<!-- -->" >> "$WORK/os/repodata/repomd.xml"
expect_fail "repomd-changed" "BAD signature"

fresh
rm "$WORK/os/repodata/repomd.xml.asc"
expect_fail "no-signature" "signature is missing"

fresh
f=$(primary)
old=$(sha256sum "$f" | cut -d' ' -f1)
truncate -s $(( $(stat -c %s "$f") / 2 )) "$f"
new=$(sha256sum "$f" | cut -d' ' -f1)
# createrepo_c names files by their checksum: keep the name consistent.
case "$f" in */"$old"-*) mv "$f" "${f%/*}/$new-${f##*/$old-}" ;; esac
sed -i "s/$old/$new/g" "$WORK/os/repodata/repomd.xml"
sign || fail "re-signing failed"
expect_fail "truncated-gzip" "corrupt or truncated"

fresh
gpg -q --batch --passphrase '' --quick-gen-key "intruder <x@example>" rsa2048 sign never 2>/dev/null
rm -f "$WORK/os/repodata/repomd.xml.asc"
gpg -q --batch --yes --armor --detach-sign -u intruder -o "$WORK/os/repodata/repomd.xml.asc" "$WORK/os/repodata/repomd.xml"
expect_fail "other-key" "not among the repo's gpgkey files"

# And the untouched copy works (the test itself is sound).
fresh
IMGBUILD_CACHE_DIR="$WORK/cache-good" "$IMGBUILD" resolve -p demo --repo-file "$FIXTURE/fixture.repo" \
        --repo-url "os=file://$WORK/os" -o "$WORK/good.lock" || fail "untampered copy rejected"
echo PASS
