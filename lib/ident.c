/*
 * ident.c - decides whether a row is the person the ledger knows, the same
 * phone with other details, or a clash of phone and external id, and says
 * so in words: in full (masked) for the results file, without personal
 * data for the log. Pure: no I/O, no allocation.
 */
#include "ident.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

#define SHOW_MAX 40 /* bytes of an external id quoted in a message */

unsigned ident_diff(const struct ident_fields *stored, const struct ident_fields *row)
{
	unsigned d = 0;

	if (stored->email[0] && strcmp(stored->email, row->email) != 0)
		d |= IDENT_EMAIL;
	if (stored->first_name[0] && strcmp(stored->first_name, row->first_name) != 0)
		d |= IDENT_FIRST_NAME;
	if (stored->last_name[0] && strcmp(stored->last_name, row->last_name) != 0)
		d |= IDENT_LAST_NAME;
	return d;
}

struct ident_decision ident_decide(const struct ident_fields *row, const char *row_ext,
				   uint64_t row_key, const struct ident_known *by_phone,
				   const struct ident_known *by_ext, bool allow_phone_change)
{
	struct ident_decision d = {IDENT_NEW, 0};

	if (row_ext[0] && by_ext->found && by_ext->key != row_key) {
		/* the person has another phone in the ledger */
		if (by_phone->found)
			d.verdict = IDENT_CONFLICT_BOTH;
		else
			d.verdict = allow_phone_change ? IDENT_NEW_MOVED : IDENT_CONFLICT_EXT;
		return d;
	}
	if (!by_phone->found)
		return d;
	if (row_ext[0] && by_phone->external_id[0] && strcmp(row_ext, by_phone->external_id) != 0) {
		d.verdict = IDENT_CONFLICT_PHONE;
		return d;
	}
	d.diff = ident_diff(&by_phone->f, row);
	if (d.diff)
		d.verdict = IDENT_CHANGED;
	else
		d.verdict = row_ext[0] && !by_phone->external_id[0] ? IDENT_EXISTS_ADOPT : IDENT_EXISTS;
	return d;
}

/* Bytes of the first UTF-8 character of s (1 for a stray byte). */
static size_t first_char(const char *s)
{
	size_t n = 1;

	while (s[n] && ((unsigned char)s[n] & 0xC0) == 0x80 && n < 4)
		n++;
	return n;
}

void ident_mask_email(const char *email, char *out, size_t cap)
{
	const char *at = strrchr(email, '@');

	if (!email[0] || !at || at == email) {
		snprintf(out, cap, "***");
		return;
	}
	snprintf(out, cap, "%.*s***%s", (int)first_char(email), email, at);
}

/* "A***" for a name. */
static void mask_name(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s***", name[0] ? (int)first_char(name) : 0, name);
}

/* s cut to at most SHOW_MAX bytes on a character boundary, "..." when cut. */
static void shown(const char *s, char out[SHOW_MAX + 4])
{
	size_t n = strlen(s);

	if (n <= SHOW_MAX) {
		memcpy(out, s, n + 1);
		return;
	}
	n = SHOW_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
}

/* "email", "email and first_name", "email, first_name and last_name". */
static int field_list(unsigned diff, char *out, size_t cap)
{
	static const char *const names[] = {"email", "first_name", "last_name"};
	int n = 0, total = 0, o = 0;

	for (int i = 0; i < 3; i++)
		total += (diff >> i) & 1;
	out[0] = '\0';
	for (int i = 0; i < 3; i++) {
		if (!((diff >> i) & 1))
			continue;
		n++;
		o += snprintf(out + o, o < (int)cap ? cap - (size_t)o : 0, "%s%s",
			      n == 1 ? "" : n == total ? " and " : ", ", names[i]);
	}
	return total;
}

static void changed(unsigned diff, const struct ident_known *k, bool for_log, char *out,
		    size_t cap)
{
	char fields[64], values[512] = "", mask[300];
	int n = field_list(diff, fields, sizeof(fields));
	size_t o = 0;

	if (for_log) {
		snprintf(out, cap, "%s %s from what Dots has for user %s; Dots was not updated",
			 fields, n == 1 ? "differs" : "differ", k->user_id);
		return;
	}
	if (diff & IDENT_EMAIL) {
		ident_mask_email(k->f.email, mask, sizeof(mask));
		o += (size_t)snprintf(values + o, sizeof(values) - o, "%s", mask);
	}
	if (diff & IDENT_FIRST_NAME) {
		mask_name(k->f.first_name, mask, sizeof(mask));
		o += (size_t)snprintf(values + o, sizeof(values) - o, "%s\"%s\"", o ? ", " : "",
				      mask);
	}
	if (diff & IDENT_LAST_NAME && o < sizeof(values)) {
		mask_name(k->f.last_name, mask, sizeof(mask));
		snprintf(values + o, sizeof(values) - o, "%s\"%s\"", o ? ", " : "", mask);
	}
	snprintf(out, cap, "%s %s from the %s Dots has (created with %s); Dots was not updated",
		 fields, n == 1 ? "differs" : "differ", n == 1 ? "one" : "ones", values);
}

void ident_message(const struct ident_decision *d, const char *row_ext,
		   const struct ident_known *by_phone, const struct ident_known *by_ext,
		   bool for_log, char *out, size_t cap)
{
	char ext[SHOW_MAX + 4], other[SHOW_MAX + 4];

	out[0] = '\0';
	shown(row_ext, ext);
	switch (d->verdict) {
	case IDENT_NEW:
	case IDENT_EXISTS:
	case IDENT_EXISTS_ADOPT:
		break;
	case IDENT_CHANGED:
		changed(d->diff, by_phone, for_log, out, cap);
		break;
	case IDENT_NEW_MOVED:
		if (for_log)
			snprintf(out, cap, "phone changed: external_id moved from user %s to the new "
					   "user (--allow-phone-change)", by_ext->user_id);
		else
			snprintf(out, cap, "phone changed: external_id \"%s\" moved from user %s "
					   "(phone +%s %s) to this new user (--allow-phone-change)",
				 ext, by_ext->user_id, by_ext->country_code, by_ext->phone_number);
		break;
	case IDENT_CONFLICT_EXT:
		if (for_log)
			snprintf(out, cap, "external_id belongs to user %s, who has another phone: "
					   "not created (--allow-phone-change creates it as a new user)",
				 by_ext->user_id);
		else
			snprintf(out, cap, "external_id \"%s\" belongs to user %s, created with phone "
					   "+%s %s: not created (--allow-phone-change creates it as a "
					   "new user)",
				 ext, by_ext->user_id, by_ext->country_code, by_ext->phone_number);
		break;
	case IDENT_CONFLICT_PHONE:
		shown(by_phone->external_id, other);
		if (for_log)
			snprintf(out, cap, "phone belongs to user %s, who has another external_id: "
					   "not created", by_phone->user_id);
		else
			snprintf(out, cap, "phone belongs to user %s, created with external_id "
					   "\"%s\" (this row has \"%s\"): not created",
				 by_phone->user_id, other, ext);
		break;
	case IDENT_CONFLICT_BOTH:
		if (for_log)
			snprintf(out, cap, "external_id belongs to user %s and this row's phone to "
					   "user %s: not created", by_ext->user_id, by_phone->user_id);
		else
			snprintf(out, cap, "external_id \"%s\" belongs to user %s (phone +%s %s) and "
					   "this row's phone to user %s: not created",
				 ext, by_ext->user_id, by_ext->country_code, by_ext->phone_number,
				 by_phone->user_id);
		break;
	}
}
