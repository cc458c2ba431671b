/*
 * fuzz_payload.c - libFuzzer target for the API response parsers:
 * payload_user_id (the id of a create response) and payload_error_message
 * (the one-line reason of an error response), on the raw bytes as the
 * transport hands them over (not NUL-terminated, any size).
 * Checks, besides memory safety: an accepted id is 1..PAYLOAD_ID_MAX
 * characters of [A-Za-z0-9_-]; the reason is NUL-terminated within cap, one
 * line, free of control bytes, never starts or ends with a blank; buffer
 * bytes past the NUL are untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

#include "fuzz_common.h"

#define CANARY 0xA5

static void check_message(const char *body, size_t len, size_t cap)
{
	unsigned char *out = malloc(cap + 16);
	size_t n;

	if (!out)
		abort();
	memset(out, CANARY, cap + 16);
	payload_error_message(body, len, (char *)out, cap);
	if (cap == 0) {
		for (size_t i = 0; i < 16; i++)
			FUZZ_CHECK(out[i] == CANARY);
		free(out);
		return;
	}
	FUZZ_CHECK(memchr(out, '\0', cap) != NULL);
	n = strlen((char *)out);
	FUZZ_CHECK(n < cap);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(out[i] >= 0x20 && out[i] != 0x7f);
	if (n) {
		FUZZ_CHECK(out[0] != ' ' && out[n - 1] != ' ');
	}
	FUZZ_CHECK(strstr((char *)out, "  ") == NULL);
	for (size_t i = cap; i < cap + 16; i++)
		FUZZ_CHECK(out[i] == CANARY);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {0, 1, 2, 4, 5, 8, 64, 300, 512};
	char id[PAYLOAD_ID_MAX + 1];
	/* An exact-size heap copy: ASan sees any read past the end. */
	char *body = malloc(size ? size : 1);
	struct err e;

	if (!body)
		abort();
	if (size)
		memcpy(body, data, size);
	err_init(&e);
	memset(id, CANARY, sizeof(id));
	if (payload_user_id(body, size, id, &e) == 0) {
		size_t n = strnlen(id, sizeof(id));

		FUZZ_CHECK(n >= 1 && n <= PAYLOAD_ID_MAX);
		FUZZ_CHECK(strspn(id, "abcdefghijklmnopqrstuvwxyz"
				      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789_-") == n);
	} else {
		FUZZ_CHECK(e.msg[0] && fuzz_one_line(e.msg));
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		check_message(body, size, caps[i]);
	free(body);
	return 0;
}
