/*
 * test_phone.c - unit tests for lib/phone.c: the calling-code table (every
 * assigned code in, spare codes out, prefix-free), digit cleaning, splitting
 * international numbers and checking split pairs, with exact error messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "phone.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The ITU-T E.164 assigned codes, written out independently of lib/phone.c. */
/* clang-format off */
static const char *const assigned[] = {
	"1",   "7",   "20",  "27",  "30",  "31",  "32",  "33",  "34",  "36",
	"39",  "40",  "41",  "43",  "44",  "45",  "46",  "47",  "48",  "49",
	"51",  "52",  "53",  "54",  "55",  "56",  "57",  "58",  "60",  "61",
	"62",  "63",  "64",  "65",  "66",  "81",  "82",  "84",  "86",  "90",
	"91",  "92",  "93",  "94",  "95",  "98",  "211", "212", "213", "216",
	"218", "220", "221", "222", "223", "224", "225", "226", "227", "228",
	"229", "230", "231", "232", "233", "234", "235", "236", "237", "238",
	"239", "240", "241", "242", "243", "244", "245", "246", "247", "248",
	"249", "250", "251", "252", "253", "254", "255", "256", "257", "258",
	"260", "261", "262", "263", "264", "265", "266", "267", "268", "269",
	"290", "291", "297", "298", "299", "350", "351", "352", "353", "354",
	"355", "356", "357", "358", "359", "370", "371", "372", "373", "374",
	"375", "376", "377", "378", "379", "380", "381", "382", "383", "385",
	"386", "387", "389", "420", "421", "423", "500", "501", "502", "503",
	"504", "505", "506", "507", "508", "509", "590", "591", "592", "593",
	"594", "595", "596", "597", "598", "599", "670", "672", "673", "674",
	"675", "676", "677", "678", "679", "680", "681", "682", "683", "685",
	"686", "687", "688", "689", "690", "691", "692", "800", "808", "850",
	"852", "853", "855", "856", "870", "878", "880", "881", "882", "883",
	"886", "888", "960", "961", "962", "963", "964", "965", "966", "967",
	"968", "970", "971", "972", "973", "974", "975", "976", "977", "979",
	"992", "993", "994", "995", "996", "998",
};
/* clang-format on */

/* Spare, withdrawn or malformed: none of these is a calling code. */
/* clang-format off */
static const char *const not_assigned[] = {
	"0",   "00",  "01",  "001", "044", "2",   "3",   "28",  "280", "289",
	"210", "214", "215", "217", "219", "259", "292", "293", "294", "295",
	"296", "42",  "422", "424", "429", "80",  "801", "807", "809", "83",
	"830", "851", "854", "857", "859", "87",  "871", "874", "875", "879",
	"88",  "884", "885", "887", "889", "89",  "890", "96",  "969", "97",
	"978", "99",  "990", "991", "997", "999", "384", "388", "671", "684",
	"693", "699", "1234", "4412", "",   "+1",  "+44", "4a",  " 44", "44 ",
	"1 ",  "x",   "-1",
};
/* clang-format on */

static void test_assigned_codes_are_calling_codes(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(assigned); i++)
		if (!phone_is_calling_code(assigned[i]))
			fail_msg("%s should be a calling code", assigned[i]);
}

static void test_spare_codes_are_rejected(void **state)
{
	size_t i;

	(void)state;
	assert_false(phone_is_calling_code(NULL));
	for (i = 0; i < ARRAY_LEN(not_assigned); i++)
		if (phone_is_calling_code(not_assigned[i]))
			fail_msg("\"%s\" should not be a calling code",
				 not_assigned[i]);
}

/* Nothing outside the list above is accepted: the table has no extras. */
static void test_table_has_exactly_the_assigned_codes(void **state)
{
	char code[16];
	size_t count = 0;
	int v;

	(void)state;
	for (v = 1; v <= 999; v++) {
		snprintf(code, sizeof(code), "%d", v);
		count += phone_is_calling_code(code);
	}
	assert_int_equal(count, ARRAY_LEN(assigned));
}

/* E.164 codes are prefix-free, which makes splitting unambiguous. */
static void test_table_is_prefix_free(void **state)
{
	char code[16], prefix[16];
	size_t len;
	int v;

	(void)state;
	for (v = 10; v <= 999; v++) {
		snprintf(code, sizeof(code), "%d", v);
		if (!phone_is_calling_code(code))
			continue;
		for (len = 1; len < strlen(code); len++) {
			memcpy(prefix, code, len);
			prefix[len] = '\0';
			if (phone_is_calling_code(prefix))
				fail_msg("%s is a prefix of %s", prefix, code);
		}
	}
}

struct clean_case {
	const char *in;
	size_t cap;
	const char *out; /* expected digits, NULL = error */
	const char *err; /* expected message */
};

static const struct clean_case clean_cases[] = {
    {"415-555-0100", 16, "4155550100", NULL},
    {"(415) 555.0100", 16, "4155550100", NULL},
    {" \t20 7946 0958\t ", 16, "2079460958", NULL},
    {"0", 16, "0", NULL},
    {"123456789012345", 16, "123456789012345", NULL},
    {"1234567890123456", 16, NULL, "too long (16 digits, max 15)"},
    {"12345", 4, NULL, "too long (5 digits, max 3)"},
    {"", 16, NULL, "empty"},
    {"   ", 16, NULL, "empty"},
    {"-().", 16, NULL, "no digits"},
    {"1.23457E+09", 16, NULL,
     "\"1.23457E+09\" is a number in scientific notation, as a "
     "spreadsheet shows it (store phone numbers as text)"},
    {"4,15555e9", 16, NULL,
     "\"4,15555e9\" is a number in scientific notation, as a spreadsheet "
     "shows it (store phone numbers as text)"},
    {"1E5x", 16, NULL, "unexpected character 'E'"},
    {"E+09", 16, NULL, "unexpected character 'E'"},
    {"+44 20", 16, NULL, "unexpected character '+'"},
    {"555/0100", 16, NULL, "unexpected character '/'"},
    {"555\a0100", 16, NULL, "unexpected character 0x07"},
    {"555\r\n0100", 16, NULL, "unexpected character 0x0D"},
    {"555\xc2\xa0"
     "0100",
     16, NULL, "invalid character U+00A0"},
    {"\xef\xbc\x8b" "44 20", 16, NULL, "invalid character '\xef\xbc\x8b' (U+FF0B)"},
    {"44\xe9", 16, NULL, "unexpected character 0xE9"},
    {"ext 12", 16, NULL, "unexpected character 'e'"},
};

static void test_clean_digits(void **state)
{
	char out[64];
	struct err err;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < ARRAY_LEN(clean_cases); i++) {
		const struct clean_case *c = &clean_cases[i];

		err_init(&err);
		rc = phone_clean_digits(c->in, out, c->cap, &err);
		if (c->out && (rc != 0 || strcmp(out, c->out) != 0))
			fail_msg("clean \"%s\": got rc %d \"%s\" (%s), want "
				 "\"%s\"",
				 c->in, rc, out, err.msg, c->out);
		if (!c->out && (rc != -1 || strcmp(err.msg, c->err) != 0))
			fail_msg("clean \"%s\": got rc %d \"%s\", want \"%s\"",
				 c->in, rc, err.msg, c->err);
	}
}

struct split_case {
	const char *in;
	const char *default_cc;
	const char *cc;	      /* expected, NULL = error */
	const char *national; /* expected */
	const char *err;      /* expected message */
};

static const struct split_case split_cases[] = {
    /* the length of the calling code comes from the table */
    {"+1 (415) 555-0100", NULL, "1", "4155550100", NULL},
    {"+1-242-555-0100", NULL, "1", "2425550100", NULL},
    {"+7 912 345-67-89", NULL, "7", "9123456789", NULL},
    {"+20 10 1234 5678", NULL, "20", "1012345678", NULL},
    {"+27 82 123 4567", NULL, "27", "821234567", NULL},
    {"+212 6 12 34 56 78", NULL, "212", "612345678", NULL},
    {"+33 1 23 45 67 89", NULL, "33", "123456789", NULL},
    {"+351 912 345 678", NULL, "351", "912345678", NULL},
    {"+353 85 123 4567", NULL, "353", "851234567", NULL},
    {"+380 44 123 4567", NULL, "380", "441234567", NULL},
    {"+420 601 123 456", NULL, "420", "601123456", NULL},
    {"+44 20 7946 0958", NULL, "44", "2079460958", NULL},
    {"0044 20 7946 0958", NULL, "44", "2079460958", NULL},
    {"00 44 20 7946 0958", NULL, "44", "2079460958", NULL},
    {"+44 (0)20 7946 0958", NULL, "44", "2079460958", NULL},
    {"+39 06 1234 5678", NULL, "39", "0612345678", NULL},
    {"+39 (0)6 1234 5678", NULL, "39", "0612345678", NULL},
    {"+683 1234", NULL, "683", "1234", NULL},
    {"+86 138 0013 8000", NULL, "86", "13800138000", NULL},
    {"+880 1712 345678", NULL, "880", "1712345678", NULL},
    {"+91 98765 43210", NULL, "91", "9876543210", NULL},
    {"+998 90 123 45 67", NULL, "998", "901234567", NULL},
    {"+882 1234 5678 90", NULL, "882", "1234567890", NULL},
    {"  +49 30 123456  ", NULL, "49", "30123456", NULL},
    /* a default calling code for national-form values */
    {"(415) 555-0100", "1", "1", "4155550100", NULL},
    {"1 415 555 0100", "1", "1", "4155550100", NULL},
    {"020 7946 0958", "44", "44", "2079460958", NULL},
    {"020 7946 0958", "+44", "44", "2079460958", NULL},
    {"06 1234 5678", "39", "39", "0612345678", NULL},
    {"8 912 345-67-89", "7", "7", "9123456789", NULL},
    {"912 345-67-89", "7", "7", "9123456789", NULL},
    {"06 1 234 5678", "36", "36", "12345678", NULL},
    {"+33 1 23 45 67 89", "44", "33", "123456789", NULL},
    {"020 7946 0958", "999", NULL, NULL,
     "phone: import.default_country_code: 999 is not an ITU calling code"},
    /* errors */
    {"020 7946 0958", NULL, NULL, NULL,
     "phone: must start with '+' or '00' (or set "
     "import.default_country_code)"},
    {"020 7946 0958", "", NULL, NULL,
     "phone: must start with '+' or '00' (or set "
     "import.default_country_code)"},
    {"1.23457E+09", NULL, NULL, NULL,
     "phone: \"1.23457E+09\" is a number in scientific notation, as a "
     "spreadsheet shows it (store phone numbers as text)"},
    {"4.15555E+09", "1", NULL, NULL,
     "phone: \"4.15555E+09\" is a number in scientific notation, as a "
     "spreadsheet shows it (store phone numbers as text)"},
    {"", NULL, NULL, NULL, "phone: empty"},
    {" \t ", "1", NULL, NULL, "phone: empty"},
    {"+", NULL, NULL, NULL, "phone: no digits after '+'"},
    {"00", NULL, NULL, NULL, "phone: no digits after '00'"},
    {"+()", NULL, NULL, NULL, "phone: no digits"},
    {"+999 123 4567", NULL, NULL, NULL,
     "phone: \"+999 123 4567\" does not start with an ITU calling code"},
    {"+28 1234 5678", NULL, NULL, NULL,
     "phone: \"+28 1234 5678\" does not start with an ITU calling code"},
    {"000 44 20", NULL, NULL, NULL,
     "phone: \"000 44 20\" does not start with an ITU calling code"},
    {"+42", NULL, NULL, NULL,
     "phone: \"+42\" does not start with an ITU calling code"},
    {"+1 415 555 010", NULL, NULL, NULL,
     "phone: 9 digits, expected 10 for country code 1"},
    {"+1 1 415 555 0100", NULL, "1", "4155550100", NULL},
    {"+1 11 415 555 0100", NULL, NULL, NULL,
     "phone: 12 digits, expected 10 for country code 1"},
    {"+49 1234 5678 9012 3456", NULL, NULL, NULL,
     "phone: too long (18 digits with the country code, max 15)"},
    {"+44 123", NULL, NULL, NULL, "phone: too short (3 digits, min 4)"},
    {"+44 20 ABCD", NULL, NULL, NULL, "phone: unexpected character 'A'"},
    {"++44 20 7946 0958", NULL, NULL, NULL, "phone: unexpected character '+'"},
    {"tel:+44207946", NULL, NULL, NULL, "phone: unexpected character 't'"},
};

static void test_split(void **state)
{
	char cc[4], national[16];
	struct err err;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < ARRAY_LEN(split_cases); i++) {
		const struct split_case *c = &split_cases[i];

		err_init(&err);
		memset(cc, 0, sizeof(cc));
		memset(national, 0, sizeof(national));
		rc = phone_split(c->in, c->default_cc, cc, national, &err);
		if (c->cc && (rc != 0 || strcmp(cc, c->cc) != 0 ||
			      strcmp(national, c->national) != 0))
			fail_msg("split \"%s\": got rc %d +%s %s (%s), want "
				 "+%s %s",
				 c->in, rc, cc, national, err.msg, c->cc,
				 c->national);
		if (!c->cc && (rc != -1 || strcmp(err.msg, c->err) != 0))
			fail_msg("split \"%s\": got rc %d \"%s\", want \"%s\"",
				 c->in, rc, err.msg, c->err);
	}
}

struct check_case {
	const char *cc_in;
	const char *number_in;
	const char *cc;	      /* expected, NULL = error */
	const char *national; /* expected */
	const char *err;      /* expected message */
};

static const struct check_case check_cases[] = {
    {"1", "(415) 555-0100", "1", "4155550100", NULL},
    {"+1", "415.555.0100", "1", "4155550100", NULL},
    {" +44 ", "20 7946 0958", "44", "2079460958", NULL},
    {"44", "020 7946 0958", "44", "2079460958", NULL},
    {"7", "912 345-67-89", "7", "9123456789", NULL},
    {"683", "1234", "683", "1234", NULL},
    {"49", "123456789012", "49", "123456789012", NULL},
    {"998", "901234567890", "998", "901234567890", NULL},
    {"1", "415 555 010", NULL, NULL,
     "phone_number: 9 digits, expected 10 for country code 1"},
    {"1", "2 415 555 0100", NULL, NULL,
     "phone_number: 11 digits, expected 10 for country code 1"},
    {"49", "1234567890123456", NULL, NULL,
     "phone_number: too long (18 digits with the country code, max 15)"},
    {"998", "9012345678901", NULL, NULL,
     "phone_number: too long (16 digits with the country code, max 15)"},
    {"44", "123", NULL, NULL, "phone_number: too short (3 digits, min 4)"},
    {"44", "", NULL, NULL, "phone_number: empty"},
    {"44", NULL, NULL, NULL, "phone_number: empty"},
    {"1", "1.23457E+09", NULL, NULL,
     "phone_number: \"1.23457E+09\" is a number in scientific notation, "
     "as a spreadsheet shows it (store phone numbers as text)"},
    {"44", "+44 20 7946 0958", NULL, NULL,
     "phone_number: unexpected character '+'"},
    {"999", "1234567", NULL, NULL,
     "country_code: 999 is not an ITU calling code"},
    {"28", "1234567", NULL, NULL,
     "country_code: 28 is not an ITU calling code"},
    {"044", "1234567", NULL, NULL,
     "country_code: 044 is not an ITU calling code"},
    {"0044", "1234567", NULL, NULL, "country_code: too long (4 digits, max 3)"},
    {"", "1234567", NULL, NULL, "country_code: empty"},
    {NULL, "1234567", NULL, NULL, "country_code: empty"},
    {"+", "1234567", NULL, NULL, "country_code: no digits after '+'"},
    {"++1", "4155550100", NULL, NULL, "country_code: unexpected character '+'"},
    {"UK", "1234567", NULL, NULL, "country_code: unexpected character 'U'"},
    {"4 4", "1234567", NULL, NULL, "country_code: unexpected character ' '"},
    {"44.0", "1234567", NULL, NULL, "country_code: unexpected character '.'"},
};

static void test_check(void **state)
{
	char cc[4], national[16];
	struct err err;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < ARRAY_LEN(check_cases); i++) {
		const struct check_case *c = &check_cases[i];

		err_init(&err);
		memset(cc, 0, sizeof(cc));
		memset(national, 0, sizeof(national));
		rc = phone_check(c->cc_in, c->number_in, cc, national, &err);
		if (c->cc && (rc != 0 || strcmp(cc, c->cc) != 0 ||
			      strcmp(national, c->national) != 0))
			fail_msg("check %s/%s: got rc %d %s/%s (%s), want "
				 "%s/%s",
				 c->cc_in, c->number_in, rc, cc, national,
				 err.msg, c->cc, c->national);
		if (!c->cc && (rc != -1 || strcmp(err.msg, c->err) != 0))
			fail_msg("check %s/%s: got rc %d \"%s\", want \"%s\"",
				 c->cc_in ? c->cc_in : "(null)",
				 c->number_in ? c->number_in : "(null)", rc,
				 err.msg, c->err);
	}
}

/* Every assigned code splits back out of "+<code> <7 digits>". */
/* ---- trunk prefixes, per country (libphonenumber's metadata) ---------- */

struct trunk_case {
	const char *cc, *number; /* split columns, as people write them */
	const char *national;    /* expected national significant number */
};

/* clang-format off */
static const struct trunk_case trunk_cases[] = {
	{"44", "07700 900123", "7700900123"},   /* UK */
	{"44", "7700 900123", "7700900123"},
	{"49", "0151 23456789", "15123456789"}, /* Germany */
	{"33", "06 12 34 56 78", "612345678"},  /* France */
	{"61", "0412 345 678", "412345678"},    /* Australia */
	{"64", "021 123 4567", "211234567"},    /* New Zealand */
	{"81", "090-1234-5678", "9012345678"},  /* Japan */
	{"31", "06 12345678", "612345678"},     /* Netherlands */
	{"353", "085 123 4567", "851234567"},   /* Ireland */
	{"91", "098765 43210", "9876543210"},   /* India */
	{"39", "06 6982 1234", "0669821234"},   /* Italy: the 0 is the number's */
	{"39", "333 123 4567", "3331234567"},
	{"34", "612 34 56 78", "612345678"},    /* Spain: no trunk prefix */
	{"48", "0123 456 789", "0123456789"},   /* Poland: none since 2009 */
	{"45", "0123 4567", "01234567"},        /* Denmark: none */
	{"225", "07 07 12 34 56", "0707123456"}, /* Cote d'Ivoire: none */
	{"7", "8 912 345-67-89", "9123456789"}, /* Russia: 8 */
	{"7", "912 345-67-89", "9123456789"},
	{"7", "8 91 234", "891234"},            /* 8 not before a full number */
	{"36", "06 30 123 4567", "301234567"},  /* Hungary: 06 */
	{"36", "30 123 4567", "301234567"},
	{"1", "1 415 555 0100", "4155550100"},  /* NANP: 1 */
	{"998", "8 90 123 45 67", "901234567"}, /* Uzbekistan: 8 before 9 */
	{"998", "88 123 4567", "881234567"},    /* ... but 88 is a number */
	{"375", "8 029 123 45 67", "291234567"}, /* Belarus: 80 */
	{"375", "029 123 45 67", "291234567"},
	{"370", "8 612 34567", "61234567"},     /* Lithuania: 8 */
	{"52", "044 55 1234 5678", "5512345678"}, /* Mexico, old mobile */
	{"52", "01 55 1234 5678", "5512345678"},
	{"52", "55 1234 5678", "5512345678"},
};
/* clang-format on */

static void test_trunk_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(trunk_cases) / sizeof(trunk_cases[0]); i++) {
		const struct trunk_case *c = &trunk_cases[i];
		char cc[4], national[16], intl[64];
		struct err e;

		err_init(&e);
		if (phone_check(c->cc, c->number, cc, national, &e) < 0)
			fail_msg("check %s/%s: %s", c->cc, c->number, e.msg);
		if (strcmp(cc, c->cc) != 0 || strcmp(national, c->national) != 0)
			fail_msg("check %s/%s: %s/%s, want %s", c->cc, c->number, cc,
				 national, c->national);
		/* the single column, national form with a default code */
		if (phone_split(c->number, c->cc, cc, national, &e) < 0 ||
		    strcmp(national, c->national) != 0)
			fail_msg("split %s with default %s: %s (%s)", c->number, c->cc,
				 national, e.msg);
		/* and international form: the same number */
		snprintf(intl, sizeof(intl), "+%s %s", c->cc, c->number);
		if (phone_split(intl, NULL, cc, national, &e) < 0 ||
		    strcmp(national, c->national) != 0)
			fail_msg("split %s: %s (%s)", intl, national, e.msg);
	}
}

static void test_trunk_len(void **state)
{
	(void)state;
	assert_int_equal(phone_trunk_len("44", "07700900123"), 1);
	assert_int_equal(phone_trunk_len("44", "7700900123"), 0);
	assert_int_equal(phone_trunk_len("39", "0612345678"), 0);
	assert_int_equal(phone_trunk_len("36", "06301234567"), 2);
	assert_int_equal(phone_trunk_len("7", "89123456789"), 1);
	assert_int_equal(phone_trunk_len("7", "8912345678"), 0);
	assert_int_equal(phone_trunk_len("44", "0"), 0); /* never all of it */
	/* written twice: both go, so a normalised number is a fixed point
	 * (in the single column "00 ..." is the international prefix) */
	assert_int_equal(phone_trunk_len("44", "007700900123"), 2);
	assert_int_equal(phone_trunk_len("36", "06067700900"), 4);
	assert_int_equal(phone_trunk_len("999", "0123"), 0);
}

static void test_split_finds_every_code(void **state)
{
	char in[32], cc[4], national[16];
	struct err err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(assigned); i++) {
		const char *want =
		    strcmp(assigned[i], "1") == 0 ? "4155550100" : "5550100";

		snprintf(in, sizeof(in), "+%s %s", assigned[i], want);
		err_init(&err);
		if (phone_split(in, NULL, cc, national, &err) != 0 ||
		    strcmp(cc, assigned[i]) != 0 || strcmp(national, want) != 0)
			fail_msg("split \"%s\": got %s %s (%s)", in, cc,
				 national, err.msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_assigned_codes_are_calling_codes),
	    cmocka_unit_test(test_spare_codes_are_rejected),
	    cmocka_unit_test(test_table_has_exactly_the_assigned_codes),
	    cmocka_unit_test(test_table_is_prefix_free),
	    cmocka_unit_test(test_clean_digits),
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_split_finds_every_code),
	    cmocka_unit_test(test_trunk_prefixes),
	    cmocka_unit_test(test_trunk_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
