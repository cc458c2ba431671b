/*
 * reply.c - building struct reply answers: JSON and text bodies, errors,
 * 405 and 429 with their headers, resets and hangs. Pure: must not do I/O,
 * read a clock (callers pass the time) or know libmicrohttpd.
 */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userdoc.h"

#include "banned.h"

void reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->action = REPLY_RESPOND;
	r->retry_after_s = -1;
}

void reply_clear(struct reply *r)
{
	if (r->body_owned)
		free(r->body);
	r->body = NULL;
	r->body_len = 0;
	r->body_owned = 0;
	r->ctype = NULL;
	r->status = 0;
	r->n_headers = 0;
	r->retry_after_s = -1;
}

void reply_reset(struct reply *r)
{
	reply_clear(r);
	r->action = REPLY_RESET;
}

void reply_hang(struct reply *r)
{
	reply_clear(r);
	r->action = REPLY_HANG;
}

void reply_raw(struct reply *r, unsigned status, const char *ctype, char *data,
	       size_t len, int owned)
{
	reply_clear(r);
	if (!data) {
		r->action = REPLY_RESET;
		return;
	}
	r->action = REPLY_RESPOND;
	r->status = status;
	r->ctype = ctype;
	r->body = data;
	r->body_len = len;
	r->body_owned = owned;
}

void reply_text(struct reply *r, unsigned status, const char *text)
{
	reply_raw(r, status, REPLY_CTYPE_TEXT, (char *)text, strlen(text), 0);
}

void reply_json(struct reply *r, unsigned status, json_t *doc)
{
	/* Reals as 0.2, not 0.20000000000000001 (the limiter's rates). */
	size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(15);
	char *text = doc ? json_dumps(doc, flags) : NULL;

	json_decref(doc);
	reply_raw(r, status, REPLY_CTYPE_JSON, text, text ? strlen(text) : 0,
		  1);
}

void reply_error(struct reply *r, unsigned status, const char *error,
		 const char *message)
{
	reply_json(r, status, userdoc_error(error, message));
}

/* The next free header slot of a prepared answer, or NULL (see above). */
static struct reply_header *reply_slot(struct reply *r, const char *name)
{
	struct reply_header *h;

	if (r->action != REPLY_RESPOND || !r->body)
		return NULL;
	if (r->n_headers >= REPLY_HEADERS_MAX) {
		reply_reset(r);
		return NULL;
	}
	h = &r->headers[r->n_headers++];
	h->name = name;
	h->value = NULL;
	h->text[0] = '\0';
	return h;
}

void reply_header(struct reply *r, const char *name, const char *value)
{
	size_t n = strlen(value);
	struct reply_header *h;

	if (n >= REPLY_HEADER_TEXT_MAX && r->action == REPLY_RESPOND &&
	    r->body) {
		reply_reset(r);
		return;
	}
	h = reply_slot(r, name);
	if (h)
		memcpy(h->text, value, n + 1);
}

void reply_header_borrow(struct reply *r, const char *name, const char *value)
{
	struct reply_header *h = reply_slot(r, name);

	if (h)
		h->value = value;
}

const char *reply_header_value(const struct reply_header *h)
{
	return h->value ? h->value : h->text;
}

const char *reply_header_get(const struct reply *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i].name, name) == 0)
			return reply_header_value(&r->headers[i]);
	return NULL;
}

void reply_429(struct reply *r, long secs, int as_date, time_t now_wall,
	       const char *message)
{
	char value[64];

	reply_error(r, 429, "rate_limited", message);
	if (as_date) {
		time_t when = now_wall + secs;
		struct tm tm;

		gmtime_r(&when, &tm);
		strftime(value, sizeof(value), "%a, %d %b %Y %H:%M:%S GMT",
			 &tm);
	} else {
		snprintf(value, sizeof(value), "%ld", secs);
	}
	reply_header(r, "Retry-After", value);
	if (r->action == REPLY_RESPOND && r->body)
		r->retry_after_s = secs;
}

void reply_405(struct reply *r, const char *allow)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "method not allowed, use %s", allow);
	reply_error(r, 405, "method_not_allowed", msg);
	reply_header_borrow(r, "Allow", allow);
}

char *reply_take_body(struct reply *r, int *owned)
{
	char *b = r->body;

	*owned = r->body_owned;
	r->body = NULL;
	r->body_len = 0;
	r->body_owned = 0;
	return b;
}
