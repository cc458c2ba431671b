/*
 * user.h - one user record: normalisation and validation of a CSV row's
 * fields into what the Dots API accepts (the README).
 *
 * Pure logic, no I/O. A row either normalises into a struct user, or fails
 * with one precise reason naming the field ("email: missing \"@\"").
 */
#ifndef DOTS_USER_H
#define DOTS_USER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The fields an input row can map to. USER_PHONE is the single international
 * "phone" column that may replace country_code + phone_number. */
enum user_field {
	USER_EMAIL,
	USER_COUNTRY_CODE,
	USER_PHONE_NUMBER,
	USER_FIRST_NAME,
	USER_LAST_NAME,
	USER_USERNAME,
	USER_METADATA,
	USER_PHONE,
	USER_DATE_OF_BIRTH, /* optional, YYYY-MM-DD */
	USER_EXTERNAL_ID,   /* optional: the source system's id, kept in the ledger */
	USER_FIELD_COUNT
};

/* API/default header names, indexed by enum user_field ("email", ...). */
extern const char *const user_field_names[USER_FIELD_COUNT];

#define USER_EMAIL_MAX 254     /* bytes */
#define USER_NAME_MAX_CHARS 50 /* code points, for names and username (API schema) */
#define USER_NAME_MAX_BYTES (USER_NAME_MAX_CHARS * 4)
#define USER_METADATA_MAX 16384 /* bytes */
#define USER_EXTERNAL_ID_MAX 128 /* bytes */

struct user {
	char email[USER_EMAIL_MAX + 1];
	char country_code[4];   /* 1-3 digits, a real ITU calling code */
	char phone_number[16];  /* digits only; cc + number <= 15 digits */
	char first_name[USER_NAME_MAX_BYTES + 1];
	char last_name[USER_NAME_MAX_BYTES + 1];
	char username[USER_NAME_MAX_BYTES + 1]; /* "" = not given */
	char date_of_birth[11]; /* YYYY-MM-DD, a real date; "" = not given */
	/* The source system's id for this person (never sent to the API);
	 * "" = not given. */
	char external_id[USER_EXTERNAL_ID_MAX + 1];
	/* Trimmed metadata text, borrowed from the input (NULL = not given).
	 * Whether it is a JSON object is decided by the payload module. */
	const char *metadata;
	size_t metadata_len;
};

/* One row's raw cells. field[i] == NULL means the column is absent from the
 * file; "" means present but empty. Cells are borrowed, NUL-terminated, and
 * may hold any bytes (invalid UTF-8, control characters). */
struct user_input {
	const char *field[USER_FIELD_COUNT];
	size_t len[USER_FIELD_COUNT];
};

struct user_rules {
	/* Calling code used for a "phone" value that does not start with '+'
	 * or "00" (import.default_country_code); NULL = such values invalid. */
	const char *default_country_code;
};

/*
 * Trims each cell (space, tab, CR, LF), drops one leading "'" that protects
 * a cell starting with = + - @ tab or CR (so a rejects file re-imports as it
 * is; the rest is trimmed again), and validates every field in enum order.
 * Phone: country_code + phone_number are used when either column exists,
 * unless both cells are empty and a "phone" cell is not; then "phone" is
 * split (with rules->default_country_code; rules may be NULL). When both
 * forms are filled in, country_code + phone_number win.
 * Returns 0 with *u filled, or -1 with err set to "<field>: <reason>" for the
 * first invalid field; *u is then unspecified. u->metadata points into in's
 * storage. Cells are read only within len; a NUL inside one is an error.
 */
int user_normalise(struct user *u, const struct user_input *in,
		   const struct user_rules *rules, struct err *err);

/*
 * The identity of a user for duplicate detection and the ledger: a 64-bit
 * number (< 2^63) that is equal for two users exactly when their
 * country_code and phone_number strings are equal. u must have been
 * normalised (cc 1-3 digits, national <= 14 digits).
 */
uint64_t user_phone_key(const struct user *u);

#endif
