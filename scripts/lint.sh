#!/bin/sh
# make lint: layering rules of STYLE.md, checked with grep.
set -u
bad=0
only_in() { # header file...
	h=$1
	shift
	for f in $(grep -l "#include <$h>" lib/*.c lib/*.h cmd/*/*.c cmd/*/*.h 2>/dev/null); do
		ok=0
		for allowed in "$@"; do [ "$f" = "$allowed" ] && ok=1; done
		[ $ok = 1 ] || { echo "lint: $f includes <$h> (only $*)"; bad=1; }
	done
}
only_in curl/curl.h lib/http.c
only_in csv.h lib/reader.c lib/results.c
only_in yaml.h lib/config.c
only_in sqlite3.h lib/ledger.c
only_in jansson.h lib/payload.c lib/summary.c $(ls cmd/dots-sandbox/*.c cmd/dots-sandbox/*.h)
only_in microhttpd.h $(ls cmd/dots-sandbox/*.c cmd/dots-sandbox/*.h)
for f in lib/*.c; do
	grep -q '"import.h"' "$f" && [ "$f" != lib/import.c ] && { echo "lint: $f includes import.h"; bad=1; }
	grep -q '"banned.h"' "$f" || { echo "lint: $f does not include banned.h"; bad=1; }
	grep -nE '\b(printf|puts|exit)\(' "$f" | grep -v snprintf | grep -v '^\s*\*' && { echo "lint: $f prints or exits"; bad=1; }
done
[ $bad = 0 ] && echo "lint: ok"
exit $bad
