/*
 * config_int.h - the config's private parts, shared by config.c (the YAML
 * file, walked with libyaml) and config_keys.c (the key table, defaults,
 * value checks). No libyaml here: a value reaches config_keys.c as a
 * struct config_value. Nothing outside those two files includes it.
 */
#ifndef DOTS_CONFIG_INT_H
#define DOTS_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "user.h"

#define CONFIG_NAME_MAX 64 /* bytes of a key name we look up */
#define CONFIG_SHOW_MAX 40 /* bytes of a bad value echoed back */
#define CONFIG_NKEYS 19    /* entries of the key table (checked there) */
#define CONFIG_NSECTIONS 4 /* api, import, retry, columns */

/* The top-level sections, in that order. */
extern const char *const config_sections[CONFIG_NSECTIONS];

/* What the YAML file gives a key as its value. */
enum config_kind {
	CONFIG_SCALAR,  /* text[0..len), NUL-terminated (may hold inner NULs) */
	CONFIG_NULL,    /* a plain empty, "~" or "null" scalar */
	CONFIG_MAPPING,
	CONFIG_LIST,
	CONFIG_OTHER,   /* anything else (text is "") */
};

struct config_value {
	enum config_kind kind;
	const unsigned char *text;
	size_t len;
};

/* One config_load: the file's name, the config being filled (a copy that
 * replaces the caller's only on success) and the line where the file set
 * each key (0 = not set by this file). */
struct config_load_state {
	const char *path;
	struct config *c;
	struct err *err;
	size_t key_line[CONFIG_NKEYS];
	size_t col_line[USER_FIELD_COUNT];
};

struct key_spec;

/* A key of the file, found by config_key_find. */
struct config_key {
	char name[CONFIG_NAME_MAX * 2 + 8]; /* "section.key" */
	const struct key_spec *spec;        /* NULL for a columns.<field> key */
	size_t column;                      /* the field of a columns.<field> key */
	bool refused;                       /* refused whatever its value */
};

/*
 * Looks up key[0..keylen) of section (an index into config_sections), set
 * on line, and records that line. Fails (err set) for an unknown or a
 * duplicate key.
 */
int config_key_find(struct config_load_state *st, size_t section,
		    const unsigned char *key, size_t keylen, size_t line,
		    struct config_key *out);

/* Checks v against the key's type and range and stores it in st->c.
 * A refused key fails without looking at v. */
int config_key_apply(struct config_load_state *st, const struct config_key *key,
		     const struct config_value *v, size_t line);

/* Cross-key rules on the loaded result (retry.max_delay_ms >= base). */
int config_check(const struct config_load_state *st);

/* Deep copy of src into dst (dst uninitialised). Returns 0 or -1 on OOM,
 * in which case dst holds what was copied and must be released. */
int config_copy(struct config *dst, const struct config *src);

/*
 * Writes a printable, bounded copy of s[0..len) into out: control bytes
 * become '?', and a long value is cut (on a UTF-8 boundary) with "...".
 * A key is also cut at the first ':' or blank: "client_id:abc: 1" is a
 * value run into a key, and the value may be a secret.
 */
void config_show(char *out, size_t cap, const unsigned char *s, size_t len, int as_key);

#endif
