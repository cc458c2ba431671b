/*
 * url.h - the transport safety rule for every URL the tool calls (the API
 * base and the notification webhook): only https://, except http:// to a
 * loopback host (127.0.0.0/8, localhost, [::1]); no user:password@ part.
 */
#ifndef DOTS_URL_H
#define DOTS_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* True for "localhost", "[::1]" and dotted 127.x.y.z (h is n bytes). */
bool url_is_loopback_host(const char *h, size_t n);

/*
 * Checks url (trailing slashes are removed in place). what names it in
 * errors ("base URL"). Returns 0 or -1 with err set.
 */
int url_check(char *url, const char *what, struct err *err);

#endif
