/*
 * pem.h - the sandbox's TLS certificate and key files, read into memory
 * for libmicrohttpd.
 */
#ifndef DOTS_SANDBOX_PEM_H
#define DOTS_SANDBOX_PEM_H

#include "err.h"

#define PEM_MAX (256u << 10) /* the largest --tls-cert / --tls-key file */

/* The --tls-cert and --tls-key files' contents, owned by main. */
struct pems {
	char *cert;
	char *key;
};

/*
 * Reads a PEM file of at most PEM_MAX bytes into *out (malloc'd,
 * NUL-terminated). Returns 0 or -1 (err names the option and the file).
 */
int pem_read(const char *opt, const char *path, char **out, struct err *err);

/* Wipes (the key is private) and frees both files; NULLs them. */
void pem_release(struct pems *p);

#endif
