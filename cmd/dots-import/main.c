/*
 * main.c - dots-import: parse options, run the command, write the outputs,
 * map the outcome to an exit code. The only place that exits.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codes.h"
#include "import.h"
#include "options.h"
#include "outputs.h"
#include "report.h"

#include "banned.h"

/* Exit codes (CONTRACT section 3), mapped in one place. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_PARTIAL = 1,
	EXIT_USAGE = 2,
	EXIT_ABORTED = 3,
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	if (stop_signal) /* second signal: the ledger is consistent at any instant */
		_exit(sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM);
	stop_signal = sig;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static enum exit_code exit_for(enum import_result r, int sig)
{
	switch (r) {
	case IMPORT_COMPLETE: return EXIT_OK;
	case IMPORT_PARTIAL: return EXIT_PARTIAL;
	case IMPORT_INPUT_ERROR: return EXIT_USAGE;
	case IMPORT_ABORTED: return EXIT_ABORTED;
	case IMPORT_INTERRUPTED: return sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM;
	}
	return EXIT_USAGE;
}

static enum import_result run(const struct options *o, struct report *rep,
			      struct import_stats *st, struct err *err)
{
	struct import_opts io = {
		.cfg = &o->cfg,
		.input_path = o->input,
		.results_path = o->output,
		.state_path = o->no_state ? NULL : o->cfg.state,
		.client_id = o->client_id,
		.api_key = o->api_key,
		.app_id = o->app_id,
		.dry_run = o->dry_run,
		.resend_in_doubt = o->resend_in_doubt,
		.max_invalid = o->max_invalid,
		.max_failures = o->max_failures,
		.shard_k = o->shard_k,
		.shard_n = o->shard_n,
		.stop = &stop_signal,
		.log = report_event,
		.log_requests = report_wants_requests(rep),
		.progress = report_progress,
		.ctx = rep,
	};

	if (outputs_preflight(o, err) < 0)
		return IMPORT_INPUT_ERROR;
	switch (o->command) {
	case CMD_IMPORT: return import_run(&io, st, err);
	case CMD_SEND_VERIFICATION: return codes_send_run(&io, st, err);
	case CMD_VERIFY: break;
	}
	return codes_verify_run(&io, st, err);
}

int main(int argc, char **argv)
{
	struct options o;
	struct report rep;
	struct import_stats st;
	struct err err;
	enum import_result r;
	time_t started = time(NULL);
	char note[300];
	int code;

	err_init(&err);
	memset(&st, 0, sizeof(st));
	if (options_parse(&o, argc, argv, &err) < 0 ||
	    (!o.help && !o.version && report_init(&rep, o.verbosity, o.log_file, o.log_json, &err) < 0)) {
		fprintf(stderr, "dots-import: error: %s\n", err.msg);
		options_release(&o);
		return EXIT_USAGE;
	}
	if (o.help || o.version) {
		if (o.help)
			options_usage();
		else
			printf("dots-import %s\n", DOTS_VERSION);
		options_release(&o);
		return EXIT_OK;
	}
	install_signals();
	snprintf(note, sizeof(note), "dots-import %s: %s %s", DOTS_VERSION,
		 o.command == CMD_IMPORT ? "import" : o.command == CMD_VERIFY ? "verify" : "send-verification",
		 o.input ? o.input : "");
	report_note(&rep, IMPORT_EV_START, note);
	r = run(&o, &rep, &st, &err);
	code = exit_for(r, st.signal);
	if (r == IMPORT_INPUT_ERROR)
		fprintf(stderr, "dots-import: error: %s\n", err.msg);
	else if (o.command == CMD_IMPORT)
		report_summary(&rep, &st, o.output, o.dry_run);
	else
		report_codes_summary(&rep, &st, o.output, o.command == CMD_VERIFY);
	if (outputs_write(&o, &rep, &st, code, started, r != IMPORT_INPUT_ERROR) < 0 && code < EXIT_PARTIAL)
		code = EXIT_PARTIAL;
	snprintf(note, sizeof(note), "exit %d", code);
	report_note(&rep, IMPORT_EV_END, note);
	report_release(&rep);
	options_release(&o);
	return code;
}
