/*
 * hooks.h - the sandbox's /_sandbox/ routes, for tests and operators
 * rather than the importer: POST verify-users, GET stats, GET/POST limit,
 * GET users and GET users/{id}. Never counted as API requests.
 */
#ifndef SANDBOX_HOOKS_H
#define SANDBOX_HOOKS_H

#include "api.h"
#include "reply.h"

/* Answers rq into out; path is what follows "/_sandbox/". Counts the
 * request in the sandbox requests stat. */
void hooks_route(struct api *a, const struct api_request *rq, const char *path,
		 struct reply *out);

#endif
