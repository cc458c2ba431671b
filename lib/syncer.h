/*
 * syncer.h - group commit's other half: fdatasync(2) of one file on a
 * background thread, so the thread that writes never waits for the disk.
 *
 * The writer numbers its commits (tickets 1, 2, 3...). After writing commit
 * t it calls syncer_request(t); the thread then runs one fdatasync that
 * covers every commit written so far, publishes the newest ticket it covers
 * and calls the wake function. Commits requested while a sync runs share
 * the next one, so there are never more syncs than the disk can do.
 */
#ifndef DOTS_SYNCER_H
#define DOTS_SYNCER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct syncer;

/* Starts the thread for fd (borrowed: it must stay open until
 * syncer_free). The thread blocks every signal. */
int syncer_new(struct syncer **out, int fd, struct err *err);

/*
 * Called from the thread after each sync, with the syncer's lock held (so
 * it is never running once syncer_set_wake returns): keep it short and
 * thread-safe, e.g. curl_multi_wakeup. NULL = none.
 */
void syncer_set_wake(struct syncer *s, void (*wake)(void *ctx), void *ctx);

/* Everything written to fd before this call becomes durable as ticket
 * (tickets only grow; a smaller one is ignored). */
void syncer_request(struct syncer *s, uint64_t ticket);

/* The newest durable ticket (0 = none yet). Returns -1 with err set once a
 * sync has failed: nothing after that is known to be durable. */
int syncer_done(struct syncer *s, uint64_t *ticket, struct err *err);

/* Whether a requested ticket is not durable yet. */
bool syncer_pending(struct syncer *s);

/* Blocks until ticket is durable (0) or a sync failed (-1, err set). */
int syncer_wait(struct syncer *s, uint64_t ticket, struct err *err);

/* Finishes the sync in progress, stops and joins the thread. NULL is a no-op. */
void syncer_free(struct syncer *s);

#endif
