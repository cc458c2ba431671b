#!/bin/sh
# tests/fuzz/run.sh [SECONDS] [TARGET...] - builds the libFuzzer targets with
# clang (-fsanitize=fuzzer,address,undefined) against the lib/ sources they
# need, replays every kept crasher in regressions/TARGET/, then fuzzes each
# target for SECONDS (default 60) from a scratch copy of corpus/TARGET/ (the
# repository's corpus is never grown). Exits 1 on any finding; new crashers
# land in $FUZZ_BUILD/findings/TARGET/. Prints per target: execs/s, corpus
# size (files, bytes) and time.
#   FUZZ_BUILD (default build-fuzz), FUZZ_CC (default clang),
#   FUZZ_FLAGS (extra libFuzzer flags, e.g. "-jobs=2 -workers=2").
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz_reader fuzz_phone fuzz_config fuzz_payload"}
out=${FUZZ_BUILD:-build-fuzz}
cc=${FUZZ_CC:-clang}
here=tests/fuzz

case $secs in '' | *[!0-9]*)
	echo "fuzz: usage: run.sh [SECONDS] [TARGET...]" >&2
	exit 2 ;;
esac
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (apt-get install clang)" >&2
	exit 2
fi

mkdir -p "$out" || exit 2
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$out/probe.c"
if ! $cc -fsanitize=fuzzer,address -o "$out/probe" "$out/probe.c" >"$out/probe.log" 2>&1; then
	cat "$out/probe.log" >&2
	echo "fuzz: $cc cannot link -fsanitize=fuzzer (apt-get install libclang-rt-dev)" >&2
	exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS_F="-std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wvla -g -O1
 -fno-omit-frame-pointer $SAN -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
 -DDOTS_VERSION=\"fuzz\" -Ilib $(pkg-config --cflags libcurl jansson yaml-0.1 sqlite3 zlib)"
LIBS_F="$(pkg-config --libs libcurl jansson yaml-0.1 sqlite3 zlib) -lcsv -lm"

# lib/ sources per target; the reader target lowers the reader's limits so
# that small inputs cross record, field-count and read-chunk limits.
srcs() {
	case $1 in
	fuzz_reader) echo "err num utf8 phone user payload gunzip decode reader reader_src reader_columns" ;;
	fuzz_phone) echo "err utf8 phone" ;;
	fuzz_config) echo "err num utf8 phone user gunzip decode config config_keys" ;;
	fuzz_payload) echo "err utf8 payload" ;;
	*) return 1 ;;
	esac
}
defs() {
	case $1 in
	fuzz_reader) echo "-DREADER_MAX_RECORD=1024 -DREADER_MAX_FIELDS=32 -DREAD_CHUNK=61 -DDECODE_BUF=67" ;;
	*) echo "" ;;
	esac
}
maxlen() {
	case $1 in
	fuzz_reader) echo 16384 ;;
	fuzz_phone) echo 256 ;;
	*) echo 4096 ;;
	esac
}

build() { # target: $out/$t/$t
	t=$1
	d=$out/$t
	mkdir -p "$d/obj" || return 1
	objs=""
	for s in $(srcs "$t"); do
		# shellcheck disable=SC2046
		$cc $CFLAGS_F $(defs "$t") -fsanitize=fuzzer-no-link -c -o "$d/obj/$s.o" "lib/$s.c" || return 1
		objs="$objs $d/obj/$s.o"
	done
	$cc $CFLAGS_F $(defs "$t") -fsanitize=fuzzer -o "$d/$t" "$here/$t.c" $objs $LIBS_F || return 1
}

stat_of() { # name log
	sed -n "s/^stat::$1: *\([0-9.]*\).*/\1/p" "$2" | tail -n 1
}

failed=0
for t in $targets; do
	if ! srcs "$t" >/dev/null; then
		echo "fuzz: unknown target $t" >&2
		exit 2
	fi
	if ! build "$t"; then
		echo "fuzz: $t: build failed" >&2
		failed=1
		continue
	fi
	bin=$out/$t/$t
	log=$out/$t/fuzz.log
	opts="-rss_limit_mb=2048 -timeout=10 -max_len=$(maxlen "$t")"
	[ -f "$here/dict/$t.dict" ] && opts="$opts -dict=$here/dict/$t.dict"

	# 1. Every kept crasher must now pass.
	regs=$(find "$here/regressions/$t" -type f 2>/dev/null | sort)
	if [ -n "$regs" ]; then
		# shellcheck disable=SC2086
		if ! "$bin" $opts $regs >"$out/$t/regressions.log" 2>&1; then
			tail -n 40 "$out/$t/regressions.log" >&2
			echo "fuzz: $t: FAIL: a kept regression input fails again" >&2
			failed=1
			continue
		fi
		echo "fuzz: $t: $(echo "$regs" | wc -l) regression inputs pass"
	fi

	# 2. Fuzz from a scratch copy of the seed corpus.
	rm -rf "$out/$t/corpus" "$out/$t/findings"
	mkdir -p "$out/$t/corpus" "$out/$t/findings"
	[ -d "$here/corpus/$t" ] && cp "$here/corpus/$t"/* "$out/$t/corpus/" 2>/dev/null
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" $opts -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$out/$t/findings/" ${FUZZ_FLAGS:-} \
		"$out/$t/corpus" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	files=$(find "$out/$t/corpus" -type f | wc -l)
	bytes=$(du -sb "$out/$t/corpus" | cut -f1)
	execs=$(stat_of number_of_executed_units "$log")
	rate=$(stat_of average_exec_per_sec "$log")
	if [ $rc -ne 0 ] || [ -n "$(ls -A "$out/$t/findings")" ]; then
		grep -E "ERROR|SUMMARY|check failed|runtime error|Test unit written" "$log" | head -n 20 >&2
		echo "fuzz: $t: FAIL (exit $rc) after ${took}s; log $log, inputs in $out/$t/findings/" >&2
		failed=1
		continue
	fi
	echo "fuzz: $t: ok, ${took}s, ${execs:-?} execs, ${rate:-?} execs/s, corpus $files files / $bytes bytes"
done
exit $failed
