/*
 * test_user.c - unit tests for lib/user.c: one table of rows, each with the
 * exact normalised record or the exact "<field>: <reason>" it must produce
 * (emails, phones in many notations, names in many scripts, broken UTF-8,
 * control bytes, metadata), plus the phone key and the field names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "user.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A cell value meaning "this column is not in the file". */
static const char ABSENT[] = "(absent)";

/* Long values, filled in by setup(); the table points at them. */
static char local64[65], local65_email[80];
static char email254[255], email255[256];
static char label64_email[80];
static char name50[51], name51[52];
static char name50_e[101], name51_e[103];	    /* U+00E9 each */
static char name50_rocket[201], name51_rocket[205]; /* U+1F680 each */
static char meta_max[USER_METADATA_MAX + 1], meta_over[USER_METADATA_MAX + 2];
static char phone_cell_long[101];
static char ext128[129], ext129[130];

struct user_case {
	const char *name;
	/* Cells; NULL = the base row's cell, ABSENT = the column is missing.
	 * phone, when set, replaces country_code + phone_number by a single
	 * "phone" column. */
	const char *cell[USER_FIELD_COUNT];
	size_t len[USER_FIELD_COUNT]; /* 0 = strlen (for cells with NULs) */
	const char *phone;
	const char *default_cc;
	const char *err; /* expected message, NULL = the row is valid */
	/* Expected record; NULL = the base row's value. */
	const char *email, *cc, *pn, *first, *last, *username, *metadata;
	const char *dob;
	const char *ext;
};

/* clang-format off */
static const char *const base_cell[USER_FIELD_COUNT] = {
	"ada@example.com", "44", "20 7946 0958", "Ada", "Lovelace",
	ABSENT,            ABSENT, ABSENT, ABSENT, ABSENT,
};
/* clang-format on */

/* clang-format off */
static const struct user_case cases[] = {
	/* ---- email ---- */
	{.name = "base row"},
	{.name = "email trimmed, domain lower-cased",
	 .cell[USER_EMAIL] = " \tAda.Lovelace+tag@Example.COM\r\n",
	 .email = "Ada.Lovelace+tag@example.com"},
	{.name = "apostrophe in local part",
	 .cell[USER_EMAIL] = "o'brien@example.ie",
	 .email = "o'brien@example.ie"},
	{.name = "all atext specials",
	 .cell[USER_EMAIL] = "!#$%&'*+-/=?^_`{|}~@example.com",
	 .email = "!#$%&'*+-/=?^_`{|}~@example.com"},
	{.name = "hyphens and subdomains",
	 .cell[USER_EMAIL] = "a.b@mail.sub-domain.example.co.uk",
	 .email = "a.b@mail.sub-domain.example.co.uk"},
	{.name = "digits in labels",
	 .cell[USER_EMAIL] = "x@123.example.io",
	 .email = "x@123.example.io"},
	{.name = "local part of 64, email of 254", .cell[USER_EMAIL] = email254,
	 .email = email254},
	{.name = "quote before = dropped",
	 .cell[USER_EMAIL] = "'=ada@example.com",
	 .email = "=ada@example.com"},
	{.name = "quote before a letter kept",
	 .cell[USER_EMAIL] = "'ada@example.com",
	 .email = "'ada@example.com"},
	{.name = "email empty", .cell[USER_EMAIL] = "",
	 .err = "email: empty"},
	{.name = "email blank", .cell[USER_EMAIL] = " \t\r\n",
	 .err = "email: empty"},
	{.name = "email column missing", .cell[USER_EMAIL] = ABSENT,
	 .err = "email: missing"},
	{.name = "no @", .cell[USER_EMAIL] = "ada.example.com",
	 .err = "email: missing \"@\""},
	{.name = "two @", .cell[USER_EMAIL] = "ada@@example.com",
	 .err = "email: more than one \"@\""},
	{.name = "@ in local part", .cell[USER_EMAIL] = "a@b@example.com",
	 .err = "email: more than one \"@\""},
	{.name = "nothing before @", .cell[USER_EMAIL] = "@example.com",
	 .err = "email: nothing before \"@\""},
	{.name = "nothing after @", .cell[USER_EMAIL] = "ada@",
	 .err = "email: nothing after \"@\""},
	{.name = "space in local part",
	 .cell[USER_EMAIL] = "ada lovelace@example.com",
	 .err = "email: invalid character ' ' in local part"},
	{.name = "quoted local part", .cell[USER_EMAIL] = "\"ada\"@example.com",
	 .err = "email: invalid character '\"' in local part"},
	{.name = "non-ASCII local part",
	 .cell[USER_EMAIL] = "jos\xc3\xa9@example.com",
	 .err = "email: invalid character 'é' (U+00E9) in local part"},
	{.name = "non-ASCII domain",
	 .cell[USER_EMAIL] = "jose@exampl\xc3\xa9.com",
	 .err = "email: invalid character 'é' (U+00E9) in domain"},
	{.name = "invalid UTF-8 in domain",
	 .cell[USER_EMAIL] = "jose@exampl\xe9.com",
	 .err = "email: invalid character 0xE9 in domain"},
	{.name = "zero-width space in domain",
	 .cell[USER_EMAIL] = "jose@exam\xe2\x80\x8bple.com",
	 .err = "email: invalid character U+200B in domain"},
	{.name = "NUL in local part", .cell[USER_EMAIL] = "ada\0x@example.com",
	 .len[USER_EMAIL] = 17,
	 .err = "email: invalid character 0x00 in local part"},
	{.name = "leading dot", .cell[USER_EMAIL] = ".ada@example.com",
	 .err = "email: local part starts with a dot"},
	{.name = "trailing dot", .cell[USER_EMAIL] = "ada.@example.com",
	 .err = "email: local part ends with a dot"},
	{.name = "two dots", .cell[USER_EMAIL] = "ada..l@example.com",
	 .err = "email: two dots in a row in local part"},
	{.name = "local part of 65", .cell[USER_EMAIL] = local65_email,
	 .err = "email: local part longer than 64 characters"},
	{.name = "email of 255", .cell[USER_EMAIL] = email255,
	 .err = "email: longer than 254 characters"},
	{.name = "domain without dot", .cell[USER_EMAIL] = "ada@foo",
	 .err = "email: domain \"foo\" has no dot"},
	{.name = "empty label", .cell[USER_EMAIL] = "ada@example..com",
	 .err = "email: domain \"example..com\" has an empty label"},
	{.name = "trailing dot in domain", .cell[USER_EMAIL] = "ada@example.com.",
	 .err = "email: domain \"example.com.\" has an empty label"},
	{.name = "leading dot in domain", .cell[USER_EMAIL] = "ada@.example.com",
	 .err = "email: domain \".example.com\" has an empty label"},
	{.name = "label starts with -", .cell[USER_EMAIL] = "ada@-example.com",
	 .err = "email: domain label \"-example\" starts or ends with \"-\""},
	{.name = "label ends with -", .cell[USER_EMAIL] = "ada@example-.com",
	 .err = "email: domain label \"example-\" starts or ends with \"-\""},
	{.name = "underscore in domain", .cell[USER_EMAIL] = "ada@exa_mple.com",
	 .err = "email: invalid character '_' in domain"},
	{.name = "space in domain", .cell[USER_EMAIL] = "ada@example .com",
	 .err = "email: invalid character ' ' in domain"},
	{.name = "label of 64", .cell[USER_EMAIL] = label64_email,
	 .err = "email: domain label longer than 63 characters"},
	{.name = "IP address domain", .cell[USER_EMAIL] = "ada@1.2.3.4",
	 .err = "email: top-level domain \"4\" is all digits"},

	/* ---- country_code + phone_number ---- */
	{.name = "NANP with +1 code",
	 .cell[USER_COUNTRY_CODE] = "+1",
	 .cell[USER_PHONE_NUMBER] = "(415) 555-0100", .cc = "1",
	 .pn = "4155550100"},
	{.name = "NANP with dots", .cell[USER_COUNTRY_CODE] = "1",
	 .cell[USER_PHONE_NUMBER] = "415.555.0100", .cc = "1",
	 .pn = "4155550100"},
	{.name = "Russia", .cell[USER_COUNTRY_CODE] = "7",
	 .cell[USER_PHONE_NUMBER] = "912 345-67-89", .cc = "7",
	 .pn = "9123456789"},
	{.name = "China mobile", .cell[USER_COUNTRY_CODE] = "86",
	 .cell[USER_PHONE_NUMBER] = "138 0013 8000", .cc = "86",
	 .pn = "13800138000"},
	{.name = "Ireland", .cell[USER_COUNTRY_CODE] = "353",
	 .cell[USER_PHONE_NUMBER] = "85 123 4567", .cc = "353",
	 .pn = "851234567"},
	{.name = "UK trunk 0 dropped from phone_number",
	 .cell[USER_PHONE_NUMBER] = "020 7946 0958", .pn = "2079460958"},
	{.name = "UK mobile trunk 0", .cell[USER_PHONE_NUMBER] = "07700 900123",
	 .pn = "7700900123"},
	{.name = "German trunk 0", .cell[USER_COUNTRY_CODE] = "49",
	 .cell[USER_PHONE_NUMBER] = "0151 23456789", .cc = "49",
	 .pn = "15123456789"},
	{.name = "Italy keeps its 0", .cell[USER_COUNTRY_CODE] = "39",
	 .cell[USER_PHONE_NUMBER] = "06 6982 1234", .cc = "39",
	 .pn = "0669821234"},
	{.name = "full-width plus in phone_number",
	 .cell[USER_PHONE_NUMBER] = "\xef\xbc\x8b" "44 20 7946 0958",
	 .err = "phone_number: invalid character '\xef\xbc\x8b' (U+FF0B)"},
	{.name = "quote before + in country_code dropped",
	 .cell[USER_COUNTRY_CODE] = "'+44", .cc = "44"},
	{.name = "quote before - in phone_number dropped",
	 .cell[USER_PHONE_NUMBER] = "'-20-7946-0958", .pn = "2079460958"},
	{.name = "NANP 9 digits", .cell[USER_COUNTRY_CODE] = "1",
	 .cell[USER_PHONE_NUMBER] = "415 555 010",
	 .err = "phone_number: 9 digits, expected 10 for country code 1"},
	{.name = "NANP trunk 1 dropped", .cell[USER_COUNTRY_CODE] = "1",
	 .cell[USER_PHONE_NUMBER] = "1 415 555 0100", .cc = "1",
	 .pn = "4155550100"},
	{.name = "NANP 12 digits", .cell[USER_COUNTRY_CODE] = "1",
	 .cell[USER_PHONE_NUMBER] = "11 415 555 0100",
	 .err = "phone_number: 12 digits, expected 10 for country code 1"},
	{.name = "unassigned code 28", .cell[USER_COUNTRY_CODE] = "28",
	 .err = "country_code: 28 is not an ITU calling code"},
	{.name = "unassigned code 999", .cell[USER_COUNTRY_CODE] = "+999",
	 .err = "country_code: 999 is not an ITU calling code"},
	{.name = "country code letters", .cell[USER_COUNTRY_CODE] = "UK",
	 .err = "country_code: unexpected character 'U'"},
	{.name = "country code with 00", .cell[USER_COUNTRY_CODE] = "0044",
	 .err = "country_code: too long (4 digits, max 3)"},
	{.name = "country code empty", .cell[USER_COUNTRY_CODE] = "",
	 .err = "country_code: empty"},
	{.name = "phone number empty", .cell[USER_PHONE_NUMBER] = "  ",
	 .err = "phone_number: empty"},
	{.name = "spreadsheet float", .cell[USER_COUNTRY_CODE] = "1",
	 .cell[USER_PHONE_NUMBER] = "1.23457E+09",
	 .err = "phone_number: \"1.23457E+09\" is a number in scientific "
		"notation, as a spreadsheet shows it (store phone numbers as "
		"text)"},
	{.name = "spreadsheet float 2", .cell[USER_COUNTRY_CODE] = "1",
	 .cell[USER_PHONE_NUMBER] = "4.15555E+09",
	 .err = "phone_number: \"4.15555E+09\" is a number in scientific "
		"notation, as a spreadsheet shows it (store phone numbers as "
		"text)"},
	{.name = "letters in number", .cell[USER_PHONE_NUMBER] = "call me",
	 .err = "phone_number: unexpected character 'c'"},
	{.name = "international form in phone_number",
	 .cell[USER_PHONE_NUMBER] = "+44 20 7946 0958",
	 .err = "phone_number: unexpected character '+'"},
	{.name = "slash in number", .cell[USER_PHONE_NUMBER] = "20/7946/0958",
	 .err = "phone_number: unexpected character '/'"},
	{.name = "bell in number", .cell[USER_PHONE_NUMBER] = "20\a79460958",
	 .err = "phone_number: unexpected character 0x07"},
	{.name = "NUL in number", .cell[USER_PHONE_NUMBER] = "2079\0" "460958",
	 .len[USER_PHONE_NUMBER] = 11,
	 .err = "phone_number: unexpected character 0x00"},
	{.name = "number too short", .cell[USER_PHONE_NUMBER] = "123",
	 .err = "phone_number: too short (3 digits, min 4)"},
	{.name = "number too long", .cell[USER_COUNTRY_CODE] = "49",
	 .cell[USER_PHONE_NUMBER] = "1234 5678 9012 3456",
	 .err = "phone_number: too long (18 digits with the country code, "
		"max 15)"},
	{.name = "phone cell too long", .cell[USER_PHONE_NUMBER] =
	 phone_cell_long,
	 .err = "phone_number: too long (100 characters, max 63)"},

	/* ---- the single phone column ---- */
	{.name = "phone +1 (415) 555-0100", .phone = "+1 (415) 555-0100",
	 .cc = "1", .pn = "4155550100"},
	{.name = "phone 0044", .phone = "0044 20 7946 0958", .cc = "44",
	 .pn = "2079460958"},
	{.name = "phone +44", .phone = "+44 20 7946 0958", .cc = "44",
	 .pn = "2079460958"},
	{.name = "phone +44 (0)", .phone = "+44 (0)20 7946 0958", .cc = "44",
	 .pn = "2079460958"},
	{.name = "phone +33", .phone = "+33 1 23 45 67 89", .cc = "33",
	 .pn = "123456789"},
	{.name = "phone +86", .phone = "+86 138 0013 8000", .cc = "86",
	 .pn = "13800138000"},
	{.name = "phone +91", .phone = "+91 98765 43210", .cc = "91",
	 .pn = "9876543210"},
	{.name = "phone +7", .phone = "+7 912 345-67-89", .cc = "7",
	 .pn = "9123456789"},
	{.name = "phone +353", .phone = "+353 85 123 4567", .cc = "353",
	 .pn = "851234567"},
	{.name = "phone +1-800", .phone = "+1-800-555-0199", .cc = "1",
	 .pn = "8005550199"},
	{.name = "phone +1 242 (Bahamas, in NANP)", .phone = "+1 242 555 0100",
	 .cc = "1", .pn = "2425550100"},
	{.name = "phone +880", .phone = "+880 1712 345678", .cc = "880",
	 .pn = "1712345678"},
	{.name = "phone quote before + dropped", .phone = "'+1 415 555 0100",
	 .cc = "1", .pn = "4155550100"},
	{.name = "phone national with default 1", .phone = "415-555-0100",
	 .default_cc = "1", .cc = "1", .pn = "4155550100"},
	{.name = "phone NANP trunk 1 with default 1", .phone = "1 415 555 0100",
	 .default_cc = "1", .cc = "1", .pn = "4155550100"},
	{.name = "phone UK trunk 0 with default 44", .phone = "020 7946 0958",
	 .default_cc = "44", .cc = "44", .pn = "2079460958"},
	{.name = "phone Italy keeps 0 with default 39", .phone = "06 1234 5678",
	 .default_cc = "39", .cc = "39", .pn = "0612345678"},
	{.name = "phone national without default", .phone = "415-555-0100",
	 .err = "phone: must start with '+' or '00' (or set "
		"import.default_country_code)"},
	{.name = "phone spreadsheet float", .phone = "1.23457E+09",
	 .err = "phone: \"1.23457E+09\" is a number in scientific notation, "
		"as a spreadsheet shows it (store phone numbers as text)"},
	{.name = "phone spreadsheet float with default", .phone = "4.15555E+09",
	 .default_cc = "1",
	 .err = "phone: \"4.15555E+09\" is a number in scientific notation, "
		"as a spreadsheet shows it (store phone numbers as text)"},
	{.name = "phone +999", .phone = "+999 123 4567",
	 .err = "phone: \"+999 123 4567\" does not start with an ITU calling "
		"code"},
	{.name = "phone +28", .phone = "+28 1234 5678",
	 .err = "phone: \"+28 1234 5678\" does not start with an ITU calling "
		"code"},
	{.name = "phone NANP 9 digits", .phone = "+1 415 555 010",
	 .err = "phone: 9 digits, expected 10 for country code 1"},
	{.name = "phone NANP trunk 1", .phone = "+1 1 415 555 0100",
	 .cc = "1", .pn = "4155550100"},
	{.name = "phone full-width plus", .phone = "\xef\xbc\x8b" "44 20 7946 0958",
	 .err = "phone: invalid character '\xef\xbc\x8b' (U+FF0B)"},
	{.name = "phone +44 07700 (trunk 0 written)", .phone = "+44 07700 900123",
	 .cc = "44", .pn = "7700900123"},
	{.name = "phone too long", .phone = "+49 1234 5678 9012 3456",
	 .err = "phone: too long (18 digits with the country code, max 15)"},
	{.name = "phone letters", .phone = "+44 20 ABCD",
	 .err = "phone: unexpected character 'A'"},
	{.name = "phone plus only", .phone = "+",
	 .err = "phone: no digits after '+'"},
	{.name = "phone empty", .phone = "",
	 .err = "phone: empty"},

	/* ---- which phone columns win ---- */
	{.name = "empty cc + number, phone given",
	 .cell[USER_COUNTRY_CODE] = "", .cell[USER_PHONE_NUMBER] = " ",
	 .cell[USER_PHONE] = "+33 1 23 45 67 89", .cc = "33",
	 .pn = "123456789"},
	{.name = "cc + number win over phone",
	 .cell[USER_PHONE] = "+33 1 23 45 67 89"},
	{.name = "cc given, number empty, phone given",
	 .cell[USER_PHONE_NUMBER] = "",
	 .cell[USER_PHONE] = "+33 1 23 45 67 89",
	 .err = "phone_number: empty"},
	{.name = "all three empty", .cell[USER_COUNTRY_CODE] = "",
	 .cell[USER_PHONE_NUMBER] = "", .cell[USER_PHONE] = "",
	 .err = "country_code: empty"},
	{.name = "no phone columns at all", .cell[USER_COUNTRY_CODE] = ABSENT,
	 .cell[USER_PHONE_NUMBER] = ABSENT, .err = "phone_number: missing"},
	{.name = "country_code column missing",
	 .cell[USER_COUNTRY_CODE] = ABSENT,
	 .err = "country_code: missing"},

	/* ---- names ---- */
	{.name = "accents", .cell[USER_FIRST_NAME] = "  Zo\xc3\xab ",
	 .cell[USER_LAST_NAME] = "N\xc3\xba\xc3\xb1" "ez-Garc\xc3\xad" "a",
	 .first = "Zo\xc3\xab",
	 .last = "N\xc3\xba\xc3\xb1" "ez-Garc\xc3\xad" "a"},
	{.name = "CJK", .cell[USER_FIRST_NAME] = "\xe5\xa4\xaa\xe9\x83\x8e",
	 .cell[USER_LAST_NAME] = "\xe5\xb1\xb1\xe7\x94\xb0",
	 .first = "\xe5\xa4\xaa\xe9\x83\x8e",
	 .last = "\xe5\xb1\xb1\xe7\x94\xb0"},
	{.name = "Arabic",
	 .cell[USER_FIRST_NAME] = "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf",
	 .first = "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf"},
	{.name = "emoji", .cell[USER_FIRST_NAME] = "Ada \xf0\x9f\x9a\x80",
	 .first = "Ada \xf0\x9f\x9a\x80"},
	{.name = "apostrophe name kept", .cell[USER_LAST_NAME] = "'Brien",
	 .last = "'Brien"},
	{.name = "formula quote dropped", .cell[USER_LAST_NAME] = "'=SUM(A1)",
	 .last = "=SUM(A1)"},
	{.name = "quote before tab dropped, then trimmed",
	 .cell[USER_FIRST_NAME] = "'\tAda", .first = "Ada"},
	{.name = "a quote and a trailing tab: the tab is trimmed first",
	 .cell[USER_FIRST_NAME] = "'\t", .first = "'"},
	{.name = "50 ASCII characters", .cell[USER_FIRST_NAME] = name50,
	 .first = name50},
	{.name = "50 two-byte characters", .cell[USER_FIRST_NAME] = name50_e,
	 .first = name50_e},
	{.name = "50 four-byte characters",
	 .cell[USER_LAST_NAME] = name50_rocket, .last = name50_rocket},
	{.name = "51 ASCII characters", .cell[USER_FIRST_NAME] = name51,
	 .err = "first_name: longer than 50 characters"},
	{.name = "51 two-byte characters", .cell[USER_LAST_NAME] = name51_e,
	 .err = "last_name: longer than 50 characters"},
	{.name = "51 four-byte characters",
	 .cell[USER_FIRST_NAME] = name51_rocket,
	 .err = "first_name: longer than 50 characters"},
	{.name = "first name empty", .cell[USER_FIRST_NAME] = "",
	 .err = "first_name: empty"},
	{.name = "last name blank", .cell[USER_LAST_NAME] = " \t ",
	 .err = "last_name: empty"},
	{.name = "first name column missing", .cell[USER_FIRST_NAME] = ABSENT,
	 .err = "first_name: missing"},
	{.name = "tab inside", .cell[USER_FIRST_NAME] = "Ad\ta",
	 .err = "first_name: control character at position 3"},
	{.name = "newline inside", .cell[USER_LAST_NAME] = "L\novelace",
	 .err = "last_name: control character at position 2"},
	{.name = "DEL", .cell[USER_FIRST_NAME] = "Ada\x7f!",
	 .err = "first_name: control character at position 4"},
	{.name = "C1 NEL after accent",
	 .cell[USER_FIRST_NAME] = "\xc3\xa9\xc2\x85",
	 .err = "first_name: control character at position 2"},
	{.name = "NUL inside", .cell[USER_FIRST_NAME] = "Ad\0a",
	 .len[USER_FIRST_NAME] = 4,
	 .err = "first_name: control character at position 3"},
	{.name = "overlong slash", .cell[USER_FIRST_NAME] = "\xc0\xaf",
	 .err = "first_name: invalid UTF-8 at byte 1"},
	{.name = "overlong 3-byte", .cell[USER_FIRST_NAME] = "Ad\xe0\x80\xaf",
	 .err = "first_name: invalid UTF-8 at byte 3"},
	{.name = "overlong 4-byte", .cell[USER_LAST_NAME] = "\xf0\x8f\xbf\xbf",
	 .err = "last_name: invalid UTF-8 at byte 1"},
	{.name = "surrogate", .cell[USER_LAST_NAME] = "Lo\xed\xa0\x80",
	 .err = "last_name: invalid UTF-8 at byte 3"},
	{.name = "above U+10FFFF", .cell[USER_FIRST_NAME] = "\xf4\x90\x80\x80",
	 .err = "first_name: invalid UTF-8 at byte 1"},
	{.name = "truncated sequence", .cell[USER_FIRST_NAME] = "Ad\xc3",
	 .err = "first_name: invalid UTF-8 at byte 3"},
	{.name = "lone continuation byte", .cell[USER_FIRST_NAME] = "A\x80" "da",
	 .err = "first_name: invalid UTF-8 at byte 2"},
	{.name = "Latin-1 byte", .cell[USER_LAST_NAME] = "M\xfcller",
	 .err = "last_name: invalid UTF-8 at byte 2"},
	{.name = "sequence cut by NUL", .cell[USER_FIRST_NAME] = "\xe5\xa4\0",
	 .len[USER_FIRST_NAME] = 3,
	 .err = "first_name: invalid UTF-8 at byte 1"},

	/* ---- username ---- */
	{.name = "username given", .cell[USER_USERNAME] = " ada_l ",
	 .username = "ada_l"},
	{.name = "username empty", .cell[USER_USERNAME] = "", .username = ""},
	{.name = "username Cyrillic",
	 .cell[USER_USERNAME] = "\xd0\xb0\xd0\xb4\xd0\xb0",
	 .username = "\xd0\xb0\xd0\xb4\xd0\xb0"},
	{.name = "username control", .cell[USER_USERNAME] = "\x1b[31mada",
	 .err = "username: control character at position 1"},
	/* ---- date_of_birth ---- */
	{.name = "date of birth", .cell[USER_DATE_OF_BIRTH] = " 1990-07-15 ",
	 .dob = "1990-07-15"},
	{.name = "date of birth empty", .cell[USER_DATE_OF_BIRTH] = "", .dob = ""},
	{.name = "external id trimmed, kept as given", .cell[USER_EXTERNAL_ID] = " CRM-0042 ",
	 .ext = "CRM-0042"},
	{.name = "external id empty", .cell[USER_EXTERNAL_ID] = "", .ext = ""},
	{.name = "external id of 128 bytes", .cell[USER_EXTERNAL_ID] = ext128, .ext = ext128},
	{.name = "external id of 129 bytes", .cell[USER_EXTERNAL_ID] = ext129,
	 .err = "external_id: longer than 128 bytes"},
	{.name = "external id with a control character", .cell[USER_EXTERNAL_ID] = "a\tb",
	 .err = "external_id: control character at position 2"},
	{.name = "external id not UTF-8", .cell[USER_EXTERNAL_ID] = "id-\xe9",
	 .err = "external_id: invalid UTF-8 at byte 4"},
	{.name = "leap day 2000", .cell[USER_DATE_OF_BIRTH] = "2000-02-29",
	 .dob = "2000-02-29"},
	{.name = "leap day 2024", .cell[USER_DATE_OF_BIRTH] = "2024-02-29",
	 .dob = "2024-02-29"},
	{.name = "no leap day 1900", .cell[USER_DATE_OF_BIRTH] = "1900-02-29",
	 .err = "date_of_birth: 1900-02-29 is not a real date"},
	{.name = "no leap day 2023", .cell[USER_DATE_OF_BIRTH] = "2023-02-29",
	 .err = "date_of_birth: 2023-02-29 is not a real date"},
	{.name = "April 31", .cell[USER_DATE_OF_BIRTH] = "1990-04-31",
	 .err = "date_of_birth: 1990-04-31 is not a real date"},
	{.name = "month 13", .cell[USER_DATE_OF_BIRTH] = "1990-13-01",
	 .err = "date_of_birth: 1990-13-01 is not a real date"},
	{.name = "day 0", .cell[USER_DATE_OF_BIRTH] = "1990-01-00",
	 .err = "date_of_birth: 1990-01-00 is not a real date"},
	{.name = "European order", .cell[USER_DATE_OF_BIRTH] = "15/07/1990",
	 .err = "date_of_birth: expected YYYY-MM-DD, got \"15/07/1990\""},
	{.name = "no leading zeros", .cell[USER_DATE_OF_BIRTH] = "1990-7-15",
	 .err = "date_of_birth: expected YYYY-MM-DD, got \"1990-7-15\""},
	{.name = "time part", .cell[USER_DATE_OF_BIRTH] = "1990-07-15T00:00",
	 .err = "date_of_birth: expected YYYY-MM-DD, got \"1990-07-15T00:00\""},
	{.name = "username 51", .cell[USER_USERNAME] = name51,
	 .err = "username: longer than 50 characters"},
	{.name = "username invalid UTF-8", .cell[USER_USERNAME] = "ada\xff",
	 .err = "username: invalid UTF-8 at byte 4"},

	/* ---- metadata ---- */
	{.name = "metadata JSON object",
	 .cell[USER_METADATA] = "{\"plan\":\"pro\",\"seats\":3}",
	 .metadata = "{\"plan\":\"pro\",\"seats\":3}"},
	{.name = "metadata trimmed", .cell[USER_METADATA] = "  {\"a\": 1}\r\n",
	 .metadata = "{\"a\": 1}"},
	{.name = "metadata pretty-printed JSON",
	 .cell[USER_METADATA] = "{\n\t\"a\": 1\n}",
	 .metadata = "{\n\t\"a\": 1\n}"},
	{.name = "metadata not JSON", .cell[USER_METADATA] = "vip customer",
	 .metadata = "vip customer"},
	{.name = "metadata UTF-8", .cell[USER_METADATA] = "caf\xc3\xa9",
	 .metadata = "caf\xc3\xa9"},
	{.name = "metadata quote before @ dropped",
	 .cell[USER_METADATA] = "'@handle", .metadata = "@handle"},
	{.name = "metadata empty", .cell[USER_METADATA] = "  "},
	{.name = "metadata at the limit", .cell[USER_METADATA] = meta_max,
	 .metadata = meta_max},
	{.name = "metadata over the limit", .cell[USER_METADATA] = meta_over,
	 .err = "metadata: longer than 16384 bytes"},
	{.name = "metadata invalid UTF-8", .cell[USER_METADATA] = "{\"a\":\"\xff\"}",
	 .err = "metadata: invalid UTF-8 at byte 7"},
	{.name = "metadata NUL", .cell[USER_METADATA] = "{}\0",
	 .len[USER_METADATA] = 3,
	 .err = "metadata: control character at position 3"},

	/* ---- the first invalid field wins ---- */
	{.name = "email reported before names", .cell[USER_EMAIL] = "nope",
	 .cell[USER_FIRST_NAME] = "",
	 .err = "email: missing \"@\""},
	{.name = "phone reported before names",
	 .cell[USER_COUNTRY_CODE] = "28", .cell[USER_FIRST_NAME] = "",
	 .err = "country_code: 28 is not an ITU calling code"},
};
/* clang-format on */

static void fill(char *buf, const char *unit, size_t count)
{
	size_t i, len = strlen(unit);

	for (i = 0; i < count; i++)
		memcpy(buf + i * len, unit, len);
	buf[count * len] = '\0';
}

static int setup(void **state)
{
	char label[64];

	(void)state;
	fill(local64, "l", 64);
	snprintf(local65_email, sizeof(local65_email), "%sl@example.com",
		 local64);
	/* 64 + "@" + 63 + "." + 63 + "." + 57 + ".com" = 254 */
	fill(label, "d", 63);
	snprintf(email254, sizeof(email254), "%s@%s.%s.%.57s.com", local64,
		 label, label, label);
	snprintf(email255, sizeof(email255), "%s@%s.%s.%.58s.com", local64,
		 label, label, label);
	snprintf(label64_email, sizeof(label64_email), "a@%sd.com", label);
	fill(name50, "a", 50);
	fill(name51, "a", 51);
	fill(name50_e, "\xc3\xa9", 50);
	fill(name51_e, "\xc3\xa9", 51);
	fill(name50_rocket, "\xf0\x9f\x9a\x80", 50);
	fill(name51_rocket, "\xf0\x9f\x9a\x80", 51);
	fill(meta_max, "x", USER_METADATA_MAX);
	fill(meta_over, "x", USER_METADATA_MAX + 1);
	fill(phone_cell_long, "1", 100);
	fill(ext128, "x", 128);
	fill(ext129, "x", 129);
	return 0;
}

static void build_input(const struct user_case *c, struct user_input *in)
{
	size_t f;

	for (f = 0; f < USER_FIELD_COUNT; f++) {
		const char *v = c->cell[f] ? c->cell[f] : base_cell[f];

		if (c->phone &&
		    (f == USER_COUNTRY_CODE || f == USER_PHONE_NUMBER))
			v = ABSENT;
		if (c->phone && f == USER_PHONE)
			v = c->phone;
		in->field[f] = v == ABSENT ? NULL : v;
		in->len[f] = v == ABSENT ? 0
			     : c->len[f] ? c->len[f]
					 : strlen(v);
	}
}

static bool same(const char *what, const char *got, const char *want,
		 const char *name)
{
	if (strcmp(got, want) == 0)
		return true;
	print_error("case \"%s\": %s is \"%s\", want \"%s\"\n", name, what, got,
		    want);
	return false;
}

/* Runs one case; prints what differs and returns false on a mismatch. */
static bool run_case(const struct user_case *c)
{
	struct user_rules rules = {c->default_cc};
	struct user_input in;
	struct user u;
	struct err err;
	bool ok = true;
	int rc;

	build_input(c, &in);
	err_init(&err);
	memset(&u, 0x5a, sizeof(u));
	rc = user_normalise(&u, &in, &rules, &err);
	if (c->err) {
		if (rc == -1 && strcmp(err.msg, c->err) == 0)
			return true;
		print_error("case \"%s\": rc %d, error \"%s\", want \"%s\"\n",
			    c->name, rc, rc ? err.msg : "", c->err);
		return false;
	}
	if (rc != 0) {
		print_error("case \"%s\": unexpected error \"%s\"\n", c->name,
			    err.msg);
		return false;
	}
	ok &= same("email", u.email, c->email ? c->email : "ada@example.com",
		   c->name);
	ok &=
	    same("country_code", u.country_code, c->cc ? c->cc : "44", c->name);
	ok &= same("phone_number", u.phone_number, c->pn ? c->pn : "2079460958",
		   c->name);
	ok &= same("first_name", u.first_name, c->first ? c->first : "Ada",
		   c->name);
	ok &= same("last_name", u.last_name, c->last ? c->last : "Lovelace",
		   c->name);
	ok &= same("username", u.username, c->username ? c->username : "",
		   c->name);
	ok &= same("external_id", u.external_id, c->ext ? c->ext : "", c->name);
	ok &= same("date_of_birth", u.date_of_birth, c->dob ? c->dob : "",
		   c->name);
	if (!c->metadata && u.metadata) {
		print_error("case \"%s\": metadata should be NULL\n", c->name);
		ok = false;
	}
	if (c->metadata &&
	    (!u.metadata || u.metadata_len != strlen(c->metadata) ||
	     memcmp(u.metadata, c->metadata, u.metadata_len) != 0 ||
	     u.metadata < in.field[USER_METADATA] ||
	     u.metadata + u.metadata_len >
		 in.field[USER_METADATA] + in.len[USER_METADATA])) {
		print_error("case \"%s\": metadata is not a slice of the input "
			    "equal to \"%.40s\"\n",
			    c->name, c->metadata);
		ok = false;
	}
	return ok;
}

static void test_normalise_table(void **state)
{
	size_t i, failures = 0;

	(void)state;
	assert_true(ARRAY_LEN(cases) >= 60);
	for (i = 0; i < ARRAY_LEN(cases); i++)
		failures += !run_case(&cases[i]);
	assert_int_equal(failures, 0);
}

/* Without rules (NULL), national-form phone values are invalid. */
static void test_normalise_null_rules(void **state)
{
	struct user_input in = {{"a@example.com", NULL, NULL, "A", "B", NULL,
				 NULL, "020 7946 0958"},
				{13, 0, 0, 1, 1, 0, 0, 13}};
	struct user u;
	struct err err;

	(void)state;
	err_init(&err);
	assert_int_equal(user_normalise(&u, &in, NULL, &err), -1);
	assert_string_equal(err.msg, "phone: must start with '+' or '00' (or "
				     "set import.default_country_code)");
}

static void test_field_names(void **state)
{
	static const char *const want[USER_FIELD_COUNT] = {
	    "email",	 "country_code", "phone_number", "first_name",
	    "last_name", "username",	 "metadata",	 "phone",
	    "date_of_birth", "external_id",
	};
	size_t i;

	(void)state;
	for (i = 0; i < USER_FIELD_COUNT; i++)
		assert_string_equal(user_field_names[i], want[i]);
}

struct key_case {
	const char *cc_a, *pn_a, *cc_b, *pn_b;
	bool equal;
};

static const struct key_case key_cases[] = {
    {"44", "2079460958", "44", "2079460958", true},
    {"998", "99999999999", "998", "99999999999", true},
    {"1", "2345678901", "12", "345678901", false},
    {"1", "2345678901", "123", "45678901", false},
    {"44", "2079460958", "44", "02079460958", false},
    {"44", "2079460958", "44", "207946095", false},
    {"7", "9123456789", "1", "9123456789", false},
    {"998", "99999999999", "998", "99999999998", false},
    {"1", "0000", "1", "00000", false},
    {"9", "99999999999999", "998", "99999999999", false},
};

static void test_phone_key(void **state)
{
	struct user a, b;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(key_cases); i++) {
		const struct key_case *k = &key_cases[i];

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		snprintf(a.country_code, sizeof(a.country_code), "%s", k->cc_a);
		snprintf(a.phone_number, sizeof(a.phone_number), "%s", k->pn_a);
		snprintf(b.country_code, sizeof(b.country_code), "%s", k->cc_b);
		snprintf(b.phone_number, sizeof(b.phone_number), "%s", k->pn_b);
		if ((user_phone_key(&a) == user_phone_key(&b)) != k->equal)
			fail_msg("key %s/%s vs %s/%s: equal should be %d",
				 k->cc_a, k->pn_a, k->cc_b, k->pn_b, k->equal);
	}
	/* The largest valid identity still fits: 3 + 12 digits. */
	snprintf(a.country_code, sizeof(a.country_code), "998");
	snprintf(a.phone_number, sizeof(a.phone_number), "999999999999");
	snprintf(b.country_code, sizeof(b.country_code), "1");
	snprintf(b.phone_number, sizeof(b.phone_number), "99999999999999");
	assert_true(user_phone_key(&a) != user_phone_key(&b));
	assert_true(user_phone_key(&b) < UINT64_C(1) << 63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise_table),
	    cmocka_unit_test(test_normalise_null_rules),
	    cmocka_unit_test(test_field_names),
	    cmocka_unit_test(test_phone_key),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
