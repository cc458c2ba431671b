/*
 * outputs.c - summary JSON, metrics, rejects and the webhook after a run.
 * A notification failure is reported and never changes the exit code.
 */
#include "outputs.h"

#include <stdio.h>
#include <stdlib.h>

#include "afile.h"
#include "notify.h"
#include "rejects.h"
#include "summary.h"

#include "banned.h"

int outputs_preflight(const struct options *o, struct err *err)
{
	const char *paths[] = {o->summary_json, o->metrics_file, o->rejects, o->cfg.report};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct afile f;

		if (!paths[i])
			continue;
		if (afile_open(&f, paths[i], err) < 0)
			return -1;
		afile_release(&f);
	}
	return 0;
}

struct summary_info outputs_info(const struct options *o, const struct import_stats *st,
				 const struct reasons *reasons, int exit_code, time_t started,
				 bool ran)
{
	struct summary_info si = {
		.command = options_command_name(o->command),
		.input_path = o->input,
		.results_path = ran ? o->output : NULL,
		.exit_code = exit_code,
		.started = started,
		.ended = time(NULL),
		.dry_run = o->dry_run,
		.st = st,
		.reasons = reasons,
	};

	return si;
}

int outputs_write(const struct options *o, struct report *rep, const struct summary_info *si,
		  bool ran)
{
	struct err err;
	int rc = 0;

	err_init(&err);
	if (ran && o->rejects && o->command == CMD_IMPORT) {
		struct reader_opts ro = {o->cfg.delimiter, o->cfg.encoding};
		long n = rejects_write(o->input, &ro, o->output, o->rejects, &err);

		if (n < 0) {
			fprintf(stderr, "dots-import: error: rejects: %s\n", err.msg);
			rc = -1;
		} else if (rep->verbosity >= 0) {
			fprintf(stderr, "dots-import: rejects: %ld rows in %s\n", n, o->rejects);
		}
	}
	if (o->summary_json && summary_write_json(o->summary_json, si, &err) < 0)
		fprintf(stderr, "dots-import: error: summary: %s\n", err.msg);
	if (o->metrics_file && summary_write_metrics(o->metrics_file, si, &err) < 0)
		fprintf(stderr, "dots-import: error: metrics: %s\n", err.msg);
	if (o->notify_url) {
		char *json = summary_json(si);

		if (!json || notify_post(o->notify_url, json, 10000, o->cfg.ca_cert, &err) < 0) {
			fprintf(stderr, "dots-import: warning: %s\n", json ? err.msg : "out of memory");
			report_note(rep, IMPORT_EV_END, "notification failed");
		}
		free(json);
	}
	return rc;
}
