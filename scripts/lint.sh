#!/bin/sh
# make lint (run first by make test): the layering rules, checked with grep
# over lib/ and cmd/, headers included. Prints one line per problem, then
# "lint: ok" or "lint: N problem(s)"; exits 1 on any problem.
set -u
bad=0
problem() {
	echo "lint: $*"
	bad=$((bad + 1))
}
# only_in HEADER FILE...: <HEADER> is included by no other lib/ or cmd/ file
only_in() {
	h=$1
	shift
	for f in $(grep -l "^[[:space:]]*#[[:space:]]*include[[:space:]]*<$h>" \
		lib/*.c lib/*.h cmd/*/*.c cmd/*/*.h 2>/dev/null); do
		ok=0
		for allowed in "$@"; do [ "$f" = "$allowed" ] && ok=1; done
		[ $ok = 1 ] || problem "$f includes <$h> (only $*)"
	done
}
sandbox=$(ls cmd/dots-sandbox/*.c cmd/dots-sandbox/*.h)
# each library behind its adapter
only_in curl/curl.h lib/http.c
only_in csv.h lib/reader.c lib/results.c
only_in yaml.h lib/config.c
only_in sqlite3.h lib/ledger.c lib/ledger_rows.c lib/ledger_read.c lib/ledger_int.h
only_in jansson.h lib/payload.c lib/summary.c lib/runreport.c $sandbox
only_in microhttpd.h $sandbox
only_in zlib.h lib/gunzip.c
only_in iconv.h lib/decode.c
# import.h is the import command's: for cmd/ and the import module itself
# (import.c and its private header import_int.h, which window.c shares)
for f in $(grep -l '#[[:space:]]*include[[:space:]]*"import.h"' lib/*.c lib/*.h 2>/dev/null); do
	[ "$f" = lib/import.c ] || [ "$f" = lib/import_int.h ] ||
		problem "$f includes import.h (only cmd/ and lib/import.c)"
done
# codes_int.h is the code commands' private header: codes.c and verify.c
for f in $(grep -l '#[[:space:]]*include[[:space:]]*"codes_int.h"' lib/*.c lib/*.h cmd/*/*.c cmd/*/*.h 2>/dev/null); do
	[ "$f" = lib/codes.c ] || [ "$f" = lib/verify.c ] ||
		problem "$f includes codes_int.h (only lib/codes.c and lib/verify.c)"
done
# ledger_int.h (it brings <sqlite3.h>) is the ledger adapter's alone
for f in $(grep -l '#[[:space:]]*include[[:space:]]*"ledger_int.h"' lib/*.c lib/*.h cmd/*/*.c cmd/*/*.h 2>/dev/null); do
	[ "$f" = lib/ledger.c ] || [ "$f" = lib/ledger_rows.c ] || [ "$f" = lib/ledger_read.c ] ||
		problem "$f includes ledger_int.h (only lib/ledger.c, lib/ledger_rows.c and lib/ledger_read.c)"
done
# the library stands on its own: no citations of documents outside the
# repository (the words are assembled so this file does not cite them)
outside="CONTR""ACT|\\.\\./sha""red|STY""LE\\.md"
for f in $(grep -lE "$outside" lib/*.c lib/*.h 2>/dev/null); do
	problem "$f cites a document outside the repository (docs/ says it in our words)"
done
for f in lib/*.c; do
	grep -q '"banned.h"' "$f" || problem "$f does not include banned.h"
	grep -nE '\b(printf|puts|exit)\(' "$f" | grep -v snprintf | grep -v '^[0-9]*:\s*\*' &&
		problem "$f prints or exits"
done
if [ $bad = 0 ]; then
	echo "lint: ok"
	exit 0
fi
echo "lint: $bad problem(s)"
exit 1
