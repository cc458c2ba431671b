/*
 * userdoc.h - the sandbox's JSON documents (jansson): create and verify
 * request bodies in, user and error objects out.
 * Pure: no I/O, no locks. Messages follow "<field>: <reason>".
 */
#ifndef SANDBOX_USERDOC_H
#define SANDBOX_USERDOC_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

#define USERDOC_EMAIL_MAX 254
#define USERDOC_NAME_MAX 256 /* bytes, first/last name and username */
#define USERDOC_PHONE_MAX 15 /* digits */
#define USERDOC_TOKEN_MAX 64 /* longer tokens are wrong anyway */
#define USERDOC_MSG_MAX 160  /* validation message buffer */

enum userdoc_result {
	USERDOC_OK = 0,
	USERDOC_BAD_JSON = -1, /* not JSON, or not an object: HTTP 400 */
	USERDOC_INVALID = -2,  /* a field is wrong: HTTP 422, msg says which */
};

/* A parsed create body. Strings point into root (or meta_text). */
struct userdoc_create {
	json_t *root;	 /* owned */
	char *meta_text; /* owned, JSON text of metadata or NULL */
	struct store_input in;
};

/*
 * Parses and validates a POST /v2/users body. On USERDOC_OK, out must be
 * released with userdoc_create_release; on failure out holds nothing and
 * msg (for USERDOC_INVALID) says what is wrong.
 */
enum userdoc_result userdoc_parse_create(const char *body, size_t len,
					 struct userdoc_create *out,
					 char msg[USERDOC_MSG_MAX]);
void userdoc_create_release(struct userdoc_create *c);

/* Parses {"token": "..."} into token (NUL-terminated). */
enum userdoc_result userdoc_parse_token(const char *body, size_t len,
					char token[USERDOC_TOKEN_MAX + 1],
					char msg[USERDOC_MSG_MAX]);

/* Seeds jansson's hashing; call once before any thread starts. */
void userdoc_seed(void);

/* The API's user object (users-v2.txt). NULL on out of memory. */
json_t *userdoc_user(const struct store_view *v);

/* The /_sandbox/users entry: id, phone, email, sms, last_code, status. */
json_t *userdoc_sandbox_user(const struct store_view *v);

/* {"error": error, "message": message}. NULL on out of memory. */
json_t *userdoc_error(const char *error, const char *message);

#endif
