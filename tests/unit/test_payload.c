/*
 * test_payload.c - unit tests for lib/payload.c: the create-user and verify
 * bodies (parsed back with jansson and compared field by field), user ids
 * taken from hostile create responses with exact error texts, and the
 * one-line error message taken from an error response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

#include "banned.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void fill_user(struct user *u, const char *username, const char *metadata)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->email, sizeof(u->email), "%s", "ada@example.com");
	snprintf(u->country_code, sizeof(u->country_code), "%s", "1");
	snprintf(u->phone_number, sizeof(u->phone_number), "%s", "4155550100");
	snprintf(u->first_name, sizeof(u->first_name), "%s", "Ada \"the\" Countess");
	snprintf(u->last_name, sizeof(u->last_name), "%s", "Lovelace-\xc3\xa9");
	snprintf(u->username, sizeof(u->username), "%s", username);
	u->metadata = metadata;
	u->metadata_len = metadata ? strlen(metadata) : 0;
}

/* Builds the body for u, checks *len, and parses it back. */
static json_t *create_body(const struct user *u)
{
	struct err e;
	size_t len = 0;
	char *body;
	json_t *root;

	err_init(&e);
	body = payload_create_user(NULL, u, &len, &e);
	if (!body)
		fail_msg("payload_create_user: %s", e.msg);
	assert_int_equal(len, strlen(body));
	root = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		fail_msg("body is not JSON: %s", body);
	free(body);
	assert_true(json_is_object(root));
	return root;
}

static void assert_member(json_t *root, const char *key, const char *want)
{
	json_t *v = json_object_get(root, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	assert_string_equal(json_string_value(v), want);
}

static void test_create_body_has_exactly_the_fields(void **state)
{
	struct user u;
	json_t *root;

	(void)state;
	fill_user(&u, "ada", NULL);
	root = create_body(&u);
	assert_int_equal(json_object_size(root), 6);
	assert_member(root, "email", "ada@example.com");
	assert_member(root, "country_code", "1");
	assert_member(root, "phone_number", "4155550100");
	assert_member(root, "first_name", "Ada \"the\" Countess");
	assert_member(root, "last_name", "Lovelace-\xc3\xa9");
	assert_member(root, "username", "ada");
	assert_null(json_object_get(root, "metadata"));
	json_decref(root);
}

static void test_create_body_omits_empty_username(void **state)
{
	struct user u;
	json_t *root;

	(void)state;
	fill_user(&u, "", NULL);
	root = create_body(&u);
	assert_int_equal(json_object_size(root), 5);
	assert_null(json_object_get(root, "username"));
	json_decref(root);
}

static void test_create_body_sends_date_of_birth(void **state)
{
	struct user u;
	json_t *root;

	(void)state;
	fill_user(&u, "", NULL);
	snprintf(u.date_of_birth, sizeof(u.date_of_birth), "%s", "2000-02-29");
	root = create_body(&u);
	assert_int_equal(json_object_size(root), 6);
	assert_member(root, "date_of_birth", "2000-02-29");
	json_decref(root);
	fill_user(&u, "", NULL); /* not given: not sent */
	root = create_body(&u);
	assert_null(json_object_get(root, "date_of_birth"));
	json_decref(root);
}

static void test_create_body_sends_object_metadata_as_object(void **state)
{
	struct user u;
	json_t *root, *meta, *want;

	(void)state;
	fill_user(&u, "", "{\"plan\": \"pro\", \"seats\": 3, \"tags\": [\"a\"]}");
	root = create_body(&u);
	meta = json_object_get(root, "metadata");
	assert_true(json_is_object(meta));
	want = json_pack("{s:s, s:i, s:[s]}", "plan", "pro", "seats", 3, "tags", "a");
	assert_true(json_equal(meta, want));
	json_decref(want);
	json_decref(root);

	fill_user(&u, "", "{}");
	root = create_body(&u);
	meta = json_object_get(root, "metadata");
	assert_true(json_is_object(meta));
	assert_int_equal(json_object_size(meta), 0);
	json_decref(root);
}

static void test_create_body_sends_other_metadata_as_string(void **state)
{
	static const char *const cases[] = {
		"[1, 2, 3]",
		"42",
		"\"string\"",
		"true",
		"null",
		"plain text, not JSON",
		"{\"unterminated\": ",
		"{\"a\": 1} trailing",
		"{\"dup\": 1, \"dup\": 2}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct user u;
		json_t *root, *meta;

		fill_user(&u, "", cases[i]);
		root = create_body(&u);
		meta = json_object_get(root, "metadata");
		if (!json_is_string(meta))
			fail_msg("metadata %s was not sent as a string", cases[i]);
		assert_string_equal(json_string_value(meta), cases[i]);
		json_decref(root);
	}
}

static void test_create_body_uses_metadata_len(void **state)
{
	struct user u;
	json_t *root;

	(void)state;
	/* only the first metadata_len bytes belong to the cell */
	fill_user(&u, "", "{\"a\":1},next-cell");
	u.metadata_len = 7;
	root = create_body(&u);
	assert_true(json_is_object(json_object_get(root, "metadata")));
	json_decref(root);

	fill_user(&u, "", "");
	root = create_body(&u); /* empty metadata = not given */
	assert_null(json_object_get(root, "metadata"));
	json_decref(root);
}

static void test_create_body_refuses_invalid_utf8(void **state)
{
	struct user u;
	struct err e;
	char *body;

	(void)state;
	fill_user(&u, "", NULL);
	snprintf(u.first_name, sizeof(u.first_name), "%s", "bad\xff");
	err_init(&e);
	body = payload_create_user(NULL, &u, NULL, &e);
	assert_null(body);
	assert_string_equal(e.msg, "first_name: not valid UTF-8");

	fill_user(&u, "", "caf\xe9");
	err_init(&e);
	body = payload_create_user(NULL, &u, NULL, &e);
	assert_null(body);
	assert_string_equal(e.msg, "metadata: not valid UTF-8");
}

static void test_verify_body(void **state)
{
	struct err e;
	size_t len = 0;
	char *body;

	(void)state;
	err_init(&e);
	body = payload_verify("123456", &len, &e);
	assert_non_null(body);
	assert_string_equal(body, "{\"token\":\"123456\"}");
	assert_int_equal(len, strlen(body));
	free(body);

	body = payload_verify("a\"b\\c", &len, &e);
	assert_string_equal(body, "{\"token\":\"a\\\"b\\\\c\"}");
	free(body);

	assert_null(payload_verify("\xc3", &len, &e));
	assert_string_equal(e.msg, "token: not valid UTF-8");
}

/* a send's body is not empty: that is what makes it at-most-once (http.h) */
static void test_send_verification_body(void **state)
{
	struct err e;
	size_t len = 0;
	char *body;

	(void)state;
	err_init(&e);
	body = payload_send_verification(&len, &e);
	assert_non_null(body);
	assert_string_equal(body, "{}");
	assert_int_equal(len, 2);
	free(body);
}

struct id_case {
	const char *body;
	int rc;
	const char *want; /* id, or error text */
};

/* 64 and 65 characters */
#define ID64 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
#define ID65 ID64 "x"

/* clang-format off */
static const struct id_case id_cases[] = {
	{"{\"id\":\"usr_123-abc\"}",            0, "usr_123-abc"},
	{"{\"id\":\"a\",\"name\":\"x\",\"n\":1}", 0, "a"},
	{" {\"id\" : \"" ID64 "\"} \n",         0, ID64},
	{"",                                    -1, "response is not JSON"},
	{"not json",                            -1, "response is not JSON"},
	{"<html>502</html>",                    -1, "response is not JSON"},
	{"{\"id\":\"a\"",                       -1, "response is not JSON"},
	{"[{\"id\":\"a\"}]",                    -1, "response is not a JSON object"},
	{"42",                                  -1, "response is not a JSON object"},
	{"\"abc\"",                             -1, "response is not a JSON object"},
	{"{}",                                  -1, "response has no \"id\""},
	{"{\"ID\":\"a\"}",                      -1, "response has no \"id\""},
	{"{\"id\":123}",                        -1, "response \"id\" is not a string"},
	{"{\"id\":null}",                       -1, "response \"id\" is not a string"},
	{"{\"id\":[\"a\"]}",                    -1, "response \"id\" is not a string"},
	{"{\"id\":\"\"}",                       -1, "response \"id\" has 0 characters"},
	{"{\"id\":\"" ID65 "\"}",               -1, "response \"id\" has 65 characters"},
	{"{\"id\":\"a/b\"}",                    -1, "response \"id\" has an unexpected character"},
	{"{\"id\":\"../x\"}",                   -1, "response \"id\" has an unexpected character"},
	{"{\"id\":\"a\\\"b\"}",                 -1, "response \"id\" has an unexpected character"},
	{"{\"id\":\"a b\"}",                    -1, "response \"id\" has an unexpected character"},
	{"{\"id\":\"a?x=1\"}",                  -1, "response \"id\" has an unexpected character"},
	{"{\"id\":\"a\\u0000b\"}",              -1, "response is not JSON"},
	{"{\"id\":\"\xc3\xa9\"}",               -1, "response \"id\" has an unexpected character"},
};
/* clang-format on */

static void test_user_id_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(id_cases); i++) {
		const struct id_case *c = &id_cases[i];
		char id[PAYLOAD_ID_MAX + 1] = "untouched";
		struct err e;
		int rc;

		err_init(&e);
		rc = payload_user_id(c->body, strlen(c->body), id, &e);
		if (rc != c->rc)
			fail_msg("case %zu %s: rc %d (%s)", i, c->body, rc, e.msg);
		if (rc == 0 && strcmp(id, c->want) != 0)
			fail_msg("case %zu: id \"%s\", want \"%s\"", i, id, c->want);
		if (rc < 0 && strcmp(e.msg, c->want) != 0)
			fail_msg("case %zu: error \"%s\", want \"%s\"", i, e.msg, c->want);
	}
}

static void test_user_id_reads_only_len_bytes(void **state)
{
	const char *body = "{\"id\":\"abc\"}GARBAGE";
	char id[PAYLOAD_ID_MAX + 1];
	struct err e;

	(void)state;
	err_init(&e);
	assert_int_equal(payload_user_id(body, 12, id, &e), 0);
	assert_string_equal(id, "abc");
	assert_int_equal(payload_user_id(body, strlen(body), id, &e), -1);
	assert_string_equal(e.msg, "response is not JSON");
}

struct msg_case {
	const char *body;
	size_t cap;
	const char *want;
};

/* clang-format off */
static const struct msg_case msg_cases[] = {
	{"{\"message\":\"phone_number is invalid\"}", 200, "phone_number is invalid"},
	{"{\"message\":\"m\",\"error\":\"e\"}",       200, "m"},
	{"{\"error\":\"x\"}",                          200, "x"},
	{"{\"message\":\"\",\"error\":\"x\"}",         200, "x"},
	{"{\"message\":5,\"error\":\"x\"}",            200, "x"},
	{"{\"error\":{\"message\":\"y\",\"code\":7}}", 200, "y"},
	{"{\"error\":\"\",\"x\":1}",                   200, "{\"error\":\"\",\"x\":1}"},
	{"{\"error\":{\"message\":\"\"}}",             200, "{\"error\":{\"message\":\"\"}}"},
	{"{\"error\":{\"code\":7}}",                   200, "{\"error\":{\"code\":7}}"},
	{"{\"detail\":\"d\"}",                         200, "{\"detail\":\"d\"}"},
	{"[\"message\"]",                              200, "[\"message\"]"},
	{"Service Unavailable",                        200, "Service Unavailable"},
	{"<html>\r\n<body>\t<h1>502 Bad Gateway</h1>\n</body>\n</html>\n",
	                                               200, "<html> <body> <h1>502 Bad Gateway</h1> </body> </html>"},
	/* control characters become blanks, runs fold, ends trimmed */
	{"  a\x01\x02 b\x7f\x1b[31mc  \n",             200, "a b [31mc"},
	{"{\"message\":\"line1\\nline2\\u0007end\"}",  200, "line1 line2 end"},
	/* characters that reorder or hide text become blanks too (a
	 * right-to-left override would turn the terminal line around) */
	{"bad \xe2\x80\xae enohp\xe2\x80\x8b!",           200, "bad enohp !"},
	{"{\"message\":\"a\\u202eb\\u2066c\"}",        200, "a b c"},
	{"",                                           200, ""},
	{"   \n\t ",                                   200, ""},
	/* cut to fit cap, with "..." */
	{"abcdefghij",                                 11, "abcdefghij"},
	{"abcdefghijk",                                11, "abcdefg..."},
	{"abcdefghij \n",                              11, "abcdefghij"},
	{"abcdefghij  k",                              11, "abcdefg..."},
	/* never half a UTF-8 sequence before "..." */
	{"abcdef\xc3\xa9\xc3\xa9",                     11, "abcdef\xc3\xa9\xc3\xa9"},
	{"abcdef\xc3\xa9\xc3\xa9\xc3\xa9",             11, "abcdef..."},
	{"abcde\xc3\xa9\xc3\xa9\xc3\xa9",              11, "abcde\xc3\xa9..."},
	{"abcdef\xe2\x82\xac\xe2\x82\xac",             11, "abcdef..."},
	{"abcdefg\xe2\x82\xac",                        11, "abcdefg\xe2\x82\xac"},
	{"abcdefgh\xe2\x82\xac",                       11, "abcdefg..."},
	{"a\xf0\x9f\x98\x80\xf0\x9f\x98\x80",          11, "a\xf0\x9f\x98\x80\xf0\x9f\x98\x80"},
	{"a\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 11, "a\xf0\x9f\x98\x80..."},
	{"abcdef\xf0\x9f\x98\x80z",                    11, "abcdef..."},
	/* caps too small for "..." still give a terminated prefix */
	{"abcdef",                                     4, "abc"},
	{"abcdef",                                     1, ""},
};
/* clang-format on */

static void test_error_message_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(msg_cases); i++) {
		const struct msg_case *c = &msg_cases[i];
		char out[512];

		memset(out, 0x80, sizeof(out)); /* continuation bytes as junk */
		payload_error_message(c->body, strlen(c->body), out, c->cap);
		if (strcmp(out, c->want) != 0)
			fail_msg("case %zu: \"%s\", want \"%s\"", i, out, c->want);
		assert_true(strlen(out) < c->cap);
	}
}

static void test_error_message_long_body(void **state)
{
	char body[5000], out[300];

	(void)state;
	memset(body, 'z', sizeof(body));
	payload_error_message(body, sizeof(body), out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + sizeof(out) - 4, "...");
	assert_int_equal(out[0], 'z');
	payload_error_message(body, sizeof(body), out, 0); /* writes nothing */
}

/* With an arena the same table gives the same answers, over and over
 * (the arena is rewound after each call), and a tree too big for it
 * spills into malloc without leaking (ASan/valgrind check that). */
static void test_arena_same_answers(void **state)
{
	struct payload_arena *a = payload_arena_new();
	char big[100000];
	bool verified = true;

	(void)state;
	assert_non_null(a);
	for (int round = 0; round < 50; round++)
		for (size_t i = 0; i < ARRAY_LEN(id_cases); i++) {
			const struct id_case *c = &id_cases[i];
			char id[PAYLOAD_ID_MAX + 1] = "untouched";
			struct err e;
			int rc;

			err_init(&e);
			rc = payload_created_user(a, c->body, strlen(c->body), id, NULL, &e);
			assert_int_equal(rc, c->rc);
			if (rc == 0)
				assert_string_equal(id, c->want);
		}
	/* over 64 KiB of JSON: spills */
	{
		size_t n = 0;
		char id[PAYLOAD_ID_MAX + 1];
		struct err e;

		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "{\"id\":\"u1\",\"status\":\"verified\",\"x\":[");
		while (n + 16 < sizeof(big))
			n += (size_t)snprintf(big + n, sizeof(big) - n, "\"abcdefgh\",");
		big[n - 1] = ']';
		big[n++] = '}';
		err_init(&e);
		assert_int_equal(payload_created_user(a, big, n, id, &verified, &e), 0);
		assert_string_equal(id, "u1");
		assert_true(verified);
		assert_int_equal(payload_created_user(a, "{\"id\":\"u2\"}", 11, id, &verified, &e), 0);
		assert_false(verified);
	}
	payload_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_body_has_exactly_the_fields),
		cmocka_unit_test(test_create_body_omits_empty_username),
		cmocka_unit_test(test_create_body_sends_date_of_birth),
		cmocka_unit_test(test_create_body_sends_object_metadata_as_object),
		cmocka_unit_test(test_create_body_sends_other_metadata_as_string),
		cmocka_unit_test(test_create_body_uses_metadata_len),
		cmocka_unit_test(test_create_body_refuses_invalid_utf8),
		cmocka_unit_test(test_verify_body),
		cmocka_unit_test(test_send_verification_body),
		cmocka_unit_test(test_user_id_table),
		cmocka_unit_test(test_user_id_reads_only_len_bytes),
		cmocka_unit_test(test_arena_same_answers),
		cmocka_unit_test(test_error_message_table),
		cmocka_unit_test(test_error_message_long_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
