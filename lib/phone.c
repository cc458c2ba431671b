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

#include "utf8.h"

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
 * National (trunk) prefixes: what a number written for dialling inside its
 * country carries in front of its national significant number ("07700
 * 900123" in the UK is +44 7700 900123). One row per prefix, longest first
 * within a code; a code without a row has no trunk prefix, so a leading 0
 * is part of the number (Italy's 06 ..., Cote d'Ivoire, Congo, Spain,
 * Greece, Poland, the Nordic plans but Finland and Sweden, ...).
 *
 * Taken from libphonenumber's resources/PhoneNumberMetadata.xml (v8.12.57,
 * as shipped in Debian's python3-phonenumbers): nationalPrefixForParsing of
 * each code's main region, or nationalPrefix where that is a pattern. Where
 * the metadata has a regular expression, this is what it means in digits:
 * the prefix is dropped only when the number, prefix included, has len
 * digits (0 = any): +1 and +692 "1", +7/+993/+998 "8" before a full number;
 * Mexico's old 01/02/044/045/1; Lithuania 8 or 0; Belarus 80, 8 or 0.
 * Carrier-selection codes (Brazil, Colombia, Argentina's 15, Korea) and the
 * transforms of small plans (Norfolk Island, San Marino, Gabon, the UK and
 * US dependencies' short local forms) are not applied: such numbers are
 * taken as written and the length checks decide.
 */
struct trunk_rule {
	unsigned short cc;   /* calling code */
	const char *prefix;  /* the trunk prefix, digits */
	unsigned char len;   /* digit count incl. the prefix, 0 = any */
};

/* clang-format off */
static const struct trunk_rule trunk_rules[] = {
	{1, "1", 11}, {7, "8", 11}, {20, "0", 0}, {27, "0", 0}, {31, "0", 0},
	{32, "0", 0}, {33, "0", 0}, {36, "06", 0}, {40, "0", 0},
	{41, "0", 0}, {43, "0", 0}, {44, "0", 0}, {46, "0", 0}, {49, "0", 0},
	{51, "0", 0}, {52, "044", 13}, {52, "045", 13}, {52, "01", 12},
	{52, "02", 12}, {52, "1", 11}, {53, "0", 0}, {54, "0", 0},
	{55, "0", 0}, {57, "0", 0}, {58, "0", 0}, {60, "0", 0}, {61, "0", 0},
	{62, "0", 0}, {63, "0", 0}, {64, "0", 0}, {66, "0", 0}, {81, "0", 0},
	{82, "0", 0}, {84, "0", 0}, {86, "0", 0}, {90, "0", 0}, {91, "0", 0},
	{92, "0", 0}, {93, "0", 0}, {94, "0", 0}, {95, "0", 0}, {98, "0", 0},
	{211, "0", 0}, {212, "0", 0}, {213, "0", 0}, {218, "0", 0},
	{231, "0", 0}, {232, "0", 0}, {233, "0", 0}, {234, "0", 0},
	{243, "0", 0}, {249, "0", 0}, {250, "0", 0}, {251, "0", 0},
	{252, "0", 0}, {254, "0", 0}, {255, "0", 0}, {256, "0", 0},
	{260, "0", 0}, {261, "0", 0}, {262, "0", 0}, {263, "0", 0},
	{264, "0", 0}, {265, "0", 0}, {291, "0", 0}, {353, "0", 0},
	{355, "0", 0}, {358, "0", 0}, {359, "0", 0}, {370, "8", 9},
	{370, "0", 9}, {373, "0", 0}, {374, "0", 0}, {375, "80", 11},
	{375, "8", 10}, {375, "0", 10}, {377, "0", 0}, {380, "0", 0},
	{381, "0", 0}, {382, "0", 0}, {383, "0", 0}, {385, "0", 0},
	{386, "0", 0}, {387, "0", 0}, {389, "0", 0}, {421, "0", 0},
	{423, "0", 0}, {508, "0", 0}, {590, "0", 0}, {591, "0", 0},
	{593, "0", 0}, {594, "0", 0}, {595, "0", 0}, {596, "0", 0},
	{598, "0", 0}, {686, "0", 0}, {692, "1", 8}, {850, "0", 0},
	{855, "0", 0}, {856, "0", 0}, {880, "0", 0}, {886, "0", 0},
	{961, "0", 0}, {962, "0", 0}, {963, "0", 0}, {964, "0", 0},
	{966, "0", 0}, {967, "0", 0}, {970, "0", 0}, {971, "0", 0},
	{972, "0", 0}, {976, "0", 0}, {977, "0", 0}, {993, "8", 9},
	{994, "0", 0}, {995, "0", 0}, {996, "0", 0}, {998, "8", 10},
};
/* clang-format on */

#define TRUNK_RULE_COUNT (sizeof(trunk_rules) / sizeof(trunk_rules[0]))

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
 * The error for the character at s[0..n): "unexpected character 'x'" or
 * "unexpected character 0x07" for ASCII and bytes that are not UTF-8,
 * "invalid character '＋' (U+FF0B)" for a character beyond ASCII.
 */
static int bad_char(const char *s, size_t n, struct err *err)
{
	char name[UTF8_NAME_MAX];
	uint32_t cp;

	utf8_char_name((const unsigned char *)s, n, name);
	if ((unsigned char)s[0] >= 0x80 && utf8_decode((const unsigned char *)s, n, &cp))
		return err_set(err, "invalid character %s", name);
	return err_set(err, "unexpected character %s", name);
}

/*
 * Copies the digits of s[0..n) to out (at most cap - 1 of them, always
 * NUL-terminated; cap >= 1) and counts all of them in *ndigits. Errors carry
 * no field name; a character that is not a digit or a separator is named
 * ("invalid character '＋' (U+FF0B)").
 */
static int clean(const char *s, size_t n, char *out, size_t cap,
		 size_t *ndigits, struct err *err)
{
	size_t i, k = 0;

	trim(&s, &n);
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
		} else if (!is_separator(s[i])) {
			return bad_char(s + i, n - i, err);
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
	if (clean(in, strlen(in), out, cap, &nd, err) < 0)
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
		if (!is_digit(s[i]))
			return bad_char(s + i, n - i, err);
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

/* The length of the trunk prefix that digits[0..nd) starts with, or 0. */
static size_t trunk_once(unsigned cc, const char *digits, size_t nd)
{
	size_t i, plen;

	for (i = 0; i < TRUNK_RULE_COUNT; i++) {
		const struct trunk_rule *r = &trunk_rules[i];

		if (r->cc != cc)
			continue;
		plen = strlen(r->prefix);
		if ((r->len == 0 || nd == r->len) && nd > plen &&
		    strncmp(digits, r->prefix, plen) == 0)
			return plen;
	}
	return 0;
}

/* A prefix written twice ("00 7700 ...") goes too: what is left never starts
 * with one, so a normalised number normalises to itself. */
size_t phone_trunk_len(const char *cc, const char *digits)
{
	unsigned v = 0;
	size_t i, nd = strlen(digits), skip = 0, k;

	for (i = 0; cc[i] && i < PHONE_CC_MAX; i++)
		v = v * 10 + (unsigned)(cc[i] - '0');
	while ((k = trunk_once(v, digits + skip, nd - skip)) > 0)
		skip += k;
	return skip;
}

int phone_check(const char *cc_in, const char *number_in, char cc_out[4],
		char national_out[16], struct err *err)
{
	char cc[PHONE_CC_MAX + 1];
	char digits[PHONE_DIGITS_MAX];
	size_t nd, skip;

	if (parse_cc(cc_in ? cc_in : "", cc, err) < 0)
		return err_prefix(err, "country_code");
	if (clean(number_in ? number_in : "", number_in ? strlen(number_in) : 0,
		  digits, sizeof(digits), &nd, err) < 0)
		return err_prefix(err, "phone_number");
	skip = nd < sizeof(digits) ? phone_trunk_len(cc, digits) : 0;
	if (check_lengths("phone_number", cc, digits + skip, nd - skip,
			  national_out, err) < 0)
		return -1;
	memcpy(cc_out, cc, sizeof(cc));
	return 0;
}

int phone_split(const char *in, const char *default_cc, char cc[4],
		char national[16], struct err *err)
{
	char digits[PHONE_DIGITS_MAX];
	char code[PHONE_CC_MAX + 1];
	const char *s = in ? in : "";
	const char *prefix = ""; /* "+" or "00" of an international value */
	size_t n = strlen(s), nd, len, skip;
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
		if (clean(s, n, digits, sizeof(digits), &nd, err) < 0)
			return err_prefix(err, "phone");
		return err_set(err, "phone: must start with '+' or '00' (or "
				    "set import.default_country_code)");
	}
	if (clean(s, n, digits, sizeof(digits), &nd, err) < 0)
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
		/* "+44 (0)20 ...", "+44 07700 ...": the trunk prefix is not
		 * dialled from abroad, except where the 0 is part of the
		 * number (Italy) */
		skip = len + (nd < sizeof(digits)
				      ? phone_trunk_len(code, digits + len)
				      : 0);
	} else {
		skip = nd < sizeof(digits) ? phone_trunk_len(code, digits) : 0;
	}
	if (check_lengths("phone", code, digits + skip, nd - skip, national,
			  err) < 0)
		return -1;
	memcpy(cc, code, sizeof(code));
	return 0;
}
