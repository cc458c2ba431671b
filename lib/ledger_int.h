/*
 * ledger_int.h - the ledger adapter's private parts, shared by ledger.c
 * (the file's life: open, schema, binding, meta, close), ledger_rows.c
 * (the users table: its statements, transactions, the write-behind queue)
 * and ledger_read.c (the users table's reads). Nothing outside those three
 * files includes it; with them, it is the only place <sqlite3.h> may
 * appear.
 */
#ifndef DOTS_LEDGER_INT_H
#define DOTS_LEDGER_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "ledger_file.h"
#include "ledger_queue.h"

struct ledger {
	bool null;             /* ledger_open_null: keeps nothing */
	sqlite3 *db;
	struct ledger_file file;
	const char *path;      /* file.path: as given, for messages */
	bool group;  /* ledger_begin called: writes join one transaction */
	bool in_txn; /* a transaction is open */
	long long users_at_open;
	double learned_rate;   /* the API's rate a run learned ("learned_rate") */
	double keep_rate;      /* to store at close, 0 = none */
	sqlite3_stmt *find, *put, *set_verif, *each, *count;
	sqlite3_stmt *find_ext, *set_ext, *clear_ext; /* NULL without ident_cols */
	bool ident_cols;       /* the users table has email, names, external_id */
	bool readonly;         /* ledger_open_read: reads only */
	bool unsynced;         /* committed, not fdatasynced yet */
	uint64_t committed;    /* commits asked for = the newest ticket */
	bool dirty;            /* async: writes queued since the last commit */
	/* async mode: the queue's thread owns db writes, in_txn, unsynced */
	struct ledger_queue *q;
	void (*wake)(void *ctx); /* until the queue exists */
	void *wake_ctx;
};

/* ledger.c */

/* Sets err to SQLite's message for what, with the system's reason behind
 * an I/O error ("disk I/O error (No space left on device)"). Returns -1. */
int ledger_db_error(struct ledger *l, struct err *err, const char *what);

/* ledger_rows.c */

/* Prepares the users statements (l->find ... l->count) on an open db. */
int ledger_rows_prepare(struct ledger *l, struct err *err);
/* Finalizes them (any of them may be NULL). */
void ledger_rows_finalize(struct ledger *l);
/* Commits the open transaction, if any, and fdatasyncs every commit so
 * far (l->unsynced). While the queue runs, only its thread calls it. */
int ledger_commit_durable(struct ledger *l, struct err *err);
/* At close: with commit, the writes so far are committed and durable;
 * without, what is queued or in the open transaction is dropped. Stops
 * the queue; afterwards l->db is the caller's alone. */
void ledger_rows_finish(struct ledger *l, bool commit);

#endif
