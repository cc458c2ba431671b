/*
 * credentials.c - where the client id, the API key and the app id come
 * from: the environment, systemd credentials in $CREDENTIALS_DIRECTORY, or
 * the config (api.client_id, api.api_key_file). Checks them and never
 * prints one, not even in an error; frees them wiped.
 */
#include "credentials.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

/* Reads the first line of a key file; warns when others can read it. */
static int read_key_file(const char *path, char **out, struct err *err)
{
	char buf[1024];
	struct stat sb;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return err_set(err, "cannot open key file '%s': %s", path, strerror(errno));
	if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
		fprintf(stderr,
			"dots-import: warning: key file '%s' is readable by group or others (chmod 600)\n",
			path);
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (!n)
		return err_set(err, "key file '%s' is empty", path);
	*out = strdup(buf);
	memset(buf, 0, sizeof(buf));
	return *out ? 0 : err_set(err, "out of memory");
}

/*
 * systemd's LoadCredential= hands secrets over as files in
 * $CREDENTIALS_DIRECTORY; name is "dots-api-key" or "dots-client-id".
 * Leaves *out NULL when there is no such file.
 */
static int credential_file(const char *name, char **out, struct err *err)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];

	if (!dir || !*dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK) != 0)
		return 0;
	return read_key_file(path, out, err);
}

static int check_secret(const char *what, const char *v, struct err *err)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return err_set(err, "%s contains a control character", what);
	if (strlen(v) > 512)
		return err_set(err, "%s is longer than 512 bytes", what);
	return 0;
}

/* restore-ledger binds the ledger to the client id; it needs no key. */
static int restore_credentials(struct options *o, const struct config *cfg, struct err *err)
{
	const char *env = getenv("DOTS_CLIENT_ID");

	if (env && *env)
		o->client_id = strdup(env);
	else if (credential_file("dots-client-id", &o->client_id, err) < 0)
		return -1;
	else if (!o->client_id && cfg->client_id)
		o->client_id = strdup(cfg->client_id);
	if (!o->client_id)
		return err_set(err, "restore-ledger needs the client id the ledger is for: "
				    "set DOTS_CLIENT_ID or api.client_id");
	return check_secret("the client id", o->client_id, err);
}

int credentials_load(struct options *o, struct err *err)
{
	const struct config *cfg = &o->cfg;
	const char *env;

	if (o->dry_run) { /* no network: credentials are not needed; a client id
			   * given checks the ledger's binding for the preview */
		if (!(env = getenv("DOTS_CLIENT_ID")) || !*env)
			return 0;
		if (check_secret("the client id", env, err) < 0)
			return -1;
		o->client_id = strdup(env);
		return o->client_id ? 0 : err_set(err, "out of memory");
	}
	if (o->command == CMD_RESTORE_LEDGER) /* no network: the ledger is bound to the id */
		return restore_credentials(o, cfg, err);
	if ((env = getenv("DOTS_CLIENT_ID")) && *env)
		o->client_id = strdup(env);
	else if (credential_file("dots-client-id", &o->client_id, err) < 0)
		return -1;
	else if (!o->client_id && cfg->client_id)
		o->client_id = strdup(cfg->client_id);
	if ((env = getenv("DOTS_API_KEY")) && *env)
		o->api_key = strdup(env);
	else if (credential_file("dots-api-key", &o->api_key, err) < 0)
		return -1;
	else if (!o->api_key && cfg->api_key_file &&
		 read_key_file(cfg->api_key_file, &o->api_key, err) < 0)
		return -1;
	if ((env = getenv("DOTS_APP_ID")) && *env)
		o->app_id = strdup(env);
	if (!o->client_id)
		return err_set(err, "no client id: set DOTS_CLIENT_ID or api.client_id");
	if (!o->api_key)
		return err_set(err, "no API key: set DOTS_API_KEY or api.api_key_file");
	if (check_secret("the client id", o->client_id, err) < 0 ||
	    check_secret("the API key", o->api_key, err) < 0 ||
	    (o->app_id && check_secret("DOTS_APP_ID", o->app_id, err) < 0))
		return -1;
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void credentials_release(struct options *o)
{
	free_secret(o->client_id);
	free_secret(o->api_key);
	free(o->app_id);
}
