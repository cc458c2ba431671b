/*
 * status.h - what became of an input row, as the results file says it.
 * Shared by the scan of the input and the import run.
 */
#ifndef DOTS_STATUS_H
#define DOTS_STATUS_H

enum row_status {
	ROW_CREATED,
	ROW_EXISTS,
	ROW_VALID,
	ROW_INVALID,
	ROW_DUPLICATE,
	ROW_FAILED,
	ROW_PENDING,
	ROW_CHANGED,  /* known phone, email or names differ: Dots not updated */
	ROW_CONFLICT, /* phone and external id clash with the ledger: not created */
	ROW_STATUS_COUNT
};

#endif
