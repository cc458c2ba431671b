#!/bin/sh
# Installs the Debian packages dots-import needs to build and test, when any
# is missing. As root it runs apt-get; otherwise it says what to run.
set -eu
PKGS="build-essential pkg-config libcurl4-openssl-dev libcsv-dev libjansson-dev
libyaml-dev libsqlite3-dev libmicrohttpd-dev libcmocka-dev zlib1g-dev curl openssl python3 python3-yaml sqlite3 tmux"
[ -n "${DOTS_EXTRA_PKGS:-}" ] && PKGS="$PKGS $DOTS_EXTRA_PKGS"
# optional: headless Chromium checks the HTML run report in a real browser
# (e2e case 617); where it cannot be installed that case says so and skips
OPTIONAL="chromium"
optional() {
	for p in $OPTIONAL; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
		if [ "$(id -u)" -ne 0 ]; then
			echo "deps: optional $p is missing (sudo apt-get install -y $p): the report's browser check skips" >&2
			continue
		fi
		export DEBIAN_FRONTEND=noninteractive
		if ! apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 &&
		   ! { apt-get update -qq >/dev/null 2>&1 &&
		       apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1; }; then
			echo "deps: could not install optional $p: the report's browser check skips" >&2
		fi
	done
}
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	optional
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
optional
