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
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
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

static const char *const kind_names[] = {"start", "end",     "pause", "abort",
					 "signal", "row", "request", "reason"};

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
	if (ev->kind == IMPORT_EV_REQUEST)
		fprintf(r->log, "%s request row=%zu line=%zu outcome=%s http_status=%ld attempt=%d "
				"elapsed_ms=%ld %s\n",
			ts, ev->row, ev->line, ev->outcome ? ev->outcome : "", ev->http_status,
			ev->attempt, ev->elapsed_ms, ev->msg);
	else if (ev->kind == IMPORT_EV_REASON)
		fprintf(r->log, "%s reason count=%zu first_row=%zu %s\n", ts, ev->count, ev->row,
			ev->reason);
	else if (ev->row)
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
	if (ev->kind == IMPORT_EV_ABORT) /* the summary does not say it again */
		snprintf(r->shown, sizeof(r->shown), "%s",
			 strncmp(ev->msg, "stopping: ", 10) == 0 ? ev->msg + 10 : ev->msg);
	if (ev->kind == IMPORT_EV_ROW)
		fprintf(stderr, "dots-import: row %zu (line %zu): %s: %s\n", ev->row, ev->line,
			ev->status ? ev->status : "", ev->msg);
	else
		fprintf(stderr, "dots-import: %s\n", ev->msg);
}

bool report_shown(const struct report *r, const char *msg)
{
	return r->shown[0] && strcmp(r->shown, msg) == 0;
}

void report_note(struct report *r, enum import_event_kind kind, const char *msg)
{
	struct import_event ev = {.kind = kind, .msg = msg};

	log_line(r, &ev);
}

/* The terminal's width: the window's, else $COLUMNS, else 80. */
static size_t term_width(void)
{
	struct winsize ws;
	const char *env = getenv("COLUMNS");
	long cols = 0;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (env && (cols = strtol(env, NULL, 10)) > 0 && cols < 10000)
		return (size_t)cols;
	return 80;
}

void report_progress(void *ctx, const struct import_stats *st)
{
	struct report *r = ctx;
	char line[512];

	if (!r->tty)
		return;
	progress_line(st, term_width(), line, sizeof(line));
	fprintf(stderr, "\r\033[K%s", line);
	r->drawn = true;
	fflush(stderr);
}

#define REASONS_SHOWN 5 /* on stderr; the summary JSON and the log have them all */

/* The error reasons of the run (sorted): the log gets one line each,
 * stderr the largest few. */
static void summary_reasons(struct report *r, const struct reasons *rs)
{
	uint64_t listed = 0;

	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		const struct reason *c = &rs->r[i];
		struct import_event ev = {.kind = IMPORT_EV_REASON,
					  .row = c->nrows ? c->rows[0].row : 0, .msg = c->text,
					  .reason = c->text, .count = (size_t)c->count};

		log_line(r, &ev);
	}
	if (r->verbosity < 0 || !rs->n)
		return;
	fprintf(stderr, "dots-import: top reasons:\n");
	for (size_t i = 0; i < rs->n && i < REASONS_SHOWN; i++) {
		const struct reason *c = &rs->r[i];

		if (c->nrows && c->rows[0].row)
			fprintf(stderr, "dots-import: %8llu x %s (first: row %zu)\n",
				(unsigned long long)c->count, c->text, c->rows[0].row);
		else
			fprintf(stderr, "dots-import: %8llu x %s\n", (unsigned long long)c->count,
				c->text);
		listed += c->count;
	}
	if (rs->total > listed)
		fprintf(stderr, "dots-import: %8llu x other reasons (see --summary-json)\n",
			(unsigned long long)(rs->total - listed));
}

void report_summary(struct report *r, const struct import_stats *st,
		    const struct reasons *rs, const char *results_path, bool dry_run)
{
	double rps = st->elapsed_s > 0 ? (double)st->requests / st->elapsed_s : 0;

	clear_line(r);
	if (r->verbosity < 0) {
		summary_reasons(r, rs);
		return;
	}
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
	summary_reasons(r, rs);
	if (st->limit_left)
		fprintf(stderr, "dots-import: --limit: %zu valid rows left for the next run "
				"(pending, not errors)\n", st->limit_left);
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
	if (st->abort_reason[0] && !report_shown(r, st->abort_reason))
		fprintf(stderr, "dots-import: stopped early: %s\n", st->abort_reason);
	if (st->input_appended > 0)
		fprintf(stderr, "dots-import: %lld bytes were appended to the input during the run: "
				"not imported now, the next run's work\n", st->input_appended);
	if (results_path)
		fprintf(stderr, "dots-import: results: %s\n", results_path);
}

void report_codes_summary(struct report *r, const struct import_stats *st,
			  const struct reasons *rs, const char *results_path, bool verify)
{
	clear_line(r);
	if (r->verbosity < 0) {
		summary_reasons(r, rs); /* (the log's lines only) */
		return;
	}
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
	summary_reasons(r, rs);
	if (st->limit_left)
		fprintf(stderr, "dots-import: --limit: %zu users left without a code for the next "
				"run\n", st->limit_left);
	fprintf(stderr, "dots-import: %zu requests, %zu retries, %zu x 429; %.1f s\n", st->requests,
		st->retries, st->rate_limited, st->elapsed_s);
	if (st->abort_reason[0] && !report_shown(r, st->abort_reason))
		fprintf(stderr, "dots-import: stopped early: %s\n", st->abort_reason);
	if (results_path)
		fprintf(stderr, "dots-import: results: %s\n", results_path);
}
