/*
 * phone.c - the ITU-T E.164 calling-code table, cleaning a phone value down to
 * its digits, and splitting an international number into code + national part.
 * Pure logic: no I/O, no allocation. It never guesses: a spreadsheet's
 * "1.23457E+09" or an unknown calling code is an error with a precise reason.
 */
#include "phone.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define PHONE_E164_MAX 15    /* digits, calling code included (E.164) */
#define PHONE_NATIONAL_MIN 4 /* Niue, Tokelau, St Helena: 4-5 digit numbers */
#define PHONE_NANP_LEN 10    /* national digits for calling code 1 */
#define PHONE_CC_MAX 3	     /* digits of a calling code */
#define PHONE_QUOTE_MAX 40   /* bytes of an input value quoted in a message */
#define PHONE_DIGITS_MAX 64  /* digits we keep while cleaning before checks */

/*
 * Assigned calling codes (ITU-T E.164 list and its amendments), by zone.
 * Spare or withdrawn codes are absent: 0, 28x, 42 (only 420, 421, 423),
 * 80x but 800/808, 83x, 851/854/857-859, 871-877, 879, 884/885/887/889, 89x,
 * 210/214/215/217/219, 259, 292-296, 384, 388 (ETNS, withdrawn), 422,
 * 424-429, 671 and 684 (now inside +1), 693-699, 969, 978, 990/991,
 * 997 (reserved for Kazakhstan, never brought into use: it stays on +7), 999.
 * The set is prefix-free, so at most one of the 1-, 2- and 3-digit prefixes
 * of a number is in it.
 */
/* clang-format off */
static const unsigned short calling_codes[] = {
	/* zone 1: North American Numbering Plan */
	1,
	/* zone 2: Africa and some Atlantic islands */
	20, 27,
	211, 212, 213, 216, 218,
	220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
	230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
	240, 241, 242, 243, 244, 245, 246, 247, 248, 249,
	250, 251, 252, 253, 254, 255, 256, 257, 258,
	260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
	290, 291, 297, 298, 299,
	/* zones 3 and 4: Europe */
	30, 31, 32, 33, 34, 36, 39,
	350, 351, 352, 353, 354, 355, 356, 357, 358, 359,
	370, 371, 372, 373, 374, 375, 376, 377, 378, 379,
	380, 381, 382, 383, 385, 386, 387, 389,
	40, 41, 43, 44, 45, 46, 47, 48, 49,
	420, 421, 423,
	/* zone 5: South and Central America */
	51, 52, 53, 54, 55, 56, 57, 58,
	500, 501, 502, 503, 504, 505, 506, 507, 508, 509,
	590, 591, 592, 593, 594, 595, 596, 597, 598, 599,
	/* zone 6: South-east Asia and Oceania */
	60, 61, 62, 63, 64, 65, 66,
	670, 672, 673, 674, 675, 676, 677, 678, 679,
	680, 681, 682, 683, 685, 686, 687, 688, 689,
	690, 691, 692,
	/* zone 7: Russia, Kazakhstan */
	7,
	/* zone 8: East Asia and global services */
	81, 82, 84, 86,
	800, 808, 850, 852, 853, 855, 856, 870, 878,
	880, 881, 882, 883, 886, 888,
	/* zone 9: West, Central and South Asia */
	90, 91, 92, 93, 94, 95, 98,
	960, 961, 962, 963, 964, 965, 966, 967, 968,
	970, 971, 972, 973, 974, 975, 976, 977, 979,
	992, 993, 994, 995, 996, 998,
};
/* clang-format on */

#define CALLING_CODE_COUNT (sizeof(calling_codes) / sizeof(calling_codes[0]))

/*
 * How a number written in national form (read with a default calling code)
 * loses its trunk prefix. Codes not listed drop one leading "0". The prefix is
 * dropped only when the digits number national_len (0 = any length).
 */
/* clang-format off */
static const struct trunk_rule {
	const char *cc;      /* calling code */
	const char *prefix;  /* trunk prefix, "" = a leading 0 is significant */
	size_t national_len; /* digit count incl. prefix, 0 = any */
} trunk_rules[] = {
	{"1", "1", PHONE_NANP_LEN + 1}, /* NANP: 1 415 555 0100 */
	{"7", "8", 11},                 /* Russia, Kazakhstan: 8 912 ... */
	{"36", "06", 0},                /* Hungary */
	{"39", "", 0},                  /* Italy keeps the 0 of 06 ... */
	{"378", "", 0},                 /* San Marino: 0549 ... */
	{"379", "", 0},                 /* Vatican (numbers of Italy) */
	{"225", "", 0},                 /* Cote d'Ivoire: 10 digits since 2021 */
	{"242", "", 0},                 /* Republic of the Congo: 06 ... */
};
/* clang-format on */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Separators people and spreadsheets put between groups of digits. */
static bool is_separator(char c)
{
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' ||
	       c == ')';
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_blank((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* Names a byte for a message: 'E' when printable ASCII, else 0x07. */
static void char_name(unsigned char c, char out[8])
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(out, 8, "'%c'", c);
	else
		snprintf(out, 8, "0x%02X", (unsigned)c);
}

/* True when the first len (1-3) chars of s are digits forming a code. */
static bool is_code(const char *s, size_t len)
{
	unsigned short v = 0;
	size_t i;

	if (len < 1 || len > PHONE_CC_MAX || s[0] == '0')
		return false;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = (unsigned short)(v * 10 + (unsigned short)(s[i] - '0'));
	}
	/* A linear scan: at most three look-ups per row, 230-odd entries. */
	for (i = 0; i < CALLING_CODE_COUNT; i++)
		if (calling_codes[i] == v)
			return true;
	return false;
}

bool phone_is_calling_code(const char *digits)
{
	size_t len;

	if (!digits)
		return false;
	len = strnlen(digits, PHONE_CC_MAX + 1);
	return len <= PHONE_CC_MAX && is_code(digits, len);
}

/*
 * True for what a spreadsheet shows when it has turned a long number into a
 * float: [0-9.,]+ [eE] [+-]? [0-9]+ ("1.23457E+09", "4,15555e+09").
 */
static bool is_scientific(const char *s, size_t n)
{
	size_t i = 0, mantissa_digits = 0, exp_digits = 0;

	for (; i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == ','); i++)
		mantissa_digits += is_digit(s[i]);
	if (mantissa_digits == 0 || i == n || (s[i] != 'E' && s[i] != 'e'))
		return false;
	i++;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < n && is_digit(s[i]); i++)
		exp_digits++;
	return exp_digits > 0 && i == n;
}

/*
 * Copies the digits of s[0..n) to out (at most cap - 1 of them, always
 * NUL-terminated; cap >= 1) and counts all of them in *ndigits. When zero_at
 * is given it receives the index of the digit written as "(0)" (the
 * "+44 (0)20 ..." notation), or SIZE_MAX. Errors carry no field name.
 */
static int clean(const char *s, size_t n, char *out, size_t cap,
		 size_t *ndigits, size_t *zero_at, struct err *err)
{
	char name[8];
	size_t i, k = 0;

	trim(&s, &n);
	if (zero_at)
		*zero_at = SIZE_MAX;
	if (n == 0)
		return err_set(err, "empty");
	if (is_scientific(s, n))
		return err_set(err,
			       "\"%.*s\" is a number in scientific notation, "
			       "as a spreadsheet shows it (store phone "
			       "numbers as text)",
			       (int)(n < PHONE_QUOTE_MAX ? n : PHONE_QUOTE_MAX),
			       s);
	for (i = 0; i < n; i++) {
		if (is_digit(s[i])) {
			if (k + 1 < cap)
				out[k] = s[i];
			k++;
		} else if (is_separator(s[i])) {
			if (zero_at && *zero_at == SIZE_MAX && s[i] == '(' &&
			    i + 2 < n && s[i + 1] == '0' && s[i + 2] == ')')
				*zero_at = k;
		} else {
			char_name((unsigned char)s[i], name);
			return err_set(err, "unexpected character %s", name);
		}
	}
	out[k + 1 < cap ? k : cap - 1] = '\0';
	if (k == 0)
		return err_set(err, "no digits");
	*ndigits = k;
	return 0;
}

int phone_clean_digits(const char *in, char *out, size_t cap, struct err *err)
{
	size_t nd;

	if (!in || !out || cap == 0)
		return err_set(err, "no phone number buffer");
	if (clean(in, strlen(in), out, cap, &nd, NULL, err) < 0)
		return -1;
	if (nd > cap - 1)
		return err_set(err, "too long (%zu digits, max %zu)", nd,
			       cap - 1);
	return 0;
}

/*
 * Parses a calling code: trimmed, one leading '+' dropped, 1-3 digits,
 * assigned. Writes it to out. Errors carry no field name.
 */
static int parse_cc(const char *s, char out[PHONE_CC_MAX + 1], struct err *err)
{
	char name[8];
	size_t i, n = strlen(s);

	trim(&s, &n);
	if (n == 0)
		return err_set(err, "empty");
	if (s[0] == '+') {
		s++;
		n--;
		if (n == 0)
			return err_set(err, "no digits after '+'");
	}
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i])) {
			char_name((unsigned char)s[i], name);
			return err_set(err, "unexpected character %s", name);
		}
	}
	if (n > PHONE_CC_MAX)
		return err_set(err, "too long (%zu digits, max %d)", n,
			       PHONE_CC_MAX);
	if (!is_code(s, n))
		return err_set(err, "%.*s is not an ITU calling code", (int)n,
			       s);
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/*
 * The length rules of the README for nd national digits under cc;
 * on success copies them to national_out (16 bytes).
 */
static int check_lengths(const char *field, const char *cc,
			 const char *national, size_t nd, char national_out[16],
			 struct err *err)
{
	size_t total = strlen(cc) + nd;

	if (strcmp(cc, "1") == 0 && nd != PHONE_NANP_LEN)
		return err_set(err,
			       "%s: %zu digits, expected %d for country "
			       "code 1",
			       field, nd, PHONE_NANP_LEN);
	if (total > PHONE_E164_MAX)
		return err_set(err,
			       "%s: too long (%zu digits with the country "
			       "code, max %d)",
			       field, total, PHONE_E164_MAX);
	if (nd < PHONE_NATIONAL_MIN)
		return err_set(err, "%s: too short (%zu digits, min %d)", field,
			       nd, PHONE_NATIONAL_MIN);
	memcpy(national_out, national, nd);
	national_out[nd] = '\0';
	return 0;
}

int phone_check(const char *cc_in, const char *number_in, char cc_out[4],
		char national_out[16], struct err *err)
{
	char cc[PHONE_CC_MAX + 1];
	char digits[PHONE_DIGITS_MAX];
	size_t nd;

	if (parse_cc(cc_in ? cc_in : "", cc, err) < 0)
		return err_prefix(err, "country_code");
	if (clean(number_in ? number_in : "", number_in ? strlen(number_in) : 0,
		  digits, sizeof(digits), &nd, NULL, err) < 0)
		return err_prefix(err, "phone_number");
	if (check_lengths("phone_number", cc, digits, nd, national_out, err) <
	    0)
		return -1;
	memcpy(cc_out, cc, sizeof(cc));
	return 0;
}

/* The trunk rule for cc, or NULL when the default (drop one "0") applies. */
static const struct trunk_rule *trunk_rule_for(const char *cc)
{
	size_t i;

	for (i = 0; i < sizeof(trunk_rules) / sizeof(trunk_rules[0]); i++)
		if (strcmp(trunk_rules[i].cc, cc) == 0)
			return &trunk_rules[i];
	return NULL;
}

/* How many leading digits of a national-form number are its trunk prefix. */
static size_t trunk_len(const char *cc, const char *digits, size_t nd)
{
	const struct trunk_rule *r = trunk_rule_for(cc);
	size_t plen;

	if (!r)
		return digits[0] == '0' ? 1 : 0;
	plen = strlen(r->prefix);
	if (plen == 0 || (r->national_len && nd != r->national_len) ||
	    nd < plen || strncmp(digits, r->prefix, plen) != 0)
		return 0;
	return plen;
}

int phone_split(const char *in, const char *default_cc, char cc[4],
		char national[16], struct err *err)
{
	char digits[PHONE_DIGITS_MAX];
	char code[PHONE_CC_MAX + 1];
	const char *s = in ? in : "";
	const char *prefix = ""; /* "+" or "00" of an international value */
	size_t n = strlen(s), nd, zero_at, len, skip;
	bool intl;

	trim(&s, &n);
	if (n == 0)
		return err_set(err, "phone: empty");
	if (s[0] == '+' || (n >= 2 && s[0] == '0' && s[1] == '0')) {
		intl = true;
		prefix = s[0] == '+' ? "+" : "00";
		len = strlen(prefix);
		s += len;
		n -= len;
		/* "+\r\r8": blanks after the prefix would otherwise be
		 * quoted in the message below, a CR breaking its line */
		trim(&s, &n);
		if (n == 0)
			return err_set(err, "phone: no digits after '%s'",
				       prefix);
	} else if (default_cc && *default_cc) {
		intl = false;
		if (parse_cc(default_cc, code, err) < 0)
			return err_prefix(err,
					  "phone: import.default_country_code");
	} else {
		/* Say "scientific notation" rather than "must start with +". */
		if (clean(s, n, digits, sizeof(digits), &nd, NULL, err) < 0)
			return err_prefix(err, "phone");
		return err_set(err, "phone: must start with '+' or '00' (or "
				    "set import.default_country_code)");
	}
	if (clean(s, n, digits, sizeof(digits), &nd, &zero_at, err) < 0)
		return err_prefix(err, "phone");

	if (intl) {
		for (len = 1; len <= PHONE_CC_MAX && len <= nd; len++)
			if (is_code(digits, len))
				break;
		if (len > PHONE_CC_MAX || len > nd)
			return err_set(
			    err,
			    "phone: \"%s%.*s\" does not start "
			    "with an ITU calling code",
			    prefix,
			    (int)(n < PHONE_QUOTE_MAX ? n : PHONE_QUOTE_MAX),
			    s);
		memcpy(code, digits, len);
		code[len] = '\0';
		skip = len;
		/* "+44 (0)20 ...": the bracketed trunk 0 is not dialled from
		 * abroad, except where the 0 is part of the number (Italy). */
		if (zero_at == len && !trunk_rule_for(code))
			skip++;
	} else {
		skip = trunk_len(code, digits, nd);
	}
	if (check_lengths("phone", code, digits + skip, nd - skip, national,
			  err) < 0)
		return -1;
	memcpy(cc, code, sizeof(code));
	return 0;
}
