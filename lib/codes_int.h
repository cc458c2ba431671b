/*
 * codes_int.h - the code commands' private parts, shared by codes.c (the
 * run's set-up, the group feed, send-verification) and verify.c (verify).
 * Nothing outside those two files includes it.
 */
#ifndef DOTS_CODES_INT_H
#define DOTS_CODES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "payload.h"
#include "results.h"
#include "run.h"

#define GROUP_SIZE 512            /* jobs per group (bounded memory) */
#define CODES_URL_MAX 512
#define CODES_ERROR_MAX 300

/* One job of a group, with what its results line needs. */
struct cjob {
	struct engine_job job;
	char url[CODES_URL_MAX];
	char error[CODES_ERROR_MAX + 1];
	bool skip;                 /* nothing to send (an invalid token) */
	bool ended, cut;
	/* send-verification */
	struct ledger_user user;
	uint64_t key;
	bool intent;               /* its intent is in the ledger */
	enum verif_status verif;
	/* verify */
	size_t row, line;
	char user_id[PAYLOAD_ID_MAX + 1];
	char *body;
	enum retry_verdict verdict;
};

/* A command's run: the engine, its ledger (send-verification) and results. */
struct codes {
	const struct import_opts *o;
	struct import_stats *st;
	struct err *err;
	struct http *http;
	struct engine eng;
	bool eng_live;
	struct ledger *led;
	struct results *out;
	struct cjob *jobs;         /* the group */
	size_t n, next;            /* jobs in the group; next to hand over */
	size_t prepared;           /* jobs[next..prepared) have a durable intent */
	int64_t committed_ms;
	size_t probe_requests;
	bool local_failed;         /* the ledger or the results failed */
	int64_t t0, progress_ms;   /* start; last o->progress call */
};

/* Engine and first request from the options, and the group's jobs. A
 * configuration error fails the set-up (nothing sent); refused credentials
 * halt the engine: no job of this run starts. 0 or -1 with err set. */
int codes_start(struct codes *c, struct err *err);

/* The end of a run that got through its rows: the results file made
 * durable, the last figures and progress line; returns how the run ends
 * (codes_ending). */
enum import_result codes_finish(struct codes *c, bool all_ok);

/* Every run's last step, also after a failed set-up: the figures so far,
 * the elapsed time, then codes_release. */
void codes_close(struct codes *c);

/* Gives the engine's learned rate to the ledger (if any), then frees the
 * jobs, the engine, http, the results writer and the ledger. */
void codes_release(struct codes *c);

/* A local failure (ledger, results; c->err holds why): the run stops like
 * after a signal. Only the first call halts the engine. */
void codes_fail(struct codes *c);

/* The run's result: a local failure, a signal, an abort, else complete
 * when all_ok, partial otherwise. A local failure before any request past
 * the first one is an input error (nothing was sent). */
enum import_result codes_ending(const struct codes *c, bool all_ok);

/* The running figures to o->progress, at most every 100 ms unless force. */
void codes_progress(struct codes *c, bool force);

/* A results line written: counted in st->done (unless counted already
 * when its request ended), its error (if any) to o->row_error. */
void codes_line(struct codes *c, bool counted, size_t row, size_t line,
		const char *status, const char *error, const char *cc, const char *phone);

/* The group feed (engine_feed.next and .idle; ctx is the struct codes):
 * jobs[next..prepared) are handed over in order, skipped ones passed by. */
struct engine_job *codes_group_next(void *ctx, int64_t now);
bool codes_group_idle(void *ctx);

/* Runs jobs[0..n) through the engine with feed f (nothing when the engine
 * is halted). Returns engine_run's result. */
int codes_run_group(struct codes *c, const struct engine_feed *f, size_t n, struct err *err);

#endif
