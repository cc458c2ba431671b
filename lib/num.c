/*
 * num.c - checked number parsing on top of strtol/strtod.
 * Never accepts partial input, overflow, NaN or infinity.
 */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "banned.h"

static int only_blanks(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return *p == '\0';
}

int num_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || !only_blanks(end) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* strtod also reads hexadecimal ("0x10"): not a decimal number. */
static int is_hex(const char *p)
{
	if (*p == '+' || *p == '-')
		p++;
	return p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
}

int num_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!*s || is_hex(s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !only_blanks(end) || !isfinite(v) || v < min ||
	    v > max)
		return -1;
	*out = v;
	return 0;
}

char *num_format_u64(unsigned long long v, char out[21])
{
	char tmp[21];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return out;
}
