/*
 * window.c - the rows of an import in its bounded window, in the order of
 * a row's life: admitted from the scan (a create, a send for a user the
 * ledger knows, or nothing), moved on by the verification table with the
 * ledger written as each step says, and written to the results in input
 * order. It starts no request itself: import.c hands jobs to the engine.
 */
#include "import_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"
#include "reasons.h"

#include "banned.h"

_Static_assert(USER_EMAIL_MAX == LEDGER_EMAIL_MAX && USER_NAME_MAX_BYTES <= LEDGER_NAME_MAX &&
		       USER_EXTERNAL_ID_MAX == LEDGER_EXTERNAL_ID_MAX,
	       "a valid row's fields fit the ledger's");

/* ---- events and stopping ----------------------------------------------- */

void win_emit(struct run *r, enum import_event_kind kind, const struct slot *s,
		 const char *msg)
{
	struct import_event ev = {.kind = kind, .msg = msg};
	char reason[REASONS_TEXT_MAX + 1];

	if (!r->o->log)
		return;
	if (s) {
		ev.row = s->row;
		ev.line = s->line;
		ev.status = import_status_name(s->status);
	}
	if (s && kind == IMPORT_EV_ROW) {
		reasons_class(msg, reason, sizeof(reason));
		ev.reason = reason;
	}
	r->o->log(r->o->ctx, &ev);
}

void win_set_error(struct slot *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
}

/*
 * Something local failed mid-run (r->err says what): the run stops like
 * after a signal - no new request, those in flight finish, and whatever
 * still works is written. Returns 0 so the caller goes on winding down.
 */
int win_fail_local(struct run *r, enum import_result why)
{
	if (!r->failed) {
		r->failed = true;
		r->fail_result = why;
		err_set(&r->fail_err, "%s", r->err->msg);
		if (r->eng_live)
			engine_halt(&r->eng, ENGINE_HALT_LOCAL, "%s", r->fail_err.msg);
		else
			win_emit(r, IMPORT_EV_ABORT, NULL, r->fail_err.msg);
	}
	return 0;
}

/* The ledger failed: it is written no more (a failure there is sticky),
 * and the run stops. Sends whose outcome it cannot record stay intents:
 * in doubt for a rerun, never sent twice. */
int win_ledger_failed(struct run *r)
{
	if (!r->led_dead) { /* from now on the null ledger: writes go nowhere */
		r->led_dead = r->led;
		r->led = r->led_null;
		r->led_null = NULL;
	}
	return win_fail_local(r, IMPORT_LOCAL_FAILURE);
}

/* Why rows that were not attempted are pending, for their error cell. */
void win_pending_reason(const struct run *r, struct slot *s)
{
	const struct engine_stats *es = &r->eng.st;

	if (r->failed)
		win_set_error(s, "not attempted: %s", r->fail_err.msg);
	else if (es->abort_reason[0])
		win_set_error(s, "not attempted: run aborted: %s", es->abort_reason);
	else if (es->signal)
		win_set_error(s, "not attempted: run interrupted by signal %d", es->signal);
	else
		win_set_error(s, "not attempted: run stopped");
}

/* ---- the ledger and the verification steps ----------------------------- */

/* Writes a created user to the ledger with verification state v. */
void win_record(struct run *r, struct slot *s, enum ledger_verif v)
{
	s->unrecorded = false;
	if (ledger_put_ident(r->led, s->key, s->country_code, s->phone_number, s->user_id, v,
			     &s->ident, r->err) < 0)
		win_ledger_failed(r);
}

/* A verification step: the ledger write (the user row itself when it is
 * not written yet) and the results cell. */
void win_apply_step(struct run *r, struct slot *s, enum verif_event ev)
{
	struct verif_step st = verif_next(s->before, ev);

	s->verif = st.cell;
	if (!st.write)
		return;
	if (s->unrecorded)
		win_record(r, s, st.next);
	else if (ledger_set_verif(r->led, s->key, st.next, r->err) < 0)
		win_ledger_failed(r);
}

void win_commit(struct run *r, int64_t now)
{
	if (ledger_commit_async(r->led, r->err) < 0) {
		win_ledger_failed(r);
		return;
	}
	r->uncommitted_n = 0;
	r->committed_ms = now;
}

/*
 * Whether the intents in the open group should be committed now. Each
 * commit costs an fsync, so intents gather: for INTENT_GATHER_MS, until
 * 2 x concurrency of them wait, or at once when there is nothing else to
 * send.
 */
bool win_intents_due(const struct run *r, int64_t now)
{
	if (!r->uncommitted_n)
		return false;
	return r->uncommitted_n >= (size_t)r->cfg->concurrency * 2 ||
	       now - r->uncommitted_ms >= INTENT_GATHER_MS || !r->fresh.n;
}

/* First sends get their intent into the ledger's open group (at most
 * INTENTS_AHEAD x concurrency ahead) and wait in durq for its fsync. */
void win_record_intents(struct run *r, int64_t now)
{
	while (r->sendq.n && r->durq.n < (size_t)r->cfg->concurrency * INTENTS_AHEAD) {
		size_t idx = fifo_pop(&r->sendq);
		struct slot *s = &r->win[idx];

		win_apply_step(r, s, VERIF_EV_INTENT);
		s->verif = VERIF_NONE;
		s->ticket = ledger_next_ticket(r->led);
		if (!r->uncommitted_n++)
			r->uncommitted_ms = now;
		/* (after a ledger failure the run stops: the engine starts no
		 * send, and send_ended takes the intent back) */
		fifo_push(&r->durq, idx);
	}
}

/* ---- a row's life ------------------------------------------------------ */

void win_finish(struct slot *s, enum row_status st)
{
	s->status = st;
	s->stage = STAGE_DONE;
	free(s->body);
	s->body = NULL;
}

static void set_job(struct slot *s, size_t idx, const char *url, const char *body,
		    size_t len, enum request_kind kind)
{
	memset(&s->job, 0, sizeof(s->job));
	s->job.url = url;
	s->job.body = body;
	s->job.body_len = len;
	s->job.kind = kind;
	s->job.once = kind == REQUEST_SEND;
	s->job.url_repeats = kind == REQUEST_CREATE;
	s->job.cookie = (void *)(uintptr_t)idx;
}

/* The row's user gets a code: its send waits for its intent. */
void win_queue_send(struct run *r, size_t idx, enum ledger_verif before)
{
	struct slot *s = &r->win[idx];
	int n;

	s->stage = STAGE_SEND;
	s->before = before;
	n = snprintf(s->url, sizeof(s->url), "%s/%s/send-verification-token", r->create_url,
		     s->user_id);
	if (n < 0 || (size_t)n >= sizeof(s->url)) {
		s->verif = VERIF_FAILED;
		win_set_error(s, "verification: URL too long");
		s->stage = STAGE_DONE;
		return;
	}
	set_job(s, idx, s->url, r->send_body, r->send_body_len, REQUEST_SEND);
	fifo_push(&r->sendq, idx);
}

/* --limit: this run has handed out all the requests it may. */
static bool limit_reached(const struct run *r)
{
	return r->o->limit > 0 && r->admitted >= (size_t)r->o->limit;
}

/* A valid row beyond --limit: pending, left for the next run, no error. */
static void hold(struct run *r, struct slot *s)
{
	s->held = true;
	r->st->limit_left++;
	win_set_error(s, "not attempted: beyond --limit %ld (the next run imports it)",
		      r->o->limit);
	win_finish(s, ROW_PENDING);
}

/*
 * A row whose user an earlier run created: it comes out `exists` with the
 * ledger's id, and its code goes as the verification table says (verif.h).
 */
static void admit_known(struct run *r, size_t idx, const struct ledger_user *lu)
{
	struct slot *s = &r->win[idx];
	struct verif_choice c = {r->cfg->send_verification, !win_stopping(r) && !limit_reached(r),
				 r->o->resend_in_doubt, r->o->settle_in_doubt};

	memcpy(s->user_id, lu->id, sizeof(s->user_id));
	s->status = ROW_EXISTS;
	s->before = lu->verif;
	s->verif = verif_cell(lu->verif);
	if (r->o->dry_run) { /* a preview: nothing is sent or written */
		win_finish(s, ROW_EXISTS);
		return;
	}
	switch (verif_plan_known(lu->verif, &c)) {
	case VERIF_PLAN_SEND:
		r->admitted++;
		win_queue_send(r, idx, lu->verif);
		return;
	case VERIF_PLAN_STOPPED:
		if (win_stopping(r))
			win_set_error(s, "verification: not sent (run stopped)");
		else
			win_set_error(s, "verification: not sent (beyond --limit %ld: the next run "
				      "sends it)", r->o->limit);
		break;
	case VERIF_PLAN_SETTLE:
		/* the operator knows these went out: recorded as sent */
		win_apply_step(r, s, VERIF_EV_SETTLED);
		r->st->codes_settled++;
		win_set_error(s, "verification: was in doubt, recorded as sent (--settle-in-doubt)");
		break;
	case VERIF_PLAN_DOUBT:
		r->st->codes_in_doubt++;
		r->st->codes_in_doubt_earlier++;
		win_set_error(s, "verification: in doubt since an earlier run (not resent: "
			     "--resend-in-doubt sends it, --settle-in-doubt records it as sent)");
		if (lu->verif == LEDGER_VERIF_INTENT)
			win_apply_step(r, s, VERIF_EV_DOUBT);
		break;
	case VERIF_PLAN_SHOW:
		if (lu->verif == LEDGER_VERIF_NONE && !r->cfg->send_verification)
			s->verif = VERIF_OFF;
		break;
	}
	win_finish(s, ROW_EXISTS);
}

/* A user the ledger has, as ident.c reads it. */
static void known(struct ident_known *k, uint64_t key, const struct ledger_user *u,
		  const struct ledger_ident *id)
{
	k->found = true;
	k->key = key;
	k->f.email = id->email;
	k->f.first_name = id->first_name;
	k->f.last_name = id->last_name;
	k->external_id = id->external_id;
	k->user_id = u->id;
	k->country_code = u->country_code;
	k->phone_number = u->phone_number;
}

/*
 * A valid row against the ledger (ident.h): the same person (exists, its
 * code as the verification table says), another email or name for a known
 * phone (changed: the user's id, no code, Dots not updated), a clash of
 * phone and external id (conflict: nothing created), or someone new.
 * Returns 1 when the row is decided, 0 when it needs a create (the error
 * cell may say why: a moved external id).
 */
static int admit_by_ledger(struct run *r, size_t idx, const struct scan_row *sr)
{
	struct slot *s = &r->win[idx];
	struct ledger_user pu, xu;
	struct ledger_ident pi, xi;
	struct ident_known by_phone = {0}, by_ext = {0};
	struct ident_fields row = {sr->user.email, sr->user.first_name, sr->user.last_name};
	const char *ext = sr->user.external_id;
	struct ident_decision d;
	uint64_t xkey = 0;
	int rc;

	rc = ledger_find_ident(r->led, s->key, &pu, &pi, r->err);
	if (rc == 1 && pu.id[0])
		known(&by_phone, s->key, &pu, &pi);
	if (rc >= 0 && ext[0]) {
		rc = ledger_find_external(r->led, ext, &xkey, &xu, &xi, r->err);
		if (rc == 1 && xu.id[0])
			known(&by_ext, xkey, &xu, &xi);
	}
	if (rc < 0) {
		win_ledger_failed(r); /* the run stops: the row comes out pending */
		return 0;
	}
	d = ident_decide(&row, ext, s->key, &by_phone, &by_ext, r->o->allow_phone_change);
	ident_message(&d, ext, &by_phone, &by_ext, false, s->error, sizeof(s->error));
	ident_message(&d, ext, &by_phone, &by_ext, true, s->log_note, sizeof(s->log_note));
	switch (d.verdict) {
	case IDENT_NEW:
	case IDENT_NEW_MOVED:
		return 0;
	case IDENT_EXISTS_ADOPT:
		/* a user from before external ids: it is this person's from now on */
		if (!r->o->dry_run && ledger_set_external(r->led, s->key, ext, r->err) < 0)
			win_ledger_failed(r);
		/* fall through */
	case IDENT_EXISTS:
		admit_known(r, idx, &pu);
		return 1;
	case IDENT_CHANGED:
		memcpy(s->user_id, pu.id, sizeof(s->user_id));
		win_finish(s, ROW_CHANGED);
		return 1;
	case IDENT_CONFLICT_EXT:
	case IDENT_CONFLICT_PHONE:
	case IDENT_CONFLICT_BOTH:
		win_finish(s, ROW_CONFLICT);
		return 1;
	}
	return 0;
}

/* Copies a validated field (the static assert above: it fits) by its
 * length, not its buffer's: most are short. */
static void copy_text(char *dst, const char *src)
{
	memcpy(dst, src, strlen(src) + 1);
}

/* Brings one input row into the window. Returns 1, 0 at end, -1 on error. */
int win_admit_row(struct run *r)
{
	struct scan_row sr;
	struct slot *s;
	size_t idx;
	int rc;

	rc = scan_next(&r->scan, &sr, r->err);
	if (rc < 0) {
		/* the input changed since it was validated, or cannot be read:
		 * no row beyond this point is ever seen */
		win_fail_local(r, scan_changed(&r->scan) ? IMPORT_ABORTED : IMPORT_LOCAL_FAILURE);
		return 0;
	}
	if (rc == 0)
		return 0;
	if (!sr.ours)
		return 1;
	r->st->rows++;
	idx = r->tail % r->win_cap;
	s = &r->win[idx];
	memset(s, 0, offsetof(struct slot, url));
	s->error[0] = '\0';
	s->log_note[0] = '\0';
	s->row = sr.row;
	s->line = sr.line;
	r->tail++;
	memcpy(s->email, sr.email, sizeof(s->email));
	memcpy(s->country_code, sr.country_code, sizeof(s->country_code));
	memcpy(s->phone_number, sr.phone_number, sizeof(s->phone_number));
	if (sr.status != ROW_VALID) {
		win_set_error(s, "%s", sr.error);
		win_finish(s, sr.status);
		return 1;
	}
	s->key = sr.key;
	if (r->refused[0]) {
		s->held = true; /* not the row's fault */
		win_set_error(s, "not attempted: %s", r->refused);
		win_finish(s, ROW_PENDING);
		return 1;
	}
	if (!r->o->dry_run) { /* for the ledger, once the user is created */
		copy_text(s->ident.email, sr.user.email);
		copy_text(s->ident.first_name, sr.user.first_name);
		copy_text(s->ident.last_name, sr.user.last_name);
		copy_text(s->ident.external_id, sr.user.external_id);
	}
	/* a new ledger cannot know this phone nor this external id: pass 1
	 * already made each of them unique in the file */
	if (ledger_users_at_open(r->led) > 0 && admit_by_ledger(r, idx, &sr))
		return 1;
	if (r->o->dry_run) {
		if (limit_reached(r))
			hold(r, s);
		else {
			r->admitted++;
			win_finish(s, ROW_VALID);
		}
		return 1;
	}
	if (win_stopping(r)) {
		win_pending_reason(r, s);
		win_finish(s, ROW_PENDING);
		return 1;
	}
	if (limit_reached(r)) {
		hold(r, s);
		return 1;
	}
	r->admitted++;
	s->body = payload_create_user(r->arena, &sr.user, NULL, r->err);
	if (!s->body) {
		win_set_error(s, "%s", r->err->msg);
		win_finish(s, ROW_INVALID);
		return 1;
	}
	s->stage = STAGE_CREATE;
	set_job(s, idx, r->create_url, s->body, strlen(s->body), REQUEST_CREATE);
	fifo_push(&r->fresh, idx);
	return 1;
}

/* What the log says of a row: its error cell, unless that is an identity
 * message (it names emails, names, phones, external ids): then the same
 * without them. */
static const char *log_text(const struct slot *s)
{
	static const char moved[] = "phone changed:";

	if (s->log_note[0] &&
	    (s->status == ROW_CHANGED || s->status == ROW_CONFLICT ||
	     strncmp(s->error, moved, sizeof(moved) - 1) == 0))
		return s->log_note;
	return s->error;
}

/* Writes finished rows at the head of the window, in input order. */
void win_flush(struct run *r)
{
	while (r->head < r->tail) {
		struct slot *s = &r->win[r->head % r->win_cap];
		char rowbuf[21], linebuf[21], httpbuf[21], attbuf[21];
		const char *cells[11];
		long http = s->job.http_status;

		if (s->stage != STAGE_DONE)
			break;
		cells[0] = num_format_u64(s->row, rowbuf);
		cells[1] = num_format_u64(s->line, linebuf);
		cells[2] = import_status_name(s->status);
		cells[3] = s->user_id;
		cells[4] = verif_name(s->verif);
		cells[5] = http > 0 ? num_format_u64((unsigned long long)http, httpbuf) : "";
		cells[6] = s->attempts > 0 ? num_format_u64((unsigned)s->attempts, attbuf) : "";
		cells[7] = s->error;
		cells[8] = s->email;
		cells[9] = s->country_code;
		cells[10] = s->phone_number;
		if (!r->out_dead && results_row(r->out, cells, NULL, 11, r->err) < 0) {
			r->out_dead = true; /* the rows go on leaving the window */
			win_fail_local(r, IMPORT_LOCAL_FAILURE);
		}
		if (s->error[0]) {
			win_emit(r, IMPORT_EV_ROW, s, log_text(s));
			if (r->o->row_error && !s->held) { /* (not an error) */
				struct import_row ir = {s->row, s->line, cells[2], s->error, s->email,
							s->country_code, s->phone_number};

				r->o->row_error(r->o->ctx, &ir);
			}
		}
		r->st->by_status[s->status]++;
		r->st->done++;
		r->head++;
	}
}

bool win_has_room(const struct run *r)
{
	return !r->eof && r->tail - r->head < r->win_cap &&
	       (r->fresh.n < (size_t)r->cfg->concurrency * 4 || !r->http);
}

bool win_stopping(const struct run *r)
{
	return r->eng_live && engine_halted(&r->eng);
}

