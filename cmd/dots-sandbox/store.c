/*
 * store.c - users in two chained hash tables (by phone key, by id) plus a
 * creation-order array, all behind one mutex. Strings of a user live in one
 * allocation. Must not do per-request O(n) work: only store_each walks all.
 */
#include "store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define STORE_MIN_BUCKETS 1024

struct store_rec {
	struct store_rec *next_phone; /* chain in by_phone */
	struct store_rec *next_id;    /* chain in by_id */
	uint32_t hash_phone;
	uint32_t hash_id;
	unsigned long sms;
	int verified;
	char id[RNG_UUID_LEN + 1];
	char last_code[RNG_CODE_LEN + 1];
	const char *email, *country_code, *phone_number, *first_name,
	    *last_name, *username, *metadata; /* into data[] */
	char data[];
};

/* FNV-1a over s, continuing from h. */
static uint32_t store_hash(uint32_t h, const char *s)
{
	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

static uint32_t store_hash_phone(const char *cc, const char *phone)
{
	uint32_t h = store_hash(2166136261u, cc);

	h ^= ':';
	h *= 16777619u;
	return store_hash(h, phone);
}

static uint32_t store_hash_id(const char *id)
{
	return store_hash(2166136261u, id);
}

int store_init(struct store *s, struct err *err)
{
	memset(s, 0, sizeof(*s));
	s->nbuckets = STORE_MIN_BUCKETS;
	s->by_phone = calloc(s->nbuckets, sizeof(*s->by_phone));
	s->by_id = calloc(s->nbuckets, sizeof(*s->by_id));
	if (!s->by_phone || !s->by_id) {
		free(s->by_phone);
		free(s->by_id);
		return err_set(err, "out of memory");
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->by_phone);
		free(s->by_id);
		return err_set(err, "cannot create the store lock");
	}
	return 0;
}

void store_release(struct store *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->st.users; i++)
		free(s->all[i]);
	free(s->all);
	free(s->by_phone);
	free(s->by_id);
	pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof(*s));
}

static struct store_rec *store_find_id(struct store *s, const char *id)
{
	uint32_t h = store_hash_id(id);
	struct store_rec *r = s->by_id[h & (s->nbuckets - 1)];

	for (; r; r = r->next_id)
		if (r->hash_id == h && strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

static struct store_rec *store_find_phone(struct store *s, const char *cc,
					  const char *phone, uint32_t h)
{
	struct store_rec *r = s->by_phone[h & (s->nbuckets - 1)];

	for (; r; r = r->next_phone)
		if (r->hash_phone == h && strcmp(r->country_code, cc) == 0 &&
		    strcmp(r->phone_number, phone) == 0)
			return r;
	return NULL;
}

/* Doubles both tables when the load passes 1; on failure keeps the old. */
static void store_grow(struct store *s)
{
	size_t n = s->nbuckets * 2, i;
	struct store_rec **bp, **bi;

	if (s->st.users < s->nbuckets)
		return;
	bp = calloc(n, sizeof(*bp));
	bi = calloc(n, sizeof(*bi));
	if (!bp || !bi) {
		free(bp);
		free(bi);
		return; /* longer chains, still correct */
	}
	for (i = 0; i < s->st.users; i++) {
		struct store_rec *r = s->all[i];

		r->next_phone = bp[r->hash_phone & (n - 1)];
		bp[r->hash_phone & (n - 1)] = r;
		r->next_id = bi[r->hash_id & (n - 1)];
		bi[r->hash_id & (n - 1)] = r;
	}
	free(s->by_phone);
	free(s->by_id);
	s->by_phone = bp;
	s->by_id = bi;
	s->nbuckets = n;
}

static void store_view_of(const struct store_rec *r, struct store_view *v)
{
	v->id = r->id;
	v->email = r->email;
	v->country_code = r->country_code;
	v->phone_number = r->phone_number;
	v->first_name = r->first_name;
	v->last_name = r->last_name;
	v->username = r->username;
	v->metadata = r->metadata;
	v->last_code = r->last_code;
	v->sms = r->sms;
	v->verified = r->verified;
}

/* Copies src into *at, advances it and returns the copy. */
static const char *store_put(char **at, const char *src, size_t len)
{
	char *dst = *at;

	memcpy(dst, src, len);
	dst[len] = '\0';
	*at += len + 1;
	return dst;
}

static struct store_rec *store_rec_new(const struct store_input *in,
				       const char *new_id)
{
	char gen[16];
	const char *uname = in->username;
	const char *meta = in->metadata;
	size_t l[7], total = 0, i;
	struct store_rec *r;
	char *at;

	if (!uname || !*uname) {
		/* Dots generates a username when none is given. */
		memcpy(gen, "user_", 5);
		memcpy(gen + 5, new_id, 8);
		gen[13] = '\0';
		uname = gen;
	}
	l[0] = strlen(in->email);
	l[1] = strlen(in->country_code);
	l[2] = strlen(in->phone_number);
	l[3] = strlen(in->first_name);
	l[4] = strlen(in->last_name);
	l[5] = strlen(uname);
	l[6] = meta ? strlen(meta) : 0;
	for (i = 0; i < 7; i++)
		total += l[i] + 1;
	r = calloc(1, sizeof(*r) + total);
	if (!r)
		return NULL;
	at = r->data;
	r->email = store_put(&at, in->email, l[0]);
	r->country_code = store_put(&at, in->country_code, l[1]);
	r->phone_number = store_put(&at, in->phone_number, l[2]);
	r->first_name = store_put(&at, in->first_name, l[3]);
	r->last_name = store_put(&at, in->last_name, l[4]);
	r->username = store_put(&at, uname, l[5]);
	r->metadata = meta ? store_put(&at, meta, l[6]) : NULL;
	memcpy(r->id, new_id, RNG_UUID_LEN);
	r->id[RNG_UUID_LEN] = '\0';
	return r;
}

int store_create(struct store *s, const struct store_input *in,
		 const char *new_id, store_view_fn fn, void *cls)
{
	uint32_t hp = store_hash_phone(in->country_code, in->phone_number);
	struct store_view v;
	struct store_rec *r;
	int created = 0;

	pthread_mutex_lock(&s->lock);
	r = store_find_phone(s, in->country_code, in->phone_number, hp);
	if (!r) {
		if (s->st.users >= STORE_MAX_USERS || store_find_id(s, new_id))
			goto fail; /* full, or an id collision (NEVER) */
		if (s->st.users == s->cap) {
			size_t ncap = s->cap ? s->cap * 2 : 1024;
			struct store_rec **na =
			    realloc(s->all, ncap * sizeof(*na));

			if (!na)
				goto fail;
			s->all = na;
			s->cap = ncap;
		}
		r = store_rec_new(in, new_id);
		if (!r)
			goto fail;
		r->hash_phone = hp;
		r->hash_id = store_hash_id(r->id);
		r->next_phone = s->by_phone[hp & (s->nbuckets - 1)];
		s->by_phone[hp & (s->nbuckets - 1)] = r;
		r->next_id = s->by_id[r->hash_id & (s->nbuckets - 1)];
		s->by_id[r->hash_id & (s->nbuckets - 1)] = r;
		s->all[s->st.users++] = r;
		s->st.creates++;
		created = 1;
		store_grow(s);
	} else {
		s->st.existing_returned++;
	}
	if (fn) {
		store_view_of(r, &v);
		fn(&v, cls);
	}
	pthread_mutex_unlock(&s->lock);
	return created;
fail:
	pthread_mutex_unlock(&s->lock);
	return -1;
}

int store_get(struct store *s, const char *id, store_view_fn fn, void *cls)
{
	struct store_view v;
	struct store_rec *r;

	pthread_mutex_lock(&s->lock);
	r = store_find_id(s, id);
	if (r && fn) {
		store_view_of(r, &v);
		fn(&v, cls);
	}
	pthread_mutex_unlock(&s->lock);
	return r ? 0 : -1;
}

int store_send_code(struct store *s, const char *id, const char *code)
{
	struct store_rec *r;

	pthread_mutex_lock(&s->lock);
	r = store_find_id(s, id);
	if (r) {
		size_t n = strlen(code);

		if (n > RNG_CODE_LEN)
			n = RNG_CODE_LEN;
		memcpy(r->last_code, code, n);
		r->last_code[n] = '\0';
		r->sms++;
		s->st.sms++;
		if (r->sms == 1)
			s->st.users_with_sms++;
		if (r->sms == 2)
			s->st.users_with_multiple_sms++;
		if (r->sms > s->st.max_sms_per_user)
			s->st.max_sms_per_user = r->sms;
	}
	pthread_mutex_unlock(&s->lock);
	return r ? 0 : -1;
}

static void store_set_verified(struct store *s, struct store_rec *r)
{
	if (!r->verified)
		s->st.verified_users++;
	r->verified = 1;
}

enum store_verify_result store_verify(struct store *s, const char *id,
				      const char *token)
{
	enum store_verify_result res;
	struct store_rec *r;

	pthread_mutex_lock(&s->lock);
	r = store_find_id(s, id);
	if (!r)
		res = STORE_VERIFY_UNKNOWN_USER;
	else if (!r->last_code[0])
		res = STORE_VERIFY_NO_CODE;
	else if (strcmp(r->last_code, token) != 0)
		res = STORE_VERIFY_WRONG;
	else
		res = STORE_VERIFY_OK;
	if (res == STORE_VERIFY_OK) {
		store_set_verified(s, r);
		s->st.verifies_ok++;
	} else if (res != STORE_VERIFY_UNKNOWN_USER) {
		s->st.verifies_failed++;
	}
	pthread_mutex_unlock(&s->lock);
	return res;
}

void store_count_verify_failed(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->st.verifies_failed++;
	pthread_mutex_unlock(&s->lock);
}

void store_each(struct store *s, store_view_fn fn, void *cls)
{
	struct store_view v;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->st.users; i++) {
		store_view_of(s->all[i], &v);
		fn(&v, cls);
	}
	pthread_mutex_unlock(&s->lock);
}

size_t store_list(struct store *s, size_t limit, store_view_fn fn, void *cls)
{
	struct store_view v;
	size_t i, total;

	pthread_mutex_lock(&s->lock);
	total = s->st.users;
	for (i = 0; i < total && i < limit; i++) {
		store_view_of(s->all[i], &v);
		fn(&v, cls);
	}
	pthread_mutex_unlock(&s->lock);
	return total;
}

unsigned long store_mark_verified(struct store *s, int all,
				  const struct store_phone *phones, size_t n)
{
	unsigned long matched = 0;
	size_t i;

	pthread_mutex_lock(&s->lock);
	if (all) {
		for (i = 0; i < s->st.users; i++)
			store_set_verified(s, s->all[i]);
		matched = s->st.users;
	} else {
		for (i = 0; i < n; i++) {
			const struct store_phone *p = &phones[i];
			struct store_rec *r = store_find_phone(
			    s, p->country_code, p->phone_number,
			    store_hash_phone(p->country_code,
					     p->phone_number));

			if (r) {
				store_set_verified(s, r);
				matched++;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	return matched;
}

void store_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}
