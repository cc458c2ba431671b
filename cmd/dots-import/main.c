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
#include "paths.h"
#include "report.h"
#include "reportfile.h"
#include "restore.h"

#include "banned.h"

/* Exit codes (README "Exit codes"), mapped in one place. */
enum exit_code {
	EXIT_OK = 0,
	EXIT_PARTIAL = 1,
	EXIT_USAGE = 2,   /* nothing was sent */
	EXIT_ABORTED = 3,
	EXIT_LOCAL = 4,   /* a local failure after requests were sent: rerun */
	EXIT_SIGINT = 130,
	EXIT_SIGTERM = 143,
};

#define SIGNAL_DEBOUNCE_MS 2000

static volatile sig_atomic_t stop_signal;  /* first signal: finish in-flight requests */
static volatile sig_atomic_t abandon;      /* a later second one: stop waiting for them */
static volatile sig_atomic_t first_s, first_ms; /* when the first one came */

/*
 * GNU timeout and process-group kills deliver SIGTERM twice within
 * microseconds: a second signal within 2 s of the first changes nothing.
 * A later second signal abandons in-flight requests (outputs are still
 * written); only a third exits at once (the ledger is consistent at any
 * instant). clock_gettime is async-signal-safe.
 */
static void on_signal(int sig)
{
	struct timespec ts;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!stop_signal) {
		first_s = (sig_atomic_t)ts.tv_sec;
		first_ms = (sig_atomic_t)(ts.tv_nsec / 1000000);
		stop_signal = sig;
		return;
	}
	ms = ((long)ts.tv_sec - first_s) * 1000 + (ts.tv_nsec / 1000000 - first_ms);
	if (ms < SIGNAL_DEBOUNCE_MS)
		return;
	if (!abandon) {
		abandon = 1;
		return;
	}
	_exit(sig == SIGINT ? EXIT_SIGINT : EXIT_SIGTERM);
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
	case IMPORT_LOCAL_FAILURE: return EXIT_LOCAL;
	}
	return EXIT_USAGE;
}

/* restore-ledger: a new ledger from earlier results files. */
static enum import_result restore(const struct options *o, const struct report *rep,
				  struct err *err)
{
	struct restore_opts ro = {
		.ledger_path = o->cfg.state,
		.base_url = o->cfg.base_url,
		.client_id = o->client_id,
		.results_paths = o->inputs,
		.nresults = o->ninputs,
	};
	struct restore_stats st;

	if (restore_ledger(&ro, &st, err) < 0)
		return IMPORT_INPUT_ERROR;
	if (rep->verbosity >= 0)
		fprintf(stderr,
			"dots-import: restored %lld users into '%s' from %zu files (%zu rows): "
			"%lld sent, %lld in doubt, %lld verified, %lld failed, %lld off, "
			"%lld without a code; %zu rows skipped, %zu conflicting ids\n",
			st.users, o->cfg.state, st.files, st.rows,
			st.by_state[LEDGER_VERIF_SENT], st.by_state[LEDGER_VERIF_IN_DOUBT],
			st.by_state[LEDGER_VERIF_VERIFIED], st.by_state[LEDGER_VERIF_FAILED],
			st.by_state[LEDGER_VERIF_OFF], st.by_state[LEDGER_VERIF_NONE], st.skipped,
			st.conflicts);
	return IMPORT_COMPLETE;
}

static enum import_result run(const struct options *o, struct reportfile *rf,
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
		.settle_in_doubt = o->settle_in_doubt,
		.allow_phone_change = o->cfg.allow_phone_change,
		.max_invalid = o->max_invalid,
		.max_failures = o->max_failures,
		.limit = o->limit,
		.shard_k = o->shard_k,
		.shard_n = o->shard_n,
		.stop = &stop_signal,
		.abandon = &abandon,
		.check = reportfile_check,
		.log = reportfile_event,
		.log_requests = report_wants_requests(rf->rep),
		.progress = reportfile_progress,
		.row_error = reportfile_row,
		.ctx = rf,
	};

	if (o->command != CMD_RESTORE_LEDGER && outputs_preflight(o, err) < 0)
		return IMPORT_INPUT_ERROR;
	switch (o->command) {
	case CMD_IMPORT: return import_run(&io, st, err);
	case CMD_SEND_VERIFICATION: return codes_send_run(&io, st, err);
	case CMD_VERIFY: return codes_verify_run(&io, st, err);
	case CMD_RESTORE_LEDGER: break;
	}
	return restore(o, rf->rep, err);
}

int main(int argc, char **argv)
{
	struct options o;
	struct report rep;
	struct reportfile rf;
	struct import_stats st;
	struct err err;
	enum import_result r;
	time_t started = time(NULL);
	char note[300];
	int code;

	err_init(&err);
	memset(&st, 0, sizeof(st));
	if (options_parse(&o, argc, argv, &err) < 0 ||
	    (!o.help && !o.version &&
	     (paths_check(&o, &err) < 0 ||
	      report_init(&rep, o.verbosity, o.log_file, o.log_json, &err) < 0 ||
	      reportfile_init(&rf, &rep, &o, &err) < 0))) {
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
		 options_command_name(o.command), o.input ? o.input : "");
	report_note(&rep, IMPORT_EV_START, note);
	r = run(&o, &rf, &st, &err);
	code = exit_for(r, st.signal);
	if (r == IMPORT_INPUT_ERROR)
		fprintf(stderr, "dots-import: error: %s\n", err.msg);
	if (r == IMPORT_LOCAL_FAILURE)
		fprintf(stderr, "dots-import: error: %s%sstopped by a local failure after requests "
				"were sent; rerun to complete\n",
			report_shown(&rep, err.msg) ? "" : err.msg,
			report_shown(&rep, err.msg) ? "" : ": ");
	reasons_sort(&rf.reasons); /* the summary, its JSON and the report list them */
	if ((r == IMPORT_INPUT_ERROR && !st.results_written) || o.command == CMD_RESTORE_LEDGER)
		; /* no run summary: nothing was read or written */
	else if (o.command == CMD_IMPORT)
		report_summary(&rep, &st, &rf.reasons, st.results_written ? o.output : NULL,
			       o.dry_run);
	else
		report_codes_summary(&rep, &st, &rf.reasons, o.output, o.command == CMD_VERIFY);
	if (o.command != CMD_RESTORE_LEDGER) {
		struct summary_info si = outputs_info(&o, &st, &rf.reasons, code, started,
						      st.results_written);

		if (outputs_write(&o, &rep, &si, st.results_written) < 0 && code < EXIT_PARTIAL)
			code = EXIT_PARTIAL;
		si.exit_code = code; /* the report tells the exit code the run ends with */
		reportfile_write(&rf, &si);
	}
	snprintf(note, sizeof(note), "exit %d", code);
	report_note(&rep, IMPORT_EV_END, note);
	reportfile_release(&rf);
	report_release(&rep);
	options_release(&o);
	return code;
}
