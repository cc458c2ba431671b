#!/bin/sh
# bench/run.sh - the performance suite of issue 6 (`make bench`).
# Usage: sh bench/run.sh [BUILD_DIR]   (default: build)
# Everything runs against dots-sandbox on 127.0.0.1; see bench/bench.py for
# the benchmarks and bench/pacing.py for the pacing table, and the BENCH_*
# environment knobs (BENCH_PACING=0 skips the pacing table; BENCH_ONLY with
# only pace* keys runs only it).
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
root=$(dirname -- "$here")
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 is required" >&2; exit 2; }
cd "$root"

# which tables BENCH_ONLY asks for: pace, pace1..pace5 are pacing.py's keys
main=1 pacing=${BENCH_PACING:-1}
if [ -n "${BENCH_ONLY:-}" ]; then
	main=0 want_pacing=0
	for k in $(echo "$BENCH_ONLY" | tr ',' ' '); do
		case $k in pace*) want_pacing=1 ;; *) main=1 ;; esac
	done
	[ "$want_pacing" = 1 ] || pacing=0
fi

rc=0
if [ "$main" = 1 ]; then
	python3 "$here/bench.py" "$build" || rc=$?
fi
if [ "$pacing" != 0 ]; then
	# the peer column needs botocore (Debian: python3-botocore); CI does not
	# run the bench, so it is installed here, when we may, rather than in deps
	if ! /usr/bin/python3 -c 'import botocore.retries.adaptive' >/dev/null 2>&1 &&
	   ! python3 -c 'import botocore.retries.adaptive' >/dev/null 2>&1; then
		if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
			echo "bench: installing python3-botocore for the pacing peer" >&2
			apt-get install -y -q python3-botocore >/dev/null 2>&1 ||
				echo "bench: could not install python3-botocore: no peer column" >&2
		else
			echo "bench: botocore not found (apt-get install python3-botocore): no peer column" >&2
		fi
	fi
	python3 "$here/pacing.py" "$build" || rc=$?
fi
exit $rc
