/*
 * err.h - the error a library call hands back to its caller.
 *
 * Library functions never print and never exit: on failure they fill a
 * caller-owned struct err and return a negative value. On success the message
 * is left untouched, so a caller can chain calls and report the first failure.
 */
#ifndef DOTS_ERR_H
#define DOTS_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

struct err {
	char msg[ERR_MSG_MAX]; /* one line, lower case, no trailing full stop */
};

/* Clears the message. */
void err_init(struct err *e);

/*
 * Formats a message into e (truncated to ERR_MSG_MAX - 1 bytes) and returns -1,
 * so callers can write `return err_set(err, "...");`. e may be NULL.
 */
int err_set(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Puts "prefix: " in front of the current message and returns -1.
 * Used to add context ("file.csv:12") as an error travels up.
 */
int err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
