/*
 * config.c - the YAML config file (the README), read with libyaml's event
 * parser; each key and value goes to config_keys.c (the key table, value
 * checks, defaults). Must not follow YAML aliases or read more than
 * CONFIG_FILE_MAX bytes; the only file that includes <yaml.h>.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_int.h"

#include "banned.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* bytes of YAML we read at most */

/* One config_load in progress. The current event is always owned here. */
struct loader {
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	const unsigned char *text; /* the file, for reader error positions */
	size_t text_len;
	struct config_load_state st;           /* path, target, err, key lines */
	size_t section_line[CONFIG_NSECTIONS]; /* 0 = not seen */
};

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
		return err_set(ld->st.err, "%s: out of memory", ld->st.path);
	if (p->error == YAML_READER_ERROR)
		line = line_of_offset(ld, p->problem_offset);
	else
		line = p->problem_mark.line + 1;
	return err_set(ld->st.err, "%s:%zu: YAML syntax error: %s", ld->st.path, line,
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
		return err_set(ld->st.err,
			       "%s:%zu: YAML aliases (*name) are not supported",
			       ld->st.path, ld->ev.start_mark.line + 1);
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

/* The current event as a key's value. */
static void event_value(const struct loader *ld, struct config_value *v)
{
	v->text = (const unsigned char *)"";
	v->len = 0;
	if (ld->ev.type == YAML_MAPPING_START_EVENT) {
		v->kind = CONFIG_MAPPING;
	} else if (ld->ev.type == YAML_SEQUENCE_START_EVENT) {
		v->kind = CONFIG_LIST;
	} else if (ld->ev.type != YAML_SCALAR_EVENT) {
		v->kind = CONFIG_OTHER;
	} else if (ev_is_null(ld)) {
		v->kind = CONFIG_NULL;
	} else {
		v->kind = CONFIG_SCALAR;
		v->text = ld->ev.data.scalar.value;
		v->len = ld->ev.data.scalar.length;
	}
}

/* The current event is a key inside section s; reads and applies its value. */
static int load_key(struct loader *ld, size_t s)
{
	size_t line = ev_line(ld);
	struct config_key key;
	struct config_value v;

	if (config_key_find(&ld->st, s, ld->ev.data.scalar.value,
			    ld->ev.data.scalar.length, line, &key) < 0)
		return -1;
	/* a refused key fails before its value is even read */
	if (!key.refused && next_event(ld) < 0)
		return -1;
	event_value(ld, &v);
	return config_key_apply(&ld->st, &key, &v, line);
}

/* The current event is a top-level key; reads its section mapping. */
static int load_section(struct loader *ld)
{
	size_t keylen = ld->ev.data.scalar.length;
	size_t line = ev_line(ld);
	char shown[CONFIG_SHOW_MAX + 8];
	size_t s;

	for (s = 0; s < CONFIG_NSECTIONS; s++) {
		if (strlen(config_sections[s]) == keylen &&
		    !memcmp(config_sections[s], scalar(ld), keylen))
			break;
	}
	if (s == CONFIG_NSECTIONS) {
		config_show(shown, sizeof(shown), ld->ev.data.scalar.value, keylen, 1);
		return err_set(ld->st.err, "%s:%zu: unknown section \"%s\"",
			       ld->st.path, line, shown);
	}
	if (ld->section_line[s])
		return err_set(ld->st.err, "%s:%zu: duplicate section \"%s\"",
			       ld->st.path, line, config_sections[s]);
	ld->section_line[s] = line;
	if (next_event(ld) < 0)
		return -1;
	if (ev_is_null(ld)) /* "columns:" with every key commented out */
		return 0;
	if (ld->ev.type != YAML_MAPPING_START_EVENT)
		return err_set(ld->st.err, "%s:%zu: %s: expected a mapping",
			       ld->st.path, line, config_sections[s]);
	for (;;) {
		if (next_event(ld) < 0)
			return -1;
		if (ld->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (ld->ev.type != YAML_SCALAR_EVENT)
			return err_set(ld->st.err,
				       "%s:%zu: %s: expected a key name",
				       ld->st.path, ev_line(ld), config_sections[s]);
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
				    ld->st.err, "%s:%zu: expected a section name",
				    ld->st.path, ev_line(ld));
			if (load_section(ld) < 0)
				return -1;
		}
	} else if (!ev_is_null(ld)) {
		return err_set(ld->st.err,
			       "%s:%zu: expected a mapping of sections "
			       "(api, import, retry, columns)",
			       ld->st.path, ev_line(ld));
	}
	if (next_event(ld) < 0) /* DOCUMENT-END */
		return -1;
	if (next_event(ld) < 0)
		return -1;
	if (ld->ev.type != YAML_STREAM_END_EVENT)
		return err_set(ld->st.err,
			       "%s:%zu: only one YAML document is allowed",
			       ld->st.path, ev_line(ld));
	return 0;
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
	ld.st.path = path;
	ld.text = (const unsigned char *)text;
	ld.text_len = len;
	ld.st.err = err;
	ld.st.c = &tmp;
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
		rc = config_check(&ld.st);
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
