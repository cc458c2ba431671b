/*
 * reasons.h - why rows did not succeed, grouped for the run report: each
 * error message becomes its reason (the message with the row's own values
 * taken out: `email: domain "..." has no dot`, `HTTP 422: ...`), counted,
 * with the first rows of each kept as examples. Bounded: REASONS_MAX
 * reasons (later new ones count as "other"), REASONS_EXAMPLES rows each.
 * Pure; the examples hold personal data (emails, phones): the masking
 * helpers are here so every caller masks the same way.
 */
#ifndef DOTS_REASONS_H
#define DOTS_REASONS_H

#include <stddef.h>
#include <stdint.h>

#define REASONS_MAX 20
#define REASONS_EXAMPLES 5
#define REASONS_TEXT_MAX 160  /* bytes of a reason's text */
#define REASONS_CELL_MAX 80   /* bytes of an example's email or phone */

/* A row that had the reason. Strings are copied (cut at the maximum). */
struct reason_row {
	size_t row, line;                    /* 0 = the command has none */
	char status[24];                     /* as in the results ("failed") */
	char email[REASONS_CELL_MAX + 1];    /* as given: personal data */
	char phone[REASONS_CELL_MAX + 1];    /* "+CC NUMBER" as given: personal data */
};

struct reason {
	char text[REASONS_TEXT_MAX + 1];     /* the reason (reasons_class) */
	uint64_t count;                      /* rows with it */
	size_t seq;                          /* order of first sight */
	size_t nrows;                        /* examples kept */
	struct reason_row rows[REASONS_EXAMPLES];
};

struct reasons {
	size_t n;                  /* reasons in r[] */
	struct reason r[REASONS_MAX];
	uint64_t other;            /* rows whose reason found no room */
	uint64_t total;            /* rows added */
};

void reasons_init(struct reasons *rs);

/* Counts a row under the reason of msg (NULL or "" is not counted). */
void reasons_add(struct reasons *rs, const char *msg, const struct reason_row *row);

/* Orders the reasons by count, most first (ties: first seen first). */
void reasons_sort(struct reasons *rs);

/*
 * The reason of a message, into out (always terminated): a leading
 * "row N: " or "line N: " goes; a quoted value of 2 or more characters
 * becomes "..."; a number becomes N unless it follows "HTTP " or is part
 * of a word (UTF-8, x00); a word with an "@" inside becomes "...@...".
 */
void reasons_class(const char *msg, char *out, size_t cap);

/* "jane.doe@example.com" -> "j***@e***.com"; no "@": first character and
 * "***"; "" stays "". */
void reasons_mask_email(const char *in, char *out, size_t cap);

/* Every digit but the first two and the last two becomes '*' (all of them
 * when there are 4 or fewer); other characters stay. */
void reasons_mask_phone(const char *in, char *out, size_t cap);

#endif
