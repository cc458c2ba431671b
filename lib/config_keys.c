/*
 * config_keys.c - the config's schema: one table of keys with their types,
 * ranges and defaults, the checks a value must pass, the cross-key rules.
 * Must not echo secrets in errors; knows nothing of YAML (config.c walks
 * the file and hands each value over as a struct config_value).
 */
#include "config_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "num.h"

#include "banned.h"

#define CONFIG_STRING_MAX 4096 /* bytes of one string value */

enum key_type {
	KEY_STRING, /* any non-empty scalar, stored as a heap copy */
	KEY_LONG,   /* base-10 integer in [min, max] */
	KEY_NUMBER, /* finite decimal number in [min, max] */
	KEY_BOOL,   /* true/false/yes/no/on/off, any case */
	KEY_CC,	    /* calling code: 1-3 digits, a leading '+' is dropped */
	KEY_DELIM,  /* field delimiter: , ; | tab, stored as a char */
	KEY_RATE,   /* auto | unlimited | a number in [min, max], as a double */
	KEY_ENCODING, /* an encoding iconv knows, stored as a heap copy */
	KEY_REJECT, /* a key we refuse with a fixed reason (secrets) */
};

#define KEY_SECRET 1u /* never echo the value in an error */

/* One config key: the whole schema of the file lives in this table. */
struct key_spec {
	const char *name; /* "section.key" */
	enum key_type type;
	size_t offset;	     /* offsetof(struct config, field) */
	long min, max;	     /* range for KEY_LONG and KEY_NUMBER */
	double def_num;	     /* default of KEY_LONG, KEY_NUMBER, KEY_BOOL */
	const char *def_str; /* default of KEY_STRING, KEY_CC (NULL = unset) */
	unsigned flags;	     /* KEY_SECRET */
	const char *reason;  /* KEY_REJECT: the error text */
};

#define OFF(f) offsetof(struct config, f)

/* clang-format off */
static const struct key_spec keys[CONFIG_NKEYS] = {
	{.name = "api.base_url", .type = KEY_STRING, .offset = OFF(base_url),
	 .def_str = CONFIG_DEFAULT_BASE_URL},
	{.name = "api.connect_timeout_ms", .type = KEY_LONG,
	 .offset = OFF(connect_timeout_ms), .min = 1, .max = 600000,
	 .def_num = 10000},
	{.name = "api.request_timeout_ms", .type = KEY_LONG,
	 .offset = OFF(request_timeout_ms), .min = 1, .max = 3600000,
	 .def_num = 30000},
	{.name = "api.client_id", .type = KEY_STRING, .offset = OFF(client_id),
	 .flags = KEY_SECRET},
	{.name = "api.api_key_file", .type = KEY_STRING,
	 .offset = OFF(api_key_file)},
	{.name = "api.ca_cert", .type = KEY_STRING, .offset = OFF(ca_cert)},
	{.name = "api.api_key", .type = KEY_REJECT, .flags = KEY_SECRET,
	 .reason = "put the key in a file and set api.api_key_file, "
		   "or use DOTS_API_KEY"},
	{.name = "import.concurrency", .type = KEY_LONG,
	 .offset = OFF(concurrency), .min = 1, .max = 256, .def_num = 8},
	{.name = "import.rate_limit", .type = KEY_RATE,
	 .offset = OFF(rate_limit), .min = 0, .max = 100000, .def_num = CONFIG_RATE_AUTO},
	{.name = "import.send_verification", .type = KEY_BOOL,
	 .offset = OFF(send_verification), .def_num = 1},
	{.name = "import.allow_phone_change", .type = KEY_BOOL,
	 .offset = OFF(allow_phone_change), .def_num = 0},
	{.name = "import.state", .type = KEY_STRING, .offset = OFF(state),
	 .def_str = "dots-import.db"},
	{.name = "import.default_country_code", .type = KEY_CC,
	 .offset = OFF(default_country_code)},
	{.name = "import.delimiter", .type = KEY_DELIM, .offset = OFF(delimiter)},
	{.name = "import.encoding", .type = KEY_ENCODING, .offset = OFF(encoding)},
	{.name = "import.report", .type = KEY_STRING, .offset = OFF(report)},
	{.name = "retry.max_attempts", .type = KEY_LONG,
	 .offset = OFF(max_attempts), .min = 1, .max = 100, .def_num = 5},
	{.name = "retry.base_delay_ms", .type = KEY_LONG,
	 .offset = OFF(base_delay_ms), .min = 1, .max = 600000, .def_num = 250},
	{.name = "retry.max_delay_ms", .type = KEY_LONG,
	 .offset = OFF(max_delay_ms), .min = 1, .max = 3600000,
	 .def_num = 30000},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS == CONFIG_NKEYS, "CONFIG_NKEYS is the size of keys[]");

/* "columns.<field>" keys are not in keys[]: they are user_field_names. */
const char *const config_sections[CONFIG_NSECTIONS] = {"api", "import", "retry", "columns"};
#define SECTION_COLUMNS 3

static void *field_ptr(struct config *c, size_t offset)
{
	return (char *)c + offset;
}

static int is_string_key(const struct key_spec *k)
{
	return k->type == KEY_STRING || k->type == KEY_CC || k->type == KEY_ENCODING;
}

int config_parse_rate(const char *s, double *out)
{
	if (!strcasecmp(s, "auto")) {
		*out = CONFIG_RATE_AUTO;
		return 0;
	}
	if (!strcasecmp(s, "unlimited")) {
		*out = 0;
		return 0;
	}
	return num_parse_double(s, 0, 100000, out);
}

int config_parse_delimiter(const char *s, char *out)
{
	if (!strcmp(s, ",") || !strcmp(s, ";") || !strcmp(s, "|") || !strcmp(s, "\t")) {
		*out = s[0];
		return 0;
	}
	if (!strcasecmp(s, "tab")) {
		*out = '\t';
		return 0;
	}
	return -1;
}

int config_set_string(char **field, const char *value)
{
	char *copy = NULL;

	if (value) {
		copy = strdup(value);
		if (!copy)
			return -1;
	}
	free(*field);
	*field = copy;
	return 0;
}

void config_init(struct config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		const struct key_spec *k = &keys[i];
		void *p = field_ptr(c, k->offset);

		switch (k->type) {
		case KEY_STRING:
		case KEY_CC:
		case KEY_ENCODING:
			/* On out-of-memory the default stays NULL; callers
			 * treat a NULL base_url/state as fatal. */
			if (k->def_str)
				*(char **)p = strdup(k->def_str);
			break;
		case KEY_LONG:
			*(long *)p = (long)k->def_num;
			break;
		case KEY_NUMBER:
		case KEY_RATE:
			*(double *)p = k->def_num;
			break;
		case KEY_BOOL:
			*(bool *)p = k->def_num != 0;
			break;
		case KEY_DELIM:
			*(char *)p = '\0';
			break;
		case KEY_REJECT:
			break;
		}
	}
}

void config_release(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < NKEYS; i++) {
		if (is_string_key(&keys[i])) {
			char **p = field_ptr(c, keys[i].offset);
			free(*p);
			*p = NULL;
		}
	}
	for (i = 0; i < USER_FIELD_COUNT; i++) {
		free(c->columns[i]);
		c->columns[i] = NULL;
	}
}

int config_copy(struct config *dst, const struct config *src)
{
	size_t i;
	int rc = 0;

	*dst = *src;
	for (i = 0; i < NKEYS; i++) {
		if (is_string_key(&keys[i])) {
			char **p = field_ptr(dst, keys[i].offset);
			const char *v = *p;
			*p = NULL;
			if (config_set_string(p, v) < 0)
				rc = -1;
		}
	}
	for (i = 0; i < USER_FIELD_COUNT; i++) {
		const char *v = dst->columns[i];
		dst->columns[i] = NULL;
		if (config_set_string(&dst->columns[i], v) < 0)
			rc = -1;
	}
	return rc;
}

void config_show(char *out, size_t cap, const unsigned char *s, size_t len, int as_key)
{
	size_t n = len, i, o = 0;

	if (as_key)
		for (n = 0;
		     n < len && s[n] != ':' && s[n] > 0x20 && s[n] != 0x7F; n++)
			;
	if (n > CONFIG_SHOW_MAX) {
		n = CONFIG_SHOW_MAX;
		while (n > 0 && (s[n] & 0xC0) == 0x80)
			n--;
	}
	for (i = 0; i < n && o + 4 < cap; i++)
		out[o++] = (s[i] < 0x20 || s[i] == 0x7F) ? '?' : (char)s[i];
	if (n < len && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* The value event is the wrong kind for k: "expected ..., got ...". */
static int type_error(struct config_load_state *st, const struct key_spec *k,
		      const char *name, const struct config_value *v, size_t line)
{
	char want[96], got[CONFIG_SHOW_MAX + 16];

	switch (k->type) {
	case KEY_LONG:
		snprintf(want, sizeof(want),
			 "expected an integer from %ld to %ld", k->min, k->max);
		break;
	case KEY_NUMBER:
		snprintf(want, sizeof(want),
			 "expected a number from %ld to %ld", k->min, k->max);
		break;
	case KEY_RATE:
		snprintf(want, sizeof(want),
			 "expected auto, unlimited or a number from %ld to %ld", k->min, k->max);
		break;
	case KEY_BOOL:
		snprintf(want, sizeof(want), "expected true or false");
		break;
	case KEY_CC:
		snprintf(want, sizeof(want),
			 "expected a calling code of 1 to 3 digits");
		break;
	case KEY_DELIM:
		snprintf(want, sizeof(want),
			 "expected \",\", \";\", \"|\" or tab");
		break;
	case KEY_ENCODING:
		snprintf(want, sizeof(want),
			 "expected an encoding iconv knows (windows-1252, latin1, "
			 "UTF-16LE, ...)");
		break;
	default:
		snprintf(want, sizeof(want), "expected a string");
		break;
	}
	if (k->flags & KEY_SECRET)
		return err_set(st->err, "%s:%zu: %s: %s", st->path, line, name,
			       want);
	if (v->kind == CONFIG_MAPPING)
		snprintf(got, sizeof(got), "a mapping");
	else if (v->kind == CONFIG_LIST)
		snprintf(got, sizeof(got), "a list");
	else if (v->kind == CONFIG_NULL)
		snprintf(got, sizeof(got), "null");
	else {
		char shown[CONFIG_SHOW_MAX + 8];
		config_show(shown, sizeof(shown), v->text, v->len, 0);
		snprintf(got, sizeof(got), "\"%s\"", shown);
	}
	return err_set(st->err, "%s:%zu: %s: %s, got %s", st->path, line, name,
		       want, got);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	size_t i;

	for (i = 0; i < 3; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_cc(const char *s, const char **digits)
{
	size_t n;

	if (*s == '+')
		s++;
	n = strspn(s, "0123456789");
	if (n < 1 || n > 3 || s[n])
		return -1;
	*digits = s;
	return 0;
}

/* Checks a string value: not empty, no NUL, bounded. */
static int check_string(struct config_load_state *st, const char *name,
			const struct config_value *v, size_t line)
{
	size_t len = v->len;

	if (len == 0)
		return err_set(st->err, "%s:%zu: %s: must not be empty",
			       st->path, line, name);
	if (strlen((const char *)v->text) != len)
		return err_set(st->err, "%s:%zu: %s: contains a NUL byte",
			       st->path, line, name);
	if (len > CONFIG_STRING_MAX)
		return err_set(st->err, "%s:%zu: %s: longer than %d bytes",
			       st->path, line, name, CONFIG_STRING_MAX);
	return 0;
}

/* Stores value v into the field of k (in st->c). */
static int apply(struct config_load_state *st, const struct key_spec *k, const char *name,
		 const struct config_value *v, size_t line)
{
	void *p = field_ptr(st->c, k->offset);
	const char *s = (const char *)v->text;
	const char *digits;
	long l;
	double d;
	bool b;

	if (k->type == KEY_REJECT)
		return err_set(st->err, "%s:%zu: %s: %s", st->path, line, name,
			       k->reason);
	if (v->kind != CONFIG_SCALAR)
		return type_error(st, k, name, v, line);
	/* A NUL from a "\0" escape would cut the text we check below. */
	if (k->type != KEY_STRING && strlen(s) != v->len)
		return type_error(st, k, name, v, line);
	switch (k->type) {
	case KEY_STRING:
		if (check_string(st, name, v, line) < 0)
			return -1;
		if (config_set_string(p, s) < 0)
			return err_set(st->err, "%s: out of memory", st->path);
		return 0;
	case KEY_CC:
		if (parse_cc(s, &digits) < 0)
			return type_error(st, k, name, v, line);
		if (config_set_string(p, digits) < 0)
			return err_set(st->err, "%s: out of memory", st->path);
		return 0;
	case KEY_DELIM:
		if (config_parse_delimiter(s, (char *)p) < 0)
			return type_error(st, k, name, v, line);
		return 0;
	case KEY_RATE:
		if (config_parse_rate(s, (double *)p) < 0)
			return type_error(st, k, name, v, line);
		return 0;
	case KEY_ENCODING: {
		struct err e;

		if (decode_check_encoding(s, name, &e) < 0)
			return type_error(st, k, name, v, line);
		if (config_set_string(p, s) < 0)
			return err_set(st->err, "%s: out of memory", st->path);
		return 0;
	}
	case KEY_LONG:
		if (num_parse_long(s, k->min, k->max, &l) < 0)
			return type_error(st, k, name, v, line);
		*(long *)p = l;
		return 0;
	case KEY_NUMBER:
		if (num_parse_double(s, (double)k->min, (double)k->max, &d) < 0)
			return type_error(st, k, name, v, line);
		*(double *)p = d;
		return 0;
	case KEY_BOOL:
		if (parse_bool(s, &b) < 0)
			return type_error(st, k, name, v, line);
		*(bool *)p = b;
		return 0;
	case KEY_REJECT:
		break;
	}
	return type_error(st, k, name, v, line); /* NEVER */
}

int config_key_find(struct config_load_state *st, size_t section,
		    const unsigned char *key, size_t keylen, size_t line,
		    struct config_key *out)
{
	const char *k = (const char *)key;
	char shown[CONFIG_SHOW_MAX + 8];
	size_t *seen = NULL;
	size_t i;

	out->spec = NULL;
	out->column = USER_FIELD_COUNT;
	out->refused = false;
	if (keylen <= CONFIG_NAME_MAX && strlen(k) == keylen) {
		snprintf(out->name, sizeof(out->name), "%s.%s", config_sections[section], k);
		if (section == SECTION_COLUMNS) {
			for (i = 0; i < USER_FIELD_COUNT; i++) {
				if (!strcmp(k, user_field_names[i]))
					break;
			}
			if (i < USER_FIELD_COUNT) {
				out->column = i;
				seen = &st->col_line[i];
			}
		} else {
			for (i = 0; i < NKEYS; i++) {
				if (!strcmp(out->name, keys[i].name)) {
					out->spec = &keys[i];
					out->refused = keys[i].type == KEY_REJECT;
					seen = &st->key_line[i];
					break;
				}
			}
		}
	}
	if (!seen) {
		config_show(shown, sizeof(shown), key, keylen, 1);
		return err_set(st->err, "%s:%zu: unknown key \"%s.%s\"",
			       st->path, line, config_sections[section], shown);
	}
	if (*seen)
		return err_set(st->err, "%s:%zu: duplicate key \"%s\"",
			       st->path, line, out->name);
	*seen = line;
	return 0;
}

int config_key_apply(struct config_load_state *st, const struct config_key *key,
		     const struct config_value *v, size_t line)
{
	struct key_spec col;

	if (key->spec)
		return apply(st, key->spec, key->name, v, line);
	memset(&col, 0, sizeof(col));
	col.name = key->name;
	col.type = KEY_STRING;
	col.offset = OFF(columns) + key->column * sizeof(char *);
	return apply(st, &col, key->name, v, line);
}

/* The line where this file set the key stored at offset (0 = not set). */
static size_t line_of_key(const struct config_load_state *st, size_t offset)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].type != KEY_REJECT && keys[i].offset == offset)
			return st->key_line[i];
	return 0;
}

/* Cross-key rules, checked on the merged result. Only reached when the
 * file set one of the keys involved: the defaults satisfy every rule. */
int config_check(const struct config_load_state *st)
{
	const struct config *c = st->c;
	size_t max_line = line_of_key(st, OFF(max_delay_ms));

	if (c->max_delay_ms >= c->base_delay_ms)
		return 0;
	if (max_line)
		return err_set(st->err,
			       "%s:%zu: retry.max_delay_ms: must be at least "
			       "retry.base_delay_ms (%ld), got %ld",
			       st->path, max_line, c->base_delay_ms,
			       c->max_delay_ms);
	return err_set(st->err,
		       "%s:%zu: retry.base_delay_ms: must be at most "
		       "retry.max_delay_ms (%ld), got %ld",
		       st->path, line_of_key(st, OFF(base_delay_ms)),
		       c->max_delay_ms, c->base_delay_ms);
}
