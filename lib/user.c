/*
 * user.c - turns one row's raw cells into a validated struct user.
 * Pure logic: no I/O, no allocation. A cell is read only within its len (it
 * may hold NUL bytes and invalid UTF-8); the first invalid field wins and its
 * reason names the field ("email: missing \"@\"").
 */
#include "user.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "phone.h"
#include "utf8.h"

#include "banned.h"

#define EMAIL_LOCAL_MAX 64 /* bytes, RFC 5321 */
#define EMAIL_LABEL_MAX 63 /* bytes per domain label, RFC 1035 */
#define QUOTE_MAX 64	   /* bytes of a value quoted in a message */
#define PHONE_CELL_MAX 64  /* bytes of a phone cell incl. separators */

/* clang-format off */
const char *const user_field_names[USER_FIELD_COUNT] = {
	"email",    "country_code", "phone_number", "first_name",
	"last_name", "username",    "metadata",     "phone",
	"date_of_birth", "external_id",
};
/* clang-format on */

/* A trimmed cell: p[0..n) (not NUL-terminated at n). */
struct cell {
	const char *p;
	size_t n;
	bool present; /* the column exists in the file */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static void trim(struct cell *c)
{
	while (c->n > 0 && is_blank(c->p[0])) {
		c->p++;
		c->n--;
	}
	while (c->n > 0 && is_blank(c->p[c->n - 1]))
		c->n--;
}

/*
 * Reads cell f: trimmed; a "'" written before = + - @ tab or CR to defuse a
 * formula (the README) is dropped, and the rest trimmed again so the
 * round trip through a rejects file gives what the original cell gave.
 */
static struct cell get_cell(const struct user_input *in, enum user_field f)
{
	struct cell c = {"", 0, false};

	if (!in->field[f])
		return c;
	c.p = in->field[f];
	c.n = in->len[f];
	c.present = true;
	trim(&c);
	if (c.n >= 2 && c.p[0] == '\'' && c.p[1] != '\0' &&
	    strchr("=+-@\t\r", c.p[1])) {
		c.p++;
		c.n--;
		trim(&c);
	}
	return c;
}

/* The printf precision and suffix that quote at most QUOTE_MAX bytes. */
static int quote_len(size_t n) { return (int)(n < QUOTE_MAX ? n : QUOTE_MAX); }

static const char *quote_more(size_t n) { return n > QUOTE_MAX ? "..." : ""; }

/* RFC 5322 atext: what a local part may hold besides the dots. */
static bool is_atext(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int check_local(const char *p, size_t n, struct err *err)
{
	char name[UTF8_NAME_MAX];
	size_t i;

	if (n == 0)
		return err_set(err, "email: nothing before \"@\"");
	if (n > EMAIL_LOCAL_MAX)
		return err_set(err,
			       "email: local part longer than %d characters",
			       EMAIL_LOCAL_MAX);
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (i == 0)
				return err_set(err, "email: local part starts "
						    "with a dot");
			if (i == n - 1)
				return err_set(err, "email: local part ends "
						    "with a dot");
			if (p[i - 1] == '.')
				return err_set(err, "email: two dots in a row "
						    "in local part");
		} else if (!is_atext(p[i])) {
			utf8_char_name((const unsigned char *)p + i, n - i, name);
			return err_set(err,
				       "email: invalid character %s in "
				       "local part",
				       name);
		}
	}
	return 0;
}

static int check_domain(const char *p, size_t n, struct err *err)
{
	char name[UTF8_NAME_MAX];
	size_t i, start = 0, len;
	bool dot = false, numeric = true;

	if (n == 0)
		return err_set(err, "email: nothing after \"@\"");
	for (i = 0; i < n; i++) {
		if (!is_alnum(p[i]) && p[i] != '-' && p[i] != '.') {
			utf8_char_name((const unsigned char *)p + i, n - i, name);
			return err_set(err,
				       "email: invalid character %s in "
				       "domain",
				       name);
		}
	}
	/* Label by label; i == n closes the last one. */
	for (i = 0; i <= n; i++) {
		if (i < n && p[i] != '.')
			continue;
		len = i - start;
		if (len == 0)
			return err_set(err,
				       "email: domain \"%.*s%s\" has an "
				       "empty label",
				       quote_len(n), p, quote_more(n));
		if (len > EMAIL_LABEL_MAX)
			return err_set(err,
				       "email: domain label longer than "
				       "%d characters",
				       EMAIL_LABEL_MAX);
		if (p[start] == '-' || p[i - 1] == '-')
			return err_set(err,
				       "email: domain label \"%.*s\" "
				       "starts or ends with \"-\"",
				       (int)len, p + start);
		if (i < n) {
			dot = true;
			start = i + 1;
		}
	}
	if (!dot)
		return err_set(err, "email: domain \"%.*s\" has no dot",
			       quote_len(n), p);
	for (i = start; i < n; i++)
		numeric = numeric && p[i] >= '0' && p[i] <= '9';
	if (numeric)
		return err_set(err,
			       "email: top-level domain \"%.*s\" is all "
			       "digits",
			       (int)(n - start), p + start);
	return 0;
}

/* email: required; the domain is lower-cased, the local part kept as is. */
static int normalise_email(char out[USER_EMAIL_MAX + 1], struct cell c,
			   struct err *err)
{
	const char *at = NULL;
	size_t i, ats = 0, local;

	if (!c.present)
		return err_set(err, "email: missing");
	if (c.n == 0)
		return err_set(err, "email: empty");
	if (c.n > USER_EMAIL_MAX)
		return err_set(err, "email: longer than %d characters",
			       USER_EMAIL_MAX);
	for (i = 0; i < c.n; i++) {
		if (c.p[i] == '@') {
			at = at ? at : c.p + i;
			ats++;
		}
	}
	if (ats == 0)
		return err_set(err, "email: missing \"@\"");
	if (ats > 1)
		return err_set(err, "email: more than one \"@\"");
	local = (size_t)(at - c.p);
	if (check_local(c.p, local, err) < 0 ||
	    check_domain(at + 1, c.n - local - 1, err) < 0)
		return -1;
	for (i = 0; i < c.n; i++) {
		char ch = c.p[i];

		if (i > local && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		out[i] = ch;
	}
	out[c.n] = '\0';
	return 0;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/*
 * Checks c as UTF-8 text: well formed; when controls_ok is false, no C0, DEL
 * or C1 control (NUL included); at most max_chars code points (0 = any).
 * Positions in messages are 1-based: bytes for UTF-8, characters otherwise.
 */
static int check_text(const char *field, struct cell c, bool controls_ok,
		      size_t max_chars, struct err *err)
{
	const unsigned char *s = (const unsigned char *)c.p;
	size_t i = 0, chars = 0, len;
	uint32_t cp;

	while (i < c.n) {
		len = utf8_decode(s + i, c.n - i, &cp);
		if (len == 0)
			return err_set(err, "%s: invalid UTF-8 at byte %zu",
				       field, i + 1);
		chars++;
		if (is_control(cp) && (!controls_ok || cp == 0))
			return err_set(err,
				       "%s: control character at position "
				       "%zu",
				       field, chars);
		i += len;
	}
	if (max_chars && chars > max_chars)
		return err_set(err, "%s: longer than %zu characters", field,
			       max_chars);
	return 0;
}

/* A name: required unless optional, then "" when absent or empty. */
static int normalise_name(char out[USER_NAME_MAX_BYTES + 1], enum user_field f,
			  struct cell c, bool optional, struct err *err)
{
	const char *field = user_field_names[f];

	if (c.n == 0) {
		if (!optional)
			return err_set(err, "%s: %s", field,
				       c.present ? "empty" : "missing");
		out[0] = '\0';
		return 0;
	}
	if (check_text(field, c, false, USER_NAME_MAX_CHARS, err) < 0)
		return -1;
	/* <= 50 code points of <= 4 bytes each fit USER_NAME_MAX_BYTES. */
	memcpy(out, c.p, c.n);
	out[c.n] = '\0';
	return 0;
}

/* metadata: optional, borrowed; JSON-ness is the payload module's call.
 * Line breaks and tabs are allowed (pretty-printed JSON), NUL is not. */
static int normalise_metadata(struct user *u, struct cell c, struct err *err)
{
	u->metadata = NULL;
	u->metadata_len = 0;
	if (c.n == 0)
		return 0;
	if (c.n > USER_METADATA_MAX)
		return err_set(err, "metadata: longer than %d bytes",
			       USER_METADATA_MAX);
	if (check_text("metadata", c, true, 0, err) < 0)
		return -1;
	u->metadata = c.p;
	u->metadata_len = c.n;
	return 0;
}

static bool is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* date_of_birth: optional; YYYY-MM-DD, a real Gregorian date, year >= 1000. */
static int normalise_dob(char out[11], struct cell c, struct err *err)
{
	static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30,
						31, 31, 30, 31, 30, 31};
	unsigned y = 0, m = 0, d = 0;
	size_t i;

	out[0] = '\0';
	if (c.n == 0)
		return 0;
	for (i = 0; i < c.n && c.n == 10; i++) {
		bool dash = i == 4 || i == 7;

		if (dash ? c.p[i] != '-' : (c.p[i] < '0' || c.p[i] > '9'))
			break;
	}
	if (c.n != 10 || i != 10) {
		if (check_text("date_of_birth", c, false, 0, err) < 0)
			return -1;
		return err_set(err, "date_of_birth: expected YYYY-MM-DD, got \"%.*s%s\"",
			       quote_len(c.n), c.p, quote_more(c.n));
	}
	for (i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(c.p[i] - '0');
	m = (unsigned)(c.p[5] - '0') * 10 + (unsigned)(c.p[6] - '0');
	d = (unsigned)(c.p[8] - '0') * 10 + (unsigned)(c.p[9] - '0');
	if (y < 1000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && !is_leap(y)))
		return err_set(err, "date_of_birth: %.10s is not a real date", c.p);
	memcpy(out, c.p, 10);
	out[10] = '\0';
	return 0;
}

/* external_id: optional; UTF-8 without controls, at most
 * USER_EXTERNAL_ID_MAX bytes. Compared byte for byte, so kept as given
 * (trimmed). */
static int normalise_external_id(char out[USER_EXTERNAL_ID_MAX + 1], struct cell c,
				 struct err *err)
{
	out[0] = '\0';
	if (c.n == 0)
		return 0;
	if (c.n > USER_EXTERNAL_ID_MAX)
		return err_set(err, "external_id: longer than %d bytes", USER_EXTERNAL_ID_MAX);
	if (check_text("external_id", c, false, 0, err) < 0)
		return -1;
	memcpy(out, c.p, c.n);
	out[c.n] = '\0';
	return 0;
}

/* Copies a phone cell to buf as a C string for the phone module. */
static int phone_cell(char buf[PHONE_CELL_MAX], enum user_field f,
		      struct cell c, struct err *err)
{
	const char *field = user_field_names[f];

	if (c.n >= PHONE_CELL_MAX)
		return err_set(err, "%s: too long (%zu characters, max %d)",
			       field, c.n, PHONE_CELL_MAX - 1);
	if (memchr(c.p, '\0', c.n))
		return err_set(err, "%s: unexpected character 0x00", field);
	memcpy(buf, c.p, c.n);
	buf[c.n] = '\0';
	return 0;
}

/*
 * Which phone columns count: country_code + phone_number when either column
 * exists, unless both are empty and a "phone" cell is not, in which case the
 * "phone" cell is split. country_code + phone_number win when both are given.
 */
static int normalise_phone(struct user *u, const struct cell cells[],
			   const struct user_rules *rules, struct err *err)
{
	const struct cell *cc = &cells[USER_COUNTRY_CODE];
	const struct cell *pn = &cells[USER_PHONE_NUMBER];
	const struct cell *ph = &cells[USER_PHONE];
	char a[PHONE_CELL_MAX], b[PHONE_CELL_MAX];
	bool split_given = cc->n > 0 || pn->n > 0;

	if (ph->present && (ph->n > 0 || !(cc->present || pn->present)) &&
	    !split_given) {
		if (phone_cell(a, USER_PHONE, *ph, err) < 0)
			return -1;
		return phone_split(a,
				   rules ? rules->default_country_code : NULL,
				   u->country_code, u->phone_number, err);
	}
	if (!cc->present || !pn->present)
		return err_set(
		    err, "%s: missing",
		    user_field_names[pn->present ? USER_COUNTRY_CODE
						 : USER_PHONE_NUMBER]);
	if (phone_cell(a, USER_COUNTRY_CODE, *cc, err) < 0 ||
	    phone_cell(b, USER_PHONE_NUMBER, *pn, err) < 0)
		return -1;
	return phone_check(a, b, u->country_code, u->phone_number, err);
}

int user_normalise(struct user *u, const struct user_input *in,
		   const struct user_rules *rules, struct err *err)
{
	struct cell cells[USER_FIELD_COUNT];
	size_t f;

	for (f = 0; f < USER_FIELD_COUNT; f++)
		cells[f] = get_cell(in, (enum user_field)f);
	if (normalise_email(u->email, cells[USER_EMAIL], err) < 0 ||
	    normalise_phone(u, cells, rules, err) < 0 ||
	    normalise_name(u->first_name, USER_FIRST_NAME,
			   cells[USER_FIRST_NAME], false, err) < 0 ||
	    normalise_name(u->last_name, USER_LAST_NAME, cells[USER_LAST_NAME],
			   false, err) < 0 ||
	    normalise_name(u->username, USER_USERNAME, cells[USER_USERNAME],
			   true, err) < 0 ||
	    normalise_dob(u->date_of_birth, cells[USER_DATE_OF_BIRTH], err) < 0 ||
	    normalise_metadata(u, cells[USER_METADATA], err) < 0 ||
	    normalise_external_id(u->external_id, cells[USER_EXTERNAL_ID], err) < 0)
		return -1;
	return 0;
}

/*
 * cc (< 1000, 10 bits) << 53 | cc digits (2 bits) << 51 | national digits
 * (<= 14, 4 bits) << 47 | national value (< 10^14 < 2^47). Injective on the
 * two strings because the lengths are part of the key (leading zeros count).
 */
uint64_t user_phone_key(const struct user *u)
{
	uint64_t cc = 0, national = 0;
	size_t i, cc_len = strlen(u->country_code);
	size_t nat_len = strlen(u->phone_number);

	for (i = 0; i < cc_len; i++)
		cc = cc * 10 + (uint64_t)(u->country_code[i] - '0');
	for (i = 0; i < nat_len; i++)
		national = national * 10 + (uint64_t)(u->phone_number[i] - '0');
	return cc << 53 | (uint64_t)cc_len << 51 | (uint64_t)nat_len << 47 |
	       national;
}
