/*
 * phone.h - telephone numbers: the ITU-T E.164 calling-code table, digit
 * cleaning, and splitting an international number into calling code and
 * national number.
 *
 * Pure logic, no I/O, no allocation.
 */
#ifndef DOTS_PHONE_H
#define DOTS_PHONE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* True when digits (1-3 ASCII digits, no '+') is an assigned ITU calling code. */
bool phone_is_calling_code(const char *digits);

/*
 * Copies the digits of in to out (cap bytes incl. NUL), dropping spaces,
 * tabs, dashes, dots and parentheses (blanks at either end are trimmed).
 * Any other character ('+', '/', letters, control bytes) is an error naming
 * it: "unexpected character 'x'", "unexpected character 0x07" (a control
 * or a byte that is not UTF-8), "invalid character '＋' (U+FF0B)" (beyond
 * ASCII). A spreadsheet's "1.23457E+09" gets its own reason naming
 * scientific notation. Other errors: "empty", "no digits", "too long (N
 * digits, max cap-1)". Messages carry no field name. Returns 0 or -1.
 */
int phone_clean_digits(const char *in, char *out, size_t cap, struct err *err);

/*
 * Splits an international number ("+1 415-555-0100", "0044 20 7946 0958")
 * into cc (4 bytes) and national (16 bytes), using the one matching calling
 * code (the table is prefix-free). A value without '+' or "00" is in
 * national form and uses default_cc when given (else an error). Either way
 * the national part loses its trunk prefix (phone_trunk_len): "+44 (0)20
 * ...", "020 ..." with default 44, but Italy's 06 stays. Checks the lengths of the README
 * section 3 (cc + national <= 15 digits; 10 national digits for code 1;
 * national >= 4 digits). Errors start with "phone: ". Returns 0 or -1.
 */
int phone_split(const char *in, const char *default_cc, char cc[4],
		char national[16], struct err *err);

/*
 * Validates an already split pair: cc 1-3 digits and assigned (a leading '+'
 * is accepted and dropped), number cleaned of separators and its trunk
 * prefix (phone_trunk_len: "44","07700 900123" is 44 7700900123, "39",
 * "06 ..." keeps its 0), lengths as above. Writes the normalised forms to cc_out / national_out. Returns 0 or -1 with
 * err starting "country_code: " or "phone_number: ". NULL inputs count as "".
 */
int phone_check(const char *cc_in, const char *number_in, char cc_out[4],
		char national_out[16], struct err *err);

/*
 * How many leading digits of digits (a number in national form, separators
 * gone) are the trunk prefix of calling code cc, to be dropped: "0" in most
 * of Europe, Africa and Asia (UK, DE, FR, AU, NZ, JP, ...), none where the
 * plan has no trunk prefix (IT, ES, PL, DK, NO, ...), "06" in Hungary, "8"
 * before a 10-digit number for +7, "1" before 10 digits for +1. Never the
 * whole number. The table comes from libphonenumber's metadata (phone.c).
 */
size_t phone_trunk_len(const char *cc, const char *digits);

#endif
