/*
 * faults.c - fault decisions, token bucket and 429-pause bookkeeping.
 * Pure logic under one mutex: no I/O, no clock reads (callers pass the
 * time), no HTTP. Every random draw goes through the one seeded rng.
 */
#include "faults.h"

#include <string.h>

#include "banned.h"

#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

static const char *const faults_names[FAULT_KIND_COUNT] = {
    [FAULT_NONE] = "none",
    [FAULT_429] = "429",
    [FAULT_500] = "500",
    [FAULT_502] = "502",
    [FAULT_503] = "503",
    [FAULT_504] = "504",
    [FAULT_RESET] = "reset",
    [FAULT_HANG] = "hang",
    [FAULT_MALFORMED] = "malformed",
    [FAULT_OVERSIZE] = "oversize",
    [FAULT_NOID] = "noid",
    [FAULT_HTML] = "html",
    [FAULT_ECHO] = "echo",
    [FAULT_REDIRECT] = "redirect",
};

const char *faults_kind_name(enum fault_kind k)
{
	if ((int)k < 0 || k >= FAULT_KIND_COUNT)
		return "unknown";
	return faults_names[k];
}

int faults_config_check(const struct faults_config *cfg, struct err *err)
{
	double sum = 0;
	int k;

	for (k = FAULT_FIRST_RANDOM; k <= FAULT_LAST_RANDOM; k++) {
		if (!(cfg->prob[k] >= 0 && cfg->prob[k] <= 1))
			return err_set(err, "fault %s probability not in 0..1",
				       faults_kind_name((enum fault_kind)k));
		sum += cfg->prob[k];
	}
	if (sum > 1.0 + 1e-9)
		return err_set(err,
			       "fault probabilities add up to %.3f, "
			       "more than 1",
			       sum);
	if (!(cfg->after_effect >= 0 && cfg->after_effect <= 1))
		return err_set(err, "after-effect probability not in 0..1");
	if (cfg->latency_ms < 0 || cfg->jitter_ms < 0 ||
	    cfg->pause_grace_ms < 0 || cfg->rate_limit < 0)
		return err_set(err, "negative time or rate");
	return 0;
}

int faults_init(struct faults *f, const struct faults_config *cfg,
		struct err *err)
{
	memset(f, 0, sizeof(*f));
	if (faults_config_check(cfg, err) < 0)
		return -1;
	f->cfg = *cfg;
	rng_init(&f->rng, cfg->seed);
	f->burst = cfg->rate_limit / 10 > 1 ? cfg->rate_limit / 10 : 1;
	f->tokens = f->burst;
	f->bucket_ns = 0;
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		return err_set(err, "cannot create the faults lock");
	return 0;
}

void faults_release(struct faults *f)
{
	if (f)
		pthread_mutex_destroy(&f->lock);
}

void faults_arrive(struct faults *f, uint64_t now_ns)
{
	pthread_mutex_lock(&f->lock);
	if (now_ns > f->pause_from_ns && now_ns < f->pause_until_ns)
		f->st.during_pause++;
	pthread_mutex_unlock(&f->lock);
}

/* Takes one token if there is one; refills at rate_limit per second. */
static int faults_bucket_take(struct faults *f, uint64_t now_ns)
{
	if (f->cfg.rate_limit <= 0)
		return 1;
	if (f->bucket_ns == 0)
		f->bucket_ns = now_ns;
	if (now_ns > f->bucket_ns) {
		f->tokens += (double)(now_ns - f->bucket_ns) / NS_PER_S *
			     f->cfg.rate_limit;
		if (f->tokens > f->burst)
			f->tokens = f->burst;
		f->bucket_ns = now_ns;
	}
	if (f->tokens < 1)
		return 0;
	f->tokens -= 1;
	return 1;
}

/* One uniform draw against the cumulative probabilities. */
static enum fault_kind faults_pick(struct faults *f)
{
	double u = rng_uniform(&f->rng), acc = 0;
	int k;

	for (k = FAULT_FIRST_RANDOM; k <= FAULT_LAST_RANDOM; k++) {
		acc += f->cfg.prob[k];
		if (f->cfg.prob[k] > 0 && u < acc)
			return (enum fault_kind)k;
	}
	return FAULT_NONE;
}

void faults_decide(struct faults *f, uint64_t now_ns, int has_effect,
		   struct faults_decision *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&f->lock);
	if (!faults_bucket_take(f, now_ns)) {
		out->rate_limited = 1;
		f->st.rate_limited++;
		goto done;
	}
	out->kind = faults_pick(f);
	if (out->kind == FAULT_NONE)
		goto done;
	f->st.count[out->kind]++;
	/* 429 and 503 promise the request was not acted on (the contract the
	 * importer relies on to resend an SMS): never after the effect. */
	if (has_effect && f->cfg.after_effect > 0 && out->kind != FAULT_429 &&
	    out->kind != FAULT_503 && rng_uniform(&f->rng) < f->cfg.after_effect) {
		out->effect_first = 1;
		f->st.after_effects++;
	}
done:
	pthread_mutex_unlock(&f->lock);
}

long faults_delay_ms(struct faults *f)
{
	long ms = f->cfg.latency_ms;

	if (f->cfg.jitter_ms > 0) {
		pthread_mutex_lock(&f->lock);
		ms += (long)rng_below(&f->rng, (uint64_t)f->cfg.jitter_ms + 1);
		pthread_mutex_unlock(&f->lock);
	}
	return ms;
}

void faults_note_429(struct faults *f, uint64_t now_ns, long retry_after_s)
{
	uint64_t until = now_ns + (uint64_t)retry_after_s * NS_PER_S;

	pthread_mutex_lock(&f->lock);
	if (now_ns < f->pause_until_ns) {
		/* A 429 inside a pause extends it; its grace has passed. */
		if (until > f->pause_until_ns)
			f->pause_until_ns = until;
	} else {
		f->pause_from_ns =
		    now_ns + (uint64_t)f->cfg.pause_grace_ms * NS_PER_MS;
		f->pause_until_ns = until;
	}
	pthread_mutex_unlock(&f->lock);
}

void faults_count(struct faults *f, enum fault_kind k)
{
	if ((int)k <= 0 || k >= FAULT_KIND_COUNT)
		return;
	pthread_mutex_lock(&f->lock);
	f->st.count[k]++;
	pthread_mutex_unlock(&f->lock);
}

void faults_uuid(struct faults *f, char out[RNG_UUID_LEN + 1])
{
	pthread_mutex_lock(&f->lock);
	rng_uuid(&f->rng, out);
	pthread_mutex_unlock(&f->lock);
}

void faults_code(struct faults *f, char out[RNG_CODE_LEN + 1])
{
	pthread_mutex_lock(&f->lock);
	rng_code(&f->rng, out);
	pthread_mutex_unlock(&f->lock);
}

void faults_snapshot(struct faults *f, struct faults_stats *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->st;
	pthread_mutex_unlock(&f->lock);
}
