/*
 * options.h - the dots-import command line, environment and config file,
 * merged with this precedence: command line > environment >
 * config file > built-in default.
 */
#ifndef DOTS_OPTIONS_H
#define DOTS_OPTIONS_H

#include <stdbool.h>

#include "config.h"
#include "err.h"

enum command { CMD_IMPORT, CMD_SEND_VERIFICATION, CMD_VERIFY, CMD_RESTORE_LEDGER };

struct options {
	enum command command;
	struct config cfg;
	const char *input;        /* INPUT.csv or TOKENS.csv */
	const char *const *inputs; /* restore-ledger: RESULTS.csv files (argv) */
	size_t ninputs;
	char *output;             /* results path (derived when not given) */
	bool no_state;
	bool dry_run;
	bool resend_in_doubt;
	bool settle_in_doubt;
	long max_invalid;         /* -1 = none */
	long max_failures;        /* -1 = none */
	long limit;               /* --limit N, 0 = none */
	int verbosity;            /* -1 quiet, 0 normal, 1+ verbose */
	bool help, version;
	const char *rejects;      /* --rejects FILE or NULL */
	const char *summary_json; /* --summary-json FILE or NULL */
	const char *metrics_file; /* --metrics-file FILE or NULL */
	const char *log_file;     /* --log-file FILE or NULL */
	bool log_json;            /* --log-format json */
	bool report_pii;          /* --report-pii: the report shows emails and phones */
	char *notify_url;         /* --notify-url URL or NULL (checked) */
	unsigned shard_k, shard_n; /* --shard K/N; shard_n 0 = none */
	char *client_id;          /* secrets: never printed */
	char *api_key;
	char *app_id;
};

/*
 * Parses argv, reads the config file and the environment, and checks the
 * result (URL scheme, credentials, ranges). Returns 0, or -1 with err set
 * (a usage or config error: exit 2). opts must be released.
 */
int options_parse(struct options *opts, int argc, char **argv, struct err *err);

void options_release(struct options *opts);

/* The --help text. */
void options_usage(void);

/* "import", "send-verification", "verify", "restore-ledger". */
const char *options_command_name(enum command c);

#endif
