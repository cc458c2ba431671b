/*
 * fuzz_phone.c - libFuzzer target for the phone module. The bytes are split
 * at the first two NULs into: a value for phone_split (an international or
 * national number), a default calling code, and a number for phone_check
 * (with the default code as its country_code); phone_clean_digits gets the
 * first part with several buffer sizes.
 * Checks, besides memory safety: outputs are digits within their lengths,
 * error messages are one line, and a split result passes phone_check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phone.h"

#include "fuzz_common.h"

static int all_digits(const char *s)
{
	return s[strspn(s, "0123456789")] == '\0';
}

static void check_pair(const char cc[4], const char national[16])
{
	char cc2[4], nat2[16];
	struct err e;

	FUZZ_CHECK(memchr(cc, '\0', 4) != NULL);
	FUZZ_CHECK(memchr(national, '\0', 16) != NULL);
	FUZZ_CHECK(strlen(cc) >= 1 && strlen(cc) <= 3 && all_digits(cc));
	FUZZ_CHECK(phone_is_calling_code(cc));
	FUZZ_CHECK(strlen(national) >= 1 && all_digits(national));
	FUZZ_CHECK(strlen(cc) + strlen(national) <= 15);
	/* What the splitter accepts, the pair checker accepts unchanged. */
	err_init(&e);
	if (phone_check(cc, national, cc2, nat2, &e) != 0) {
		fprintf(stderr, "phone_check(%s, %s): %s\n", cc, national,
			e.msg);
		FUZZ_CHECK(0);
	}
	FUZZ_CHECK(strcmp(cc, cc2) == 0 && strcmp(national, nat2) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {1, 2, 4, 16, 64};
	char *buf, *part[3];
	size_t i, k = 0;
	char cc[4], national[16], out[64];
	struct err e;

	if (size > 4096)
		return 0;
	/* Three NUL-terminated strings, the last ones possibly empty. */
	buf = malloc(size + 3);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	part[0] = buf;
	for (i = 0, k = 1; i < size && k < 3; i++)
		if (buf[i] == '\0')
			part[k++] = buf + i + 1;
	for (; k < 3; k++)
		part[k] = buf + size + k;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		memset(out, 'x', sizeof(out));
		err_init(&e);
		if (phone_clean_digits(part[0], out, caps[i], &e) == 0) {
			FUZZ_CHECK(memchr(out, '\0', caps[i]) != NULL);
			FUZZ_CHECK(strlen(out) >= 1 && all_digits(out));
		} else {
			/* out is unspecified on failure (phone.h) */
			FUZZ_CHECK(e.msg[0] && fuzz_one_line(e.msg));
		}
	}

	err_init(&e);
	if (phone_split(part[0], NULL, cc, national, &e) == 0)
		check_pair(cc, national);
	else
		FUZZ_CHECK(e.msg[0] && fuzz_one_line(e.msg));

	err_init(&e);
	if (phone_split(part[0], part[1], cc, national, &e) == 0)
		check_pair(cc, national);
	else
		FUZZ_CHECK(e.msg[0] && fuzz_one_line(e.msg));

	err_init(&e);
	if (phone_check(part[1], part[2], cc, national, &e) == 0)
		check_pair(cc, national);
	else
		FUZZ_CHECK(e.msg[0] && fuzz_one_line(e.msg));

	FUZZ_CHECK(phone_is_calling_code(NULL) == 0);
	(void)phone_is_calling_code(part[1]);
	free(buf);
	return 0;
}
