/*
 * summary.c - summary JSON, Prometheus metrics and JSON log lines.
 * JSON via jansson only; files are written with afile (temp + rename).
 */
#include "summary.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "num.h"

#include "banned.h"

void summary_iso_time(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *iso(time_t t)
{
	char buf[32];

	summary_iso_time(t, buf);
	return json_string(buf);
}

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

#define TOP_ERRORS_MAX 20

/* [{"reason", "count", "first_row"}], largest first (rs sorted), at most
 * TOP_ERRORS_MAX; first_row is null for a command without rows. */
static json_t *top_errors(const struct reasons *rs)
{
	json_t *a = json_array();

	for (size_t i = 0; a && rs && i < rs->n && i < TOP_ERRORS_MAX; i++) {
		const struct reason *r = &rs->r[i];
		size_t first = r->nrows ? r->rows[0].row : 0;

		json_array_append_new(a, json_pack("{s:s,s:I,s:o}", "reason", r->text, "count",
						   (json_int_t)r->count, "first_row",
						   first ? json_integer((json_int_t)first) : json_null()));
	}
	return a ? a : json_null();
}

char *summary_json(const struct summary_info *si)
{
	const struct import_stats *st = si->st;
	json_t *root = json_object(), *status = json_object(), *codes, *lat;
	char *out;

	if (!root || !status) {
		json_decref(root);
		json_decref(status);
		return NULL;
	}
	for (int s = 0; s < ROW_STATUS_COUNT; s++)
		json_object_set_new(status, import_status_name((enum row_status)s),
				    json_integer((json_int_t)st->by_status[s]));
	codes = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "sent", (json_int_t)st->codes_sent,
			  "failed", (json_int_t)st->codes_failed, "in_doubt",
			  (json_int_t)st->codes_in_doubt, "in_doubt_from_earlier_runs",
			  (json_int_t)st->codes_in_doubt_earlier, "settled",
			  (json_int_t)st->codes_settled, "already_verified",
			  (json_int_t)st->codes_verified);
	lat = json_pack("{s:f,s:f,s:f}", "p50", import_latency_ms(st, 50), "p95",
			import_latency_ms(st, 95), "p99", import_latency_ms(st, 99));
	json_object_set_new(root, "command", json_string(si->command));
	json_object_set_new(root, "input", opt_str(si->input_path));
	json_object_set_new(root, "results", opt_str(si->results_path));
	json_object_set_new(root, "dry_run", json_boolean(si->dry_run));
	json_object_set_new(root, "exit_code", json_integer(si->exit_code));
	json_object_set_new(root, "started_at", iso(si->started));
	json_object_set_new(root, "ended_at", iso(si->ended));
	json_object_set_new(root, "elapsed_s", json_real(st->elapsed_s));
	json_object_set_new(root, "rows", json_integer((json_int_t)st->rows));
	json_object_set_new(root, "status", status);
	/* a dry run that read the ledger: what tonight would do */
	json_object_set_new(root, "preview",
			    si->dry_run && st->previewed
				    ? json_pack("{s:I,s:I,s:I,s:I}", "create",
						(json_int_t)st->by_status[ROW_VALID], "exists",
						(json_int_t)st->by_status[ROW_EXISTS], "changed",
						(json_int_t)st->by_status[ROW_CHANGED], "conflict",
						(json_int_t)st->by_status[ROW_CONFLICT])
				    : json_null());
	json_object_set_new(root, "rows_with_errors",
			    json_integer(si->reasons ? (json_int_t)si->reasons->total : 0));
	json_object_set_new(root, "top_errors", top_errors(si->reasons));
	json_object_set_new(root, "limit_left", json_integer((json_int_t)st->limit_left));
	json_object_set_new(root, "codes", codes ? codes : json_null());
	json_object_set_new(root, "requests", json_integer((json_int_t)st->requests));
	json_object_set_new(root, "retries", json_integer((json_int_t)st->retries));
	json_object_set_new(root, "rate_limited", json_integer((json_int_t)st->rate_limited));
	json_object_set_new(root, "requests_per_s",
			    json_real(st->elapsed_s > 0 ? (double)st->requests / st->elapsed_s : 0));
	json_object_set_new(root, "latency_ms", lat ? lat : json_null());
	json_object_set_new(root, "pacing",
			    json_pack("{s:I,s:f,s:f}", "rate_limited", (json_int_t)st->rate_limited,
				      "paused_s", (double)st->paused_ms / 1000.0, "learned_rate",
				      st->learned_rate));
	json_object_set_new(root, "stopped_early", st->abort_reason[0] ? json_string(st->abort_reason)
								       : json_null());
	json_object_set_new(root, "signal", st->signal ? json_integer(st->signal) : json_null());
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}

int summary_write_json(const char *path, const struct summary_info *si, struct err *err)
{
	char *text = summary_json(si);
	size_t n;
	int rc;

	if (!text)
		return err_set(err, "out of memory");
	n = strlen(text);
	char *line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return err_set(err, "out of memory");
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	rc = afile_write(path, line, err);
	free(line);
	return rc;
}

/* The previous run's success time from the file we replace, or 0. */
static long previous_success(const char *path)
{
	static const char key[] = "dots_import_last_success_timestamp_seconds ";
	char line[256];
	long v = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, sizeof(key) - 1) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if (num_parse_long(line + sizeof(key) - 1, 0, 4102444800L, &v) < 0)
				v = 0;
		}
	fclose(f);
	return v;
}

int summary_write_metrics(const char *path, const struct summary_info *si, struct err *err)
{
	const struct import_stats *st = si->st;
	struct afile f;
	long last_ok = si->exit_code == 0 || si->exit_code == 1 ? (long)si->ended
							       : previous_success(path);
	int rc;

	if (afile_open(&f, path, err) < 0)
		return -1;
	/* node_exporter reads it as another user; it holds no personal data */
	if (afile_set_mode(&f, 0644, err) < 0) {
		afile_release(&f);
		return -1;
	}
	fprintf(f.fp, "# HELP dots_import_rows Rows of the last run by final status.\n"
		      "# TYPE dots_import_rows gauge\n");
	for (int s = 0; s < ROW_STATUS_COUNT; s++)
		fprintf(f.fp, "dots_import_rows{command=\"%s\",status=\"%s\"} %zu\n", si->command,
			import_status_name((enum row_status)s), st->by_status[s]);
	fprintf(f.fp,
		"# HELP dots_import_codes Verification codes of the last run by result.\n"
		"# TYPE dots_import_codes gauge\n"
		"dots_import_codes{command=\"%s\",result=\"sent\"} %zu\n"
		"dots_import_codes{command=\"%s\",result=\"failed\"} %zu\n"
		"dots_import_codes{command=\"%s\",result=\"in_doubt\"} %zu\n"
		"dots_import_codes{command=\"%s\",result=\"settled\"} %zu\n"
		"dots_import_codes{command=\"%s\",result=\"already_verified\"} %zu\n"
		"# HELP dots_import_codes_in_doubt_from_earlier_runs Codes of the last run's rows "
		"in doubt since an earlier run (counted in result=\"in_doubt\" too).\n"
		"# TYPE dots_import_codes_in_doubt_from_earlier_runs gauge\n"
		"dots_import_codes_in_doubt_from_earlier_runs{command=\"%s\"} %zu\n"
		"# HELP dots_import_requests HTTP requests made by the last run.\n"
		"# TYPE dots_import_requests gauge\n"
		"dots_import_requests{command=\"%s\"} %zu\n"
		"# HELP dots_import_retries Retries made by the last run.\n"
		"# TYPE dots_import_retries gauge\n"
		"dots_import_retries{command=\"%s\"} %zu\n"
		"# HELP dots_import_rate_limited 429 answers seen by the last run.\n"
		"# TYPE dots_import_rate_limited gauge\n"
		"dots_import_rate_limited{command=\"%s\"} %zu\n"
		"# HELP dots_import_duration_seconds Wall time of the last run.\n"
		"# TYPE dots_import_duration_seconds gauge\n"
		"dots_import_duration_seconds{command=\"%s\"} %.3f\n"
		"# HELP dots_import_exit_code Exit code of the last run.\n"
		"# TYPE dots_import_exit_code gauge\n"
		"dots_import_exit_code{command=\"%s\"} %d\n"
		"# HELP dots_import_last_run_timestamp_seconds When the last run ended.\n"
		"# TYPE dots_import_last_run_timestamp_seconds gauge\n"
		"dots_import_last_run_timestamp_seconds %ld\n"
		"# HELP dots_import_last_success_timestamp_seconds When a run last completed (exit 0 or 1).\n"
		"# TYPE dots_import_last_success_timestamp_seconds gauge\n"
		"dots_import_last_success_timestamp_seconds %ld\n",
		si->command, st->codes_sent, si->command, st->codes_failed, si->command,
		st->codes_in_doubt, si->command, st->codes_settled, si->command,
		st->codes_verified, si->command, st->codes_in_doubt_earlier, si->command, st->requests, si->command, st->retries,
		si->command, st->rate_limited, si->command, st->elapsed_s, si->command,
		si->exit_code, (long)si->ended, last_ok);
	fprintf(f.fp,
		"# HELP dots_import_paused_seconds Time all requests waited after 429s in the last run.\n"
		"# TYPE dots_import_paused_seconds gauge\n"
		"dots_import_paused_seconds{command=\"%s\"} %.3f\n"
		"# HELP dots_import_learned_rate The API's rate limit learned by the last run (requests/s).\n"
		"# TYPE dots_import_learned_rate gauge\n"
		"dots_import_learned_rate{command=\"%s\"} %.3f\n",
		si->command, (double)st->paused_ms / 1000.0, si->command, st->learned_rate);
	if (ferror(f.fp))
		f.failed = 1;
	rc = afile_commit(&f, err);
	afile_release(&f);
	return rc;
}

static const char *const event_names[] = {
	[IMPORT_EV_START] = "start",   [IMPORT_EV_END] = "end",
	[IMPORT_EV_PAUSE] = "pause",   [IMPORT_EV_ABORT] = "abort",
	[IMPORT_EV_SIGNAL] = "signal", [IMPORT_EV_ROW] = "row",
	[IMPORT_EV_REQUEST] = "request", [IMPORT_EV_REASON] = "reason",
};

/* Text that may quote raw input: invalid UTF-8 becomes a stripped copy. */
static json_t *safe_string(const char *s)
{
	json_t *v = json_string(s ? s : "");

	if (!v) {
		char clean[768];
		size_t n = 0;

		for (const char *p = s; *p && n < sizeof(clean) - 1; p++)
			clean[n++] = (unsigned char)*p < 0x80 ? *p : '?';
		clean[n] = '\0';
		v = json_string(clean);
	}
	return v;
}

char *summary_event_json(const struct import_event *ev, time_t when)
{
	json_t *o = json_object();
	char *out;

	if (!o)
		return NULL;
	json_object_set_new(o, "time", iso(when));
	json_object_set_new(o, "event", json_string(event_names[ev->kind]));
	if (ev->kind == IMPORT_EV_REASON) {
		json_object_set_new(o, "reason", safe_string(ev->reason));
		json_object_set_new(o, "count", json_integer((json_int_t)ev->count));
		json_object_set_new(o, "first_row", json_integer((json_int_t)ev->row));
		out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		return out;
	}
	if (ev->row) {
		json_object_set_new(o, "row", json_integer((json_int_t)ev->row));
		json_object_set_new(o, "line", json_integer((json_int_t)ev->line));
	}
	if (ev->status)
		json_object_set_new(o, "status", json_string(ev->status));
	if (ev->kind == IMPORT_EV_REQUEST) {
		json_object_set_new(o, "outcome", json_string(ev->outcome ? ev->outcome : ""));
		json_object_set_new(o, "http_status", json_integer(ev->http_status));
		json_object_set_new(o, "attempt", json_integer(ev->attempt));
		json_object_set_new(o, "elapsed_ms", json_integer(ev->elapsed_ms));
	}
	if (ev->reason)
		json_object_set_new(o, "reason", safe_string(ev->reason));
	json_object_set_new(o, "message", safe_string(ev->msg));
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}
