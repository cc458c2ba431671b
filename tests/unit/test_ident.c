/*
 * test_ident.c - unit tests for lib/ident.c: which rows are the person the
 * ledger knows, which differ (and in what), which clash on phone and
 * external id, with and without --allow-phone-change; the results cell's
 * words (masked email and names) and the log's (no personal data at all).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ident.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The ledger's user for the row's phone (key 1) and another (key 2). */
static struct ident_known user(uint64_t key, const char *email, const char *first,
			       const char *last, const char *ext)
{
	struct ident_known k = {true, key, {email, first, last}, ext,
				key == 1 ? "usr_1" : "usr_2", "44",
				key == 1 ? "7700900001" : "7700900002"};

	return k;
}

struct decide_case {
	const char *name;
	struct ident_fields row;
	const char *row_ext;
	bool phone_known, ext_known;
	const char *stored_email, *stored_first, *stored_last, *stored_ext; /* by phone */
	uint64_t ext_key;   /* the external id's user: 1 = the phone's, 2 = another */
	bool allow;
	enum ident_verdict want;
	unsigned diff;
};

/* clang-format off */
static const struct decide_case cases[] = {
	{"new person", {"ann@example.com", "Ann", "Lee"}, "", false, false,
	 "", "", "", "", 0, false, IDENT_NEW, 0},
	{"same person", {"ann@example.com", "Ann", "Lee"}, "", true, false,
	 "ann@example.com", "Ann", "Lee", "", 0, false, IDENT_EXISTS, 0},
	{"email edited", {"ann.lee@example.com", "Ann", "Lee"}, "", true, false,
	 "ann@example.com", "Ann", "Lee", "", 0, false, IDENT_CHANGED, IDENT_EMAIL},
	{"names edited", {"ann@example.com", "Anne", "Li"}, "", true, false,
	 "ann@example.com", "Ann", "Lee", "", 0, false, IDENT_CHANGED,
	 IDENT_FIRST_NAME | IDENT_LAST_NAME},
	{"a ledger row from before: never changed", {"x@example.com", "X", "Y"}, "", true, false,
	 "", "", "", "", 0, false, IDENT_EXISTS, 0},
	{"case counts", {"Ann@example.com", "Ann", "Lee"}, "", true, false,
	 "ann@example.com", "Ann", "Lee", "", 0, false, IDENT_CHANGED, IDENT_EMAIL},
	{"same external id, same phone", {"ann@example.com", "Ann", "Lee"}, "crm-1", true, true,
	 "ann@example.com", "Ann", "Lee", "crm-1", 1, false, IDENT_EXISTS, 0},
	{"known user gets its external id", {"ann@example.com", "Ann", "Lee"}, "crm-1", true,
	 false, "ann@example.com", "Ann", "Lee", "", 0, false, IDENT_EXISTS_ADOPT, 0},
	{"changed user does not get it", {"bo@example.com", "Ann", "Lee"}, "crm-1", true, false,
	 "ann@example.com", "Ann", "Lee", "", 0, false, IDENT_CHANGED, IDENT_EMAIL},
	{"known phone, another external id", {"ann@example.com", "Ann", "Lee"}, "crm-2", true,
	 false, "ann@example.com", "Ann", "Lee", "crm-1", 0, false, IDENT_CONFLICT_PHONE, 0},
	{"... also with --allow-phone-change", {"ann@example.com", "Ann", "Lee"}, "crm-2", true,
	 false, "ann@example.com", "Ann", "Lee", "crm-1", 0, true, IDENT_CONFLICT_PHONE, 0},
	{"known phone of a user without one, no id in the row", {"ann@example.com", "Ann", "Lee"},
	 "", true, false, "ann@example.com", "Ann", "Lee", "crm-1", 0, false, IDENT_EXISTS, 0},
	{"known external id, new phone", {"ann@example.com", "Ann", "Lee"}, "crm-1", false, true,
	 "", "", "", "", 2, false, IDENT_CONFLICT_EXT, 0},
	{"... with --allow-phone-change", {"ann@example.com", "Ann", "Lee"}, "crm-1", false, true,
	 "", "", "", "", 2, true, IDENT_NEW_MOVED, 0},
	{"known external id, phone of another user", {"ann@example.com", "Ann", "Lee"}, "crm-1",
	 true, true, "bo@example.com", "Bo", "Ng", "", 2, true, IDENT_CONFLICT_BOTH, 0},
};
/* clang-format on */

static void test_decide_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct decide_case *c = &cases[i];
		struct ident_known none = {0};
		struct ident_known p = c->phone_known ? user(1, c->stored_email, c->stored_first,
							     c->stored_last, c->stored_ext)
						      : none;
		struct ident_known x = c->ext_known ? user(c->ext_key, "", "", "", c->row_ext) : none;
		struct ident_decision d = ident_decide(&c->row, c->row_ext, 1, &p, &x, c->allow);

		if (d.verdict != c->want || d.diff != c->diff)
			fail_msg("case \"%s\": verdict %d diff %u, want %d %u", c->name, d.verdict,
				 d.diff, c->want, c->diff);
	}
}

static void test_mask_email(void **state)
{
	char out[64];

	(void)state;
	ident_mask_email("ann@example.com", out, sizeof(out));
	assert_string_equal(out, "a***@example.com");
	ident_mask_email("\xc3\xa9lise@example.fr", out, sizeof(out));
	assert_string_equal(out, "\xc3\xa9***@example.fr");
	ident_mask_email("", out, sizeof(out));
	assert_string_equal(out, "***");
}

/* The cell says what the ledger has, masked; the log says none of it. */
static void test_changed_words(void **state)
{
	struct ident_known p = user(1, "ann@example.com", "Ann", "Lee", "");
	struct ident_known x = {0};
	struct ident_fields row = {"new@example.com", "Ann", "Lee"};
	struct ident_decision d = ident_decide(&row, "", 1, &p, &x, false);
	char cell[301], log[256];

	(void)state;
	ident_message(&d, "", &p, &x, false, cell, sizeof(cell));
	assert_string_equal(cell, "email differs from the one Dots has (created with "
				  "a***@example.com); Dots was not updated");
	ident_message(&d, "", &p, &x, true, log, sizeof(log));
	assert_string_equal(log, "email differs from what Dots has for user usr_1; Dots was "
				 "not updated");
	row.first_name = "Anne";
	row.last_name = "Li";
	d = ident_decide(&row, "", 1, &p, &x, false);
	ident_message(&d, "", &p, &x, false, cell, sizeof(cell));
	assert_string_equal(cell, "email, first_name and last_name differ from the ones Dots has "
				  "(created with a***@example.com, \"A***\", \"L***\"); Dots was "
				  "not updated");
	ident_message(&d, "", &p, &x, true, log, sizeof(log));
	assert_null(strstr(log, "@"));
	assert_null(strstr(log, "Ann"));
}

static void test_conflict_words(void **state)
{
	struct ident_known none = {0};
	struct ident_known p = user(1, "ann@example.com", "Ann", "Lee", "crm-1");
	struct ident_known x = user(2, "bo@example.com", "Bo", "Ng", "crm-9");
	struct ident_fields row = {"ann@example.com", "Ann", "Lee"};
	struct ident_decision d;
	char cell[301], log[256];

	(void)state;
	d = ident_decide(&row, "crm-9", 1, &none, &x, false);
	ident_message(&d, "crm-9", &none, &x, false, cell, sizeof(cell));
	assert_string_equal(cell, "external_id \"crm-9\" belongs to user usr_2, created with phone "
				  "+44 7700900002: not created (--allow-phone-change creates it as "
				  "a new user)");
	ident_message(&d, "crm-9", &none, &x, true, log, sizeof(log));
	assert_null(strstr(log, "crm-9"));
	assert_null(strstr(log, "7700900002"));
	d = ident_decide(&row, "crm-2", 1, &p, &none, false);
	ident_message(&d, "crm-2", &p, &none, false, cell, sizeof(cell));
	assert_string_equal(cell, "phone belongs to user usr_1, created with external_id \"crm-1\" "
				  "(this row has \"crm-2\"): not created");
	d = ident_decide(&row, "crm-9", 1, &none, &x, true);
	ident_message(&d, "crm-9", &none, &x, false, cell, sizeof(cell));
	assert_string_equal(cell, "phone changed: external_id \"crm-9\" moved from user usr_2 "
				  "(phone +44 7700900002) to this new user (--allow-phone-change)");
	ident_message(&d, "crm-9", &none, &x, true, log, sizeof(log));
	assert_string_equal(log, "phone changed: external_id moved from user usr_2 to the new "
				 "user (--allow-phone-change)");
	/* a long external id is cut on a character boundary */
	{
		char ext[129];

		memset(ext, 'x', 38);
		memcpy(ext + 38, "\xc3\xa9\xc3\xa9", 4);
		memset(ext + 42, 'y', 20);
		ext[62] = '\0';
		d = ident_decide(&row, ext, 1, &none, &x, false);
		ident_message(&d, ext, &none, &x, false, cell, sizeof(cell));
		assert_non_null(strstr(cell, "xx\xc3\xa9...\" belongs"));
	}
	/* nothing to say */
	d = ident_decide(&row, "", 1, &none, &none, false);
	cell[0] = 'x';
	cell[1] = '\0';
	ident_message(&d, "", &none, &none, false, cell, sizeof(cell));
	assert_string_equal(cell, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_table),
		cmocka_unit_test(test_mask_email),
		cmocka_unit_test(test_changed_words),
		cmocka_unit_test(test_conflict_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
