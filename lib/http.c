/*
 * http.c - the libcurl multi engine: a fixed pool of reusable transfers,
 * bounded response bodies (credentials masked), transport errors mapped to
 * enum transport; the header lines come from http_headers.c. The only file
 * that includes <curl/curl.h>. Never sleeps, never retries on its own,
 * never follows redirects, never logs credentials, never sends them to a
 * proxy.
 */
#include "http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

#include "banned.h"

struct transfer {
	CURL *easy;
	char *buf;         /* response body, grows to HTTP_MAX_BODY + 1 */
	size_t len, cap;
	int too_big;
	int busy;
	CURLU *uh;         /* this slot's copy of the repeated URL (url_handle) */
	const char *url;   /* the request's URL (borrowed until reported) */
	int proxied;       /* the handle may use the environment's proxy */
	char host[256];    /* the host that did not resolve (TRANSPORT_DNS) */
	const char *up;    /* body of a once request, read by on_upload */
	size_t up_len, up_off;
	void *cookie;
	char errbuf[CURL_ERROR_SIZE];
};

struct finished {
	int slot;
	CURLcode code;
};

struct http {
	CURLM *multi;
	struct transfer *t;
	int n;
	int in_flight;
	struct finished *done; /* transfers finished, not yet reported (FIFO) */
	int ndone;
	struct curl_slist *headers;
	CURLU *url;      /* the parsed url_repeats URL (read-only to libcurl) */
	char *url_str;   /* ...and its text */
	char *url_path;  /* ...and its path, when it has no query or fragment */
	bool proxy_env;  /* the environment names a proxy (read at http_new) */
	struct scrub scrub; /* masks the credentials in what comes back */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	size_t n = size * nmemb;

	if (n > HTTP_MAX_BODY - t->len) {
		t->too_big = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->buf, cap);
		if (!p)
			return 0;
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

/* The body of a once request, handed out exactly once. */
static size_t on_upload(char *dst, size_t size, size_t nmemb, void *user)
{
	struct transfer *t = user;
	size_t n = t->up_len - t->up_off;

	if (n > size * nmemb)
		n = size * nmemb;
	memcpy(dst, t->up + t->up_off, n);
	t->up_off += n;
	return n;
}

/* Never rewinds: libcurl's re-send of a once request that already left
 * fails here (see http_request.once). */
static int on_seek(void *user, curl_off_t offset, int origin)
{
	(void)user;
	(void)offset;
	(void)origin;
	return CURL_SEEKFUNC_FAIL;
}

/*
 * Whether the environment names a proxy. libcurl looks these up for every
 * transfer (getenv, several names); with none set, an explicit "no proxy"
 * is the same and spares it. With any set, libcurl's rules apply to https
 * URLs only (see proxy_mode).
 */
static bool proxy_in_env(void)
{
	static const char *const names[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
					    "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
					    "no_proxy", "NO_PROXY"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getenv(names[i]))
			return true;
	return false;
}

static int setup_easy(struct http *h, struct transfer *t, const struct http_opts *o)
{
	CURL *e = curl_easy_init();
	CURLcode rc = CURLE_OK;

	if (!e)
		return -1;
	t->easy = e;
#define SET(opt, val)                                                          \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(e, opt, val);                    \
	} while (0)
	SET(CURLOPT_PRIVATE, t);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_READFUNCTION, on_upload);
	SET(CURLOPT_READDATA, t);
	SET(CURLOPT_SEEKFUNCTION, on_seek);
	SET(CURLOPT_SEEKDATA, t);
	SET(CURLOPT_ERRORBUFFER, t->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	/* Basic auth and User-Agent are in h->headers (see http_new); they
	 * go to the host only, never in a CONNECT to a proxy (libcurl's
	 * default since 7.42.1, stated here so it cannot change) */
	SET(CURLOPT_HTTPHEADER, h->headers);
	SET(CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
	/* No proxy at all: libcurl then reads no environment variable. An
	 * https request of an engine with proxy_env turns the environment's
	 * proxy on (proxy_mode), always as a CONNECT tunnel. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "");
	SET(CURLOPT_HTTPPROXYTUNNEL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, o->request_timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_BODY);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_POST, 1L);
	if (o->ca_cert)
		SET(CURLOPT_CAINFO, o->ca_cert);
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/* Wipes credentials out of the header list, then frees it. */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

int http_new(struct http **out, const struct http_opts *o, struct err *err)
{
	struct http *h;
	struct curl_slist *l = NULL;
	char *line[HTTP_HEADER_LINES];
	int nlines;

	if (o->max_in_flight < 1 || o->max_in_flight > 256)
		return err_set(err, "concurrency must be 1..256");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(err, "cannot initialise libcurl");
	h = calloc(1, sizeof(*h));
	if (!h)
		return err_set(err, "out of memory");
	h->n = o->max_in_flight;
	h->t = calloc((size_t)h->n, sizeof(*h->t));
	h->done = calloc((size_t)h->n, sizeof(*h->done));
	h->multi = curl_multi_init();
	if (!h->t || !h->done || !h->multi)
		goto oom;
	nlines = http_header_lines(o, line);
	if (nlines < 0)
		goto oom;
	for (int i = 0; i < nlines; i++) {
		struct curl_slist *nl = curl_slist_append(l, line[i]);

		if (!nl) {
			http_header_lines_free(line, nlines);
			goto oom;
		}
		l = nl;
	}
	http_header_lines_free(line, nlines);
	h->headers = l;
	l = NULL;
	if (scrub_init(&h->scrub, o->username, o->password, err) < 0) {
		http_free(h);
		return -1;
	}
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->n * 2);
	h->proxy_env = proxy_in_env();
	for (int i = 0; i < h->n; i++)
		if (setup_easy(h, &h->t[i], o) < 0)
			goto oom;
	*out = h;
	return 0;
oom:
	free_headers(l);
	http_free(h);
	return err_set(err, "cannot set up libcurl transfers");
}

const struct scrub *http_scrub(const struct http *h)
{
	return &h->scrub;
}

int http_free_slots(const struct http *h)
{
	return h->n - h->in_flight;
}

int http_in_flight(const struct http *h)
{
	return h->in_flight;
}

/* The parsed form of the engine's repeated URL, parsed on first use. The
 * first url_repeats URL is the one: transfers in flight may still read it,
 * so it is never replaced (another gets NULL: libcurl parses its text). */
static CURLU *repeated_url(struct http *h, const char *url)
{
	if (h->url_str)
		return strcmp(h->url_str, url) == 0 ? h->url : NULL;
	h->url_str = strdup(url);
	if (!h->url_str)
		return NULL;
	h->url = curl_url();
	if (h->url && curl_url_set(h->url, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(h->url);
		h->url = NULL; /* url_str stays: the text is not parsed again */
	}
	if (h->url && !strpbrk(url, "?#") &&
	    curl_url_get(h->url, CURLUPART_PATH, &h->url_path, 0) != CURLUE_OK)
		h->url_path = NULL;
	return h->url;
}

/*
 * The parsed URL libcurl gets instead of the text, which it would parse
 * for every transfer: the repeated URL itself, or for a URL that extends
 * it with a plain path ("<create URL>/<id>/send-verification-token") this
 * slot's copy of it with that path. NULL: libcurl parses the text.
 */
static CURLU *url_handle(struct http *h, struct transfer *t, const struct http_request *req)
{
	size_t n, np, nr;
	const char *rest;
	char *path;
	bool ok;

	if (req->url_repeats)
		return repeated_url(h, req->url);
	if (!h->url || !h->url_path)
		return NULL;
	n = strlen(h->url_str);
	rest = req->url + n;
	if (strncmp(req->url, h->url_str, n) != 0 || *rest != '/' || strpbrk(rest, "?#%"))
		return NULL;
	if (!t->uh && !(t->uh = curl_url_dup(h->url)))
		return NULL;
	np = strlen(h->url_path);
	nr = strlen(rest);
	path = malloc(np + nr + 1);
	if (!path)
		return NULL;
	memcpy(path, h->url_path, np);
	memcpy(path + np, rest, nr + 1);
	ok = curl_url_set(t->uh, CURLUPART_PATH, path, 0) == CURLUE_OK;
	free(path);
	return ok ? t->uh : NULL;
}

/*
 * Plain http never goes through a proxy: the proxy would read the
 * Authorization header. https may, from the environment, as a tunnel (set
 * at setup_easy). Only a change of mode costs a setopt: an engine's URLs
 * normally share one scheme, and without proxy_env nothing changes.
 */
static CURLcode proxy_mode(const struct http *h, struct transfer *t, const char *url)
{
	int want = h->proxy_env && strncasecmp(url, "https://", 8) == 0;
	CURLcode rc;

	if (want == t->proxied)
		return CURLE_OK;
	/* NULL: libcurl reads https_proxy, all_proxy and no_proxy itself */
	rc = curl_easy_setopt(t->easy, CURLOPT_PROXY, want ? NULL : "");
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(t->easy, CURLOPT_NOPROXY, want ? NULL : "");
	if (rc == CURLE_OK)
		t->proxied = want;
	return rc;
}

int http_start(struct http *h, const struct http_request *req, struct err *err)
{
	struct transfer *t = NULL;
	CURLcode rc = CURLE_OK;

	for (int i = 0; i < h->n; i++)
		if (!h->t[i].busy) {
			t = &h->t[i];
			break;
		}
	if (!t)
		return err_set(err, "no free transfer slot");
	if (!req->get && req->once && (!req->body || req->body_len == 0))
		return err_set(err, "a once request needs a body");
	t->len = 0;
	t->too_big = 0;
	t->errbuf[0] = '\0';
	t->host[0] = '\0';
	if (t->buf)
		t->buf[0] = '\0';
	t->cookie = req->cookie;
	t->url = req->url;
	rc = proxy_mode(h, t, req->url);
	/* a GET's URL is its own (a query): parsed for this request only */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(t->easy, CURLOPT_CURLU,
				      req->get ? NULL : url_handle(h, t, req));
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(t->easy, CURLOPT_URL, req->url);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				      (curl_off_t)(!req->get && req->body ? req->body_len : 0));
	if (req->get) {
		/* no stale pointer left behind; CURLOPT_POSTFIELDS selects POST,
		 * so HTTPGET comes last. The next POST selects POST again
		 * (CURLOPT_POSTFIELDS or CURLOPT_POST below). */
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, "");
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
	} else if (req->once) {
		/* NULL postfields: libcurl reads the body through on_upload */
		t->up = req->body;
		t->up_len = req->body_len;
		t->up_off = 0;
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, NULL);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
	} else if (rc == CURLE_OK) {
		rc = curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS,
				      req->body ? req->body : "");
	}
	if (rc != CURLE_OK)
		return err_set(err, "cannot prepare request: %s",
			       curl_easy_strerror(rc));
	if (curl_multi_add_handle(h->multi, t->easy) != CURLM_OK)
		return err_set(err, "cannot start request");
	t->busy = 1;
	h->in_flight++;
	return 0;
}

int http_poll(struct http *h, int timeout_ms, struct err *err)
{
	CURLMcode mc;
	CURLMsg *msg;
	int running, left;

	if (timeout_ms > 0) {
		mc = curl_multi_poll(h->multi, NULL, 0, timeout_ms, NULL);
		if (mc != CURLM_OK)
			return err_set(err, "libcurl: %s", curl_multi_strerror(mc));
	}
	mc = curl_multi_perform(h->multi, &running);
	if (mc != CURLM_OK)
		return err_set(err, "libcurl: %s", curl_multi_strerror(mc));
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct transfer *t;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		t->errbuf[CURL_ERROR_SIZE - 1] = '\0';
		if (t->errbuf[0] == '\0')
			snprintf(t->errbuf, sizeof(t->errbuf), "%s",
				 curl_easy_strerror(msg->data.result));
		h->done[h->ndone].slot = (int)(t - h->t);
		h->done[h->ndone].code = msg->data.result;
		h->ndone++;
	}
	return 0;
}

void http_wakeup(struct http *h)
{
	curl_multi_wakeup(h->multi);
}

/* The host part of the transfer's URL, for "cannot resolve host". The URL
 * has no credentials in it; a userinfo part would not be copied anyway. */
static void failed_host(struct transfer *t)
{
	CURLU *u = curl_url();
	char *host = NULL;

	t->host[0] = '\0';
	if (u && t->url &&
	    curl_url_set(u, CURLUPART_URL, t->url, CURLU_GUESS_SCHEME) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		snprintf(t->host, sizeof(t->host), "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
}

/*
 * Configuration errors stop the run, blips are retried:
 *  - DNS: the name does not resolve (libcurl's resolver has already waited
 *    for its answer; a resolver outage that mimics it is rare and still
 *    needs the operator).
 *  - TLS: verification of the server's certificate failed (untrusted
 *    issuer, expired, wrong host name: all CURLE_PEER_FAILED_VERIFICATION)
 *    or the CA file cannot be used (CURLE_SSL_CACERT_BADFILE).
 *    CURLE_SSL_CONNECT_ERROR stays NOT_SENT: it is also what a connection
 *    reset during the handshake gives, and a blip must not stop a run; a
 *    lasting one exhausts its attempts and the line shows libcurl's text.
 */
static enum transport classify(struct transfer *t, CURLcode rc)
{
	curl_off_t sent = 0;

	if (rc == CURLE_OK)
		return TRANSPORT_OK;
	if (t->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		return TRANSPORT_TOO_BIG;
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		failed_host(t);
		return TRANSPORT_DNS;
	case CURLE_COULDNT_RESOLVE_PROXY:
		return TRANSPORT_DNS;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return TRANSPORT_TLS;
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return TRANSPORT_NOT_SENT;
	default:
		break;
	}
	/* Did any byte of the request leave? Header bytes count as sent. */
	curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &sent);
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return sent > 0 ? TRANSPORT_TIMEOUT : TRANSPORT_NOT_SENT;
	switch (rc) {
	case CURLE_SEND_FAIL_REWIND: /* a once request's silent re-send */
		return TRANSPORT_LOST;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return sent > 0 ? TRANSPORT_LOST : TRANSPORT_NOT_SENT;
	default:
		return TRANSPORT_ERROR;
	}
}

int http_next_result(struct http *h, struct http_result *res)
{
	struct transfer *t;
	CURLcode rc;
	curl_off_t retry_after = 0, total_us = 0;
	long status = 0;

	if (h->ndone == 0)
		return 0;
	t = &h->t[h->done[0].slot];
	rc = h->done[0].code;
	memmove(h->done, h->done + 1, (size_t)(--h->ndone) * sizeof(*h->done));

	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
	res->cookie = t->cookie;
	res->transport = classify(t, rc);
	res->status = res->transport == TRANSPORT_OK ? status : 0;
	res->retry_after_ms = -1;
	if (res->transport == TRANSPORT_OK &&
	    curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after) ==
		    CURLE_OK &&
	    retry_after > 0)
		res->retry_after_ms = retry_after > 86400 ? 86400000L
							  : (long)retry_after * 1000L;
	res->elapsed_ms = (long)(total_us / 1000);
	/* error bodies are text we may store or print: masked here. A 2xx
	 * body is data (a user id): masking could corrupt it, so the caller
	 * checks what it takes from it (http_result.scrub) instead */
	if (t->buf && !(res->transport == TRANSPORT_OK && status >= 200 && status <= 299))
		scrub_apply(&h->scrub, t->buf, t->len);
	res->body = t->buf ? t->buf : "";
	res->body_len = t->len;
	scrub_apply(&h->scrub, t->errbuf, strlen(t->errbuf));
	scrub_apply(&h->scrub, t->host, strlen(t->host));
	res->detail = res->transport == TRANSPORT_OK ? "" : t->errbuf;
	res->host = t->host[0] ? t->host : NULL;
	res->scrub = &h->scrub;
	curl_multi_remove_handle(h->multi, t->easy);
	t->busy = 0;
	h->in_flight--;
	return 1;
}

void http_outcome_info(const struct http_result *res, enum outcome o,
		       struct outcome_info *info)
{
	memset(info, 0, sizeof(*info));
	info->outcome = o;
	info->transport = res->transport;
	info->status = res->status;
	info->body = res->body;
	info->body_len = res->body_len;
	info->detail = res->detail;
	info->host = res->host;
	info->scrub = res->scrub;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	for (int i = 0; h->t && i < h->n; i++) {
		if (h->t[i].easy) {
			if (h->t[i].busy)
				curl_multi_remove_handle(h->multi, h->t[i].easy);
			curl_easy_cleanup(h->t[i].easy);
		}
		curl_url_cleanup(h->t[i].uh);
		free(h->t[i].buf);
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free_headers(h->headers);
	curl_url_cleanup(h->url);
	curl_free(h->url_path);
	free(h->url_str);
	scrub_release(&h->scrub);
	free(h->t);
	free(h->done);
	free(h);
	curl_global_cleanup();
}
