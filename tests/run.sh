#!/bin/sh
# Runs every test suite and ends with one line "N passed, N failed".
#   tests/run.sh BUILD_DIR [unit|e2e]
set -u
build=${1:-build}
only=${2:-all}
passed=0
failed=0

if [ "$only" = all ] || [ "$only" = unit ]; then
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		out=$("$t" 2>&1)
		rc=$?
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # crashed or failed outside cmocka's accounting
		fi
		if [ "$f" -ne 0 ]; then
			printf '%s\n' "$out" | grep -v '^\[       OK \]' | tail -n 40
		fi
		echo "unit: $(basename "$t"): $p passed, $f failed"
		passed=$((passed + p))
		failed=$((failed + f))
	done
fi

if [ "$only" = all ] || [ "$only" = e2e ]; then
	# cases run in parallel (tests/e2e/run.py --help); E2E_JOBS=N overrides
	# how many at a time
	out=$(python3 tests/e2e/run.py --build "$build" ${E2E_JOBS:+--jobs "$E2E_JOBS"} 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' | tail -n 1)
	if [ -z "$p" ]; then
		p=0
		f=1
	fi
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p))
	failed=$((failed + f))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
