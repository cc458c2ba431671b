/*
 * report.c - progress line, log lines and summary on stderr.
 * Prints nothing secret: it only ever sees counts and messages that the
 * library already keeps free of credentials.
 */
#include "report.h"

#include <stdio.h>
#include <unistd.h>

#include "banned.h"

void report_init(struct report *r, int verbosity)
{
	r->verbosity = verbosity;
	r->tty = verbosity >= 0 && isatty(STDERR_FILENO);
	r->drawn = false;
	r->total = 0;
}

static void clear_line(struct report *r)
{
	if (r->drawn) {
		fputs("\r\033[K", stderr);
		r->drawn = false;
	}
}

void report_log(void *ctx, enum import_log_level level, const char *msg)
{
	struct report *r = ctx;

	if (r->verbosity < 0 || (level == IMPORT_LOG_DEBUG && r->verbosity < 1))
		return;
	clear_line(r);
	fprintf(stderr, "dots-import: %s\n", msg);
}

void report_progress(void *ctx, const struct import_stats *st)
{
	struct report *r = ctx;
	double rate = st->elapsed_s > 0 ? (double)st->done / st->elapsed_s : 0;

	if (!r->tty)
		return;
	fprintf(stderr, "\r\033[K%zu rows done  %.0f rows/s  %zu in flight  %zu retries  %zu x 429",
		st->done, rate, st->in_flight, st->retries, st->rate_limited);
	r->drawn = true;
	fflush(stderr);
}

void report_summary(struct report *r, const struct import_stats *st,
		    const char *results_path, bool dry_run)
{
	double rps = st->elapsed_s > 0 ? (double)st->requests / st->elapsed_s : 0;

	clear_line(r);
	if (r->verbosity < 0)
		return;
	fprintf(stderr, "dots-import: %zu rows:", st->rows);
	for (int s = 0; s < ROW_STATUS_COUNT; s++)
		if (st->by_status[s] || (s == (dry_run ? ROW_VALID : ROW_CREATED)))
			fprintf(stderr, " %zu %s", st->by_status[s],
				import_status_name((enum row_status)s));
	fputc('\n', stderr);
	if (!dry_run)
		fprintf(stderr,
			"dots-import: codes: %zu sent, %zu failed, %zu in doubt; "
			"%zu requests, %zu retries, %zu x 429; %.1f s, %.0f requests/s\n",
			st->codes_sent, st->codes_failed, st->codes_in_doubt,
			st->requests, st->retries, st->rate_limited, st->elapsed_s, rps);
	if (st->abort_reason[0])
		fprintf(stderr, "dots-import: stopped early: %s\n", st->abort_reason);
	fprintf(stderr, "dots-import: results: %s\n", results_path);
}

void report_codes_summary(struct report *r, const struct import_stats *st,
			  const char *results_path, bool verify)
{
	clear_line(r);
	if (r->verbosity < 0)
		return;
	if (verify)
		fprintf(stderr, "dots-import: %zu tokens: %zu verified, %zu failed, %zu invalid, %zu pending\n",
			st->rows, st->by_status[ROW_CREATED], st->by_status[ROW_FAILED],
			st->by_status[ROW_INVALID], st->by_status[ROW_PENDING]);
	else
		fprintf(stderr, "dots-import: %zu users without a code: %zu sent, %zu failed, %zu in doubt\n",
			st->rows, st->codes_sent, st->codes_failed, st->codes_in_doubt);
	fprintf(stderr, "dots-import: %zu requests, %zu retries, %zu x 429; %.1f s\n", st->requests,
		st->retries, st->rate_limited, st->elapsed_s);
	if (st->abort_reason[0])
		fprintf(stderr, "dots-import: stopped early: %s\n", st->abort_reason);
	fprintf(stderr, "dots-import: results: %s\n", results_path);
}
