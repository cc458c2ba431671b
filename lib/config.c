/*
 * config.c - built-in defaults and the YAML config file (the README),
 * read with libyaml's event parser and checked against one key table.
 * Must not echo secrets in errors, follow YAML aliases, or read more than
 * CONFIG_FILE_MAX bytes; the only file that includes <yaml.h>.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "decode.h"
#include "num.h"

#include "banned.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes of YAML we read at most */
#define CONFIG_STRING_MAX 4096	      /* bytes of one string value */
#define CONFIG_NAME_MAX 64	      /* bytes of a key name we look up */
#define CONFIG_SHOW_MAX 40	      /* bytes of a bad value echoed back */

enum key_type {
	KEY_STRING, /* any non-empty scalar, stored as a heap copy */
	KEY_LONG,   /* base-10 integer in [min, max] */
	KEY_NUMBER, /* finite decimal number in [min, max] */
	KEY_BOOL,   /* true/false/yes/no/on/off, any case */
	KEY_CC,	    /* calling code: 1-3 digits, a leading '+' is dropped */
	KEY_DELIM,  /* field delimiter: , ; | tab, stored as a char */
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
static const struct key_spec keys[] = {
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
	{.name = "import.rate_limit", .type = KEY_NUMBER,
	 .offset = OFF(rate_limit), .min = 0, .max = 100000, .def_num = 0},
	{.name = "import.send_verification", .type = KEY_BOOL,
	 .offset = OFF(send_verification), .def_num = 1},
	{.name = "import.state", .type = KEY_STRING, .offset = OFF(state),
	 .def_str = "dots-import.db"},
	{.name = "import.default_country_code", .type = KEY_CC,
	 .offset = OFF(default_country_code)},
	{.name = "import.delimiter", .type = KEY_DELIM, .offset = OFF(delimiter)},
	{.name = "import.encoding", .type = KEY_ENCODING, .offset = OFF(encoding)},
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

/* "columns.<field>" keys are not in keys[]: they are user_field_names. */
static const char *const sections[] = {"api", "import", "retry", "columns"};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))
#define SECTION_COLUMNS 3

/* One config_load in progress. The current event is always owned here. */
struct loader {
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	const char *path;
	const unsigned char *text; /* the file, for reader error positions */
	size_t text_len;
	struct config *c;
	struct err *err;
	size_t key_line[NKEYS];		   /* 0 = not set by this file */
	size_t col_line[USER_FIELD_COUNT]; /* 0 = not set by this file */
	size_t section_line[NSECTIONS];	   /* 0 = not seen */
};

static void *field_ptr(struct config *c, size_t offset)
{
	return (char *)c + offset;
}

static int is_string_key(const struct key_spec *k)
{
	return k->type == KEY_STRING || k->type == KEY_CC || k->type == KEY_ENCODING;
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

/* Deep copy of src into dst (dst uninitialised). Returns 0 or -1 on OOM,
 * in which case dst holds what was copied and must be released. */
static int config_copy(struct config *dst, const struct config *src)
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

/*
 * Writes a printable, bounded copy of s[0..len) into out: control bytes
 * become '?', and a long value is cut (on a UTF-8 boundary) with "...".
 * A key is also cut at the first ':' or blank: "client_id:abc: 1" is a
 * value run into a key, and the value may be a secret.
 */
static void show(char *out, size_t cap, const unsigned char *s, size_t len,
		 int as_key)
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

/* 1-based line of a byte offset into the file (for reader errors). */
static size_t line_of_offset(const struct loader *ld, size_t offset)
{
	size_t i, line = 1;

	for (i = 0; i < offset && i < ld->text_len; i++)
		if (ld->text[i] == '\n')
			line++;
	return line;
}

static int syntax_error(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;
	size_t line;

	if (p->error == YAML_MEMORY_ERROR)
		return err_set(ld->err, "%s: out of memory", ld->path);
	if (p->error == YAML_READER_ERROR)
		line = line_of_offset(ld, p->problem_offset);
	else
		line = p->problem_mark.line + 1;
	return err_set(ld->err, "%s:%zu: YAML syntax error: %s", ld->path, line,
		       p->problem ? p->problem : "unknown problem");
}

/* Replaces the current event with the next one. Aliases are refused here,
 * so no value can ever expand (no "billion laughs"). */
static int next_event(struct loader *ld)
{
	if (ld->have_ev) {
		yaml_event_delete(&ld->ev);
		ld->have_ev = 0;
	}
	if (!yaml_parser_parse(&ld->parser, &ld->ev))
		return syntax_error(ld);
	ld->have_ev = 1;
	if (ld->ev.type == YAML_ALIAS_EVENT)
		return err_set(ld->err,
			       "%s:%zu: YAML aliases (*name) are not supported",
			       ld->path, ld->ev.start_mark.line + 1);
	return 0;
}

static size_t ev_line(const struct loader *ld)
{
	return ld->ev.start_mark.line + 1;
}

static const char *scalar(const struct loader *ld)
{
	return (const char *)ld->ev.data.scalar.value;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static int ev_is_null(const struct loader *ld)
{
	const char *v = scalar(ld);

	if (ld->ev.type != YAML_SCALAR_EVENT ||
	    ld->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* The value event is the wrong kind for k: "expected ..., got ...". */
static int type_error(struct loader *ld, const struct key_spec *k,
		      const char *name, size_t line)
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
		return err_set(ld->err, "%s:%zu: %s: %s", ld->path, line, name,
			       want);
	if (ld->ev.type == YAML_MAPPING_START_EVENT)
		snprintf(got, sizeof(got), "a mapping");
	else if (ld->ev.type == YAML_SEQUENCE_START_EVENT)
		snprintf(got, sizeof(got), "a list");
	else if (ev_is_null(ld))
		snprintf(got, sizeof(got), "null");
	else {
		char shown[CONFIG_SHOW_MAX + 8];
		show(shown, sizeof(shown), ld->ev.data.scalar.value,
		     ld->ev.data.scalar.length, 0);
		snprintf(got, sizeof(got), "\"%s\"", shown);
	}
	return err_set(ld->err, "%s:%zu: %s: %s, got %s", ld->path, line, name,
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
static int check_string(struct loader *ld, const char *name, size_t line)
{
	size_t len = ld->ev.data.scalar.length;

	if (len == 0)
		return err_set(ld->err, "%s:%zu: %s: must not be empty",
			       ld->path, line, name);
	if (strlen(scalar(ld)) != len)
		return err_set(ld->err, "%s:%zu: %s: contains a NUL byte",
			       ld->path, line, name);
	if (len > CONFIG_STRING_MAX)
		return err_set(ld->err, "%s:%zu: %s: longer than %d bytes",
			       ld->path, line, name, CONFIG_STRING_MAX);
	return 0;
}

/* Stores the current value event into the field of k (in ld->c). */
static int apply(struct loader *ld, const struct key_spec *k, const char *name,
		 size_t line)
{
	void *p = field_ptr(ld->c, k->offset);
	const char *v = scalar(ld);
	const char *digits;
	long l;
	double d;
	bool b;

	if (k->type == KEY_REJECT)
		return err_set(ld->err, "%s:%zu: %s: %s", ld->path, line, name,
			       k->reason);
	if (ld->ev.type != YAML_SCALAR_EVENT || ev_is_null(ld))
		return type_error(ld, k, name, line);
	/* A NUL from a "\0" escape would cut the text we check below. */
	if (k->type != KEY_STRING && strlen(v) != ld->ev.data.scalar.length)
		return type_error(ld, k, name, line);
	switch (k->type) {
	case KEY_STRING:
		if (check_string(ld, name, line) < 0)
			return -1;
		if (config_set_string(p, v) < 0)
			return err_set(ld->err, "%s: out of memory", ld->path);
		return 0;
	case KEY_CC:
		if (parse_cc(v, &digits) < 0)
			return type_error(ld, k, name, line);
		if (config_set_string(p, digits) < 0)
			return err_set(ld->err, "%s: out of memory", ld->path);
		return 0;
	case KEY_DELIM:
		if (config_parse_delimiter(v, (char *)p) < 0)
			return type_error(ld, k, name, line);
		return 0;
	case KEY_ENCODING: {
		struct err e;

		if (decode_check_encoding(v, name, &e) < 0)
			return type_error(ld, k, name, line);
		if (config_set_string(p, v) < 0)
			return err_set(ld->err, "%s: out of memory", ld->path);
		return 0;
	}
	case KEY_LONG:
		if (num_parse_long(v, k->min, k->max, &l) < 0)
			return type_error(ld, k, name, line);
		*(long *)p = l;
		return 0;
	case KEY_NUMBER:
		if (num_parse_double(v, (double)k->min, (double)k->max, &d) < 0)
			return type_error(ld, k, name, line);
		*(double *)p = d;
		return 0;
	case KEY_BOOL:
		if (parse_bool(v, &b) < 0)
			return type_error(ld, k, name, line);
		*(bool *)p = b;
		return 0;
	case KEY_REJECT:
		break;
	}
	return type_error(ld, k, name, line); /* NEVER */
}

/* The current event is a key inside section s; reads and applies its value. */
static int load_key(struct loader *ld, size_t s)
{
	const char *key = scalar(ld);
	size_t keylen = ld->ev.data.scalar.length;
	size_t line = ev_line(ld);
	char name[CONFIG_NAME_MAX * 2 + 8], shown[CONFIG_SHOW_MAX + 8];
	struct key_spec col;
	const struct key_spec *k = NULL;
	size_t *seen = NULL;
	size_t i;

	if (keylen <= CONFIG_NAME_MAX && strlen(key) == keylen) {
		snprintf(name, sizeof(name), "%s.%s", sections[s], key);
		if (s == SECTION_COLUMNS) {
			for (i = 0; i < USER_FIELD_COUNT; i++) {
				if (!strcmp(key, user_field_names[i]))
					break;
			}
			if (i < USER_FIELD_COUNT) {
				memset(&col, 0, sizeof(col));
				col.name = name;
				col.type = KEY_STRING;
				col.offset = OFF(columns) + i * sizeof(char *);
				k = &col;
				seen = &ld->col_line[i];
			}
		} else {
			for (i = 0; i < NKEYS; i++) {
				if (!strcmp(name, keys[i].name)) {
					k = &keys[i];
					seen = &ld->key_line[i];
					break;
				}
			}
		}
	}
	if (!k) {
		show(shown, sizeof(shown), ld->ev.data.scalar.value, keylen, 1);
		return err_set(ld->err, "%s:%zu: unknown key \"%s.%s\"",
			       ld->path, line, sections[s], shown);
	}
	if (*seen)
		return err_set(ld->err, "%s:%zu: duplicate key \"%s\"",
			       ld->path, line, name);
	*seen = line;
	if (k->type == KEY_REJECT) /* refuse before the value is even read */
		return apply(ld, k, name, line);
	if (next_event(ld) < 0)
		return -1;
	return apply(ld, k, name, line);
}

/* The current event is a top-level key; reads its section mapping. */
static int load_section(struct loader *ld)
{
	size_t keylen = ld->ev.data.scalar.length;
	size_t line = ev_line(ld);
	char shown[CONFIG_SHOW_MAX + 8];
	size_t s;

	for (s = 0; s < NSECTIONS; s++) {
		if (strlen(sections[s]) == keylen &&
		    !memcmp(sections[s], scalar(ld), keylen))
			break;
	}
	if (s == NSECTIONS) {
		show(shown, sizeof(shown), ld->ev.data.scalar.value, keylen, 1);
		return err_set(ld->err, "%s:%zu: unknown section \"%s\"",
			       ld->path, line, shown);
	}
	if (ld->section_line[s])
		return err_set(ld->err, "%s:%zu: duplicate section \"%s\"",
			       ld->path, line, sections[s]);
	ld->section_line[s] = line;
	if (next_event(ld) < 0)
		return -1;
	if (ev_is_null(ld)) /* "columns:" with every key commented out */
		return 0;
	if (ld->ev.type != YAML_MAPPING_START_EVENT)
		return err_set(ld->err, "%s:%zu: %s: expected a mapping",
			       ld->path, line, sections[s]);
	for (;;) {
		if (next_event(ld) < 0)
			return -1;
		if (ld->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (ld->ev.type != YAML_SCALAR_EVENT)
			return err_set(ld->err,
				       "%s:%zu: %s: expected a key name",
				       ld->path, ev_line(ld), sections[s]);
		if (load_key(ld, s) < 0)
			return -1;
	}
}

/* Parses the whole stream: at most one document, a mapping of sections. */
static int load_stream(struct loader *ld)
{
	if (next_event(ld) < 0) /* STREAM-START */
		return -1;
	if (next_event(ld) < 0)
		return -1;
	if (ld->ev.type == YAML_STREAM_END_EVENT) /* empty or comments only */
		return 0;
	if (next_event(ld) < 0) /* the root node after DOCUMENT-START */
		return -1;
	if (ld->ev.type == YAML_MAPPING_START_EVENT) {
		for (;;) {
			if (next_event(ld) < 0)
				return -1;
			if (ld->ev.type == YAML_MAPPING_END_EVENT)
				break;
			if (ld->ev.type != YAML_SCALAR_EVENT)
				return err_set(
				    ld->err, "%s:%zu: expected a section name",
				    ld->path, ev_line(ld));
			if (load_section(ld) < 0)
				return -1;
		}
	} else if (!ev_is_null(ld)) {
		return err_set(ld->err,
			       "%s:%zu: expected a mapping of sections "
			       "(api, import, retry, columns)",
			       ld->path, ev_line(ld));
	}
	if (next_event(ld) < 0) /* DOCUMENT-END */
		return -1;
	if (next_event(ld) < 0)
		return -1;
	if (ld->ev.type != YAML_STREAM_END_EVENT)
		return err_set(ld->err,
			       "%s:%zu: only one YAML document is allowed",
			       ld->path, ev_line(ld));
	return 0;
}

/* The line where this file set the key stored at offset (0 = not set). */
static size_t line_of_key(const struct loader *ld, size_t offset)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].type != KEY_REJECT && keys[i].offset == offset)
			return ld->key_line[i];
	return 0;
}

/* Cross-key rules, checked on the merged result. Only reached when the
 * file set one of the keys involved: the defaults satisfy every rule. */
static int check_config(struct loader *ld)
{
	const struct config *c = ld->c;
	size_t max_line = line_of_key(ld, OFF(max_delay_ms));

	if (c->max_delay_ms >= c->base_delay_ms)
		return 0;
	if (max_line)
		return err_set(ld->err,
			       "%s:%zu: retry.max_delay_ms: must be at least "
			       "retry.base_delay_ms (%ld), got %ld",
			       ld->path, max_line, c->base_delay_ms,
			       c->max_delay_ms);
	return err_set(ld->err,
		       "%s:%zu: retry.base_delay_ms: must be at most "
		       "retry.max_delay_ms (%ld), got %ld",
		       ld->path, line_of_key(ld, OFF(base_delay_ms)),
		       c->max_delay_ms, c->base_delay_ms);
}

/* Reads all of path into *buf, refusing more than CONFIG_FILE_MAX bytes
 * (pipes and devices included: the size is what we read, not what stat says).
 */
static int read_file(const char *path, char **buf, size_t *len, struct err *err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0, want, got;
	char *b, *nb;
	int rc = 0;

	if (!f)
		return err_set(err, "cannot open '%s': %s", path,
			       strerror(errno));
	b = malloc(cap);
	if (!b) {
		fclose(f);
		return err_set(err, "%s: out of memory", path);
	}
	for (;;) {
		if (n == cap) {
			/* room for one byte past the cap, to see it exceeded */
			if (cap > CONFIG_FILE_MAX) {
				rc =
				    err_set(err, "%s: larger than 1 MiB", path);
				break;
			}
			cap = cap * 2 > CONFIG_FILE_MAX ? CONFIG_FILE_MAX + 1
							: cap * 2;
			nb = realloc(b, cap);
			if (!nb) {
				rc = err_set(err, "%s: out of memory", path);
				break;
			}
			b = nb;
		}
		want = cap - n;
		errno = 0;
		got = fread(b + n, 1, want, f);
		n += got;
		if (got < want) {
			if (ferror(f))
				rc = err_set(err, "cannot read '%s': %s", path,
					     strerror(errno ? errno : EIO));
			break;
		}
	}
	fclose(f);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}

int config_load(struct config *c, const char *path, struct err *err)
{
	struct loader ld;
	struct config tmp;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (read_file(path, &text, &len, err) < 0)
		return -1;
	memset(&ld, 0, sizeof(ld));
	ld.path = path;
	ld.text = (const unsigned char *)text;
	ld.text_len = len;
	ld.err = err;
	ld.c = &tmp;
	if (config_copy(&tmp, c) < 0) {
		config_release(&tmp);
		free(text);
		return err_set(err, "%s: out of memory", path);
	}
	if (!yaml_parser_initialize(&ld.parser)) {
		config_release(&tmp);
		free(text);
		return err_set(err, "%s: out of memory", path);
	}
	yaml_parser_set_input_string(&ld.parser, ld.text, len);
	rc = load_stream(&ld);
	if (rc == 0)
		rc = check_config(&ld);
	if (ld.have_ev)
		yaml_event_delete(&ld.ev);
	yaml_parser_delete(&ld.parser);
	free(text);
	if (rc < 0) {
		config_release(&tmp);
		return -1;
	}
	config_release(c);
	*c = tmp;
	return 0;
}
