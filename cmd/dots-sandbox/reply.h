/*
 * reply.h - the description of one sandbox answer: status, content type,
 * body, extra headers, and what to do with the connection (answer, reset,
 * hang; now or after a delay; trickled or not). api.c fills it, server.c
 * turns it into libmicrohttpd calls. Pure: no I/O, no locks, no clock.
 */
#ifndef SANDBOX_REPLY_H
#define SANDBOX_REPLY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define REPLY_HEADERS_MAX 2	 /* extra headers besides Content-Type */
#define REPLY_HEADER_TEXT_MAX 48 /* copied values: a Retry-After date fits */
#define REPLY_NEVER UINT64_MAX	 /* due_ns of a hang without --hang-ms */
#define REPLY_CTYPE_JSON "application/json"
#define REPLY_CTYPE_TEXT "text/plain; charset=utf-8"
#define REPLY_CTYPE_HTML "text/html; charset=utf-8"

/* What the final handler call does with the connection. */
enum reply_action {
	REPLY_RESPOND = 0, /* send status, headers and body */
	REPLY_RESET,	   /* close, no answer */
	REPLY_HANG,	   /* close without answer at due_ns or at stop */
};

struct reply_header {
	const char *name;  /* static text */
	const char *value; /* borrowed; NULL: the value is text */
	char text[REPLY_HEADER_TEXT_MAX];
};

struct reply {
	enum reply_action action;
	unsigned status;
	const char *ctype; /* static text */
	char *body;	   /* body_len bytes; malloc'd when body_owned */
	size_t body_len;
	int body_owned; /* 1: free() it (or hand it on); 0: it outlives us */
	size_t n_headers;
	struct reply_header headers[REPLY_HEADERS_MAX];
	long retry_after_s; /* >= 0: a 429 with this Retry-After */
	int is_api;	 /* answers a request under /api: counted, trickled */
	int trickle;	 /* send the body one byte per second */
	int park;	 /* 1: wait until due_ns before acting */
	uint64_t due_ns; /* monotonic; REPLY_NEVER: only stop wakes it */
};

/* An empty answer: action REPLY_RESPOND with nothing prepared yet. */
void reply_init(struct reply *r);

/* Frees an owned body and drops headers; keeps is_api/trickle/park. */
void reply_clear(struct reply *r);

/* Drops what was prepared; the connection is closed without an answer. */
void reply_reset(struct reply *r);

/* Drops what was prepared; the request never gets an answer. */
void reply_hang(struct reply *r);

/*
 * Prepares status + body. Takes data when owned (malloc'd, freed here on
 * error); otherwise data must outlive the reply. NULL data: reset.
 */
void reply_raw(struct reply *r, unsigned status, const char *ctype, char *data,
	       size_t len, int owned);

/* A text/plain answer with static text. */
void reply_text(struct reply *r, unsigned status, const char *text);

/* A JSON answer; takes the reference to doc. NULL doc: reset. */
void reply_json(struct reply *r, unsigned status, json_t *doc);

/* {"error": error, "message": message} with status. */
void reply_error(struct reply *r, unsigned status, const char *error,
		 const char *message);

/*
 * Adds a header to a prepared answer (ignored after a reset), copying a
 * value shorter than REPLY_HEADER_TEXT_MAX. A longer value or a full table
 * resets the answer.
 */
void reply_header(struct reply *r, const char *name, const char *value);

/* Like reply_header, but keeps value itself: it must outlive the reply. */
void reply_header_borrow(struct reply *r, const char *name, const char *value);

/* The value of header h. */
const char *reply_header_value(const struct reply_header *h);

/* The value of the first header called name (case-sensitive), or NULL. */
const char *reply_header_get(const struct reply *r, const char *name);

/*
 * A 429 with Retry-After: secs, or as_date an HTTP-date of now_wall + secs.
 * Sets retry_after_s when the answer could be prepared.
 */
void reply_429(struct reply *r, long secs, int as_date, time_t now_wall,
	       const char *message);

/* 405 naming the allowed methods, with Allow (static text). */
void reply_405(struct reply *r, const char *allow);

/* Hands the body to the caller (to free when owned); the reply forgets it. */
char *reply_take_body(struct reply *r, int *owned);

#endif
