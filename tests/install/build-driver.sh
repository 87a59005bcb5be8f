#!/bin/bash
# build-driver.sh OUT — compile tests/install/install-driver.c against the
# library (make builds build/libimgbuild.a first).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
make -s -C "$top" build/libimgbuild.a >&2
cc -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-missing-field-initializers \
   $(make -s --no-print-directory -C "$top" print-flags) -I"$top/builder" -o "$1" "$top/tests/install/install-driver.c" \
   "$top/build/libimgbuild.a" $(make -s --no-print-directory -C "$top" print-libs)
