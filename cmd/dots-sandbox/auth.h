/*
 * auth.h - HTTP Basic credentials check for the sandbox API.
 * Pure: no I/O, never logs or keeps the credentials it sees.
 */
#ifndef SANDBOX_AUTH_H
#define SANDBOX_AUTH_H

#define AUTH_HEADER_MAX 1024 /* longer Authorization headers are refused */

/*
 * Checks an Authorization header value ("Basic base64(id:key)").
 * With client_id and api_key set, both must match exactly; with either
 * NULL, any well-formed Basic credentials that are not empty pass.
 * Returns 0 when accepted, -1 otherwise (header NULL included).
 */
int auth_check(const char *header, const char *client_id, const char *api_key);

#endif
