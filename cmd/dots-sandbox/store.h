/*
 * store.h - the sandbox's users, found by Dots id or by phone number.
 *
 * One user per country_code + phone_number. Lookups are O(1) (two chained
 * hash tables); listing is in creation order. Every call takes the store's
 * mutex, so all functions are thread-safe. User data is only ever seen
 * through a struct store_view handed to a callback while the lock is held:
 * the view's pointers are valid during that callback only.
 * Knows nothing about HTTP or JSON (metadata is kept as opaque text).
 */
#ifndef SANDBOX_STORE_H
#define SANDBOX_STORE_H

#include <pthread.h>
#include <stddef.h>

#include "err.h"
#include "rng.h"

#define STORE_MAX_USERS 20000000UL /* creates beyond this fail */

/* A new user's fields; all borrowed, NUL-terminated, already validated. */
struct store_input {
	const char *email;
	const char *country_code;
	const char *phone_number;
	const char *first_name;
	const char *last_name;
	const char *username; /* NULL or "": one is generated */
	const char *metadata; /* JSON text, or NULL for null */
};

/* Read-only view of one user, valid only inside the callback. */
struct store_view {
	const char *id;
	const char *email;
	const char *country_code;
	const char *phone_number;
	const char *first_name;
	const char *last_name;
	const char *username;
	const char *metadata;  /* JSON text or NULL */
	const char *last_code; /* "" until a code was sent */
	unsigned long sms;     /* verification codes sent */
	int verified;	       /* 1 after a successful verify */
};

/* A phone number naming one user; both borrowed, NUL-terminated. */
struct store_phone {
	const char *country_code;
	const char *phone_number;
};

typedef void (*store_view_fn)(const struct store_view *v, void *cls);

enum store_verify_result {
	STORE_VERIFY_OK = 0,
	STORE_VERIFY_UNKNOWN_USER,
	STORE_VERIFY_NO_CODE, /* no code was ever sent */
	STORE_VERIFY_WRONG,   /* not the last code sent */
};

/* Counters for /_sandbox/stats. */
struct store_stats {
	unsigned long users;
	unsigned long creates;
	unsigned long existing_returned;
	unsigned long sms;
	unsigned long max_sms_per_user;
	unsigned long users_with_sms;
	unsigned long users_with_multiple_sms;
	unsigned long verified_users;
	unsigned long verifies_ok;
	unsigned long verifies_failed;
};

struct store_rec; /* private */

struct store {
	pthread_mutex_t lock;
	struct store_rec **by_phone; /* bucket heads, nbuckets entries */
	struct store_rec **by_id;    /* bucket heads, nbuckets entries */
	size_t nbuckets;	     /* power of two */
	struct store_rec **all;	     /* creation order, count entries */
	size_t cap;		     /* allocated entries of all */
	struct store_stats st;
};

int store_init(struct store *s, struct err *err);
/* Frees every user. s may be NULL. */
void store_release(struct store *s);

/*
 * Creates the user unless one with the same country_code + phone_number
 * exists, then calls fn (may be NULL) with the stored user. new_id is used
 * only when a user is created. Returns 1 created, 0 existing returned,
 * -1 out of memory or STORE_MAX_USERS reached (nothing changed, fn not
 * called).
 */
int store_create(struct store *s, const struct store_input *in,
		 const char *new_id, store_view_fn fn, void *cls);

/* Calls fn with user id; returns 0, or -1 when there is no such user. */
int store_get(struct store *s, const char *id, store_view_fn fn, void *cls);

/* Records that code was sent to user id; returns 0, or -1 if unknown. */
int store_send_code(struct store *s, const char *id, const char *code);

/* Checks token against the last code sent; marks the user verified. */
enum store_verify_result store_verify(struct store *s, const char *id,
				      const char *token);

/* Counts a failed verify decided before store_verify (bad body). */
void store_count_verify_failed(struct store *s);

/* Calls fn for every user in creation order, under the lock. */
void store_each(struct store *s, store_view_fn fn, void *cls);

/*
 * Calls fn for the first limit users in creation order (O(limit)), under
 * the lock. Returns how many users there are in all.
 */
size_t store_list(struct store *s, size_t limit, store_view_fn fn, void *cls);

/*
 * The test hook behind /_sandbox/verify-users: marks users verified without
 * a code, every user when all is set, else those with the n phones given
 * (unknown phones are skipped). Returns how many users matched: the user
 * count for all, else the phones that named a user (a repeat counts again).
 */
unsigned long store_mark_verified(struct store *s, int all,
				  const struct store_phone *phones, size_t n);

void store_stats(struct store *s, struct store_stats *out);

#endif
