/*
 * scrub.h - removes the run's credentials from text that came from outside
 * (a response body, a transport error, an error line built from them), so a
 * hostile or buggy server that echoes them cannot get them into a log, a
 * results file or a terminal.
 *
 * The secrets are the API key, the client id and the Basic token
 * (base64 of "client_id:api_key", as sent in "Authorization: Basic ...").
 * Each is searched for as it is and in the forms a server is likely to
 * echo it in:
 *   - percent-encoded: every byte outside A-Za-z0-9-._~ as %XX, with
 *     upper-case and with lower-case hex digits;
 *   - JSON-escaped, when the secret holds '"', '\\' or '/': '"' -> \",
 *     '\\' -> \\, and '/' both as \/ and left as it is.
 * Mixtures of forms (half of a key percent-encoded) are not searched for.
 *
 * Every byte of an occurrence is replaced by one mask byte ('*', or when a
 * secret itself contains '*', the first printable ASCII byte that occurs in
 * no searched form), so text never grows or shrinks, a NUL terminator
 * stays where it was, and masking cannot build a new occurrence.
 * Overlapping and adjacent occurrences are all masked.
 *
 * Secrets of any length are searched for, also 1-3 bytes: a very short
 * client id then masks its bytes wherever they occur in a body (losing
 * some readable text is the price of never echoing a credential).
 *
 * Pure, no I/O. scrub_apply allocates nothing and is linear in the text
 * (times the number of forms that start with each byte), so it runs on
 * every response body.
 */
#ifndef DOTS_SCRUB_H
#define DOTS_SCRUB_H

#include <stddef.h>

#include "err.h"

#define SCRUB_MAX_FORMS 16 /* 3 secrets x (plain, %XX, %xx, 2 JSON forms) */

/* Private fields; a zeroed struct is a valid scrub that removes nothing. */
struct scrub {
	char *forms;                    /* every searched form, back to back */
	size_t forms_len;
	size_t n;                       /* number of forms */
	size_t off[SCRUB_MAX_FORMS];    /* form i is forms[off[i]..+len[i]) */
	size_t len[SCRUB_MAX_FORMS];
	size_t min_len;                 /* shortest form */
	unsigned char first[256];       /* nonzero: some form starts with it */
	char mask;                      /* the byte that replaces a secret */
};

/*
 * Builds the forms of client_id, api_key and their Basic token. Either may
 * be NULL or empty: an empty secret is not searched for; the token exists
 * when client_id is not NULL and either is non-empty (as http sends it).
 * Copies what it needs. Returns 0, or -1 (err set) when out of memory.
 */
int scrub_init(struct scrub *s, const char *client_id, const char *api_key,
	       struct err *err);

/* Wipes the copies (explicit_bzero) and frees them; s is then a zeroed,
 * valid scrub. A zeroed s is a no-op. */
void scrub_release(struct scrub *s);

/*
 * Masks every occurrence of every form in text[0..len) in place and
 * returns how many places a secret started at (0: text untouched). s may
 * be NULL (returns 0). Bytes at and after text[len] are never read or
 * written.
 */
size_t scrub_apply(const struct scrub *s, char *text, size_t len);

/* Base64 (RFC 4648, with padding) of in[0..n) into out, which has room for
 * (n + 2) / 3 * 4 bytes; returns that length (no NUL). The Basic token the
 * http engine sends and the one masked here come from this one function. */
size_t scrub_base64(const unsigned char *in, size_t n, char *out);

#endif
