/*
 * utf8.c - UTF-8 decoding, characters named for messages, and the
 * streaming validator that spots a Windows-1252 file read as UTF-8.
 * Pure logic: no I/O, no allocation.
 */
#include "utf8.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

/* Lead byte ranges with their length and allowed second byte (table 3-7). */
static const struct {
	unsigned char lo, hi, len, lo2, hi2;
} forms[] = {
    {0x00, 0x7F, 1, 0, 0},	 {0xC2, 0xDF, 2, 0x80, 0xBF},
    {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
    {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF},
    {0xF0, 0xF0, 4, 0x90, 0xBF}, {0xF1, 0xF3, 4, 0x80, 0xBF},
    {0xF4, 0xF4, 4, 0x80, 0x8F},
};
#define NFORMS (sizeof(forms) / sizeof(forms[0]))

static size_t form_of(unsigned char b)
{
	size_t f;

	for (f = 0; f < NFORMS; f++)
		if (b >= forms[f].lo && b <= forms[f].hi)
			break;
	return f;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const unsigned char lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
	size_t f, i, len;
	uint32_t v;

	if (n == 0)
		return 0;
	f = form_of(s[0]);
	if (f == NFORMS)
		return 0;
	len = forms[f].len;
	if (len > n)
		return 0;
	if (len > 1 && (s[1] < forms[f].lo2 || s[1] > forms[f].hi2))
		return 0;
	v = s[0] & lead_mask[len];
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	*cp = v;
	return len;
}

/* Characters shown by number only: they are invisible or move text. */
bool utf8_is_invisible(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD ||
	       cp == 0x34F || cp == 0x61C || cp == 0x1680 || cp == 0x180E ||
	       (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
	       (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF ||
	       (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp >= 0xE000 && cp <= 0xF8FF) ||
	       (cp >= 0xE0000);
}

size_t utf8_char_name(const unsigned char *s, size_t n, char out[UTF8_NAME_MAX])
{
	uint32_t cp = 0;
	size_t len = utf8_decode(s, n, &cp);

	if (len == 0) {
		snprintf(out, UTF8_NAME_MAX, "0x%02X", (unsigned)s[0]);
		return 1;
	}
	if (len == 1 && cp >= 0x20 && cp < 0x7F)
		snprintf(out, UTF8_NAME_MAX, "'%c'", (char)cp);
	else if (len == 1)
		snprintf(out, UTF8_NAME_MAX, "0x%02X", (unsigned)cp);
	else if (utf8_is_invisible(cp))
		snprintf(out, UTF8_NAME_MAX, "U+%04X", (unsigned)cp);
	else
		snprintf(out, UTF8_NAME_MAX, "'%.*s' (U+%04X)", (int)len,
			 (const char *)s, (unsigned)cp);
	return len;
}

void utf8_scan_init(struct utf8_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->cp1252_ok = true;
}

static void scan_bad(struct utf8_scan *s, unsigned char b, size_t tag)
{
	if (s->invalid == 0) {
		s->first_bad = b;
		s->first_bad_tag = tag;
	}
	s->invalid++;
}

static void scan_byte(struct utf8_scan *s, unsigned char b, size_t tag)
{
	size_t f;

	if (b == 0x81 || b == 0x8D || b == 0x8F || b == 0x90 || b == 0x9D)
		s->cp1252_ok = false;
	if (s->need) {
		if (b >= s->lo && b <= s->hi) {
			s->lo = 0x80;
			s->hi = 0xBF;
			if (--s->need == 0)
				s->valid_multi++;
			return;
		}
		/* the open sequence is ill-formed; b starts afresh */
		s->need = 0;
		scan_bad(s, s->lead, tag);
	}
	if (b < 0x80)
		return;
	f = form_of(b);
	if (f == NFORMS) {
		scan_bad(s, b, tag);
		return;
	}
	s->lead = b;
	s->need = (unsigned char)(forms[f].len - 1);
	s->lo = forms[f].lo2;
	s->hi = forms[f].hi2;
}

void utf8_scan_feed(struct utf8_scan *s, const unsigned char *p, size_t n, size_t tag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] >= 0x80 || s->need)
			scan_byte(s, p[i], tag);
}

void utf8_scan_end(struct utf8_scan *s, size_t tag)
{
	if (s->need) {
		s->need = 0;
		scan_bad(s, s->lead, tag);
	}
}

bool utf8_scan_looks_cp1252(const struct utf8_scan *s)
{
	return s->invalid > 0 && s->valid_multi == 0 && s->cp1252_ok;
}
