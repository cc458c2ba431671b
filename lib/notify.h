/*
 * notify.h - posts the run summary to a webhook (--notify-url) when a run
 * ends, with retries. Never sends the Dots credentials there.
 */
#ifndef DOTS_NOTIFY_H
#define DOTS_NOTIFY_H

#include "err.h"

/*
 * POSTs json (Content-Type: application/json) to url, which must already
 * have passed url_check. Up to 3 attempts with backoff on connection
 * errors, timeouts, 429 and 5xx; timeout_ms bounds each attempt.
 * Returns 0 on a 2xx, or -1 with err saying what happened.
 */
int notify_post(const char *url, const char *json, long timeout_ms,
		const char *ca_cert, struct err *err);

#endif
