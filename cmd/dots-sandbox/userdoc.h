/*
 * userdoc.h - the sandbox's JSON documents (jansson): create, verify and
 * verify-users request bodies and the list limit in; user, list, echo and
 * error objects out.
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
#define USERDOC_LIMIT_DEFAULT 10 /* GET /v2/users without ?limit */
#define USERDOC_LIMIT_MAX 100
#define USERDOC_PHONES_MAX 10000 /* entries of a verify-users body */

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

/*
 * Reads the list endpoint's ?limit: text NULL (absent) gives
 * USERDOC_LIMIT_DEFAULT; otherwise 1-3 digits, 1..USERDOC_LIMIT_MAX.
 * Returns USERDOC_OK, or USERDOC_INVALID (out untouched).
 */
enum userdoc_result userdoc_parse_limit(const char *text, long *out);

/* A parsed verify-users body; phones point into root. */
struct userdoc_verify {
	json_t *root;		    /* owned */
	int all;		    /* {"all": true} */
	struct store_phone *phones; /* owned, n entries (NULL when all) */
	size_t n;
};

/*
 * Parses {"all": true} or {"phones": [{"country_code": "1",
 * "phone_number": "4155550100"}, ...]} (exactly one of the two). On
 * USERDOC_OK release out with userdoc_verify_release; on failure out holds
 * nothing and msg (for USERDOC_INVALID) says what is wrong.
 */
enum userdoc_result userdoc_parse_verify(const char *body, size_t len,
					 struct userdoc_verify *out,
					 char msg[USERDOC_MSG_MAX]);
void userdoc_verify_release(struct userdoc_verify *v);

/* Seeds jansson's hashing; call once before any thread starts. */
void userdoc_seed(void);

/* The API's user object (users-v2.txt). NULL on out of memory. */
json_t *userdoc_user(const struct store_view *v);

/* The /_sandbox/users entry: id, phone, email, sms, last_code, status. */
json_t *userdoc_sandbox_user(const struct store_view *v);

/* {"data": data, "has_more": has_more}; takes data. NULL on OOM. */
json_t *userdoc_list(json_t *data, int has_more);

/* {"message": text, "error": text}. NULL on OOM or text not UTF-8. */
json_t *userdoc_echo(const char *text);

/* {"error": error, "message": message}. NULL on out of memory. */
json_t *userdoc_error(const char *error, const char *message);

#endif
