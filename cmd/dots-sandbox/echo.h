/*
 * echo.h - the text of the --fault-echo answer: a hostile API that repeats
 * a request's Authorization header and the client id and API key inside it,
 * plain and percent-encoded, so tests can check the importer scrubs them.
 * Pure: no I/O, no locks.
 */
#ifndef SANDBOX_ECHO_H
#define SANDBOX_ECHO_H

#include <stddef.h>

/*
 * Percent-encodes in: every byte outside A-Z a-z 0-9 - . _ ~ becomes %XX
 * (upper-case hex). Writes at most cap bytes including the NUL; returns the
 * length the full encoding needs (>= cap means out was cut), like snprintf.
 */
size_t echo_pct_encode(const char *in, char *out, size_t cap);

/*
 * "bad request from client <id> (<pct-id>) key <key> (<pct-key>) auth
 * <header>", header verbatim ("(none)" when NULL, cut at AUTH_HEADER_MAX
 * bytes); id and key are empty when header holds no Basic credentials.
 * Returns a malloc'd string, or NULL on out of memory.
 */
char *echo_text(const char *header);

#endif
