/*
 * reportfile.c - samples a run for the --report page and writes it
 * (reportfile.h). Bounded: the series merges as the run grows, the reasons
 * keep 20 kinds and 5 rows each. Sees no credential.
 */
#include "reportfile.h"

#include <stdio.h>
#include <string.h>

#include "runreport.h"

#include "banned.h"

int reportfile_init(struct reportfile *rf, struct report *rep, const struct options *o,
		    struct err *err)
{
	memset(rf, 0, sizeof(*rf));
	rf->rep = rep;
	rf->path = o->cfg.report;
	rf->pii = o->report_pii;
	rf->draw = o->command == CMD_IMPORT;
	reasons_init(&rf->reasons);
	return rf->path ? series_init(&rf->series, err) : 0;
}

void reportfile_release(struct reportfile *rf)
{
	series_release(&rf->series);
}

void reportfile_event(void *ctx, const struct import_event *ev)
{
	report_event(((struct reportfile *)ctx)->rep, ev);
}

int reportfile_check(void *ctx, struct err *err)
{
	return report_check(((struct reportfile *)ctx)->rep, err);
}

/* The latency an engine histogram bucket stands for (engine.c: 1 ms
 * buckets below 1 s, then 100 ms). */
static double bucket_ms(size_t b)
{
	return b < 1000 ? (double)b : 1000.0 + (double)(b - 1000) * 100.0 + 50.0;
}

static size_t grew(size_t now, size_t *then)
{
	size_t d = now >= *then ? now - *then : 0;

	*then = now;
	return d;
}

static void sample(struct reportfile *rf, const struct import_stats *st)
{
	int64_t t = (int64_t)(st->elapsed_s * 1000.0);
	size_t done = grew(st->done, &rf->done), req = grew(st->requests, &rf->requests);
	size_t r429 = grew(st->rate_limited, &rf->rate_limited);
	size_t retries = grew(st->retries, &rf->retries);

	if (!rf->series.pt)
		return;
	series_count(&rf->series, t, done, req, r429, retries);
	series_gauge(&rf->series, t, st->in_flight, st->rate_now, st->paused);
	for (size_t b = 0; b < IMPORT_LAT_BUCKETS; b++)
		if (st->latency_hist[b] > rf->hist[b]) {
			series_latency(&rf->series, t, bucket_ms(b), st->latency_hist[b] - rf->hist[b]);
			rf->hist[b] = st->latency_hist[b];
		}
}

void reportfile_progress(void *ctx, const struct import_stats *st)
{
	struct reportfile *rf = ctx;

	sample(rf, st);
	if (rf->draw)
		report_progress(rf->rep, st);
}

void reportfile_row(void *ctx, const struct import_row *r)
{
	struct reportfile *rf = ctx;
	struct reason_row row = {r->row, r->line, "", "", ""};

	/* (kept without --report too: the summary lists the top reasons) */
	snprintf(row.status, sizeof(row.status), "%s", r->status ? r->status : "");
	snprintf(row.email, sizeof(row.email), "%s", r->email ? r->email : "");
	if (r->phone_number && r->phone_number[0])
		snprintf(row.phone, sizeof(row.phone), "%s%s%s%s",
			 r->country_code && r->country_code[0] && r->country_code[0] != '+' ? "+" : "",
			 r->country_code ? r->country_code : "",
			 r->country_code && r->country_code[0] ? " " : "", r->phone_number);
	reasons_add(&rf->reasons, r->error, &row);
}

void reportfile_write(struct reportfile *rf, const struct summary_info *si)
{
	struct runreport rr = {*si, rf->pii, &rf->series};
	struct err err;

	if (!rf->path)
		return;
	err_init(&err);
	sample(rf, si->st);
	if (runreport_write(rf->path, &rr, &err) < 0)
		fprintf(stderr, "dots-import: error: report: %s\n", err.msg);
	else if (rf->rep->verbosity >= 0)
		fprintf(stderr, "dots-import: report: %s\n", rf->path);
}
