/*
 * ident.h - a row's identity against what the ledger knows: the same
 * person as before (exists), the same phone with another email or name
 * (changed), or a clash of phone and external id (conflict); and the
 * words for each, with personal data masked where the log sees them.
 *
 * Pure logic, no I/O. Strings are borrowed, NUL-terminated; "" means not
 * known (a ledger row from before the identity fields, no external id).
 */
#ifndef DOTS_IDENT_H
#define DOTS_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fields a user is created with and Dots is not updated for. */
#define IDENT_EMAIL 1u
#define IDENT_FIRST_NAME 2u
#define IDENT_LAST_NAME 4u

struct ident_fields {
	const char *email, *first_name, *last_name;
};

/* A user the ledger has, found by the row's phone or by its external id. */
struct ident_known {
	bool found;
	uint64_t key;              /* its phone key */
	struct ident_fields f;     /* what it was created with */
	const char *external_id;   /* "" = none */
	const char *user_id;       /* its Dots id */
	const char *country_code, *phone_number;
};

enum ident_verdict {
	IDENT_NEW,            /* nobody known: create */
	IDENT_NEW_MOVED,      /* the external id's user had another phone and
			       * --allow-phone-change: create, the id moves */
	IDENT_EXISTS,         /* the phone's user, nothing differs */
	IDENT_EXISTS_ADOPT,   /* the same, and its ledger row gets the row's
			       * external id (it had none) */
	IDENT_CHANGED,        /* the phone's user, email or names differ */
	IDENT_CONFLICT_EXT,   /* the external id's user has another phone */
	IDENT_CONFLICT_PHONE, /* the phone's user has another external id */
	IDENT_CONFLICT_BOTH   /* the external id's user has another phone, and
			       * this phone is another user's */
};

struct ident_decision {
	enum ident_verdict verdict;
	unsigned diff; /* IDENT_CHANGED: IDENT_EMAIL | ... */
};

/*
 * Which of row's fields differ from what stored was created with (byte
 * for byte); a field stored as "" never differs.
 */
unsigned ident_diff(const struct ident_fields *stored, const struct ident_fields *row);

/*
 * What becomes of a valid row: row_ext is its external id ("" = none),
 * by_phone the user the ledger has for its phone key row_key, by_ext the
 * user it has for row_ext. A clash of phone and external id wins over a
 * changed email or name.
 */
struct ident_decision ident_decide(const struct ident_fields *row, const char *row_ext,
				   uint64_t row_key, const struct ident_known *by_phone,
				   const struct ident_known *by_ext, bool allow_phone_change);

/* "a***@example.com": the first character of the local part, the domain. */
void ident_mask_email(const char *email, char *out, size_t cap);

/*
 * The results file's error cell for a decision (changed, conflict, or a
 * moved external id; "" otherwise): what differs or clashes, what the
 * ledger has (email and names masked), and what was not done. The log
 * variant (for_log) names fields and user ids only: no email, name,
 * phone or external id. out is always NUL-terminated.
 */
void ident_message(const struct ident_decision *d, const char *row_ext,
		   const struct ident_known *by_phone, const struct ident_known *by_ext,
		   bool for_log, char *out, size_t cap);

#endif
