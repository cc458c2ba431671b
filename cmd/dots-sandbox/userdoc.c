/*
 * userdoc.c - reads request bodies and writes response objects with
 * jansson; never builds JSON by hand. Validation is the sandbox's version
 * of Dots' rules: it reports the first bad field and changes nothing.
 */
#include "userdoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

#include "banned.h"

static int userdoc_fail(char msg[USERDOC_MSG_MAX], const char *field,
			const char *reason)
{
	snprintf(msg, USERDOC_MSG_MAX, "%s: %s", field, reason);
	return USERDOC_INVALID;
}

static int userdoc_all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int userdoc_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Fetches key as a string: required or optional (absent/null gives NULL). */
static int userdoc_string(json_t *root, const char *key, int required,
			  size_t max, const char **out,
			  char msg[USERDOC_MSG_MAX])
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (!v || (json_is_null(v) && !required))
		return required ? userdoc_fail(msg, key, "missing")
				: USERDOC_OK;
	if (!json_is_string(v))
		return userdoc_fail(msg, key, "must be a string");
	if (json_string_length(v) > max)
		return userdoc_fail(msg, key, "too long");
	*out = json_string_value(v);
	if (required && !**out)
		return userdoc_fail(msg, key, "empty");
	if (userdoc_has_control(*out))
		return userdoc_fail(msg, key, "contains control characters");
	return USERDOC_OK;
}

static int userdoc_check_fields(struct userdoc_create *c,
				char msg[USERDOC_MSG_MAX])
{
	struct store_input *in = &c->in;
	const char *at;
	json_t *meta;

	if (userdoc_string(c->root, "email", 1, USERDOC_EMAIL_MAX, &in->email,
			   msg) ||
	    userdoc_string(c->root, "country_code", 1, 16, &in->country_code,
			   msg) ||
	    userdoc_string(c->root, "phone_number", 1, USERDOC_PHONE_MAX,
			   &in->phone_number, msg) ||
	    userdoc_string(c->root, "first_name", 1, USERDOC_NAME_MAX,
			   &in->first_name, msg) ||
	    userdoc_string(c->root, "last_name", 1, USERDOC_NAME_MAX,
			   &in->last_name, msg) ||
	    userdoc_string(c->root, "username", 0, USERDOC_NAME_MAX,
			   &in->username, msg))
		return USERDOC_INVALID;
	at = strchr(in->email, '@');
	if (!at)
		return userdoc_fail(msg, "email", "missing \"@\"");
	if (at == in->email || !at[1] || strchr(at + 1, '@') ||
	    strchr(in->email, ' '))
		return userdoc_fail(msg, "email", "invalid address");
	if (strlen(in->country_code) > 3 ||
	    !userdoc_all_digits(in->country_code))
		return userdoc_fail(msg, "country_code", "must be 1-3 digits");
	if (!userdoc_all_digits(in->phone_number))
		return userdoc_fail(msg, "phone_number",
				    "must contain only digits");
	meta = json_object_get(c->root, "metadata");
	if (meta && !json_is_null(meta)) {
		if (!json_is_string(meta) && !json_is_object(meta))
			return userdoc_fail(msg, "metadata",
					    "must be a string, object or null");
		c->meta_text = json_dumps(meta, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!c->meta_text)
			return userdoc_fail(msg, "metadata",
					    "cannot be stored");
		in->metadata = c->meta_text;
	}
	return USERDOC_OK;
}

/* A request body that must be one JSON object, or NULL. */
static json_t *load_object(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);

	if (root && !json_is_object(root)) {
		json_decref(root);
		root = NULL;
	}
	return root;
}

enum userdoc_result userdoc_parse_create(const char *body, size_t len,
					 struct userdoc_create *out,
					 char msg[USERDOC_MSG_MAX])
{
	int rc;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	if (!(out->root = load_object(body, len)))
		return USERDOC_BAD_JSON;
	rc = userdoc_check_fields(out, msg);
	if (rc != USERDOC_OK) {
		userdoc_create_release(out);
		return (enum userdoc_result)rc;
	}
	return USERDOC_OK;
}

void userdoc_create_release(struct userdoc_create *c)
{
	if (!c)
		return;
	json_decref(c->root);
	free(c->meta_text);
	memset(c, 0, sizeof(*c));
}

enum userdoc_result userdoc_parse_token(const char *body, size_t len,
					char token[USERDOC_TOKEN_MAX + 1],
					char msg[USERDOC_MSG_MAX])
{
	json_error_t jerr;
	const char *t = NULL;
	json_t *root;
	int rc;

	token[0] = '\0';
	msg[0] = '\0';
	root = json_loadb(body, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return USERDOC_BAD_JSON;
	}
	rc = userdoc_string(root, "token", 1, USERDOC_TOKEN_MAX, &t, msg);
	if (rc == USERDOC_OK) {
		size_t n = strlen(t);

		memcpy(token, t, n + 1);
	}
	json_decref(root);
	return (enum userdoc_result)rc;
}

enum userdoc_result userdoc_parse_limit(const char *text, long *out)
{
	size_t n;

	if (!text) {
		*out = USERDOC_LIMIT_DEFAULT;
		return USERDOC_OK;
	}
	n = strnlen(text, 4);
	if (n < 1 || n > 3 || !userdoc_all_digits(text) ||
	    num_parse_long(text, 1, USERDOC_LIMIT_MAX, out) < 0)
		return USERDOC_INVALID;
	return USERDOC_OK;
}

/* Checks phones[i] and points p into it; msg names the entry. */
static int userdoc_phone_entry(json_t *e, size_t i, struct store_phone *p,
			       char msg[USERDOC_MSG_MAX])
{
	char field[48], inner[USERDOC_MSG_MAX];

	snprintf(field, sizeof(field), "phones[%zu]", i);
	if (!json_is_object(e))
		return userdoc_fail(msg, field, "must be an object");
	if (userdoc_string(e, "country_code", 1, 16, &p->country_code,
			   inner) ||
	    userdoc_string(e, "phone_number", 1, USERDOC_PHONE_MAX,
			   &p->phone_number, inner)) {
		snprintf(msg, USERDOC_MSG_MAX, "%.40s.%.110s", field, inner);
		return USERDOC_INVALID;
	}
	if (strlen(p->country_code) > 3 ||
	    !userdoc_all_digits(p->country_code)) {
		snprintf(msg, USERDOC_MSG_MAX,
			 "%s.country_code: must be 1-3 digits", field);
		return USERDOC_INVALID;
	}
	if (!userdoc_all_digits(p->phone_number)) {
		snprintf(msg, USERDOC_MSG_MAX,
			 "%s.phone_number: must contain only digits", field);
		return USERDOC_INVALID;
	}
	return USERDOC_OK;
}

static int userdoc_verify_fields(struct userdoc_verify *v,
				 char msg[USERDOC_MSG_MAX])
{
	json_t *all = json_object_get(v->root, "all");
	json_t *phones = json_object_get(v->root, "phones");
	size_t i;

	if (all && !json_is_boolean(all))
		return userdoc_fail(msg, "all", "must be true or false");
	v->all = all && json_is_true(all);
	if (v->all && phones)
		return userdoc_fail(msg, "phones",
				    "not allowed together with \"all\"");
	if (v->all)
		return USERDOC_OK;
	if (!phones)
		return userdoc_fail(msg, "phones",
				    "missing (or give \"all\": true)");
	if (!json_is_array(phones))
		return userdoc_fail(msg, "phones", "must be an array");
	v->n = json_array_size(phones);
	if (v->n > USERDOC_PHONES_MAX)
		return userdoc_fail(msg, "phones", "too many entries");
	if (v->n == 0)
		return USERDOC_OK;
	v->phones = calloc(v->n, sizeof(*v->phones));
	if (!v->phones)
		return userdoc_fail(msg, "phones", "cannot be stored");
	for (i = 0; i < v->n; i++)
		if (userdoc_phone_entry(json_array_get(phones, i), i,
					&v->phones[i], msg) != USERDOC_OK)
			return USERDOC_INVALID;
	return USERDOC_OK;
}

enum userdoc_result userdoc_parse_verify(const char *body, size_t len,
					 struct userdoc_verify *out,
					 char msg[USERDOC_MSG_MAX])
{
	int rc;

	memset(out, 0, sizeof(*out));
	msg[0] = '\0';
	if (!(out->root = load_object(body, len)))
		return USERDOC_BAD_JSON;
	rc = userdoc_verify_fields(out, msg);
	if (rc != USERDOC_OK) {
		userdoc_verify_release(out);
		return (enum userdoc_result)rc;
	}
	return USERDOC_OK;
}

void userdoc_verify_release(struct userdoc_verify *v)
{
	if (!v)
		return;
	json_decref(v->root);
	free(v->phones);
	memset(v, 0, sizeof(*v));
}

void userdoc_seed(void) { json_object_seed(0); }

static json_t *userdoc_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *userdoc_user(const struct store_view *v)
{
	json_t *meta =
	    v->metadata ? json_loads(v->metadata, JSON_DECODE_ANY, NULL) : NULL;

	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:o,"
	    " s:{s:i, s:i, s:i},"
	    " s:{s:b, s:b, s:b, s:b, s:b, s:b}}",
	    "id", v->id, "first_name", v->first_name, "last_name", v->last_name,
	    "email", v->email, "phone_number", "country_code", v->country_code,
	    "phone_number", v->phone_number, "status",
	    v->verified ? "verified" : "unverified", "username", v->username,
	    "metadata", meta ? meta : json_null(), "wallet", "amount", 0,
	    "withdrawable_balance", 0, "credit_balance", 0, "compliance",
	    "tax_id_collected", 0, "address_collected", 0,
	    "date_of_birth_collected", 0, "1099_collected", 0,
	    "w8_ben_collected", 0, "flagged", 0);
}

json_t *userdoc_sandbox_user(const struct store_view *v)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:I, s:o, s:s}", "id", v->id, "country_code",
	    v->country_code, "phone_number", v->phone_number, "email", v->email,
	    "sms", (json_int_t)v->sms, "last_code",
	    v->last_code[0] ? userdoc_str(v->last_code) : json_null(), "status",
	    v->verified ? "verified" : "unverified");
}

json_t *userdoc_list(json_t *data, int has_more)
{
	if (!data)
		return NULL;
	return json_pack("{s:o, s:b}", "data", data, "has_more", has_more);
}

json_t *userdoc_echo(const char *text)
{
	return json_pack("{s:s, s:s}", "message", text, "error", text);
}

json_t *userdoc_error(const char *error, const char *message)
{
	return json_pack("{s:s, s:s}", "error", error, "message", message);
}
