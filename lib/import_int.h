/*
 * import_int.h - the import run's private parts, shared by import.c (the
 * engine wiring and the run) and window.c (the rows in the window: their
 * admission, their ledger and verification steps, their results lines).
 * Nothing outside those two files includes it.
 */
#ifndef DOTS_IMPORT_INT_H
#define DOTS_IMPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "import.h"
#include "jobq.h"
#include "ledger.h"
#include "payload.h"
#include "results.h"
#include "scan.h"
#include "user.h"

#define WINDOW_MIN 1024           /* rows held at once (bounded memory) */
#define ERROR_MAX 300             /* chars of a results "error" cell */
#define LOG_NOTE_MAX 255          /* chars of a row's identity note for the log */
#define URL_MAX 512
#define LEDGER_COMMIT_MS 500      /* outcomes become durable at least this often */
#define INTENT_GATHER_MS 10       /* send intents gather this long for one fsync */
#define INTENTS_AHEAD 4           /* x concurrency: sends with an intent, not started */

enum stage { STAGE_IDLE, STAGE_CREATE, STAGE_SEND, STAGE_DONE };

/* One input row while it is in the window. */
struct slot {
	size_t row, line;
	enum row_status status;
	enum verif_status verif;
	enum stage stage;
	bool unrecorded;   /* created, not yet in the ledger (its send is about
			    * to write it with the intent, saving a statement) */
	bool verified;     /* the create's answer says the user is verified */
	bool held;         /* left for the next run by --limit: pending, no error */
	enum ledger_verif before; /* the ledger state a send started from */
	int attempts;      /* HTTP attempts of the row's finished requests */
	uint64_t ticket;   /* ledger commit that makes the send intent durable */
	uint64_t key;
	struct engine_job job; /* the request in progress */
	char *body;        /* create request body, freed after the create */
	char user_id[PAYLOAD_ID_MAX + 1];
	char email[USER_EMAIL_MAX + 1];
	char country_code[SCAN_RAW_MAX + 1];
	char phone_number[SCAN_RAW_MAX + 1];
	char url[URL_MAX];
	char error[ERROR_MAX + 1];
	/* what the user is created with, for the ledger (valid rows) */
	struct ledger_ident ident;
	/* the log's words for an identity message in error (changed,
	 * conflict, a moved external id): no personal data; "" = none */
	char log_note[LOG_NOTE_MAX + 1];
};

struct run {
	const struct import_opts *o;
	const struct config *cfg;
	struct import_stats *st;
	struct err *err;

	struct scan scan;     /* the input, validated (pass 1), read again */
	bool eof;

	struct results *out;
	struct ledger *led;
	struct http *http;
	struct engine eng;
	bool eng_live;

	struct slot *win;  /* ring of win_cap slots; rows head..tail-1 */
	size_t win_cap;
	size_t head, tail; /* sequence numbers, slot = seq % win_cap */

	struct fifo fresh;    /* new creates (slot indexes) */
	struct fifo sendq;    /* first send attempts (they need an intent) */
	struct fifo durq;     /* sends with an intent, waiting for its fsync */
	size_t uncommitted_n; /* intents in the open ledger group */
	int64_t uncommitted_ms; /* since when */

	char create_url[URL_MAX];
	char *send_body;   /* the (empty) body of every verification send */
	size_t send_body_len;
	int64_t start_ms;
	int64_t committed_ms; /* last ledger commit */
	int64_t last_progress_ms;
	size_t api_failures;
	size_t admitted;       /* rows handed a request (for --limit) */
	char refused[160];     /* --max-invalid exceeded: why nothing is sent */
	size_t probe_requests; /* the first request's attempts (a read) */

	/* A local failure (ledger, results, input, log) stops the run like a
	 * signal; the first one is kept for the message. */
	bool failed;
	enum import_result fail_result; /* LOCAL_FAILURE, or ABORTED: input changed */
	struct err fail_err;
	struct ledger *led_dead; /* a failed ledger: no more writes, closed last */
	struct ledger *led_null; /* the spare null ledger that replaces it */
	struct payload_arena *arena; /* jansson's trees: one body, one answer at a time */
	bool out_dead;           /* the results file failed: no more rows written */
};

/* ---- window.c ---- */

/* Events to the caller's log (no credentials: messages are ours or scrubbed). */
void win_emit(struct run *r, enum import_event_kind kind, const struct slot *s, const char *msg);
void win_set_error(struct slot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether the run stops: no new work is handed to the engine. */
bool win_stopping(const struct run *r);
/* A local failure (r->err says what): the run stops like after a signal. Returns 0. */
int win_fail_local(struct run *r, enum import_result why);
/* The ledger failed: written no more, the run stops. Returns 0. */
int win_ledger_failed(struct run *r);
/* The pending row's error cell: why the run stopped. */
void win_pending_reason(const struct run *r, struct slot *s);
/* The user of a created row into the ledger with state v. */
void win_record(struct run *r, struct slot *s, enum ledger_verif v);
/* A verification step (verif.h) into the ledger and the results cell. */
void win_apply_step(struct run *r, struct slot *s, enum verif_event ev);
/* Commits the ledger's open group without waiting for the disk. */
void win_commit(struct run *r, int64_t now);
/* Whether the gathered send intents should be committed now. */
bool win_intents_due(const struct run *r, int64_t now);
/* First sends get their intent into the open group and wait for its fsync. */
void win_record_intents(struct run *r, int64_t now);
/* The row is done with status st. */
void win_finish(struct slot *s, enum row_status st);
/* The row's user gets a code: its send waits for its intent. */
void win_queue_send(struct run *r, size_t idx, enum ledger_verif before);
/* Brings one input row into the window: 1, or 0 at the end (or once the
 * input failed: the run stops). */
int win_admit_row(struct run *r);
/* Whether another row may come into the window now. */
bool win_has_room(const struct run *r);
/* Writes finished rows at the head of the window, in input order. */
void win_flush(struct run *r);

#endif
