/*
 * num.h - the one checked way to turn text into a number (and a cheap way
 * back). No atoi/strtol elsewhere: every number from outside goes through
 * here.
 */
#ifndef DOTS_NUM_H
#define DOTS_NUM_H

/*
 * Parses all of s (optional leading/trailing blanks allowed) as a base-10
 * integer in [min, max]. Returns 0 and sets *out, or -1 (out untouched) when s
 * is empty, has other characters, or is out of range.
 */
int num_parse_long(const char *s, long min, long max, long *out);

/* Same for a finite decimal number in [min, max]. */
int num_parse_double(const char *s, double min, double max, double *out);

/*
 * Writes v in base 10 into out (NUL-terminated; 21 bytes hold any value)
 * and returns out: the results file writes four numbers a row, and
 * snprintf's format parsing costs more than the digits.
 */
char *num_format_u64(unsigned long long v, char out[21]);

#endif
