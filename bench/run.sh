#!/bin/sh
# bench/run.sh - the performance suite of issue 6 (`make bench`).
# Usage: sh bench/run.sh [BUILD_DIR]   (default: build)
# Everything runs against dots-sandbox on 127.0.0.1; see bench/bench.py for
# the benchmarks and the BENCH_* environment knobs.
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
root=$(dirname -- "$here")
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 is required" >&2; exit 2; }
cd "$root"
exec python3 "$here/bench.py" "$build"
