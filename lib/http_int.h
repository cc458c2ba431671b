/*
 * http_int.h - the HTTP engine's private parts, shared by http.c (the
 * libcurl multi engine) and http_headers.c (the header lines every request
 * carries, Basic auth included). No libcurl here. Nothing outside those two
 * files includes it.
 */
#ifndef DOTS_HTTP_INT_H
#define DOTS_HTTP_INT_H

#include "http.h"

#define HTTP_HEADER_LINES 4 /* Content-Type, User-Agent, Api-App-Id, Authorization */

/*
 * The request header lines of an engine made with o, in order:
 * "Content-Type: application/json", "User-Agent: dots-import/<version>",
 * "Api-App-Id: <o->app_id>" (when set; cut to 299 bytes) and
 * "Authorization: Basic <base64(username:password)>" (when o->username is
 * set). Heap copies; returns how many, or -1 on out of memory (nothing left
 * allocated). Release with http_header_lines_free: a line holds credentials.
 */
int http_header_lines(const struct http_opts *o, char *line[HTTP_HEADER_LINES]);

/* Wipes then frees line[0..n). */
void http_header_lines_free(char *line[], int n);

#endif
