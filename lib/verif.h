/*
 * verif.h - the one verification state machine: what happens to a user's
 * code, as a table from (ledger state x event) to (next ledger state,
 * whether to write it, the results cell). Import and send-verification
 * both follow it, so a code is never sent twice by either.
 *
 * Pure: no I/O. The caller writes the ledger and the results.
 */
#ifndef DOTS_VERIF_H
#define DOTS_VERIF_H

#include <stdbool.h>

#include "ledger.h"
#include "retry.h"

/* The results file's "verification" cell. */
enum verif_status {
	VERIF_NONE,     /* no user: empty cell */
	VERIF_SENT,
	VERIF_FAILED,
	VERIF_IN_DOUBT,
	VERIF_OFF,
	VERIF_VERIFIED, /* the API says the user is verified: no code sent */
	VERIF_STATUS_COUNT
};

/* "sent", "in_doubt", ... as in the results file ("" for VERIF_NONE). */
const char *verif_name(enum verif_status v);

/* What happened to a code. */
enum verif_event {
	VERIF_EV_VERIFIED,  /* the API reports the user verified: never send */
	VERIF_EV_INTENT,    /* a send is about to leave (committed first) */
	VERIF_EV_ACCEPTED,  /* the API accepted the send */
	VERIF_EV_REFUSED,   /* final failure; certainly not sent */
	VERIF_EV_DOUBT,     /* it may have been sent: never resent by default */
	VERIF_EV_WITHDRAWN, /* the run stopped before any attempt reached the API */
	VERIF_EV_SETTLED,   /* the operator says it arrived (--settle-in-doubt) */
	VERIF_EV_COUNT
};

struct verif_step {
	enum ledger_verif next;  /* the ledger state after the event */
	bool write;              /* write next to the ledger */
	enum verif_status cell;  /* the results cell */
};

/* The table. WITHDRAWN returns to `before` (the state the send started
 * from): a later run sends it. */
struct verif_step verif_next(enum ledger_verif before, enum verif_event ev);

/* The event a send job's end means: accepted; refused when no attempt may
 * have reached the API; withdrawn when the run stopped first and none did;
 * in doubt otherwise (a timeout, a lost connection, 5xx, a 4xx answer, an
 * attempt abandoned on the wire). */
enum verif_event verif_event_of(enum retry_verdict v, bool cut, bool abandoned,
				bool maybe_acted);

/* What to do with a user a ledger already knows. */
enum verif_plan {
	VERIF_PLAN_SHOW,    /* report the ledger's state (step.cell), nothing sent */
	VERIF_PLAN_SEND,    /* send a code now */
	VERIF_PLAN_SETTLE,  /* record in doubt as sent (VERIF_EV_SETTLED) */
	VERIF_PLAN_DOUBT,   /* in doubt since an earlier run: report and count it */
	VERIF_PLAN_STOPPED  /* would send, but the run stops: "not sent" */
};

struct verif_choice {
	bool send_codes;   /* verification is on for this run */
	bool may_start;    /* the run is not stopping */
	bool resend;       /* --resend-in-doubt */
	bool settle;       /* --settle-in-doubt */
};

enum verif_plan verif_plan_known(enum ledger_verif state, const struct verif_choice *c);

/* The results cell of a ledger state (IN_DOUBT and INTENT: in_doubt). */
enum verif_status verif_cell(enum ledger_verif state);

#endif
