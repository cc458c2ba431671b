/*
 * payload.c - API request and response bodies via jansson.
 * Never builds JSON by hand and never trusts a response's shape.
 */
#include "payload.h"

#include <jansson.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#include "banned.h"

/*
 * Each row builds one request body and parses one response, and drops both
 * at once: jansson allocates every key, string and object separately (~40
 * blocks a row) and frees them one by one, a tenth of the importer's CPU
 * with malloc. So while a body is built or a response parsed, jansson
 * allocates from the caller's bump arena (from malloc when it passes none),
 * and the tree is dropped by rewinding it. What does not fit spills into
 * malloc and is freed the usual way. jansson's allocator hook is
 * process-wide and takes no context: the arena in use is named by a
 * thread-local pointer set for the length of one call, and the hook is
 * installed once (pthread_once).
 */
#define ARENA_BYTES (64 * 1024)

struct payload_arena {
	bool spilled; /* the tree being built or parsed needed malloc too */
	size_t used;
	alignas(max_align_t) unsigned char buf[ARENA_BYTES];
};

static _Thread_local struct payload_arena *current; /* during one call only */
static pthread_once_t hook_once = PTHREAD_ONCE_INIT;

struct payload_arena *payload_arena_new(void)
{
	return calloc(1, sizeof(struct payload_arena));
}

void payload_arena_free(struct payload_arena *a)
{
	free(a);
}

static void *arena_malloc(size_t n)
{
	struct payload_arena *a = current;
	size_t need = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);

	if (a) {
		if (need >= n && need <= sizeof(a->buf) - a->used) {
			void *p = a->buf + a->used;

			a->used += need;
			return p;
		}
		a->spilled = true;
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	struct payload_arena *a = current;
	unsigned char *c = p;

	if (a && c >= a->buf && c < a->buf + sizeof(a->buf))
		return; /* reclaimed when the call is over */
	free(p);
}

static void hook(void)
{
	json_set_alloc_funcs(arena_malloc, arena_free);
}

static void arena_begin(struct payload_arena *a)
{
	pthread_once(&hook_once, hook);
	current = a;
	if (a) {
		a->spilled = false;
		a->used = 0;
	}
}

/* Drops root (built or parsed since arena_begin) and the arena with it. */
static void arena_end(json_t *root)
{
	struct payload_arena *a = current;

	current = NULL;
	if (!a)
		json_decref(root);
	else if (a->spilled) {
		current = a; /* the arena's blocks are skipped, malloc's freed */
		json_decref(root);
		current = NULL;
	}
	if (a)
		a->used = 0;
}

static int set_str(json_t *obj, const char *key, const char *val,
		   struct err *err)
{
	if (json_object_set_new(obj, key, json_string(val)) != 0)
		return err_set(err, "%s: not valid UTF-8", key);
	return 0;
}

char *payload_create_user(struct payload_arena *a, const struct user *u, size_t *len,
			  struct err *err)
{
	json_t *obj;
	char *dump, *out = NULL;

	arena_begin(a);
	obj = json_object();
	if (!obj) {
		arena_end(NULL);
		err_set(err, "out of memory");
		return NULL;
	}
	if (set_str(obj, "email", u->email, err) < 0 ||
	    set_str(obj, "country_code", u->country_code, err) < 0 ||
	    set_str(obj, "phone_number", u->phone_number, err) < 0 ||
	    set_str(obj, "first_name", u->first_name, err) < 0 ||
	    set_str(obj, "last_name", u->last_name, err) < 0 ||
	    (u->username[0] && set_str(obj, "username", u->username, err) < 0) ||
	    (u->date_of_birth[0] &&
	     set_str(obj, "date_of_birth", u->date_of_birth, err) < 0))
		goto done;
	if (u->metadata && u->metadata_len) {
		json_t *meta = json_loadb(u->metadata, u->metadata_len,
					  JSON_REJECT_DUPLICATES, NULL);

		if (!meta || !json_is_object(meta)) {
			json_decref(meta);
			meta = json_stringn(u->metadata, u->metadata_len);
		}
		if (json_object_set_new(obj, "metadata", meta) != 0) {
			err_set(err, "metadata: not valid UTF-8");
			goto done;
		}
	}
	dump = json_dumps(obj, JSON_COMPACT);
	if (dump) { /* out of the arena: the caller frees it with free() */
		size_t n = strlen(dump);

		out = malloc(n + 1);
		if (out) {
			memcpy(out, dump, n + 1);
			if (len)
				*len = n;
		}
		arena_free(dump);
	}
	if (!out)
		err_set(err, "out of memory");
done:
	arena_end(obj);
	return out;
}

static char *dump_object(json_t *obj, size_t *len, struct err *err)
{
	char *out = json_dumps(obj, JSON_COMPACT);

	json_decref(obj);
	if (!out)
		err_set(err, "out of memory");
	else if (len)
		*len = strlen(out);
	return out;
}

char *payload_send_verification(size_t *len, struct err *err)
{
	json_t *obj = json_object();

	if (!obj) {
		err_set(err, "out of memory");
		return NULL;
	}
	return dump_object(obj, len, err);
}

char *payload_verify(const char *token, size_t *len, struct err *err)
{
	json_t *obj = json_pack("{s:s}", "token", token);

	if (!obj) {
		err_set(err, "token: not valid UTF-8");
		return NULL;
	}
	return dump_object(obj, len, err);
}

static bool id_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int payload_user_id(const char *body, size_t len, char id[PAYLOAD_ID_MAX + 1],
		    struct err *err)
{
	return payload_created_user(NULL, body, len, id, NULL, err);
}

int payload_created_user(struct payload_arena *a, const char *body, size_t len,
			 char id[PAYLOAD_ID_MAX + 1],
			 bool *verified, struct err *err)
{
	json_t *root, *jid, *jst;
	const char *s;
	size_t n;
	int rc = -1;

	arena_begin(a);
	root = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (!root) {
		arena_end(NULL);
		return err_set(err, "response is not JSON");
	}
	if (!json_is_object(root)) {
		err_set(err, "response is not a JSON object");
		goto done;
	}
	jid = json_object_get(root, "id");
	if (!jid) {
		err_set(err, "response has no \"id\"");
		goto done;
	}
	if (!json_is_string(jid)) {
		err_set(err, "response \"id\" is not a string");
		goto done;
	}
	s = json_string_value(jid);
	n = json_string_length(jid);
	if (n == 0 || n > PAYLOAD_ID_MAX) {
		err_set(err, "response \"id\" has %zu characters", n);
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		if (!id_char_ok(s[i])) {
			err_set(err, "response \"id\" has an unexpected character");
			goto done;
		}
	memcpy(id, s, n);
	id[n] = '\0';
	if (verified) {
		jst = json_object_get(root, "status");
		*verified = json_is_string(jst) && strcmp(json_string_value(jst), "verified") == 0;
	}
	rc = 0;
done:
	arena_end(root);
	return rc;
}

/* Copies s into out as one clean line: control bytes and characters that
 * are invisible or reorder text (a right-to-left override in an API's
 * message would turn a terminal line around) → space, blanks folded. */
static void clean_line(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	bool space = true; /* drops leading blanks */
	bool cut = false;

	if (!cap)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp = 0;
		size_t len = c >= 0x80 ? utf8_decode((const unsigned char *)s + i, n - i, &cp) : 0;

		if (len > 1 && utf8_is_invisible(cp)) {
			i += len - 1;
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (space)
				continue;
			c = ' ';
			space = true;
		} else {
			space = false;
		}
		if (o + 1 >= cap) {
			if (c == ' ')
				continue; /* trailing blanks are dropped anyway */
			cut = true;
			break;
		}
		out[o++] = (char)c;
	}
	while (o && out[o - 1] == ' ')
		o--;
	if (cut && cap > 4) {
		o = o > cap - 4 ? cap - 4 : o;
		/* do not leave half a UTF-8 sequence before "..." */
		while (o && ((unsigned char)out[o] & 0xC0) == 0x80)
			o--;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

void payload_error_message(const char *body, size_t len, char *out, size_t cap)
{
	json_t *root = len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *msg = NULL;
	size_t mlen = 0;

	if (root && json_is_object(root)) {
		json_t *m = json_object_get(root, "message");
		json_t *e = json_object_get(root, "error");

		if (json_is_string(m) && json_string_length(m)) {
			msg = json_string_value(m);
			mlen = json_string_length(m);
		} else if (json_is_string(e) && json_string_length(e)) {
			msg = json_string_value(e);
			mlen = json_string_length(e);
		} else if (json_is_object(e)) {
			json_t *em = json_object_get(e, "message");

			if (json_is_string(em) && json_string_length(em)) {
				msg = json_string_value(em);
				mlen = json_string_length(em);
			}
		}
	}
	if (!msg) {
		msg = body;
		mlen = len;
	}
	clean_line(msg ? msg : "", msg ? mlen : 0, out, cap);
	json_decref(root);
}
