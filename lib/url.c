/*
 * url.c - checks a URL before anything connects to it: https:// anywhere,
 * http:// only to loopback hosts, no credentials, no control characters.
 * Pure string logic; it never resolves or connects.
 */
#include "url.h"

#include <ctype.h>
#include <string.h>

#include "banned.h"

bool url_is_loopback_host(const char *h, size_t n)
{
	if (n == 9 && strncmp(h, "localhost", 9) == 0)
		return true;
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return true;
	if (n >= 4 && strncmp(h, "127.", 4) == 0) {
		for (size_t i = 4; i < n; i++)
			if (!isdigit((unsigned char)h[i]) && h[i] != '.')
				return false;
		return true;
	}
	return false;
}

int url_check(char *url, const char *what, struct err *err)
{
	const char *rest, *host_end;
	size_t n = strlen(url);
	bool plain;

	while (n && url[n - 1] == '/')
		url[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return err_set(err, "%s: blank or control character", what);
	if (n > 300)
		return err_set(err, "%s: longer than 300 characters", what);
	plain = strncmp(url, "http://", 7) == 0;
	if (!plain && strncmp(url, "https://", 8) != 0)
		return err_set(err, "%s '%s': must start with https://", what, url);
	rest = url + (plain ? 7 : 8);
	host_end = rest + strcspn(rest, "/?#");
	if (memchr(rest, '@', (size_t)(host_end - rest)))
		return err_set(err, "%s: must not contain credentials", what);
	if (host_end == rest)
		return err_set(err, "%s '%s': no host", what, url);
	if (*host_end == '?' || *host_end == '#')
		return err_set(err, "%s '%s': no query or fragment allowed", what, url);
	if (plain) {
		const char *colon = host_end;
		const char *h = rest;
		size_t hl;

		if (*h == '[')
			colon = strchr(h, ']') ? strchr(h, ']') + 1 : host_end;
		else
			for (colon = h; colon < host_end && *colon != ':'; colon++)
				;
		hl = (size_t)(colon - h);
		if (!url_is_loopback_host(h, hl))
			return err_set(err,
				       "%s '%s': plain http:// is only allowed to loopback hosts; use https://",
				       what, url);
	}
	return 0;
}

