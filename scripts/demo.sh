#!/bin/sh
# make demo: start dots-sandbox on a free loopback port, import
# samples/users.csv through it, show the summary and the results, stop.
set -eu
build=${1:-build}
out=$build/demo
rm -rf "$out"
mkdir -p "$out"
"$build/dots-sandbox" --port 0 --client-id demo-client --api-key demo-key \
	>"$out/sandbox.out" 2>"$out/sandbox.err" &
sb=$!
trap 'kill $sb 2>/dev/null; wait $sb 2>/dev/null || true' EXIT INT TERM
i=0
while ! grep -q '^listening on ' "$out/sandbox.out" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $sb 2>/dev/null; then
		echo "demo: dots-sandbox did not start:" >&2
		cat "$out/sandbox.err" >&2
		exit 1
	fi
	sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$out/sandbox.out")
echo "demo: dots-sandbox is $url"
echo "demo: importing samples/users.csv (some rows are invalid on purpose)"
rc=0
DOTS_CLIENT_ID=demo-client DOTS_API_KEY=demo-key "$build/dots-import" \
	--base-url "$url" --state "$out/dots-import.db" \
	-o "$out/users.results.csv" samples/users.csv || rc=$?
echo "demo: dots-import exited $rc (1 = finished, some rows invalid or duplicate)"
echo "demo: results file: $out/users.results.csv"
echo "demo: first rows:"
head -n 6 "$out/users.results.csv" | cut -c1-140
echo "demo: sandbox counts: $(curl -s "${url%/api}/_sandbox/stats" | cut -c1-200)..."
case $rc in 0 | 1) exit 0 ;; *) exit "$rc" ;; esac
