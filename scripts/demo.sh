#!/bin/sh
# make demo: start dots-sandbox on a free loopback port, import
# samples/users.csv through it, show the summary and the results; then a
# larger generated run against a rate-limited sandbox that writes the HTML
# run report (build/demo/report.html; docs/report.png is a screenshot of
# one); stop.
set -eu
build=${1:-build}
out=$build/demo
rm -rf "$out"
mkdir -p "$out"
"$build/dots-sandbox" --port 0 --client-id demo-client --api-key demo-key \
	--latency-ms 10 --jitter-ms 30 \
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
	-o "$out/users.results.csv" --report "$out/sample-report.html" samples/users.csv || rc=$?
echo "demo: dots-import exited $rc (1 = finished, some rows invalid or duplicate)"
echo "demo: results file: $out/users.results.csv"
echo "demo: first rows:"
head -n 6 "$out/users.results.csv" | cut -c1-140
echo "demo: sandbox counts: $(curl -s "${url%/api}/_sandbox/stats" | cut -c1-200)..."
# a larger run: 2500 users (a few invalid) against an API that allows 250
# requests/s and answers in 10-40 ms
awk 'BEGIN { print "email,country_code,phone_number,first_name,last_name";
	for (i = 0; i < 2500; i++)
		if (i % 250 == 7) printf "user%d.example.com,1,416555%04d,Demo,User\n", i, i;
		else if (i % 400 == 9) printf "user%d@example.com,1,55%d,Demo,User\n", i, i;
		else printf "user%d@example.com,1,415%07d,Demo,User\n", i, i }' >"$out/more.csv"
curl -s -X POST -d '{"kind":"bucket","rate":250}' "${url%/api}/_sandbox/limit" >/dev/null
echo "demo: importing 2500 generated users into a sandbox limited to 250 requests/s"
rc2=0
DOTS_CLIENT_ID=demo-client DOTS_API_KEY=demo-key "$build/dots-import" \
	--base-url "$url" --state "$out/dots-import.db" --concurrency 16 \
	-o "$out/more.results.csv" --report "$out/report.html" "$out/more.csv" || rc2=$?
echo "demo: dots-import exited $rc2; the run report: $out/report.html (open it in a browser)"
case $rc in 0 | 1) exit 0 ;; *) exit "$rc" ;; esac
