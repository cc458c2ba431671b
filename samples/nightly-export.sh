#!/bin/sh
# Nightly export + import. Run from cron (samples/cron), a systemd timer
# (samples/systemd) or Kubernetes (samples/kubernetes).
#
# 1. export the users from your database to a CSV (here: PostgreSQL);
# 2. import it: the ledger makes the run create only the new users;
# 3. keep the rejects for someone to fix in the morning.
set -eu
day=$(date +%Y-%m-%d)
work=/var/lib/dots-import
mkdir -p "$work/exports" "$work/results"
export_csv="$work/exports/users-$day.csv"

# Your export goes here. The header must name the columns dots-import
# expects (or map them with columns: in config.yaml).
psql --no-psqlrc --quiet --csv -c "
  SELECT email, country_code, phone_number, first_name, last_name,
         id::text AS username
  FROM customers WHERE phone_verified_at IS NULL OR true" \
  "${DATABASE_URL:?set DATABASE_URL}" >"$export_csv.tmp"
mv "$export_csv.tmp" "$export_csv"

# Credentials come from the environment (or systemd credentials); never
# put them on the command line, where ps shows them.
rc=0
dots-import --config /etc/dots-import/config.yaml \
	--state "$work/dots-import.db" \
	--output "$work/results/users-$day.results.csv" \
	--rejects "$work/results/users-$day.rejects.csv" \
	--summary-json "$work/results/users-$day.summary.json" \
	--metrics-file /var/lib/node_exporter/textfile_collector/dots_import.prom \
	--log-file /var/log/dots-import/import.log \
	"$export_csv" || rc=$?

# Keep two weeks of exports and results (they hold personal data).
find "$work/exports" "$work/results" -type f -mtime +14 -delete
exit $rc
