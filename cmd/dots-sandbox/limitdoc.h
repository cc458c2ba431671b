/*
 * limitdoc.h - the limiter's texts: the --limit-window "N/S" and
 * --limit-schedule "T1:N1,T2:N2" option values, the GET /_sandbox/limit
 * document and the POST /_sandbox/limit body merged onto the current
 * settings, and the route that answers both. Pure: no I/O, no clock.
 */
#ifndef SANDBOX_LIMITDOC_H
#define SANDBOX_LIMITDOC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limit.h"
#include "reply.h"

#define LIMITDOC_SPEC_MAX 1024 /* longest --limit-schedule text */

/* "N/S": at most N (whole, >= 1) requests per S (whole) seconds. */
int limitdoc_parse_window(const char *text, double *n, long *window_s,
			  struct err *err);

/*
 * "T1:N1,T2:N2,...": at T seconds (decimal, >= 0, not decreasing) a bucket
 * of N/s (0: no limit). Fills s->steps (offsets) and s->n_steps.
 */
int limitdoc_parse_schedule(const char *text, struct limit_settings *s,
			    struct err *err);

/*
 * The settings (schedule offsets from the start, as limit_get gives them)
 * as GET /_sandbox/limit shows them at now_off_ns after the start; NULL on
 * out of memory.
 */
json_t *limitdoc_settings(const struct limit_settings *s, uint64_t now_off_ns);

enum limitdoc_rc {
	LIMITDOC_OK = 0,
	LIMITDOC_BAD_JSON, /* 400 */
	LIMITDOC_INVALID,  /* 422, err says why */
};

/*
 * Merges a POST /_sandbox/limit body onto cur into out: absent fields keep
 * their values, the pending schedule is dropped unless "schedule" is given
 * (its times count from now). out's schedule offsets are from now.
 */
enum limitdoc_rc limitdoc_parse(const char *body, size_t len,
				const struct limit_settings *cur,
				struct limit_settings *out, struct err *err);

/* GET or POST /_sandbox/limit at now_ns: fills out (already reply_init'ed). */
void limitdoc_route(struct limit *l, const char *method, const char *body,
		    size_t len, uint64_t now_ns, struct reply *out);

#endif
