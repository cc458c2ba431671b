/*
 * run.c - what every command's run shares: row and verification names,
 * the engine and http settings taken from the options, the engine's
 * figures copied for the summary. No state of its own.
 */
#include "run.h"

#include <string.h>

#include "http.h"

#include "banned.h"

static const char *const status_names[ROW_STATUS_COUNT] = {
	"created", "exists", "valid", "invalid", "duplicate", "failed", "pending",
	"changed", "conflict"};

const char *import_status_name(enum row_status s)
{
	return s < ROW_STATUS_COUNT ? status_names[s] : "?";
}

const char *import_verif_name(enum verif_status v)
{
	return verif_name(v);
}

double import_latency_ms(const struct import_stats *st, double p)
{
	return engine_latency_ms(st->latency_hist, p);
}

void import_http_opts(const struct import_opts *o, struct http_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->username = o->client_id;
	out->password = o->api_key;
	out->app_id = o->app_id;
	out->ca_cert = o->cfg->ca_cert;
	out->connect_timeout_ms = o->cfg->connect_timeout_ms;
	out->request_timeout_ms = o->cfg->request_timeout_ms;
	out->max_in_flight = (int)o->cfg->concurrency;
}

void import_engine_opts(const struct import_opts *o, struct engine_opts *out)
{
	memset(out, 0, sizeof(*out));
	out->policy.max_attempts = (int)o->cfg->max_attempts;
	out->policy.base_delay_ms = o->cfg->base_delay_ms;
	out->policy.max_delay_ms = o->cfg->max_delay_ms;
	out->policy.max_retry_after_ms = ENGINE_MAX_RETRY_AFTER_MS;
	out->policy.resend_in_doubt = o->resend_in_doubt;
	out->rate = o->cfg->rate_limit > 0 ? o->cfg->rate_limit : 0; /* the ceiling */
	out->adaptive = o->cfg->rate_limit != 0;                    /* auto, or under N */
	out->sharers = o->shard_n;  /* the other shards use the same API key */
	out->stop = o->stop;
	out->abandon = o->abandon;
	out->now_ms = o->now_ms;
	out->clock_ctx = o->ctx;
	out->seed = o->seed;
	out->log_requests = o->log_requests;
}

void import_take_figures(const struct engine *e, struct import_stats *st)
{
	st->requests = e->st.requests;
	st->retries = e->st.retries;
	st->rate_limited = e->st.rate_limited;
	memcpy(st->latency_hist, e->st.latency_hist, sizeof(st->latency_hist));
	st->signal = e->st.signal;
	st->rate_now = e->st.rate;
	st->learned_rate = e->st.learned_rate;
	st->paused_ms = e->st.paused_ms;
	st->paused = e->st.paused;
	st->pause_left_ms = e->st.pause_left_ms;
	st->stopping = engine_halted(e);
	if (e->st.abort_reason[0])
		memcpy(st->abort_reason, e->st.abort_reason, sizeof(st->abort_reason));
}

void import_event_attempt(struct import_event *ev, const struct engine_job *j)
{
	ev->outcome = outcome_name(j->last_outcome);
	ev->http_status = j->last_status;
	ev->attempt = j->attempts;
	ev->elapsed_ms = j->last_elapsed_ms;
}

enum import_event_kind import_event_of(enum engine_event ev)
{
	static const enum import_event_kind kinds[] = {
		[ENGINE_EV_PAUSE] = IMPORT_EV_PAUSE, [ENGINE_EV_ABORT] = IMPORT_EV_ABORT,
		[ENGINE_EV_SIGNAL] = IMPORT_EV_SIGNAL, [ENGINE_EV_REQUEST] = IMPORT_EV_REQUEST};

	return ev <= ENGINE_EV_REQUEST ? kinds[ev] : IMPORT_EV_ABORT;
}

void import_progress(const struct import_opts *o, const struct engine *e,
		     struct import_stats *st, int64_t now, int64_t start_ms, int64_t *last_ms,
		     bool force)
{
	if (!o->progress || (!force && now - *last_ms < 100))
		return;
	*last_ms = now;
	import_take_figures(e, st);
	st->in_flight = engine_in_flight(e);
	st->elapsed_s = (double)(now - start_ms) / 1000.0;
	o->progress(o->ctx, st);
}
