/*
 * test_config.c - unit tests for lib/config.c: defaults, every key of the
 * YAML file, and the exact error (file:line: key: reason) for each bad input.
 * YAML is written to mkstemp files under /tmp; nothing else is touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "banned.h"

#define MIB (1024 * 1024)

/* Writes len bytes of text to a fresh temp file; path gets its name. */
static void write_temp(char path[64], const char *text, size_t len)
{
	int fd;

	snprintf(path, 64, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		assert_true(n > 0);
		text += n;
		len -= (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

/* Loads text into c (already initialised); path receives the file name,
 * which is removed again before returning. */
static int load_len(struct config *c, const char *text, size_t len,
		    char path[64], struct err *err)
{
	int rc;

	write_temp(path, text, len);
	err_init(err);
	rc = config_load(c, path, err);
	unlink(path);
	return rc;
}

static int load(struct config *c, const char *text, struct err *err)
{
	char path[64];

	return load_len(c, text, strlen(text), path, err);
}

/* ---- error cases: one table, one cmocka test per row ---- */

struct bad_case {
	const char *name;
	const char *yaml;
	size_t len;	    /* 0 = strlen(yaml); set for embedded NUL bytes */
	const char *want;   /* the message after the file name */
	int prefix;	    /* want is only the start of the message */
	const char *secret; /* must not appear in the message */
};

static const struct bad_case bad_cases[] = {
    {"int_not_a_number", "import:\n  concurrency: abc\n", 0,
     ":2: import.concurrency: expected an integer from 1 to 256, got \"abc\"",
     0, NULL},
    {"int_above_range", "import:\n  concurrency: 257\n", 0,
     ":2: import.concurrency: expected an integer from 1 to 256, got \"257\"",
     0, NULL},
    {"int_zero", "\n\nimport:\n  concurrency: 0\n", 0,
     ":4: import.concurrency: expected an integer from 1 to 256, got \"0\"", 0,
     NULL},
    {"int_fraction", "import:\n  concurrency: 8.5\n", 0,
     ":2: import.concurrency: expected an integer from 1 to 256, got \"8.5\"",
     0, NULL},
    {"int_hex", "import:\n  concurrency: 0x10\n", 0,
     ":2: import.concurrency: expected an integer from 1 to 256, got "
     "\"0x10\"",
     0, NULL},
    {"int_overflow", "retry:\n  max_attempts: 99999999999999999999999\n", 0,
     ":2: retry.max_attempts: expected an integer from 1 to 100, got "
     "\"99999999999999999999999\"",
     0, NULL},
    {"connect_timeout_range", "api:\n  connect_timeout_ms: 600001\n", 0,
     ":2: api.connect_timeout_ms: expected an integer from 1 to 600000, got "
     "\"600001\"",
     0, NULL},
    {"request_timeout_range", "api:\n  request_timeout_ms: 0\n", 0,
     ":2: api.request_timeout_ms: expected an integer from 1 to 3600000, "
     "got \"0\"",
     0, NULL},
    {"max_attempts_range", "retry:\n  max_attempts: 101\n", 0,
     ":2: retry.max_attempts: expected an integer from 1 to 100, got "
     "\"101\"",
     0, NULL},
    {"base_delay_negative", "retry:\n  base_delay_ms: -1\n", 0,
     ":2: retry.base_delay_ms: expected an integer from 1 to 600000, got "
     "\"-1\"",
     0, NULL},
    {"max_delay_range", "retry:\n  max_delay_ms: 3600001\n", 0,
     ":2: retry.max_delay_ms: expected an integer from 1 to 3600000, got "
     "\"3600001\"",
     0, NULL},
    {"rate_negative", "import:\n  rate_limit: -1\n", 0,
     ":2: import.rate_limit: expected auto, unlimited or a number from 0 to 100000, got \"-1\"", 0,
     NULL},
    {"rate_too_high", "import:\n  rate_limit: 100000.5\n", 0,
     ":2: import.rate_limit: expected auto, unlimited or a number from 0 to 100000, got "
     "\"100000.5\"",
     0, NULL},
    {"rate_nan", "import:\n  rate_limit: nan\n", 0,
     ":2: import.rate_limit: expected auto, unlimited or a number from 0 to 100000, got "
     "\"nan\"",
     0, NULL},
    {"bool_bad", "import:\n  send_verification: maybe\n", 0,
     ":2: import.send_verification: expected true or false, got \"maybe\"", 0,
     NULL},
    {"bool_digit", "import:\n  send_verification: 1\n", 0,
     ":2: import.send_verification: expected true or false, got \"1\"", 0,
     NULL},
    {"cc_too_long", "import:\n  default_country_code: 4444\n", 0,
     ":2: import.default_country_code: expected a calling code of 1 to 3 "
     "digits, got \"4444\"",
     0, NULL},
    {"cc_plus_only", "import:\n  default_country_code: '+'\n", 0,
     ":2: import.default_country_code: expected a calling code of 1 to 3 "
     "digits, got \"+\"",
     0, NULL},
    {"cc_letters", "import:\n  default_country_code: 4a\n", 0,
     ":2: import.default_country_code: expected a calling code of 1 to 3 "
     "digits, got \"4a\"",
     0, NULL},
    {"delimiter_word", "import:\n  delimiter: comma\n", 0,
     ":2: import.delimiter: expected \",\", \";\", \"|\" or tab, got \"comma\"",
     0, NULL},
    {"delimiter_two_chars", "\n\nimport:\n  delimiter: ';;'\n", 0,
     ":4: import.delimiter: expected \",\", \";\", \"|\" or tab, got \";;\"",
     0, NULL},
    {"encoding_unknown", "import:\n  encoding: klingon-8\n", 0,
     ":2: import.encoding: expected an encoding iconv knows (windows-1252, "
     "latin1, UTF-16LE, ...), got \"klingon-8\"",
     0, NULL},
    {"encoding_with_suffix", "import:\n  encoding: latin1//IGNORE\n", 0,
     ":2: import.encoding: expected an encoding iconv knows", 1, NULL},
    {"string_got_mapping", "api:\n  base_url: {a: b}\n", 0,
     ":2: api.base_url: expected a string, got a mapping", 0, NULL},
    {"string_got_list", "import:\n  state: [a, b]\n", 0,
     ":2: import.state: expected a string, got a list", 0, NULL},
    {"string_null", "import:\n  state:\n", 0,
     ":2: import.state: expected a string, got null", 0, NULL},
    {"string_tilde", "import:\n  state: ~\n", 0,
     ":2: import.state: expected a string, got null", 0, NULL},
    {"int_null", "import:\n  concurrency:\nretry: {}\n", 0,
     ":2: import.concurrency: expected an integer from 1 to 256, got null", 0,
     NULL},
    {"string_empty", "import:\n  state: \"\"\n", 0,
     ":2: import.state: must not be empty", 0, NULL},
    {"string_with_nul", "import:\n  state: \"a\\0b\"\n", 0,
     ":2: import.state: contains a NUL byte", 0, NULL},
    {"int_with_nul", "import:\n  concurrency: \"8\\0\"\n", 0,
     ":2: import.concurrency: expected an integer from 1 to 256, got \"8?\"", 0,
     NULL},
    {"client_id_wrong_type", "api:\n  client_id: {id: topsecret}\n", 0,
     ":2: api.client_id: expected a string", 0, "topsecret"},
    {"client_id_list", "api:\n  client_id: [topsecret]\n", 0,
     ":2: api.client_id: expected a string", 0, "topsecret"},
    {"api_key_rejected",
     "api:\n  base_url: https://x.test/api\n"
     "  api_key: sk_live_TOPSECRET\n",
     0,
     ":3: api.api_key: put the key in a file and set api.api_key_file, or "
     "use DOTS_API_KEY",
     0, "TOPSECRET"},
    {"api_key_rejected_any_type", "api:\n  api_key: [TOPSECRET]\n", 0,
     ":2: api.api_key: put the key in a file and set api.api_key_file, or "
     "use DOTS_API_KEY",
     0, "TOPSECRET"},
    {"unknown_key", "import:\n  concurency: 8\n", 0,
     ":2: unknown key \"import.concurency\"", 0, NULL},
    {"unknown_key_line",
     "api:\n  base_url: https://x.test/api\n\n"
     "# comment\nimport:\n  concurrency: 8\n  state: s.db\n\n"
     "  concurency: 9\n",
     0, ":9: unknown key \"import.concurency\"", 0, NULL},
    {"unknown_key_control_chars", "import:\n  \"a\\tb\": 1\n", 0,
     ":2: unknown key \"import.a...\"", 0, NULL},
    {"unknown_key_hides_run_in_value", "api:\n  client_id:TOPSECRET: 1\n", 0,
     ":2: unknown key \"api.client_id...\"", 0, "TOPSECRET"},
    {"unknown_key_hides_after_blank", "api:\n  \"api_key TOPSECRET\": 1\n", 0,
     ":2: unknown key \"api.api_key...\"", 0, "TOPSECRET"},
    {"unknown_section_hides_value", "client_id:TOPSECRET: 1\n", 0,
     ":1: unknown section \"client_id...\"", 0, "TOPSECRET"},
    {"unknown_key_in_wrong_section", "retry:\n  concurrency: 8\n", 0,
     ":2: unknown key \"retry.concurrency\"", 0, NULL},
    {"unknown_column", "columns:\n  mail: E-Mail\n", 0,
     ":2: unknown key \"columns.mail\"", 0, NULL},
    {"unknown_section", "\napii:\n  base_url: x\n", 0,
     ":2: unknown section \"apii\"", 0, NULL},
    {"section_scalar", "import: {}\napi: 5\n", 0, ":2: api: expected a mapping",
     0, NULL},
    {"section_list", "retry: {}\n\napi:\n  - base_url\n", 0,
     ":3: api: expected a mapping", 0, NULL},
    {"section_key_not_scalar", "api:\n  ? [a]\n  : b\n", 0,
     ":2: api: expected a key name", 0, NULL},
    {"top_key_not_scalar", "? [a]\n: b\n", 0, ":1: expected a section name", 0,
     NULL},
    {"unknown_section_late",
     "import:\n  concurrency: 8\n  state: a.db\n"
     "retry:\n  max_attempts: 3\nimport2: x\n",
     0, ":6: unknown section \"import2\"", 0, NULL},
    {"duplicate_key_same_section",
     "import:\n  concurrency: 8\n\n"
     "  state: a.db\n\n\n  concurrency: 9\n",
     0, ":7: duplicate key \"import.concurrency\"", 0, NULL},
    {"duplicate_column", "columns:\n  email: a\n  email: b\n", 0,
     ":3: duplicate key \"columns.email\"", 0, NULL},
    {"duplicate_section",
     "import:\n  concurrency: 8\nimport:\n"
     "  state: a.db\n",
     0, ":3: duplicate section \"import\"", 0, NULL},
    {"column_got_list", "columns:\n  email: [a]\n", 0,
     ":2: columns.email: expected a string, got a list", 0, NULL},
    {"column_empty", "columns:\n  phone: ''\n", 0,
     ":2: columns.phone: must not be empty", 0, NULL},
    {"top_level_list", "- api\n- import\n", 0,
     ":1: expected a mapping of sections (api, import, retry, columns)", 0,
     NULL},
    {"top_level_scalar", "# hi\nhello\n", 0,
     ":2: expected a mapping of sections (api, import, retry, columns)", 0,
     NULL},
    {"max_below_base", "retry:\n  base_delay_ms: 500\n  max_delay_ms: 400\n", 0,
     ":3: retry.max_delay_ms: must be at least retry.base_delay_ms (500), "
     "got 400",
     0, NULL},
    {"base_above_default_max", "retry:\n  base_delay_ms: 60000\n", 0,
     ":2: retry.base_delay_ms: must be at most retry.max_delay_ms (30000), "
     "got 60000",
     0, NULL},
    {"syntax_unterminated_quote",
     "api:\n  base_url: \"unterminated\n"
     "  x: 1\n",
     0, ":4: YAML syntax error: found unexpected end of stream", 0, NULL},
    {"syntax_bad_indent", "api:\n  base_url: x\n connect_timeout_ms: 5\n", 0,
     ":3: YAML syntax error: did not find expected key", 0, NULL},
    {"syntax_colon_in_plain", "api:\n  base_url: x: y\n", 0,
     ":2: YAML syntax error: mapping values are not allowed in this context", 0,
     NULL},
    {"syntax_bad_escape", "import:\n  concurrency: 8\n\n  state: \"a\\q\"\n", 0,
     ":4: YAML syntax error: found unknown escape character", 0, NULL},
    {"syntax_tab_indent", "api:\n\tbase_url: x\n", 0,
     ":2: YAML syntax error: found character that cannot start any token", 0,
     NULL},
    {"binary_bytes", "import:\n  state: a\x80\xff b\n", 0,
     ":2: YAML syntax error: invalid leading UTF-8 octet", 0, NULL},
    {"nul_byte_in_file", "import:\n  state: a\0b\n", 21,
     ":2: YAML syntax error: control characters are not allowed", 0, NULL},
    {"alias_rejected",
     "import:\n  concurrency: &n 8\nretry:\n"
     "  max_attempts: *n\n",
     0, ":4: YAML aliases (*name) are not supported", 0, NULL},
    {"alias_as_key", "import:\n  &k concurrency: 8\n  *k : 9\n", 0,
     ":3: YAML aliases (*name) are not supported", 0, NULL},
    {"alias_of_list", "columns:\n  email: &a lol\n  phone: *a\n", 0,
     ":3: YAML aliases (*name) are not supported", 0, NULL},
    {"merge_key_alias",
     "api: &d\n  connect_timeout_ms: 5\nretry:\n"
     "  <<: *d\n",
     0, ":4: unknown key \"retry.<<\"", 0, NULL},
    {"two_documents", "import: {}\n---\nretry: {}\n", 0,
     ":2: only one YAML document is allowed", 0, NULL},
    {"long_value_truncated",
     "import:\n  concurrency: "
     "aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee\n",
     0,
     ":2: import.concurrency: expected an integer from 1 to 256, got "
     "\"aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...\"",
     0, NULL},
};

#define NBAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

/* Checks err against path + want (exactly, or as a prefix). */
static void assert_msg(const struct err *err, const char *path,
		       const char *want, int prefix)
{
	char full[ERR_MSG_MAX];

	snprintf(full, sizeof(full), "%s%s", path, want);
	if (prefix) {
		if (strncmp(err->msg, full, strlen(full)) != 0)
			fail_msg("got '%s', want prefix '%s'", err->msg, full);
	} else {
		assert_string_equal(err->msg, full);
	}
}

static void test_bad_case(void **state)
{
	const struct bad_case *bc = *state;
	size_t len = bc->len ? bc->len : strlen(bc->yaml);
	struct config c, before;
	struct err err;
	char path[64];

	config_init(&c);
	before = c;
	assert_int_equal(load_len(&c, bc->yaml, len, path, &err), -1);
	assert_msg(&err, path, bc->want, bc->prefix);
	if (bc->secret)
		assert_null(strstr(err.msg, bc->secret));
	/* a failed load leaves the config as it was */
	assert_ptr_equal(c.base_url, before.base_url);
	assert_ptr_equal(c.state, before.state);
	assert_int_equal(c.concurrency, 8);
	assert_int_equal(c.base_delay_ms, 250);
	assert_null(c.columns[USER_EMAIL]);
	config_release(&c);
}

/* ---- good files ---- */

/* A rate as written: auto, unlimited, a number; anything else refused. */
static void test_parse_rate(void **state)
{
	static const struct {
		const char *in;
		int rc;
		double want;
	} t[] = {{"auto", 0, CONFIG_RATE_AUTO}, {"AUTO", 0, CONFIG_RATE_AUTO},
		 {"unlimited", 0, 0},           {"0", 0, 0},
		 {"250", 0, 250},               {"12.5", 0, 12.5},
		 {"-1", -1, 0},                 {"100001", -1, 0},
		 {"fast", -1, 0},               {"", -1, 0}};
	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double d = 99;

		assert_int_equal(config_parse_rate(t[i].in, &d), t[i].rc);
		if (t[i].rc == 0)
			assert_true(d == t[i].want);
	}
}

static void test_defaults(void **state)
{
	struct config c;
	size_t i;

	(void)state;
	config_init(&c);
	assert_string_equal(c.base_url, "https://pls.senddotssandbox.com/api");
	assert_int_equal(c.connect_timeout_ms, 10000);
	assert_int_equal(c.request_timeout_ms, 30000);
	assert_null(c.client_id);
	assert_null(c.api_key_file);
	assert_null(c.ca_cert);
	assert_int_equal(c.concurrency, 8);
	assert_true(c.rate_limit == CONFIG_RATE_AUTO); /* adaptive pacing by default */
	assert_true(c.send_verification);
	assert_false(c.allow_phone_change);
	assert_string_equal(c.state, "dots-import.db");
	assert_null(c.default_country_code);
	assert_int_equal(c.max_attempts, 5);
	assert_int_equal(c.base_delay_ms, 250);
	assert_int_equal(c.max_delay_ms, 30000);
	for (i = 0; i < USER_FIELD_COUNT; i++)
		assert_null(c.columns[i]);
	config_release(&c);
	config_release(&c); /* idempotent */
	assert_null(c.base_url);
	config_release(NULL);
}

static void test_full_file(void **state)
{
	static const char yaml[] = "# every key\n"
				   "api:\n"
				   "  base_url: http://127.0.0.1:8080/api\n"
				   "  connect_timeout_ms: 1500\n"
				   "  request_timeout_ms: 3600000\n"
				   "  client_id: 'cid-123'\n"
				   "  api_key_file: /etc/dots-import/api_key\n"
				   "  ca_cert: \"/etc/ssl/ca.pem\"\n"
				   "import:\n"
				   "  concurrency: 256\n"
				   "  rate_limit: 12.5\n"
				   "  send_verification: false\n"
				   "  allow_phone_change: true\n"
				   "  state: /var/lib/dots/state.db\n"
				   "  default_country_code: '+44'\n"
				   "  delimiter: tab\n"
				   "  encoding: windows-1252\n"
				   "retry:\n"
				   "  max_attempts: 100\n"
				   "  base_delay_ms: 1\n"
				   "  max_delay_ms: 1\n"
				   "columns:\n"
				   "  email: E-Mail\n"
				   "  country_code: CC\n"
				   "  phone_number: Mobile\n"
				   "  first_name: Given name\n"
				   "  last_name: Family name\n"
				   "  username: Login\n"
				   "  metadata: Extra\n"
				   "  phone: Phone (intl)\n"
				   "  date_of_birth: Born\n"
				   "  external_id: CRM id\n";
	static const char *const want_cols[USER_FIELD_COUNT] = {
	    "E-Mail",	   "CC",    "Mobile", "Given name",
	    "Family name", "Login", "Extra",  "Phone (intl)", "Born", "CRM id"};
	struct config c;
	struct err err;
	size_t i;

	(void)state;
	config_init(&c);
	assert_int_equal(load(&c, yaml, &err), 0);
	assert_string_equal(c.base_url, "http://127.0.0.1:8080/api");
	assert_int_equal(c.connect_timeout_ms, 1500);
	assert_int_equal(c.request_timeout_ms, 3600000);
	assert_string_equal(c.client_id, "cid-123");
	assert_string_equal(c.api_key_file, "/etc/dots-import/api_key");
	assert_string_equal(c.ca_cert, "/etc/ssl/ca.pem");
	assert_int_equal(c.concurrency, 256);
	assert_true(c.rate_limit == 12.5);
	assert_false(c.send_verification);
	assert_true(c.allow_phone_change);
	assert_string_equal(c.state, "/var/lib/dots/state.db");
	assert_string_equal(c.default_country_code, "44");
	assert_int_equal(c.delimiter, '\t');
	assert_string_equal(c.encoding, "windows-1252");
	assert_int_equal(c.max_attempts, 100);
	assert_int_equal(c.base_delay_ms, 1);
	assert_int_equal(c.max_delay_ms, 1);
	for (i = 0; i < USER_FIELD_COUNT; i++)
		assert_string_equal(c.columns[i], want_cols[i]);
	config_release(&c);
}

/* The example of the README, verbatim. */
static void test_contract_example(void **state)
{
	static const char yaml[] =
	    "api:\n"
	    "  base_url: https://pls.senddotssandbox.com/api\n"
	    "  connect_timeout_ms: 10000\n"
	    "  request_timeout_ms: 30000\n"
	    "import:\n"
	    "  concurrency: 8\n"
	    "  rate_limit: 0          # requests/s, 0 = unlimited\n"
	    "  send_verification: true\n"
	    "  state: dots-import.db\n"
	    "retry:\n"
	    "  max_attempts: 5\n"
	    "  base_delay_ms: 250\n"
	    "  max_delay_ms: 30000\n"
	    "columns:                 # API field: CSV header\n"
	    "  email: email\n"
	    "  phone_number: phone_number\n";
	struct config c;
	struct err err;

	(void)state;
	config_init(&c);
	assert_int_equal(load(&c, yaml, &err), 0);
	assert_string_equal(c.columns[USER_EMAIL], "email");
	assert_string_equal(c.columns[USER_PHONE_NUMBER], "phone_number");
	assert_null(c.columns[USER_FIRST_NAME]);
	assert_int_equal(c.max_delay_ms, 30000);
	config_release(&c);
}

/* The repository's documented config.yaml, when run from the repo root. */
static void test_repo_config_yaml(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	if (access("config.yaml", R_OK) != 0 ||
	    access("lib/config.h", R_OK) != 0)
		skip();
	config_init(&c);
	err_init(&err);
	if (config_load(&c, "config.yaml", &err) != 0)
		fail_msg("config.yaml: %s", err.msg);
	assert_null(c.client_id);
	assert_null(c.api_key_file);
	assert_int_equal(c.concurrency, 8);
	assert_string_equal(c.columns[USER_EMAIL], "email");
	config_release(&c);
}

/* Files that set nothing: the config keeps its defaults. */
static void test_empty_files(void **state)
{
	static const char *const texts[] = {
	    "",
	    "\n\n\n",
	    "# only a comment\n",
	    "# one\n   # two, indented\n\n# three",
	    "---\n",
	    "--- # empty document\n...\n",
	    "~\n",
	    "\xEF\xBB\xBF# BOM then a comment\r\n",
	    "api:\n  # base_url: x\ncolumns:\n  # email: mail\n",
	    "api: {}\nimport: {}\nretry: {}\ncolumns: {}\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct config c;
		struct err err;

		config_init(&c);
		if (load(&c, texts[i], &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_int_equal(c.concurrency, 8);
		assert_string_equal(c.state, "dots-import.db");
		assert_true(c.send_verification);
		config_release(&c);
	}
}

static void test_bool_spellings(void **state)
{
	static const struct {
		const char *text;
		bool want;
	} cases[] = {
	    {"true", true},	  {"True", true},   {"TRUE", true},
	    {"yes", true},	  {"Yes", true},    {"on", true},
	    {"ON", true},	  {"'yes'", true},  {"false", false},
	    {"False", false},	  {"FALSE", false}, {"no", false},
	    {"NO", false},	  {"off", false},   {"Off", false},
	    {"\"false\"", false},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[128];
		struct config c;
		struct err err;

		snprintf(yaml, sizeof(yaml),
			 "import:\n  send_verification: %s\n", cases[i].text);
		config_init(&c);
		c.send_verification = !cases[i].want;
		if (load(&c, yaml, &err) != 0)
			fail_msg("%s: %s", cases[i].text, err.msg);
		if (c.send_verification != cases[i].want)
			fail_msg("%s: wrong value", cases[i].text);
		config_release(&c);
	}
}

/* Values that are accepted in more than one spelling. */
static void test_value_forms(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_init(&c);
	assert_int_equal(load(&c,
			      "import:\n"
			      "  concurrency: \"16\"\n"
			      "  rate_limit: 0.5\n"
			      "  default_country_code: 1\n"
			      "  state: >-\n"
			      "    folded\n"
			      "    name.db\n"
			      "retry:\n"
			      "  max_attempts: +3\n"
			      "api: {connect_timeout_ms: 600000, "
			      "base_url: 'https://a.test/api'}\n",
			      &err),
			 0);
	assert_int_equal(c.concurrency, 16);
	assert_true(c.rate_limit == 0.5);
	assert_string_equal(c.default_country_code, "1");
	assert_string_equal(c.state, "folded name.db");
	assert_int_equal(c.max_attempts, 3);
	assert_int_equal(c.connect_timeout_ms, 600000);
	assert_string_equal(c.base_url, "https://a.test/api");
	config_release(&c);
}

/* A file overlays only what it sets; a second file overlays the first. */
static void test_overlay(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_init(&c);
	assert_int_equal(load(&c,
			      "import:\n  concurrency: 4\n"
			      "columns:\n  email: mail\n",
			      &err),
			 0);
	assert_int_equal(load(&c,
			      "retry:\n  max_attempts: 2\n"
			      "columns:\n  email: E-mail\n",
			      &err),
			 0);
	assert_int_equal(c.concurrency, 4);
	assert_int_equal(c.max_attempts, 2);
	assert_string_equal(c.columns[USER_EMAIL], "E-mail");
	assert_string_equal(c.base_url, CONFIG_DEFAULT_BASE_URL);
	assert_int_equal(c.request_timeout_ms, 30000);
	/* the failing third file changes nothing, even keys before the error */
	assert_int_equal(load(&c,
			      "import:\n  concurrency: 9\n"
			      "  state: other.db\n  bogus: 1\n",
			      &err),
			 -1);
	assert_int_equal(c.concurrency, 4);
	assert_string_equal(c.state, "dots-import.db");
	config_release(&c);
}

static void test_set_string(void **state)
{
	char *s = NULL;

	(void)state;
	assert_int_equal(config_set_string(&s, "one"), 0);
	assert_string_equal(s, "one");
	assert_int_equal(config_set_string(&s, "two"), 0);
	assert_string_equal(s, "two");
	assert_int_equal(config_set_string(&s, s), 0); /* self-assignment */
	assert_string_equal(s, "two");
	assert_int_equal(config_set_string(&s, NULL), 0);
	assert_null(s);
}

static void test_nonexistent_file(void **state)
{
	struct config c;
	struct err err;

	(void)state;
	config_init(&c);
	err_init(&err);
	assert_int_equal(
	    config_load(&c, "/tmp/test_config.does-not-exist.yaml", &err), -1);
	assert_string_equal(
	    err.msg, "cannot open '/tmp/test_config.does-not-exist.yaml':"
		     " No such file or directory");
	assert_int_equal(config_load(&c, "/tmp", &err), -1);
	assert_string_equal(err.msg, "cannot read '/tmp': Is a directory");
	config_release(&c);
}

/* n bytes of comment lines. */
static char *comments(size_t n)
{
	char *s = malloc(n);
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = (i % 64 == 0) ? '#' : (i % 64 == 63) ? '\n' : 'x';
	return s;
}

static void test_size_cap(void **state)
{
	struct config c;
	struct err err;
	char path[64], want[128];
	char *big = comments(2 * MIB);

	(void)state;
	config_init(&c);
	assert_int_equal(load_len(&c, big, 2 * MIB, path, &err), -1);
	snprintf(want, sizeof(want), "%s: larger than 1 MiB", path);
	assert_string_equal(err.msg, want);
	/* exactly 1 MiB still loads; one byte more does not */
	assert_int_equal(load_len(&c, big, MIB, path, &err), 0);
	assert_int_equal(load_len(&c, big, MIB + 1, path, &err), -1);
	snprintf(want, sizeof(want), "%s: larger than 1 MiB", path);
	assert_string_equal(err.msg, want);
	free(big);
	config_release(&c);
}

/* Hostile nesting just under the size cap fails fast with a plain error. */
static void test_deep_nesting(void **state)
{
	static const struct {
		const char *head; /* text before the nesting */
		char open;	  /* repeated character */
		const char *want; /* message after the path */
	} cases[] = {
	    {"", '[',
	     ":1: expected a mapping of sections (api, import, "
	     "retry, columns)"},
	    {"", '{', ":1: expected a section name"},
	    {"api:\n  base_url: ", '[',
	     ":2: api.base_url: expected a string, got a list"},
	    {"import: ", '[', ":1: import: expected a mapping"},
	    {"columns:\n  email: ", '{',
	     ":2: columns.email: expected a string, got a mapping"},
	};
	size_t n = MIB - 64, i;
	char *text = malloc(MIB);

	(void)state;
	assert_non_null(text);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t h = strlen(cases[i].head);
		struct config c;
		struct err err;
		char path[64];

		memcpy(text, cases[i].head, h);
		memset(text + h, cases[i].open, n - h);
		config_init(&c);
		assert_int_equal(load_len(&c, text, n, path, &err), -1);
		assert_msg(&err, path, cases[i].want, 0);
		config_release(&c);
	}
	free(text);
}

/* Deep block-style nesting (indentation) and one huge scalar. */
static void test_deep_block_and_huge_scalar(void **state)
{
	size_t i, o = 0;
	char *text = malloc(MIB);
	struct config c;
	struct err err;
	char path[64];

	(void)state;
	assert_non_null(text);
	o += (size_t)snprintf(text, 64, "api:\n  base_url:\n");
	/* levels of "k:", each indented one more space, up to the size cap */
	for (i = 0; o + i + 8 < MIB; i++) {
		memset(text + o, ' ', i + 4);
		o += i + 4;
		memcpy(text + o, "k:\n", 3);
		o += 3;
	}
	config_init(&c);
	assert_int_equal(load_len(&c, text, o, path, &err), -1);
	assert_msg(&err, path,
		   ":2: api.base_url: expected a string, got a mapping", 0);

	/* a 512 KiB state path is over the string cap: refused, not echoed */
	o = (size_t)snprintf(text, 64, "import:\n  state: ");
	memset(text + o, 'p', 512 * 1024);
	o += 512 * 1024;
	text[o++] = '\n';
	assert_int_equal(load_len(&c, text, o, path, &err), -1);
	assert_msg(&err, path, ":2: import.state: longer than 4096 bytes", 0);
	config_release(&c);
	free(text);
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_parse_rate),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_contract_example),
	    cmocka_unit_test(test_repo_config_yaml),
	    cmocka_unit_test(test_empty_files),
	    cmocka_unit_test(test_bool_spellings),
	    cmocka_unit_test(test_value_forms),
	    cmocka_unit_test(test_overlay),
	    cmocka_unit_test(test_set_string),
	    cmocka_unit_test(test_nonexistent_file),
	    cmocka_unit_test(test_size_cap),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_deep_block_and_huge_scalar),
	};
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) + NBAD];
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), i;

	for (i = 0; i < nfixed; i++)
		tests[i] = fixed[i];
	for (i = 0; i < NBAD; i++) {
		struct CMUnitTest t = {bad_cases[i].name, test_bad_case, NULL,
				       NULL, (void *)&bad_cases[i]};
		tests[nfixed + i] = t;
	}
	return _cmocka_run_group_tests("config", tests, nfixed + NBAD, NULL,
				       NULL);
}
