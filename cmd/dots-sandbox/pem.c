/*
 * pem.c - the sandbox's --tls-cert and --tls-key files: read whole and
 * checked (bounded size, no NUL, a PEM header), wiped when released (the
 * key is private).
 */
#include "pem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

int pem_read(const char *opt, const char *path, char **out,
			    struct err *err)
{
	size_t cap = PEM_MAX + 1, n;
	char *buf;
	FILE *f;
	int rc = -1;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return err_set(err, "--%s: cannot open '%s': %s", opt, path,
			       strerror(errno));
	buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return err_set(err, "out of memory");
	}
	n = fread(buf, 1, cap, f);
	if (ferror(f))
		err_set(err, "--%s: cannot read '%s': %s", opt, path,
			strerror(errno));
	else if (n > PEM_MAX)
		err_set(err, "--%s: '%s' is larger than %u bytes", opt, path,
			PEM_MAX);
	else if (n == 0 || memchr(buf, '\0', n))
		err_set(err, "--%s: '%s' is not a PEM file", opt, path);
	else
		rc = 0;
	if (rc == 0) {
		buf[n] = '\0';
		if (!strstr(buf, "-----BEGIN "))
			rc = err_set(err, "--%s: '%s' is not a PEM file", opt,
				     path);
	}
	fclose(f);
	if (rc < 0) {
		explicit_bzero(buf, cap);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/* Wipes (it may be a private key) and frees a pem_read buffer. */
static void pem_free(char *pem)
{
	if (pem) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
}


void pem_release(struct pems *p)
{
	pem_free(p->cert);
	pem_free(p->key);
	p->cert = p->key = NULL;
}
