/*
 * credentials.h - the secrets a run needs (client id, API key) and the
 * optional app id, into struct options. They never reach output or files.
 */
#ifndef DOTS_CREDENTIALS_H
#define DOTS_CREDENTIALS_H

#include "err.h"
#include "options.h"

/*
 * Fills o->client_id, o->api_key and o->app_id, each from the first of
 * DOTS_CLIENT_ID / DOTS_API_KEY / DOTS_APP_ID, the files dots-client-id /
 * dots-api-key in $CREDENTIALS_DIRECTORY, and the config's api.client_id /
 * api.api_key_file (o->cfg must be loaded). A dry run takes only an
 * optional DOTS_CLIENT_ID; restore-ledger needs only the client id.
 * Returns 0, or -1 with err set (missing, unreadable, empty, a control
 * character, over 512 bytes). What was filled is freed by
 * credentials_release either way.
 */
int credentials_load(struct options *o, struct err *err);

/* Wipes and frees the secrets; the pointers are left dangling. */
void credentials_release(struct options *o);

#endif
