/*
 * syncer.c - one thread per syncer, one mutex and one condition variable:
 * the writer raises `requested`, the thread syncs and raises `done`.
 */
#include "syncer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banned.h"

struct syncer {
	int fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* signalled on a new request, a sync, or stop */
	uint64_t requested;  /* newest ticket asked for */
	uint64_t done;       /* newest ticket durable */
	int failed;          /* errno of a failed sync, 0 = none */
	bool stop;
	void (*wake)(void *ctx);
	void *ctx;
};

static void *syncer_main(void *arg)
{
	struct syncer *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->requested > s->done && !s->failed) {
			uint64_t target = s->requested;
			int rc;

			pthread_mutex_unlock(&s->mu);
			rc = fdatasync(s->fd);
			pthread_mutex_lock(&s->mu);
			if (rc < 0 && errno != EINTR)
				s->failed = errno;
			else if (rc == 0)
				s->done = target;
			pthread_cond_broadcast(&s->cv);
			if (s->wake)
				s->wake(s->ctx);
			continue;
		}
		if (s->stop)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int syncer_new(struct syncer **out, int fd, struct err *err)
{
	struct syncer *s = calloc(1, sizeof(*s));
	sigset_t all, old;
	int rc;

	if (!s)
		return err_set(err, "out of memory");
	s->fd = fd;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return err_set(err, "cannot create a lock");
	}
	if (pthread_cond_init(&s->cv, NULL) != 0) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return err_set(err, "cannot create a condition variable");
	}
	/* signals stay with the main thread (the thread inherits this mask) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, syncer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return err_set(err, "cannot start the sync thread: %s", strerror(rc));
	}
	*out = s;
	return 0;
}

void syncer_set_wake(struct syncer *s, void (*wake)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&s->mu);
	s->wake = wake;
	s->ctx = ctx;
	pthread_mutex_unlock(&s->mu);
}

void syncer_request(struct syncer *s, uint64_t ticket)
{
	pthread_mutex_lock(&s->mu);
	if (ticket > s->requested) {
		s->requested = ticket;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

static int failure(const struct syncer *s, struct err *err)
{
	return err_set(err, "cannot sync to disk: %s", strerror(s->failed));
}

int syncer_done(struct syncer *s, uint64_t *ticket, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	*ticket = s->done;
	if (s->failed)
		rc = failure(s, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

bool syncer_pending(struct syncer *s)
{
	bool p;

	pthread_mutex_lock(&s->mu);
	p = s->requested > s->done && !s->failed;
	pthread_mutex_unlock(&s->mu);
	return p;
}

int syncer_wait(struct syncer *s, uint64_t ticket, struct err *err)
{
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (ticket > s->requested) {
		s->requested = ticket;
		pthread_cond_broadcast(&s->cv);
	}
	while (s->done < ticket && !s->failed)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->done < ticket)
		rc = failure(s, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void syncer_free(struct syncer *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	s->wake = NULL;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
