/*
 * limitdoc.c - limiter texts: --limit-window and --limit-schedule values,
 * the /_sandbox/limit JSON (GET document, POST body merged onto the
 * current settings) and the route answering both. Pure: no I/O, no clock
 * reads, no libmicrohttpd.
 */
#include "limitdoc.h"

#include <math.h>
#include <string.h>

#include "num.h"

#include "banned.h"

#define LIMITDOC_NS_PER_S 1000000000.0
#define LIMITDOC_NUM_MAX 32 /* one number of a schedule or window text */

/* Copies [s, s + n) into buf (NUL-terminated); -1 when it does not fit. */
static int limitdoc_piece(const char *s, size_t n, char buf[LIMITDOC_NUM_MAX])
{
	if (n >= LIMITDOC_NUM_MAX)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

int limitdoc_parse_window(const char *text, double *n, long *window_s,
			  struct err *err)
{
	const char *slash = strchr(text, '/');
	char a[LIMITDOC_NUM_MAX];
	long count;

	if (!slash || limitdoc_piece(text, (size_t)(slash - text), a) < 0 ||
	    num_parse_long(a, 1, (long)LIMIT_RATE_MAX, &count) < 0 ||
	    num_parse_long(slash + 1, 1, LIMIT_WINDOW_MAX, window_s) < 0)
		return err_set(err,
			       "'%.64s' is not N/S: N requests (1..10000000) "
			       "per S seconds (1..86400)",
			       text);
	*n = (double)count;
	return 0;
}

int limitdoc_parse_schedule(const char *text, struct limit_settings *s,
			    struct err *err)
{
	const char *p = text;
	char a[LIMITDOC_NUM_MAX];

	s->n_steps = 0;
	if (strnlen(text, LIMITDOC_SPEC_MAX + 1) > LIMITDOC_SPEC_MAX)
		return err_set(err, "schedule longer than %d characters",
			       LIMITDOC_SPEC_MAX);
	while (*p) {
		const char *end = strchr(p, ','), *colon;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		double at, rate;

		colon = memchr(p, ':', len);
		if (s->n_steps >= LIMIT_STEPS_MAX)
			return err_set(err, "schedule: more than %d steps",
				       LIMIT_STEPS_MAX);
		if (!colon ||
		    limitdoc_piece(p, (size_t)(colon - p), a) < 0 ||
		    num_parse_double(a, 0, LIMIT_AT_MAX, &at) < 0 ||
		    limitdoc_piece(colon + 1, len - (size_t)(colon - p) - 1,
				   a) < 0 ||
		    num_parse_double(a, 0, LIMIT_RATE_MAX, &rate) < 0)
			return err_set(err,
				       "schedule step '%.*s' is not T:N "
				       "(T seconds 0..864000, N requests/s "
				       "0..1e7)",
				       (int)(len > 64 ? 64 : len), p);
		if (s->n_steps > 0 &&
		    at * LIMITDOC_NS_PER_S <
			(double)s->steps[s->n_steps - 1].at_ns)
			return err_set(err, "schedule: times must not "
					    "decrease");
		s->steps[s->n_steps].at_ns =
		    (uint64_t)llround(at * LIMITDOC_NS_PER_S);
		s->steps[s->n_steps].rate = rate;
		s->n_steps++;
		if (!end)
			break;
		p = end + 1;
		if (!*p)
			return err_set(err, "schedule ends with a comma");
	}
	if (s->n_steps == 0)
		return err_set(err, "schedule is empty");
	return 0;
}

/* A whole number as a JSON integer, anything else as a real. */
static json_t *limitdoc_num(double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static const char *limitdoc_kind_name(enum limit_kind k)
{
	return k == LIMIT_BUCKET ? "bucket" : k == LIMIT_WINDOW ? "window"
								 : "none";
}

json_t *limitdoc_settings(const struct limit_settings *s, uint64_t now_off_ns)
{
	json_t *o = json_object(), *steps = json_array();
	size_t i;

	if (!o || !steps) {
		json_decref(o);
		json_decref(steps);
		return NULL;
	}
	json_object_set_new(o, "kind", json_string(limitdoc_kind_name(s->kind)));
	json_object_set_new(o, "rate",
			    limitdoc_num(s->kind == LIMIT_NONE ? 0 : s->rate));
	if (s->kind == LIMIT_WINDOW)
		json_object_set_new(o, "window_s",
				    json_integer((json_int_t)s->window_s));
	if (s->kind == LIMIT_BUCKET)
		json_object_set_new(
		    o, "burst", limitdoc_num(limit_burst_of(s->rate, s->burst)));
	else if (s->burst > 0)
		json_object_set_new(o, "burst", limitdoc_num(s->burst));
	json_object_set_new(o, "retry_after",
			    json_boolean(!s->no_retry_after));
	json_object_set_new(o, "sms_rate", limitdoc_num(s->sms_rate));
	for (i = 0; i < s->n_steps; i++) {
		uint64_t at = s->steps[i].at_ns;
		double in = at > now_off_ns
				? (double)(at - now_off_ns) / LIMITDOC_NS_PER_S
				: 0;

		json_t *st = json_object();

		if (st) {
			json_object_set_new(
			    st, "in_s", limitdoc_num(floor(in * 1000 + 0.5) / 1000));
			json_object_set_new(st, "rate",
					    limitdoc_num(s->steps[i].rate));
		}
		json_array_append_new(steps, st);
	}
	json_object_set_new(o, "schedule", steps);
	return o;
}

/* A number field: 1 when present (in *out), 0 absent, -1 not a number. */
static int limitdoc_number(json_t *doc, const char *key, double *out)
{
	json_t *v = json_object_get(doc, key);

	if (!v)
		return 0;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 1;
}

/* "schedule": a "T:N,..." string or [{"in_s": T, "rate": N}, ...]. */
static int limitdoc_schedule_field(json_t *v, struct limit_settings *out,
				   struct err *err)
{
	size_t i;
	json_t *step;

	if (json_is_string(v))
		return json_string_length(v) == 0
			   ? 0
			   : limitdoc_parse_schedule(json_string_value(v), out,
						     err);
	if (!json_is_array(v))
		return err_set(err, "schedule: must be a \"T:N,...\" string "
				    "or a list of {\"in_s\", \"rate\"}");
	if (json_array_size(v) > LIMIT_STEPS_MAX)
		return err_set(err, "schedule: more than %d steps",
			       LIMIT_STEPS_MAX);
	json_array_foreach(v, i, step)
	{
		double in = -1, rate = -1;

		if (!json_is_object(step) || json_object_size(step) != 2 ||
		    limitdoc_number(step, "in_s", &in) != 1 ||
		    limitdoc_number(step, "rate", &rate) != 1 ||
		    !(in >= 0 && in <= LIMIT_AT_MAX))
			return err_set(err, "schedule: step %zu is not "
					    "{\"in_s\": 0..864000, \"rate\": N}",
				       i);
		out->steps[i].at_ns = (uint64_t)llround(in * LIMITDOC_NS_PER_S);
		out->steps[i].rate = rate;
		out->n_steps = i + 1;
	}
	return 0;
}

static int limitdoc_kind(json_t *v, enum limit_kind *kind, struct err *err)
{
	const char *k = json_string_value(v);

	if (k && strcmp(k, "bucket") == 0)
		*kind = LIMIT_BUCKET;
	else if (k && strcmp(k, "window") == 0)
		*kind = LIMIT_WINDOW;
	else if (k && strcmp(k, "none") == 0)
		*kind = LIMIT_NONE;
	else
		return err_set(err, "kind: must be \"bucket\", \"window\" "
				    "or \"none\"");
	return 0;
}

static int limitdoc_merge(json_t *doc, const struct limit_settings *cur,
			  struct limit_settings *out, struct err *err)
{
	static const char *const known[] = {"kind",	"rate",
					    "window_s", "burst",
					    "retry_after", "sms_rate",
					    "schedule"};
	const char *key;
	json_t *v;
	double num;
	size_t i;
	int has_rate;

	json_object_foreach(doc, key, v)
	{
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return err_set(err, "unknown field '%.40s'", key);
	}
	*out = *cur;
	out->n_steps = 0;
	v = json_object_get(doc, "kind");
	if (v && limitdoc_kind(v, &out->kind, err) < 0)
		return -1;
	has_rate = limitdoc_number(doc, "rate", &out->rate);
	if (has_rate < 0)
		return err_set(err, "rate: must be a number");
	if (out->kind != cur->kind && out->kind != LIMIT_NONE && !has_rate)
		return err_set(err, "rate: required to change the kind");
	if (out->kind != LIMIT_WINDOW) {
		if (json_object_get(doc, "window_s"))
			return err_set(err, "window_s: only for kind window");
		out->window_s = 0;
	} else {
		int has = limitdoc_number(doc, "window_s", &num);

		if (has < 0 || (has > 0 && (!(num >= 1 && num <= LIMIT_WINDOW_MAX) ||
					   num != floor(num))))
			return err_set(err, "window_s: must be a whole "
					    "number of seconds, 1..86400");
		if (has > 0)
			out->window_s = (long)num;
		else if (cur->kind != LIMIT_WINDOW)
			return err_set(err, "window_s: required for kind "
					    "window");
	}
	if (out->kind == LIMIT_NONE)
		out->rate = 0;
	if (limitdoc_number(doc, "burst", &out->burst) < 0)
		return err_set(err, "burst: must be a number");
	if (limitdoc_number(doc, "sms_rate", &out->sms_rate) < 0)
		return err_set(err, "sms_rate: must be a number");
	v = json_object_get(doc, "retry_after");
	if (v && !json_is_boolean(v))
		return err_set(err, "retry_after: must be true or false");
	if (v)
		out->no_retry_after = !json_is_true(v);
	v = json_object_get(doc, "schedule");
	if (v && limitdoc_schedule_field(v, out, err) < 0)
		return -1;
	return limit_settings_check(out, err);
}

enum limitdoc_rc limitdoc_parse(const char *body, size_t len,
				const struct limit_settings *cur,
				struct limit_settings *out, struct err *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc;

	if (!doc)
		return LIMITDOC_BAD_JSON;
	if (!json_is_object(doc)) {
		json_decref(doc);
		err_set(err, "body: must be a JSON object");
		return LIMITDOC_INVALID;
	}
	rc = limitdoc_merge(doc, cur, out, err);
	json_decref(doc);
	return rc < 0 ? LIMITDOC_INVALID : LIMITDOC_OK;
}

void limitdoc_route(struct limit *l, const char *method, const char *body,
		    size_t len, uint64_t now_ns, struct reply *out)
{
	struct limit_settings cur, next;
	uint64_t off = now_ns > l->start_ns ? now_ns - l->start_ns : 0;
	struct err e;
	int post = strcmp(method, "POST") == 0;

	if (!post && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		reply_405(out, "GET, POST");
		return;
	}
	err_init(&e);
	limit_get(l, now_ns, &cur);
	if (post) {
		enum limitdoc_rc rc = limitdoc_parse(body, len, &cur, &next, &e);

		if (rc == LIMITDOC_BAD_JSON) {
			reply_error(out, 400, "bad_request", "invalid JSON body");
			return;
		}
		if (rc != LIMITDOC_OK || limit_replace(l, &next, now_ns, &e) < 0) {
			reply_error(out, 422, "validation_error", e.msg);
			return;
		}
		limit_get(l, now_ns, &cur);
	}
	reply_json(out, 200, limitdoc_settings(&cur, off));
}
