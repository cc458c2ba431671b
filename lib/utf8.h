/*
 * utf8.h - UTF-8 decoding (Unicode table 3-7), naming a character for a
 * message ("'é' (U+00E9)"), and a streaming validator that tells UTF-8 from
 * Windows-1252 over a whole file.
 *
 * Pure logic, no I/O, no allocation.
 */
#ifndef DOTS_UTF8_H
#define DOTS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for the longest utf8_char_name: "'xxxx' (U+10FFFF)". */
#define UTF8_NAME_MAX 24

/*
 * Length (1-4) of the well-formed UTF-8 sequence at s[0..n): no overlongs,
 * no surrogates, nothing above U+10FFFF; 0 when ill-formed or cut short.
 * *cp gets the code point.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* True for a character that is invisible or moves the text around it
 * (controls, spaces other than ' ', bidirectional overrides, private use):
 * never shown as itself in a message. */
bool utf8_is_invisible(uint32_t cp);

/*
 * Names the character at s[0..n) (n >= 1) for a message and returns how many
 * bytes it takes: printable ASCII as 'x'; a well-formed printable non-ASCII
 * character as 'é' (U+00E9); an invisible one (controls, format characters,
 * line separators) as U+200B alone; any other byte as 0x07.
 */
size_t utf8_char_name(const unsigned char *s, size_t n, char out[UTF8_NAME_MAX]);

/*
 * A streaming check of a byte stream, chunk by chunk (sequences may cross
 * chunk ends): counts well-formed multi-byte sequences and ill-formed
 * bytes, keeps the first ill-formed byte, and whether every non-ASCII byte
 * is a defined Windows-1252 character.
 */
struct utf8_scan {
	unsigned char need;      /* continuation bytes still expected */
	unsigned char lo, hi;    /* range of the next continuation byte */
	unsigned char lead;      /* lead byte of the open sequence */
	size_t valid_multi;      /* well-formed multi-byte sequences */
	size_t invalid;          /* ill-formed sequences */
	bool cp1252_ok;          /* no byte undefined in Windows-1252 */
	unsigned char first_bad; /* first byte of the first ill-formed sequence */
	size_t first_bad_tag;    /* caller's tag (a line) given with that chunk */
};

void utf8_scan_init(struct utf8_scan *s);

/* Feeds n bytes; tag is recorded when the first ill-formed byte is in them. */
void utf8_scan_feed(struct utf8_scan *s, const unsigned char *p, size_t n, size_t tag);

/* Ends the stream: a sequence cut short by the end counts as ill-formed. */
void utf8_scan_end(struct utf8_scan *s, size_t tag);

/* True when the stream was not UTF-8 at all but reads as Windows-1252: some
 * ill-formed bytes, not one well-formed multi-byte sequence, and no byte
 * that Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D). */
bool utf8_scan_looks_cp1252(const struct utf8_scan *s);

#endif
