/*
 * progress.c - the one-line progress display as text for a terminal of a
 * given width. Pure: it formats figures and never prints; cmd/ draws it.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

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

enum { PART_HEAD, PART_STATE, PART_ETA, PART_RATE, PART_FLIGHT, PART_RETRIES, PART_429,
       PART_COUNT };

void progress_line(const struct import_stats *st, size_t width, char *out, size_t cap)
{
	/* rows that got an answer: pending ones (a stopped run) are not done */
	size_t pending = st->by_status[ROW_PENDING];
	size_t done = st->done - (pending < st->done ? pending : st->done);
	double rate = st->elapsed_s > 0 ? (double)done / st->elapsed_s : 0;
	double pct = st->total ? 100.0 * (double)done / (double)st->total : 100.0;
	char part[PART_COUNT][64], eta[32];
	static const int order[] = {PART_HEAD, PART_RATE, PART_ETA, PART_FLIGHT, PART_RETRIES,
				    PART_429, PART_STATE};
	size_t used = 0, n = 0;
	bool take[PART_COUNT] = {false};

	if (cap == 0)
		return;
	if (pct > 99.9 && done < st->total)
		pct = 99.9; /* never 100% before the last row */
	format_eta(!st->stopping && rate > 0 && st->total >= done
			   ? (double)(st->total - done) / rate : -1,
		   eta, sizeof(eta));
	snprintf(part[PART_HEAD], sizeof(part[0]), "%zu/%zu rows %5.1f%%", done, st->total, pct);
	snprintf(part[PART_RATE], sizeof(part[0]), "%.0f rows/s", rate);
	snprintf(part[PART_ETA], sizeof(part[0]), "ETA %s", eta);
	snprintf(part[PART_FLIGHT], sizeof(part[0]), "%zu in flight", st->in_flight);
	snprintf(part[PART_RETRIES], sizeof(part[0]), "%zu retries", st->retries);
	snprintf(part[PART_429], sizeof(part[0]), "%zu x 429", st->rate_limited);
	if (st->stopping)
		snprintf(part[PART_STATE], sizeof(part[0]), "stopping");
	else if (st->paused)
		snprintf(part[PART_STATE], sizeof(part[0]), "paused %.1fs (429)",
			 (double)st->pause_left_ms / 1000.0);
	else if (st->rate_now > 0)
		snprintf(part[PART_STATE], sizeof(part[0]), "pace %.0f/s", st->rate_now);
	else
		part[PART_STATE][0] = '\0';
	if (width < 2)
		width = 2;
	/* by priority: head, state, then the rest in the order shown */
	for (int i = 0; i < PART_COUNT; i++) {
		size_t len = strlen(part[i]);

		if (!len || used + (used ? 2 : 0) + len > width - 1)
			continue;
		used += (used ? 2 : 0) + len;
		take[i] = true;
	}
	out[0] = '\0';
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		int i = order[k];

		if (!take[i])
			continue;
		n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? "  " : "", part[i]);
		if (n >= cap)
			break;
	}
	if (!take[PART_HEAD]) /* a very narrow terminal: the head, cut */
		snprintf(out, cap, "%.*s", (int)(width - 1), part[PART_HEAD]);
}

