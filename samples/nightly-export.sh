#!/bin/sh
# nightly-export - export the users from your database, then import them
# into Dots with dots-import. `make install` installs it as
# /usr/local/lib/dots-import/nightly-export (paths below follow PREFIX,
# SYSCONFDIR and LOCALSTATEDIR); cron (cron.d/dots-import) and the systemd
# service (dots-import.service) run it from there.
#
# It assumes nothing from the caller's environment: cron gives it
# PATH=/usr/bin:/bin and no login shell, systemd a bare environment. It
# reads, all optional but one of the first two:
#   EXPORT_COMMAND  a shell command that writes the users CSV to stdout
#   DATABASE_URL    else: psql runs EXPORT_SQL against this database (put no
#                   password in it: ps shows psql's arguments; use peer
#                   authentication or PGPASSFILE)
#   EXPORT_SQL      the query (default below: adapt it to your schema)
#   DOTS_IMPORT     the importer (default /usr/local/bin/dots-import)
#   DOTS_IMPORT_CONFIG  config (default /etc/dots-import/config.yaml); it, or
#                   DOTS_BASE_URL, must name the API: dots-import's own
#                   default is the Dots sandbox
#   STATE_DIRECTORY ledger, exports, results (default /var/lib/dots-import;
#                   systemd's StateDirectory= sets it)
#   LOGS_DIRECTORY  the event log (default /var/log/dots-import; LogsDirectory=)
#   METRICS_FILE    node_exporter textfile (default below; empty: no metrics)
#   KEEP_DAYS       days of exports and results to keep (default 14)
#
# Exit status: dots-import's own (0, 1, 2, 3, 4, 130, 143: see its manual),
# or one of this script's, when dots-import did not run and nothing was sent:
#   5  this script is not set up (message says what is missing)
#   6  the export failed or wrote nothing
#   7  another run still holds the lock
# Its own messages start with "nightly-export:", dots-import's with "dots-import:".
set -eu
umask 077 # exports, results and logs hold personal data
PATH=/usr/local/bin:${PATH:-/usr/bin:/bin}
export PATH

me=nightly-export
die() {
	code=$1
	shift
	echo "$me: error: $*" >&2
	exit "$code"
}

dots_import=${DOTS_IMPORT:-/usr/local/bin/dots-import}
config=${DOTS_IMPORT_CONFIG:-/etc/dots-import/config.yaml}
work=${STATE_DIRECTORY:-/var/lib/dots-import}
logs=${LOGS_DIRECTORY:-/var/log/dots-import}
metrics=${METRICS_FILE-/var/lib/node_exporter/textfile_collector/dots_import.prom}
keep=${KEEP_DAYS:-14}
sql=${EXPORT_SQL:-"SELECT email, country_code, phone_number, first_name, last_name,
       id::text AS username FROM customers"}

# --- is everything in place? (nothing is exported or sent otherwise) -------
[ -x "$dots_import" ] ||
	die 5 "dots-import not found at $dots_import (make install puts it there; or set DOTS_IMPORT)"
[ -r "$config" ] ||
	die 5 "cannot read the config $config (start from the installed examples/config.yaml; or set DOTS_IMPORT_CONFIG)"
if [ -z "${DOTS_BASE_URL:-}" ] && ! grep -Eq '^[[:space:]]+base_url:[[:space:]]*[^[:space:]#]' "$config"; then
	die 5 "$config sets no api.base_url and DOTS_BASE_URL is not set: dots-import would use the Dots sandbox"
fi
if [ -z "${EXPORT_COMMAND:-}" ]; then
	[ -n "${DATABASE_URL:-}" ] ||
		die 5 "set EXPORT_COMMAND (a command writing the users CSV to stdout) or DATABASE_URL (export with psql)"
	command -v psql >/dev/null 2>&1 ||
		die 5 "psql not found in $PATH (apt-get install postgresql-client; or set EXPORT_COMMAND)"
fi
case $keep in
'' | *[!0-9]*) die 5 "KEEP_DAYS must be a number of days, not '$keep'" ;;
esac
for dir in "$work" "$logs"; do
	{ [ -d "$dir" ] && [ -w "$dir" ]; } ||
		die 5 "cannot write in $dir (create it, owned by the user this job runs as)"
done
if [ -n "$metrics" ]; then
	[ -d "$(dirname "$metrics")" ] ||
		die 5 "no directory $(dirname "$metrics") for METRICS_FILE (install node_exporter's textfile collector; or set METRICS_FILE= for no metrics)"
fi
mkdir -p "$work/exports" "$work/results" || die 5 "cannot create directories in $work"

# --- one run at a time: the lock is held until dots-import exits ------------
exec 9>>"$work/run.lock" || die 5 "cannot open $work/run.lock"
command -v flock >/dev/null 2>&1 || die 5 "flock not found in $PATH (util-linux)"
flock -n 9 || die 7 "another nightly-export still holds $work/run.lock; not starting"

# --- keep KEEP_DAYS days of exports and results (personal data) -------------
find "$work/exports" "$work/results" -type f -mtime +"$keep" -delete

# --- 1. export ---------------------------------------------------------------
day=$(date +%Y-%m-%d)
export_csv="$work/exports/users-$day.csv"
rc=0
if [ -n "${EXPORT_COMMAND:-}" ]; then
	sh -c "$EXPORT_COMMAND" >"$export_csv.tmp" || rc=$?
	what="EXPORT_COMMAND"
else
	psql --no-psqlrc --quiet --csv --set ON_ERROR_STOP=1 -c "$sql" "$DATABASE_URL" \
		>"$export_csv.tmp" || rc=$?
	what="psql"
fi
if [ "$rc" -ne 0 ]; then
	rm -f "$export_csv.tmp"
	die 6 "the export failed ($what exited $rc); nothing was imported"
fi
if [ ! -s "$export_csv.tmp" ]; then
	rm -f "$export_csv.tmp"
	die 6 "the export wrote nothing (not even a header); nothing was imported"
fi
mv "$export_csv.tmp" "$export_csv"
echo "$me: exported $(($(wc -l <"$export_csv") - 1)) lines to $export_csv; importing" >&2

# --- 2. import: exec, so its exit status and signals are the job's ----------
# The ledger makes the run create only the new users; the rejects file is
# for someone to fix in the morning. Credentials come from the config's
# api_key_file, systemd credentials or the environment, never from here.
set -- --config "$config" \
	--state "$work/dots-import.db" \
	--output "$work/results/users-$day.results.csv" \
	--rejects "$work/results/users-$day.rejects.csv" \
	--summary-json "$work/results/users-$day.summary.json" \
	--log-file "$logs/import.log"
[ -n "$metrics" ] && set -- "$@" --metrics-file "$metrics"
exec "$dots_import" "$@" "$export_csv"
