/*
 * summary.h - a finished run in machine-readable form: the summary JSON
 * (--summary-json, --notify-url), Prometheus textfile metrics
 * (--metrics-file) and JSON log lines (--log-format json).
 * Built with jansson; never contains a credential (it only sees counts,
 * paths and messages that are already free of them).
 */
#ifndef DOTS_SUMMARY_H
#define DOTS_SUMMARY_H

#include <stdbool.h>
#include <time.h>

#include "err.h"
#include "reasons.h"
#include "run.h"

struct summary_info {
	const char *command;      /* "import", "send-verification", "verify" */
	const char *input_path;   /* NULL for send-verification */
	const char *results_path;
	int exit_code;
	time_t started, ended;    /* wall clock */
	bool dry_run;
	const struct import_stats *st;
	/* the rows' errors by reason, sorted (reasons_sort), or NULL: the
	 * summary's top_errors */
	const struct reasons *reasons;
};

/* The summary as a JSON text (malloc'd; caller frees), or NULL on OOM. */
char *summary_json(const struct summary_info *si);

/* Writes summary_json to path atomically (mode 0600). */
int summary_write_json(const char *path, const struct summary_info *si, struct err *err);

/*
 * Writes the Prometheus text exposition for node_exporter's textfile
 * collector, atomically. dots_import_last_success_timestamp_seconds is
 * this run's end when it completed (exit 0 or 1), else carried over from
 * the file being replaced.
 */
int summary_write_metrics(const char *path, const struct summary_info *si, struct err *err);

/* One JSON log line (no newline) for an event at time when; malloc'd. */
char *summary_event_json(const struct import_event *ev, time_t when);

/* "2026-11-30T02:00:00Z" */
void summary_iso_time(time_t t, char out[32]);

#endif
