/*
 * codes.h - the two follow-up commands on verification codes:
 *   send-verification: send codes to ledger users created without one
 *     (an earlier --no-verification run, or a send that certainly failed),
 *     with the same never-twice rules as an import;
 *   verify: submit codes from a CSV (columns user_id,token).
 * Both write their own results CSV atomically and never print.
 */
#ifndef DOTS_CODES_H
#define DOTS_CODES_H

#include "run.h"

/*
 * Runs send-verification over the ledger at o->state_path (which must
 * exist). Results: user_id,country_code,phone_number,verification,
 * http_status,attempts,error. st->codes_* and request figures are filled;
 * st->rows counts the users considered.
 */
enum import_result codes_send_run(const struct import_opts *o,
				  struct import_stats *st, struct err *err);

/*
 * Runs verify over o->input_path. Results: row,line,user_id,status
 * (verified, failed, invalid, pending),http_status,attempts,error.
 * st->by_status uses ROW_CREATED for verified, ROW_FAILED, ROW_INVALID and
 * ROW_PENDING.
 */
enum import_result codes_verify_run(const struct import_opts *o,
				    struct import_stats *st, struct err *err);

#endif
