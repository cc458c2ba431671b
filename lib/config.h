/*
 * config.h - the run configuration and the YAML file that sets it
 * (the README).
 *
 * config_init sets the built-in defaults; config_load overlays a YAML file.
 * The command line and environment are applied afterwards by the caller,
 * so precedence is: command line > environment > file > default.
 */
#ifndef DOTS_CONFIG_H
#define DOTS_CONFIG_H

#include <stdbool.h>

#include "err.h"
#include "user.h"

#define CONFIG_DEFAULT_BASE_URL "https://pls.senddotssandbox.com/api"

struct config {
	/* api: */
	char *base_url;          /* API base incl. "/api", without "/v2" */
	long connect_timeout_ms; /* 1..600000, default 10000 */
	long request_timeout_ms; /* 1..3600000, default 30000 */
	char *client_id;         /* NULL = take DOTS_CLIENT_ID */
	char *api_key_file;      /* file whose first line is the key; NULL = env */
	char *ca_cert;           /* PEM bundle for private CAs; NULL = system */
	/* import: */
	long concurrency;        /* 1..256, default 8 */
	double rate_limit;       /* CONFIG_RATE_AUTO: adaptive pacing (default);
				  * N > 0: adaptive under a ceiling of N
				  * requests/s; 0: unlimited, no pacing */
	bool send_verification;  /* default true */
	bool allow_phone_change; /* a known external id with a new phone is created
				  * as a new user, not a conflict; default false */
	char *state;             /* ledger path, default "dots-import.db" */
	char *default_country_code; /* for "phone" values without + / 00 */
	char delimiter;          /* input field delimiter: , ; \t |, 0 = detect */
	char *encoding;          /* input encoding (iconv name), NULL = UTF-8 */
	char *report;            /* HTML run report path (--report), NULL = none */
	/* retry: */
	long max_attempts;       /* 1..100, default 5 */
	long base_delay_ms;      /* 1..600000, default 250 */
	long max_delay_ms;       /* 1..3600000, default 30000 */
	/* columns: CSV header name per field; NULL = the field's own name */
	char *columns[USER_FIELD_COUNT];
};

/* Sets every field to its built-in default (strings are heap copies). */
void config_init(struct config *c);

/*
 * Reads the YAML file at path and overlays the keys it sets on c.
 * Unknown keys, wrong types, out-of-range values, duplicate keys and YAML
 * syntax errors fail with err naming file, line (of the key) and key, e.g.
 * "config.yaml:4: import.concurrency: expected an integer from 1 to 256,
 * got \"abc\"". Files over 1 MiB, YAML aliases, more than one document and
 * an api.api_key key are refused; values of api.client_id and api.api_key
 * never appear in a message. An empty or comments-only file sets nothing.
 * On failure c is left unchanged (and must still be released).
 */
int config_load(struct config *c, const char *path, struct err *err);

#define CONFIG_RATE_AUTO (-1.0)

/* Parses a rate as written in the config or on the command line: "auto",
 * "unlimited", or 0..100000 requests/s (0 = unlimited). Returns 0 or -1. */
int config_parse_rate(const char *s, double *out);

/*
 * Parses a delimiter as written in the config or on the command line:
 * "," ";" "|" "tab" (any case) or a literal tab. Returns 0 with *out set,
 * or -1 (the caller says where).
 */
int config_parse_delimiter(const char *s, char *out);

/* Replaces a string field (frees the old value). Returns 0 or -1 on OOM. */
int config_set_string(char **field, const char *value);

/* Frees every string; c may be reused after config_init. */
void config_release(struct config *c);

#endif
