/*
 * auth.h - HTTP Basic credentials check for the sandbox API.
 * Pure: no I/O, never logs or keeps the credentials it sees (auth_decode
 * hands them to its caller, for the --fault-echo answer only).
 */
#ifndef SANDBOX_AUTH_H
#define SANDBOX_AUTH_H

#include <stddef.h>

#define AUTH_HEADER_MAX 1024 /* longer Authorization headers are refused */
#define AUTH_DECODED_MAX (AUTH_HEADER_MAX / 4 * 3 + 3) /* decoded bytes */

/*
 * Checks an Authorization header value ("Basic base64(id:key)").
 * With client_id and api_key set, both must match exactly; with either
 * NULL, any well-formed Basic credentials that are not empty pass.
 * Returns 0 when accepted, -1 otherwise (header NULL included).
 */
int auth_check(const char *header, const char *client_id, const char *api_key);

/*
 * Decodes a Basic header into the client id (before the first ':') and the
 * key (after it), each NUL-terminated and cut to fit id_cap / key_cap bytes
 * (AUTH_DECODED_MAX + 1 always fits). Returns 0, or -1 (both set to "") when
 * header is NULL, too long, not Basic or has no ':'. The caller wipes both.
 */
int auth_decode(const char *header, char *id, size_t id_cap, char *key,
		size_t key_cap);

#endif
