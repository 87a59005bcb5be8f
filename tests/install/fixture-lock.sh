#!/bin/bash
# fixture-lock.sh FIXTURE OUT — the demo image's lock (kickstart/demo.ks on
# the fixture repos), resolved by `imgbuild resolve`.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
fx=$1 out=$2
exec "$top/builder/imgbuild" resolve --profile demo --repo-file "$fx/fixture.repo" -o "$out" --quiet
