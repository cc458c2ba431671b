/*
 * payload.h - the JSON the Dots API exchanges, built and parsed with jansson.
 *
 * No I/O. Request bodies are built once per row; responses are treated as
 * hostile (any shape, any size the transport let through). The hot calls
 * take an arena (payload_arena_new): jansson then allocates from it for
 * the length of the call and the tree is dropped by rewinding it; NULL =
 * plain malloc. An arena serves one thread at a time.
 */
#ifndef DOTS_PAYLOAD_H
#define DOTS_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "user.h"

#define PAYLOAD_ID_MAX 64 /* longest user id accepted from the API */

/* A 64 KiB bump arena for jansson's trees (bodies built, answers parsed). */
struct payload_arena;
struct payload_arena *payload_arena_new(void); /* NULL: out of memory */
void payload_arena_free(struct payload_arena *a); /* NULL is a no-op */

/*
 * The body of POST /v2/users for u: email, country_code, phone_number,
 * first_name, last_name, and username/date_of_birth/metadata when given. Metadata that
 * parses as a JSON object is sent as that object, anything else as a string.
 * Returns a malloc'd NUL-terminated string (caller frees) with its length in
 * *len, or NULL with err set.
 */
char *payload_create_user(struct payload_arena *a, const struct user *u, size_t *len,
			  struct err *err);

/*
 * The body of POST /v2/users/{id}/send-verification-token: an empty object.
 * The API needs none, but a body makes the send an at-most-once request on
 * a kept-alive connection (see http_request.once). Caller frees.
 */
char *payload_send_verification(size_t *len, struct err *err);

/* The body of POST /v2/users/{id}/verify: {"token": token}. */
char *payload_verify(const char *token, size_t *len, struct err *err);

/*
 * Takes the user id out of a create response. The body must be a JSON
 * object with a non-empty string "id" of at most PAYLOAD_ID_MAX characters
 * from [A-Za-z0-9_-]. Returns 0 with id filled, or -1 with err saying what
 * was wrong ("response is not JSON", "response has no \"id\"").
 */
int payload_user_id(const char *body, size_t len, char id[PAYLOAD_ID_MAX + 1],
		    struct err *err);

/*
 * payload_user_id, and whether the user object says "status": "verified"
 * (*verified true; any other status, none, or a non-string: false). A
 * verified user is never sent a code.
 */
int payload_created_user(struct payload_arena *a, const char *body, size_t len,
			 char id[PAYLOAD_ID_MAX + 1],
			 bool *verified, struct err *err);

/*
 * A one-line reason from an error response: "message", then "error" (a
 * string), then "error.message" when the body is a JSON object; else the
 * raw body. Control characters become spaces, runs of blanks fold, the
 * result is cut to fit cap (with "..." when cut). Empty body → "".
 */
void payload_error_message(const char *body, size_t len, char *out, size_t cap);

#endif
