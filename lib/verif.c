/*
 * verif.c - the verification state table and the two decisions around it
 * (what a known user needs, what a send's end means). Pure; the one place
 * that says when a code may go out.
 */
#include "verif.h"

#include "banned.h"

static const char *const names[VERIF_STATUS_COUNT] = {
	"", "sent", "failed", "in_doubt", "off", "verified"};

const char *verif_name(enum verif_status v)
{
	return v < VERIF_STATUS_COUNT ? names[v] : "?";
}

enum verif_status verif_cell(enum ledger_verif state)
{
	switch (state) {
	case LEDGER_VERIF_NONE: return VERIF_NONE;
	case LEDGER_VERIF_INTENT:
	case LEDGER_VERIF_IN_DOUBT: return VERIF_IN_DOUBT;
	case LEDGER_VERIF_SENT: return VERIF_SENT;
	case LEDGER_VERIF_FAILED: return VERIF_FAILED;
	case LEDGER_VERIF_OFF: return VERIF_OFF;
	case LEDGER_VERIF_VERIFIED: return VERIF_VERIFIED;
	}
	return VERIF_NONE;
}

/* Every event leads to the same state whatever the state before, except
 * WITHDRAWN (back to before) - so the table is one row per event. */
static const struct verif_step steps[VERIF_EV_COUNT] = {
	[VERIF_EV_VERIFIED] = {LEDGER_VERIF_VERIFIED, true, VERIF_VERIFIED},
	[VERIF_EV_INTENT] = {LEDGER_VERIF_INTENT, true, VERIF_IN_DOUBT},
	[VERIF_EV_ACCEPTED] = {LEDGER_VERIF_SENT, true, VERIF_SENT},
	[VERIF_EV_REFUSED] = {LEDGER_VERIF_FAILED, true, VERIF_FAILED},
	[VERIF_EV_DOUBT] = {LEDGER_VERIF_IN_DOUBT, true, VERIF_IN_DOUBT},
	[VERIF_EV_WITHDRAWN] = {LEDGER_VERIF_NONE, true, VERIF_NONE},
	[VERIF_EV_SETTLED] = {LEDGER_VERIF_SENT, true, VERIF_SENT},
};

struct verif_step verif_next(enum ledger_verif before, enum verif_event ev)
{
	struct verif_step s = steps[ev < VERIF_EV_COUNT ? ev : VERIF_EV_DOUBT];

	if (ev == VERIF_EV_WITHDRAWN) {
		/* an intent never acted on is taken back; a state that was
		 * already decided stays */
		s.next = before == LEDGER_VERIF_INTENT ? LEDGER_VERIF_NONE : before;
		s.cell = VERIF_NONE;
	}
	return s;
}

enum verif_event verif_event_of(enum retry_verdict v, bool cut, bool abandoned,
				bool maybe_acted)
{
	if (!cut && v == RETRY_DONE)
		return VERIF_EV_ACCEPTED;
	if (abandoned || maybe_acted || (!cut && v == RETRY_IN_DOUBT))
		return VERIF_EV_DOUBT;
	return cut ? VERIF_EV_WITHDRAWN : VERIF_EV_REFUSED;
}

enum verif_plan verif_plan_known(enum ledger_verif state, const struct verif_choice *c)
{
	switch (state) {
	case LEDGER_VERIF_NONE:
		if (!c->send_codes)
			return VERIF_PLAN_SHOW;
		return c->may_start ? VERIF_PLAN_SEND : VERIF_PLAN_STOPPED;
	case LEDGER_VERIF_INTENT:
	case LEDGER_VERIF_IN_DOUBT:
		if (c->resend && c->send_codes && c->may_start)
			return VERIF_PLAN_SEND;
		return c->settle ? VERIF_PLAN_SETTLE : VERIF_PLAN_DOUBT;
	case LEDGER_VERIF_SENT:
	case LEDGER_VERIF_FAILED:
	case LEDGER_VERIF_OFF:
	case LEDGER_VERIF_VERIFIED:
		break;
	}
	return VERIF_PLAN_SHOW;
}
