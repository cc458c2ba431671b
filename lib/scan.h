/*
 * scan.h - the input of an import, row by row: pass 1 validates every row
 * and finds duplicate phones (nothing is sent if the file is broken, and
 * the total is known); pass 2 reads exactly the same bytes again and hands
 * each row over validated, with its status (valid, invalid, duplicate),
 * error and the cells the results file shows. Knows nothing of requests.
 */
#ifndef DOTS_SCAN_H
#define DOTS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dupset.h"
#include "err.h"
#include "reader.h"
#include "status.h"
#include "user.h"

#define SCAN_ERROR_MAX ERR_MSG_MAX
#define SCAN_RAW_MAX 64   /* bytes of a raw phone cell kept for the results */

struct scan_opts {
	const char *path;
	const char *const *columns;   /* config columns: API field -> header, or NULL */
	const char *default_country_code; /* for a `phone` column, or NULL */
	unsigned shard_k, shard_n;    /* --shard K/N; shard_n 0 = every row */
	char delimiter;               /* forced field delimiter, 0 = detect */
	const char *encoding;         /* iconv name, NULL = UTF-8 (BOM-detected UTF-16) */
};

struct scan {
	struct reader *rd;
	int col[USER_FIELD_COUNT];
	struct user_rules rules;
	unsigned shard_k, shard_n;
	struct dupset dups;           /* phones that occur more than once */
	struct dupset ext_dups;       /* external ids (by 64-bit hash), likewise */
	size_t total;                 /* rows of this shard (known after pass 1) */
	size_t invalid;               /* of them invalid */
};

/* One row of pass 2. row/line always; the rest for rows of this shard. */
struct scan_row {
	size_t row, line;
	bool ours;                    /* in this shard */
	enum row_status status;       /* ROW_VALID, ROW_INVALID or ROW_DUPLICATE */
	char error[SCAN_ERROR_MAX + 1]; /* why not valid */
	struct user user;             /* normalised, when valid */
	uint64_t key;                 /* phone key, when valid */
	char email[USER_EMAIL_MAX + 1]; /* cells for the results (raw when invalid) */
	char country_code[SCAN_RAW_MAX + 1]; /* normalised, or as given when invalid */
	char phone_number[SCAN_RAW_MAX + 1];
};

/* Opens the input, maps its columns, runs pass 1 and seals the bytes read
 * (reader_seal). Fails (err set, nothing sent) on a file or header error. */
int scan_open(struct scan *s, const struct scan_opts *o, struct err *err);

/* The next row of pass 2: 1, 0 at the end, -1 (err set) when the file
 * cannot be read or changed since pass 1 (scan_changed). */
int scan_next(struct scan *s, struct scan_row *out, struct err *err);

bool scan_changed(const struct scan *s);

/* Bytes appended to the input since pass 1. */
long long scan_appended(const struct scan *s);

void scan_release(struct scan *s);

/* The key of a non-empty external id for duplicate detection: FNV-1a 64
 * of its bytes, never 0. */
uint64_t scan_external_key(const char *external_id);

/* The shard (0..n-1) of a phone: FNV-1a 64 of "<country_code>:<phone_number>"
 * modulo n. Stable across versions and machines (documented in README). */
unsigned scan_shard_of(const char *country_code, const char *phone_number, unsigned n);

#endif
