/*
 * report.c - progress line, events (stderr and log file) and summaries.
 * Prints nothing secret: it only ever sees counts and messages that the
 * library already keeps free of credentials.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "summary.h"

#include "banned.h"

int report_init(struct report *r, int verbosity, const char *log_path, bool log_json,
		struct err *err)
{
	memset(r, 0, sizeof(*r));
	r->verbosity = verbosity;
	r->tty = verbosity >= 0 && isatty(STDERR_FILENO);
	r->log_json = log_json;
	if (log_path) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd < 0 || !(r->log = fdopen(fd, "a"))) {
			if (fd >= 0)
				close(fd);
			return err_set(err, "cannot open log file '%s': %s", log_path,
				       strerror(errno));
		}
		setvbuf(r->log, NULL, _IOLBF, 0);
		r->log_path = log_path;
	}
	return 0;
}

void report_release(struct report *r)
{
	if (r->log)
		fclose(r->log);
	r->log = NULL;
}

static void clear_line(struct report *r)
{
	if (r->drawn) {
		fputs("\r\033[K", stderr);
		r->drawn = false;
	}
}

static const char *const kind_names[] = {"start", "end", "pause", "abort", "signal", "row",
					 "request"};

/* A failed write to the log file (disk full) is kept: report_check
 * reports it and the run stops as after any local failure. */
static void log_check(struct report *r)
{
	if (r->log && !r->log_errno && (ferror(r->log) || fflush(r->log) != 0))
		r->log_errno = errno ? errno : EIO;
}

int report_check(void *ctx, struct err *err)
{
	struct report *r = ctx;

	if (!r->log_errno)
		return 0;
	return err_set(err, "cannot write log file '%s': %s", r->log_path, strerror(r->log_errno));
}

static void log_line(struct report *r, const struct import_event *ev)
{
	time_t now = time(NULL);

	if (!r->log || r->log_errno || (ev->kind == IMPORT_EV_REQUEST && r->verbosity < 1))
		return;
	if (r->log_json) {
		char *line = summary_event_json(ev, now);

		if (line) {
			fprintf(r->log, "%s\n", line);
			free(line);
		}
		log_check(r);
		return;
	}
	char ts[32];
	summary_iso_time(now, ts);
	if (ev->row)
		fprintf(r->log, "%s %s row=%zu line=%zu status=%s %s\n", ts, kind_names[ev->kind],
			ev->row, ev->line, ev->status ? ev->status : "", ev->msg);
	else
		fprintf(r->log, "%s %s %s\n", ts, kind_names[ev->kind], ev->msg);
	log_check(r);
}

bool report_wants_requests(const struct report *r)
{
	return (r->log && r->verbosity >= 1) || r->verbosity >= 2;
}

void report_event(void *ctx, const struct import_event *ev)
{
	struct report *r = ctx;
	bool show;

	log_line(r, ev);
	switch (ev->kind) {
	case IMPORT_EV_ABORT:
	case IMPORT_EV_SIGNAL:
		show = r->verbosity >= 0;
		break;
	case IMPORT_EV_REQUEST:
		show = r->verbosity >= 2;
		break;
	default:
		show = r->verbosity >= 1;
		break;
	}
	if (!show)
		return;
	clear_line(r);
	if (ev->kind == IMPORT_EV_ROW)
		fprintf(stderr, "dots-import: row %zu (line %zu): %s: %s\n", ev->row, ev->line,
			ev->status ? ev->status : "", ev->msg);
	else
		fprintf(stderr, "dots-import: %s\n", ev->msg);
}

void report_note(struct report *r, enum import_event_kind kind, const char *msg)
{
	struct import_event ev = {kind, 0, 0, NULL, msg};

	log_line(r, &ev);
}

static void format_eta(double s, char *out, size_t cap)
{
	long t = (long)(s + 0.5);

	if (s < 0)
		snprintf(out, cap, "--:--");
	else if (t >= 3600)
		snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

void report_progress(void *ctx, const struct import_stats *st)
{
	struct report *r = ctx;
	double rate = st->elapsed_s > 0 ? (double)st->done / st->elapsed_s : 0;
	double pct = st->total ? 100.0 * (double)st->done / (double)st->total : 100.0;
	char eta[32];

	if (!r->tty)
		return;
	format_eta(rate > 0 && st->total >= st->done ? (double)(st->total - st->done) / rate : -1,
		   eta, sizeof(eta));
	fprintf(stderr,
		"\r\033[K%zu/%zu rows %5.1f%%  %.0f rows/s  ETA %s  %zu in flight  %zu retries  %zu x 429",
		st->done, st->total, pct, rate, eta, st->in_flight, st->retries, st->rate_limited);
	if (st->paused)
		fputs("  paused (429)", stderr);
	else if (st->rate_now > 0)
		fprintf(stderr, "  pace %.0f/s", st->rate_now);
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
	if (dry_run && st->previewed)
		fprintf(stderr, "dots-import: preview against the ledger: %zu would be created, "
				"%zu exist, %zu changed, %zu conflict\n",
			st->by_status[ROW_VALID], st->by_status[ROW_EXISTS],
			st->by_status[ROW_CHANGED], st->by_status[ROW_CONFLICT]);
	if (!dry_run) {
		char earlier[64] = "";

		if (st->codes_in_doubt_earlier)
			snprintf(earlier, sizeof(earlier), " (%zu from earlier runs)",
				 st->codes_in_doubt_earlier);
		fprintf(stderr,
			"dots-import: codes: %zu sent, %zu failed, %zu in doubt%s; "
			"%zu requests, %zu retries, %zu x 429; %.1f s, %.0f requests/s\n",
			st->codes_sent, st->codes_failed, st->codes_in_doubt, earlier, st->requests,
			st->retries, st->rate_limited, st->elapsed_s, rps);
		if (st->codes_verified)
			fprintf(stderr, "dots-import: %zu users already verified at the API: no code sent\n",
				st->codes_verified);
		if (st->codes_settled)
			fprintf(stderr, "dots-import: %zu codes in doubt recorded as sent (--settle-in-doubt)\n",
				st->codes_settled);
		if (st->codes_in_doubt)
			fprintf(stderr, "dots-import: codes in doubt are not resent: --resend-in-doubt "
					"sends them again, --settle-in-doubt records them as sent\n");
		if (st->rate_limited || st->learned_rate > 0)
			fprintf(stderr, "dots-import: pacing: %zu x 429, paused %.1f s, API limit "
					"learned %.0f requests/s\n",
				st->rate_limited, (double)st->paused_ms / 1000.0, st->learned_rate);
		if (st->requests)
			fprintf(stderr, "dots-import: latency p50 %.0f ms, p95 %.0f ms, p99 %.0f ms\n",
				import_latency_ms(st, 50), import_latency_ms(st, 95),
				import_latency_ms(st, 99));
	}
	if (st->abort_reason[0])
		fprintf(stderr, "dots-import: stopped early: %s\n", st->abort_reason);
	if (st->input_appended > 0)
		fprintf(stderr, "dots-import: %lld bytes were appended to the input during the run: "
				"not imported now, the next run's work\n", st->input_appended);
	if (results_path)
		fprintf(stderr, "dots-import: results: %s\n", results_path);
}

void report_codes_summary(struct report *r, const struct import_stats *st,
			  const char *results_path, bool verify)
{
	clear_line(r);
	if (r->verbosity < 0)
		return;
	if (verify)
		fprintf(stderr,
			"dots-import: %zu tokens: %zu verified, %zu failed, %zu invalid, %zu pending\n",
			st->rows, st->by_status[ROW_CREATED], st->by_status[ROW_FAILED],
			st->by_status[ROW_INVALID], st->by_status[ROW_PENDING]);
	else
		fprintf(stderr,
			"dots-import: %zu users without a code: %zu sent, %zu failed, %zu in doubt, "
			"%zu settled\n",
			st->rows, st->codes_sent, st->codes_failed, st->codes_in_doubt,
			st->codes_settled);
	fprintf(stderr, "dots-import: %zu requests, %zu retries, %zu x 429; %.1f s\n", st->requests,
		st->retries, st->rate_limited, st->elapsed_s);
	if (st->abort_reason[0])
		fprintf(stderr, "dots-import: stopped early: %s\n", st->abort_reason);
	if (results_path)
		fprintf(stderr, "dots-import: results: %s\n", results_path);
}
