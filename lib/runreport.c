/*
 * runreport.c - the HTML run report (runreport.h): page, tables, reasons,
 * charts (runchart.c) and the JSON data block (jansson). Must not print a
 * string unescaped, fetch anything, or run script: the page is static.
 */
#include "runreport.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "runchart.h"
#include "summary.h"
#include "utf8.h"

#include "banned.h"

static const struct {
	int code;
	const char *outcome, *next;
} outcomes[] = {
	{0, "Complete", "Every row was handled and every requested code sent. Nothing to do."},
	{1, "Finished, some rows did not succeed",
	 "See the reasons below and the error column of the results. Fix those rows "
	 "(for an import --rejects writes them in the input's own columns) and run the "
	 "same command again: rows already done are skipped, no one gets a second code."},
	{2, "Stopped before sending",
	 "A usage, config, input or state problem (stderr says which). Nothing was sent: "
	 "fix it and run again."},
	{3, "Aborted after requests were sent",
	 "The run stopped early (the reason is below). Fix the cause and run the same "
	 "command again: the ledger remembers every row done, untried rows are pending."},
	{4, "Stopped by a local failure",
	 "A local file could not be written or read after requests were sent (disk full, "
	 "ledger, results or log). Fix it and run the same command again to complete."},
	{130, "Interrupted (SIGINT)",
	 "In-flight requests finished and everything was written. Run the same command "
	 "again to go on: untried rows are pending."},
	{143, "Interrupted (SIGTERM)",
	 "In-flight requests finished and everything was written. Run the same command "
	 "again to go on: untried rows are pending."},
};

const char *runreport_outcome(int exit_code)
{
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (outcomes[i].code == exit_code)
			return outcomes[i].outcome;
	return "Unknown outcome";
}

const char *runreport_next_step(int exit_code)
{
	for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (outcomes[i].code == exit_code)
			return outcomes[i].next;
	return "See stderr and the log file.";
}

/* ---- text ------------------------------------------------------------- */

/* Writes s HTML-escaped; ill-formed UTF-8 and control bytes become '?'. */
static void esc(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	while (n) {
		uint32_t cp;
		size_t l = *p < 0x80 ? 1 : utf8_decode(p, n, &cp);

		if (l == 0 || (*p < 0x20 && *p != '\t')) {
			fputc('?', f);
			l = 1;
		} else if (*p == '&') {
			fputs("&amp;", f);
		} else if (*p == '<') {
			fputs("&lt;", f);
		} else if (*p == '>') {
			fputs("&gt;", f);
		} else if (*p == '"') {
			fputs("&quot;", f);
		} else if (*p == '\'') {
			fputs("&#39;", f);
		} else {
			fwrite(p, 1, l, f);
		}
		p += l;
		n -= l;
	}
}

/* A copy for JSON: well-formed UTF-8 kept, any other byte '?'. */
static json_t *jstr(const char *s)
{
	char buf[1024];
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), o = 0;

	while (n && o + 5 < sizeof(buf)) {
		uint32_t cp;
		size_t l = *p < 0x80 ? 1 : utf8_decode(p, n, &cp);

		if (l == 0 || *p < 0x20) {
			buf[o++] = '?';
			l = 1;
		} else {
			memcpy(buf + o, p, l);
			o += l;
		}
		p += l;
		n -= l;
	}
	buf[o] = '\0';
	return json_string(buf);
}

static void num(FILE *f, const char *key, unsigned long long v)
{
	char d[32], g[48];
	size_t n, o = 0;

	n = (size_t)snprintf(d, sizeof(d), "%llu", v);
	for (size_t i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			g[o++] = ',';
		g[o++] = d[i];
	}
	g[o] = '\0';
	fprintf(f, "<td class=\"n\" data-k=\"%s\" data-v=\"%llu\">%s</td>", key, v, g);
}

static void real(FILE *f, const char *key, double v, const char *unit)
{
	if (v < 0)
		fprintf(f, "<td class=\"n\" data-k=\"%s\" data-v=\"\">-</td>", key);
	else
		fprintf(f, "<td class=\"n\" data-k=\"%s\" data-v=\"%.3f\">%.1f%s</td>", key, v, v,
			unit);
}

/* ---- the figures behind the charts ------------------------------------ */

enum col { C_ROWS, C_P50, C_P95, C_FLIGHT, C_FLIGHT_MAX, C_RATE, C_REQS, C_429, C_NCOLS };

static const char *const col_names[C_NCOLS] = {
	"rows_per_s", "latency_p50_ms", "latency_p95_ms", "in_flight", "in_flight_max",
	"pacing_rate", "requests_per_s", "rate_limited",
};

/* n x C_NCOLS values (NaN = nothing), malloc'd; NULL when empty or OOM. */
static double *columns(const struct series *s, size_t *n)
{
	double *v, flight = NAN, rate = NAN;

	*n = s && s->pt ? s->n : 0;
	if (!*n || !(v = malloc(*n * C_NCOLS * sizeof(*v))))
		return NULL;
	for (size_t i = 0; i < *n; i++) {
		const struct series_point *p = &s->pt[i];
		double *r = &v[i * C_NCOLS];
		double span = (double)s->step_ms / 1000.0;

		if (i + 1 == *n) { /* the last point covers up to the end only */
			double part = (double)(s->end_ms - (int64_t)i * s->step_ms) / 1000.0;

			span = part < span ? part : span;
			if (span < 0.5)
				span = 0.5;
		}
		if (p->samples) {
			flight = p->in_flight_sum / p->samples;
			rate = p->rate_sum / p->samples;
		}
		r[C_ROWS] = (double)p->done / span;
		r[C_P50] = series_percentile(p, 50);
		r[C_P95] = series_percentile(p, 95);
		if (r[C_P50] < 0)
			r[C_P50] = r[C_P95] = NAN;
		r[C_FLIGHT] = flight;
		r[C_FLIGHT_MAX] = p->samples ? (double)p->in_flight_max : NAN;
		r[C_RATE] = rate;
		r[C_REQS] = (double)p->requests / span;
		r[C_429] = (double)p->rate_limited;
	}
	return v;
}

/* ---- the data block ----------------------------------------------------- */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

static json_t *reasons_json(const struct runreport *rr)
{
	json_t *a = json_array();

	for (size_t i = 0; a && rr->run.reasons && i < rr->run.reasons->n; i++) {
		const struct reason *r = &rr->run.reasons->r[i];
		json_t *rows = json_array();

		for (size_t k = 0; rows && k < r->nrows; k++) {
			const struct reason_row *e = &r->rows[k];
			char em[REASONS_CELL_MAX + 8], ph[REASONS_CELL_MAX + 8];

			reasons_mask_email(e->email, em, sizeof(em));
			reasons_mask_phone(e->phone, ph, sizeof(ph));
			json_array_append_new(rows, json_pack("{s:I,s:I,s:o,s:o,s:o}", "row",
				(json_int_t)e->row, "line", (json_int_t)e->line, "status", jstr(e->status),
				"email", jstr(rr->pii ? e->email : em), "phone", jstr(rr->pii ? e->phone : ph)));
		}
		json_array_append_new(a, json_pack("{s:o,s:I,s:o}", "reason", jstr(r->text), "count",
						   (json_int_t)r->count, "rows", rows ? rows : json_null()));
	}
	return a ? a : json_null();
}

static json_t *series_json(const struct series *s, const double *v, size_t n)
{
	json_t *o = json_object();

	if (!o)
		return json_null();
	json_object_set_new(o, "step_s", json_real(s ? (double)s->step_ms / 1000.0 : 1.0));
	json_object_set_new(o, "end_s", json_real(s ? (double)s->end_ms / 1000.0 : 0));
	json_t *done = json_array();
	for (size_t i = 0; done && i < n; i++)
		json_array_append_new(done, json_integer((json_int_t)s->pt[i].done));
	json_object_set_new(o, "done", done ? done : json_null());
	json_t *req = json_array();
	for (size_t i = 0; req && i < n; i++)
		json_array_append_new(req, json_integer((json_int_t)s->pt[i].requests));
	json_object_set_new(o, "requests", req ? req : json_null());
	for (int c = 0; c < C_NCOLS; c++) {
		json_t *a = json_array();

		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, jnum(v[i * C_NCOLS + c]));
		json_object_set_new(o, col_names[c], a ? a : json_null());
	}
	return o;
}

/*
 * Every "<" (only ever inside a JSON string) as \u003c: neither
 * "</script>" nor "<!--" can occur in the data block, so nothing a row
 * says can end it early or change how the page parses. Frees s.
 */
static char *no_lt(char *s)
{
	size_t n = strlen(s), lt = 0, o = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		lt += s[i] == '<';
	if (!lt)
		return s;
	out = malloc(n + lt * 5 + 1);
	for (size_t i = 0; out && i < n; i++) {
		if (s[i] == '<') {
			memcpy(out + o, "\\u003c", 6);
			o += 6;
		} else {
			out[o++] = s[i];
		}
	}
	if (out)
		out[o] = '\0';
	free(s);
	return out;
}

/* The summary JSON's figures (the very same object), with what the page
 * adds: the outcome in words, the reasons with their example rows, the
 * series behind the charts. */
static char *data_json(const struct runreport *rr, const double *v, size_t n)
{
	char *text = summary_json(&rr->run), *out;
	json_t *root = text ? json_loads(text, 0, NULL) : NULL;

	free(text);
	if (!root)
		return NULL;
	json_object_set_new(root, "outcome", json_string(runreport_outcome(rr->run.exit_code)));
	json_object_set_new(root, "reasons", reasons_json(rr));
	json_object_set_new(root, "rows_with_other_reasons",
			    json_integer(rr->run.reasons ? (json_int_t)rr->run.reasons->other : 0));
	json_object_set_new(root, "series", series_json(rr->series, v, n));
	out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out ? no_lt(out) : NULL;
}

char *runreport_json(const struct runreport *rr)
{
	size_t n;
	double *v = columns(rr->series, &n);
	char *out = data_json(rr, v, v ? n : 0);

	free(v);
	return out;
}

/* ---- the page ------------------------------------------------------------ */

static const char style[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
	"max-width:820px;color:#222;background:#fff;line-height:1.4}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
	"border-bottom:1px solid #ddd;padding-bottom:3px}"
	".meta{color:#666;font-size:13px;word-break:break-all}"
	".outcome{border-radius:6px;padding:12px 16px;margin:16px 0;border-left:6px solid}"
	".outcome b{font-size:18px}.ok{background:#e9f6ec;border-color:#2e7d32}"
	".warn{background:#fff6e0;border-color:#e6a100}.bad{background:#fdecea;border-color:#c62828}"
	".stop{background:#eef1f6;border-color:#546e7a}"
	"table{border-collapse:collapse;font-size:14px;margin:4px 0}"
	"td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".grid{display:flex;flex-wrap:wrap;gap:8px 32px;align-items:flex-start}"
	".ex{color:#555;font-size:12px;margin:0;padding-left:16px}"
	"figure{margin:12px 0}figcaption{font-weight:600;font-size:14px}"
	"svg{max-width:100%;height:auto}.note{color:#666;font-size:13px}";

static const char *outcome_class(int code)
{
	if (code == 0)
		return "ok";
	if (code == 1)
		return "warn";
	if (code == 130 || code == 143)
		return "stop";
	return "bad";
}

static void row_num(FILE *f, const char *label, const char *key, unsigned long long v)
{
	fputs("<tr><th>", f);
	esc(f, label);
	fputs("</th>", f);
	num(f, key, v);
	fputs("</tr>\n", f);
}

static void row_real(FILE *f, const char *label, const char *key, double v, const char *unit)
{
	fputs("<tr><th>", f);
	esc(f, label);
	fputs("</th>", f);
	real(f, key, v, unit);
	fputs("</tr>\n", f);
}

static void counts(FILE *f, const struct runreport *rr)
{
	const struct import_stats *st = rr->run.st;
	bool verify = strcmp(rr->run.command, "verify") == 0;
	bool send = strcmp(rr->run.command, "send-verification") == 0;
	char key[48];

	fputs("<h2>Counts</h2><div class=\"grid\"><table><tr><th colspan=\"2\">rows by status"
	      "</th></tr>\n", f);
	row_num(f, verify ? "tokens" : send ? "users" : "rows", "rows", st->rows);
	for (int s = 0; s < ROW_STATUS_COUNT && !send; s++) {
		const char *name = import_status_name((enum row_status)s);

		if (!st->by_status[s] && s != ROW_CREATED)
			continue;
		snprintf(key, sizeof(key), "status.%s", name);
		row_num(f, verify && s == ROW_CREATED ? "verified" : name, key, st->by_status[s]);
	}
	fputs("</table>\n<table><tr><th colspan=\"2\">verification codes</th></tr>\n", f);
	row_num(f, "sent", "codes.sent", st->codes_sent);
	row_num(f, "failed", "codes.failed", st->codes_failed);
	row_num(f, "in doubt", "codes.in_doubt", st->codes_in_doubt);
	row_num(f, "of them from earlier runs", "codes.in_doubt_from_earlier_runs",
		st->codes_in_doubt_earlier);
	row_num(f, "settled (--settle-in-doubt)", "codes.settled", st->codes_settled);
	row_num(f, "already verified", "codes.already_verified", st->codes_verified);
	fputs("</table>\n<table><tr><th colspan=\"2\">requests</th></tr>\n", f);
	row_real(f, "duration", "elapsed_s", st->elapsed_s, " s");
	row_num(f, "requests", "requests", st->requests);
	row_real(f, "requests/s", "requests_per_s",
		 st->elapsed_s > 0 ? (double)st->requests / st->elapsed_s : 0, "");
	row_num(f, "retries", "retries", st->retries);
	row_num(f, "429 answers", "rate_limited", st->rate_limited);
	row_real(f, "time paused by 429s", "paused_s", (double)st->paused_ms / 1000.0, " s");
	row_real(f, "API limit learned", "learned_rate", st->learned_rate, "/s");
	row_real(f, "latency p50", "latency_ms.p50", import_latency_ms(st, 50), " ms");
	row_real(f, "latency p95", "latency_ms.p95", import_latency_ms(st, 95), " ms");
	row_real(f, "latency p99", "latency_ms.p99", import_latency_ms(st, 99), " ms");
	fputs("</table></div>\n", f);
}

static void example(FILE *f, const struct runreport *rr, const struct reason_row *e)
{
	char em[REASONS_CELL_MAX + 8], ph[REASONS_CELL_MAX + 8];

	reasons_mask_email(e->email, em, sizeof(em));
	reasons_mask_phone(e->phone, ph, sizeof(ph));
	fputs("<li>", f);
	if (e->row)
		fprintf(f, "row %zu (line %zu) ", e->row, e->line);
	esc(f, e->status);
	if (e->email[0]) {
		fputs(" &middot; ", f);
		esc(f, rr->pii ? e->email : em);
	}
	if (e->phone[0]) {
		fputs(" &middot; ", f);
		esc(f, rr->pii ? e->phone : ph);
	}
	fputs("</li>", f);
}

static void reasons_table(FILE *f, const struct runreport *rr)
{
	const struct reasons *rs = rr->run.reasons;
	uint64_t total = rs ? rs->total : 0;

	fputs("<h2>Top error reasons</h2>\n", f);
	if (!rs || !rs->n) {
		fputs("<p class=\"note\">No row had an error.</p>\n", f);
		return;
	}
	fputs("<table id=\"reasons\"><tr><th>reason</th><th>rows</th><th>share</th></tr>\n", f);
	for (size_t i = 0; i < rs->n; i++) {
		const struct reason *r = &rs->r[i];

		fputs("<tr><td><span class=\"reason\">", f);
		esc(f, r->text);
		fputs("</span><ul class=\"ex\">", f);
		for (size_t k = 0; k < r->nrows; k++)
			example(f, rr, &r->rows[k]);
		fputs("</ul></td>", f);
		num(f, "reason.count", r->count);
		fprintf(f, "<td class=\"n\">%.1f%%</td></tr>\n",
			total ? 100.0 * (double)r->count / (double)total : 0);
	}
	fputs("</table>\n", f);
	if (rs->other)
		fprintf(f, "<p class=\"note\">%llu more rows had one of further reasons.</p>\n",
			(unsigned long long)rs->other);
	fprintf(f, "<p class=\"note\">Emails and phones are %s. The first %d rows of each "
		   "reason are shown; the results file has them all.</p>\n",
		rr->pii ? "shown in full (--report-pii)" : "masked (--report-pii shows them)",
		REASONS_EXAMPLES);
}

static void charts(FILE *f, const struct runreport *rr, const double *v, size_t n)
{
	double end_s = rr->series ? (double)rr->series->end_ms / 1000.0 : 0;
	double step_s = rr->series ? (double)rr->series->step_ms / 1000.0 : 1;
	double *col[C_NCOLS] = {0};
	bool ok = true;

	for (int c = 0; c < C_NCOLS && ok; c++) {
		col[c] = malloc((n ? n : 1) * sizeof(double));
		ok = col[c] != NULL;
		for (size_t i = 0; ok && i < n; i++)
			col[c][i] = v[i * C_NCOLS + c];
	}
	fputs("<h2>Over the run</h2>\n", f);
	if (ok) {
		struct chart c[4] = {
			{"chart-rows", "Rows finished per second", "rows/s", n, step_s, end_s,
			 {{"rows/s", "#1f6fd1", col[C_ROWS]}}, 1, {0}},
			{"chart-latency", "Request latency", "ms", n, step_s, end_s,
			 {{"p50", "#1b9e4b", col[C_P50]}, {"p95", "#d62728", col[C_P95]}}, 2, {0}},
			{"chart-flight", "Requests in flight", "requests", n, step_s, end_s,
			 {{"mean", "#7b3fbf", col[C_FLIGHT]}, {"max", "#c9a0f0", col[C_FLIGHT_MAX]}},
			 2, {0}},
			{"chart-pacing", "Pacing and 429s", "requests/s", n, step_s, end_s,
			 {{"pacing rate (0 = unlimited)", "#f07f09", col[C_RATE]},
			  {"requests/s", "#5a5a5a", col[C_REQS]}},
			 2, {"429s (right axis)", "#8c2d04", col[C_429]}},
		};

		for (int k = 0; k < 4; k++)
			runchart_svg(f, &c[k]);
		if (rr->series && rr->series->step_ms > SERIES_STEP_MS)
			fprintf(f, "<p class=\"note\">One point per %.0f s (the run was long: "
				   "neighbouring seconds were merged).</p>\n", step_s);
	} else {
		fputs("<p class=\"note\">out of memory: no charts</p>\n", f);
	}
	for (int c = 0; c < C_NCOLS; c++)
		free(col[c]);
}

static void page(FILE *f, const struct runreport *rr, const double *v, size_t n,
		 const char *json)
{
	const struct import_stats *st = rr->run.st;
	char t0[32], t1[32];

	summary_iso_time(rr->run.started, t0);
	summary_iso_time(rr->run.ended, t1);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>"
	      "dots-import ", f);
	esc(f, rr->run.command);
	fprintf(f, ": %s</title>\n<style>%s</style></head><body>\n<h1>dots-import ", t0, style);
	esc(f, rr->run.command);
	fputs(rr->run.dry_run ? " (dry run)" : "", f);
	fputs("</h1>\n<div class=\"meta\">", f);
	fprintf(f, "%s &ndash; %s", t0, t1);
	if (rr->run.input_path) {
		fputs(" &middot; input ", f);
		esc(f, rr->run.input_path);
	}
	if (rr->run.results_path) {
		fputs(" &middot; results ", f);
		esc(f, rr->run.results_path);
	}
	fprintf(f, "</div>\n<div class=\"outcome %s\" id=\"outcome\" data-exit=\"%d\"><b>",
		outcome_class(rr->run.exit_code), rr->run.exit_code);
	esc(f, runreport_outcome(rr->run.exit_code));
	fprintf(f, "</b> (exit code %d)<br>", rr->run.exit_code);
	esc(f, runreport_next_step(rr->run.exit_code));
	if (st->abort_reason[0]) {
		fputs("<br>Stopped early: <span id=\"stopped\">", f);
		esc(f, st->abort_reason);
		fputs("</span>", f);
	}
	fputs("</div>\n", f);
	counts(f, rr);
	reasons_table(f, rr);
	charts(f, rr, v, n);
	fputs("<script type=\"application/json\" id=\"run-data\">", f);
	fputs(json, f);
	fputs("</script>\n</body></html>\n", f);
}

int runreport_write(const char *path, const struct runreport *rr, struct err *err)
{
	struct afile f;
	size_t n;
	double *v = columns(rr->series, &n);
	char *json = data_json(rr, v, v ? n : 0);
	int rc;

	if (!json) {
		free(v);
		return err_set(err, "report: out of memory");
	}
	if (afile_open(&f, path, err) < 0) {
		free(v);
		free(json);
		return -1;
	}
	page(f.fp, rr, v, v ? n : 0, json);
	if (ferror(f.fp))
		f.failed = 1;
	rc = afile_commit(&f, err);
	afile_release(&f);
	free(v);
	free(json);
	return rc;
}
