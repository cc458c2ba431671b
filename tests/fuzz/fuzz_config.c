/*
 * fuzz_config.c - libFuzzer target for the YAML config loader: the bytes
 * become a config file loaded over the defaults.
 * Checks, besides memory safety and leaks: a failed load leaves the config
 * as it was and names the file in a one-line message; a successful one
 * keeps every value within its documented range; secrets (api.client_id,
 * api.api_key values) never appear in a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"

#include "fuzz_common.h"

#define MAX_SECRETS 4
#define SECRET_MAX 64

struct secrets {
	char value[MAX_SECRETS][SECRET_MAX];
	int n;
};

/* Worth checking: 6+ bytes with a letter and a digit (so not a word or a
 * number that a message may hold anyway). */
static int distinctive(const char *v, size_t n)
{
	int alpha = 0, digit = 0;

	if (n < 6 || n >= SECRET_MAX || strlen(v) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		alpha |= (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z');
		digit |= v[i] >= '0' && v[i] <= '9';
	}
	return alpha && digit;
}

/*
 * Walks the YAML events (as far as they parse) and collects the values of
 * "client_id" and "api_key" keys. The oracle's own parse, independent of
 * config.c: a value inside another scalar ("a api_key: x" quoted) is not a
 * secret. pass 2 drops a secret that any other scalar also contains, since
 * the loader may echo that one legitimately.
 */
static void find_secrets(const uint8_t *data, size_t size, struct secrets *out)
{
	for (int pass = 1; pass <= 2; pass++) {
		yaml_parser_t p;
		yaml_event_t ev;
		int expect_key[64], is_map[64], depth = 0, secret_next = 0;
		int seen[MAX_SECRETS] = {0};

		if (!yaml_parser_initialize(&p))
			abort();
		yaml_parser_set_input_string(&p, data, size);
		while (yaml_parser_parse(&p, &ev)) {
			int done = ev.type == YAML_STREAM_END_EVENT;
			int in_map = depth > 0 && is_map[depth - 1];
			int key_pos = in_map && expect_key[depth - 1];

			if (ev.type == YAML_SCALAR_EVENT ||
			    ev.type == YAML_ALIAS_EVENT ||
			    ev.type == YAML_MAPPING_START_EVENT ||
			    ev.type == YAML_SEQUENCE_START_EVENT) {
				if (in_map)
					expect_key[depth - 1] = !key_pos;
			}
			if (ev.type == YAML_SCALAR_EVENT) {
				const char *v = (const char *)ev.data.scalar.value;
				size_t n = ev.data.scalar.length;

				if (pass == 1 && secret_next && !key_pos &&
				    distinctive(v, n) && out->n < MAX_SECRETS)
					memcpy(out->value[out->n++], v, n + 1);
				secret_next = key_pos && (!strcmp(v, "client_id") ||
							  !strcmp(v, "api_key"));
				for (int i = 0; pass == 2 && i < out->n; i++)
					if (strstr(v, out->value[i]))
						seen[i]++;
			} else {
				secret_next = 0;
			}
			if (ev.type == YAML_MAPPING_START_EVENT ||
			    ev.type == YAML_SEQUENCE_START_EVENT) {
				if (depth == 64)
					done = 1;
				else {
					is_map[depth] = ev.type == YAML_MAPPING_START_EVENT;
					expect_key[depth++] = 1;
				}
			} else if ((ev.type == YAML_MAPPING_END_EVENT ||
				    ev.type == YAML_SEQUENCE_END_EVENT) &&
				   depth > 0) {
				depth--;
			}
			yaml_event_delete(&ev);
			if (done)
				break;
		}
		yaml_parser_delete(&p);
		if (pass == 2) {
			int k = 0;

			for (int i = 0; i < out->n; i++)
				if (seen[i] <= 1)
					memmove(out->value[k++], out->value[i],
						SECRET_MAX);
			out->n = k;
		}
	}
}

static void check_ranges(const struct config *c)
{
	FUZZ_CHECK(c->base_url && c->state);
	FUZZ_CHECK(c->connect_timeout_ms >= 1 &&
		   c->connect_timeout_ms <= 600000);
	FUZZ_CHECK(c->request_timeout_ms >= 1 &&
		   c->request_timeout_ms <= 3600000);
	FUZZ_CHECK(c->concurrency >= 1 && c->concurrency <= 256);
	FUZZ_CHECK((c->rate_limit == CONFIG_RATE_AUTO || (c->rate_limit >= 0 && c->rate_limit <= 100000)));
	FUZZ_CHECK(c->max_attempts >= 1 && c->max_attempts <= 100);
	FUZZ_CHECK(c->base_delay_ms >= 1 && c->base_delay_ms <= 600000);
	FUZZ_CHECK(c->max_delay_ms >= c->base_delay_ms &&
		   c->max_delay_ms <= 3600000);
	if (c->default_country_code) {
		size_t n = strlen(c->default_country_code);

		FUZZ_CHECK(n >= 1 && n <= 3);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_write_file(data, size, ".yaml");
	struct config c;
	struct err e;
	struct secrets sec = {.n = 0};

	if (!path)
		abort();
	config_init(&c);
	err_init(&e);
	if (config_load(&c, path, &e) == 0) {
		check_ranges(&c);
	} else {
		FUZZ_CHECK(strstr(e.msg, path) != NULL);
		FUZZ_CHECK(fuzz_one_line(e.msg));
		/* unchanged: still the defaults */
		FUZZ_CHECK(c.concurrency == 8 && c.max_attempts == 5);
		FUZZ_CHECK(c.client_id == NULL);
		FUZZ_CHECK(strcmp(c.state, "dots-import.db") == 0);
		/* the message starts with the path (random letters) */
		find_secrets(data, size, &sec);
		for (int i = 0; i < sec.n; i++)
			FUZZ_CHECK(strstr(e.msg + strlen(path), sec.value[i]) ==
				   NULL);
	}
	config_release(&c);
	return 0;
}
