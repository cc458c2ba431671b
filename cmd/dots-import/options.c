/*
 * options.c - getopt_long, environment and config merged into struct
 * options (the credentials come from credentials.c). Checks everything that
 * can be checked before a file is read or a request is sent.
 */
#include "options.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credentials.h"
#include "decode.h"
#include "num.h"
#include "url.h"

#include "banned.h"

enum {
	OPT_BASE_URL = 256,
	OPT_CONCURRENCY,
	OPT_RATE,
	OPT_MAX_ATTEMPTS,
	OPT_NO_VERIFICATION,
	OPT_DRY_RUN,
	OPT_STATE,
	OPT_NO_STATE,
	OPT_RESEND_IN_DOUBT,
	OPT_SETTLE_IN_DOUBT,
	OPT_MAX_INVALID,
	OPT_MAX_FAILURES,
	OPT_CA_CERT,
	OPT_REJECTS,
	OPT_SHARD,
	OPT_SUMMARY_JSON,
	OPT_LOG_FILE,
	OPT_LOG_FORMAT,
	OPT_METRICS_FILE,
	OPT_NOTIFY_URL,
	OPT_DELIMITER,
	OPT_ENCODING,
	OPT_ALLOW_PHONE_CHANGE,
	OPT_REPORT,
	OPT_REPORT_PII,
	OPT_LIMIT,
	OPT_LOG_JSON,
};

static const struct option long_opts[] = {
	{"config", required_argument, NULL, 'c'},
	{"output", required_argument, NULL, 'o'},
	{"base-url", required_argument, NULL, OPT_BASE_URL},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"rate", required_argument, NULL, OPT_RATE},
	{"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
	{"no-verification", no_argument, NULL, OPT_NO_VERIFICATION},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"state", required_argument, NULL, OPT_STATE},
	{"no-state", no_argument, NULL, OPT_NO_STATE},
	{"resend-in-doubt", no_argument, NULL, OPT_RESEND_IN_DOUBT},
	{"settle-in-doubt", no_argument, NULL, OPT_SETTLE_IN_DOUBT},
	{"max-invalid", required_argument, NULL, OPT_MAX_INVALID},
	{"max-failures", required_argument, NULL, OPT_MAX_FAILURES},
	{"ca-cert", required_argument, NULL, OPT_CA_CERT},
	{"rejects", required_argument, NULL, OPT_REJECTS},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
	{"log-file", required_argument, NULL, OPT_LOG_FILE},
	{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	{"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
	{"notify-url", required_argument, NULL, OPT_NOTIFY_URL},
	{"delimiter", required_argument, NULL, OPT_DELIMITER},
	{"encoding", required_argument, NULL, OPT_ENCODING},
	{"allow-phone-change", no_argument, NULL, OPT_ALLOW_PHONE_CHANGE},
	{"report", required_argument, NULL, OPT_REPORT},
	{"report-pii", no_argument, NULL, OPT_REPORT_PII},
	{"limit", required_argument, NULL, OPT_LIMIT},
	{"log-json", no_argument, NULL, OPT_LOG_JSON},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

void options_usage(void)
{
	fputs("usage: dots-import [OPTIONS] INPUT.csv          import users (- = standard input,\n"
	      "                                                with -o FILE)\n"
	      "       dots-import send-verification [OPTIONS]  send codes to users created earlier\n"
	      "       dots-import verify [OPTIONS] TOKENS.csv  submit codes (columns user_id,token)\n"
	      "       dots-import restore-ledger [OPTIONS] RESULTS.csv...\n"
	      "                                                rebuild a lost ledger (--state) from\n"
	      "                                                earlier results files\n"
	      "\n",
	      stdout);
	fputs("options (command line > environment > config file > default):\n"
	      "  -c, --config FILE      YAML config (default ./config.yaml if present)\n"
	      "  -o, --output FILE      results CSV (default INPUT.results.csv; verify:\n"
	      "                         TOKENS.verify.csv)\n"
	      "      --delimiter C      input field delimiter: , ; | or tab (default: found\n"
	      "                         in the header line)\n"
	      "      --encoding NAME    input encoding, converted to UTF-8 (e.g. windows-1252,\n"
	      "                         latin1; default UTF-8; UTF-16 and gzip are detected)\n"
	      "      --base-url URL     API base incl. /api, without /v2 (env DOTS_BASE_URL;\n"
	      "                         default " CONFIG_DEFAULT_BASE_URL ")\n"
	      "      --concurrency N    requests in flight, 1..256 (default 8)\n"
	      "      --rate R           auto: find and hold the API's rate limit from its 429s\n"
	      "                         (default; the learned rate is kept in the ledger);\n"
	      "                         N: the same under a ceiling of N requests/s;\n"
	      "                         unlimited (or 0): no pacing\n"
	      "      --max-attempts N   attempts per request incl. the first, 1..100 (default 5)\n"
	      "      --no-verification  create users only, send no codes\n"
	      "      --dry-run          validate and write results; no network, no state change\n"
	      "      --state FILE       state ledger (default dots-import.db)\n"
	      "      --no-state         run without a ledger (no resume, no rerun protection)\n"
	      "      --resend-in-doubt  resend codes whose earlier send has an unknown outcome\n"
	      "      --settle-in-doubt  record codes in doubt as sent, without sending (you know\n"
	      "                         they arrived); until one of these two, they keep exit 1\n"
	      "      --allow-phone-change  a known external_id with a new phone is created as a\n"
	      "                         new user (texted) instead of a conflict\n"
	      "      --max-invalid N    more than N invalid rows: exit 2 before sending anything\n"
	      "      --max-failures N   stop the run (exit 3) once N rows failed at the API\n"
	      "      --limit N          import: only the first N valid rows that need a request\n"
	      "                         (a canary; the rest stay pending for the next run);\n"
	      "                         send-verification: at most N codes this run\n"
	      "      --ca-cert FILE     CA bundle for a private CA (TLS verification stays on)\n"
	      "      --rejects FILE     input rows that did not end created/exists, in their own\n"
	      "                         columns plus \"error\": fix them and import the file again\n"
	      "      --shard K/N        only the rows of shard K of N (0-based, by phone; see README)\n"
	      "      --summary-json FILE  the run summary as JSON\n"
	      "      --metrics-file FILE  Prometheus textfile metrics (node_exporter)\n"
	      "      --log-file FILE    one line per run event and per failed row\n"
	      "      --log-format F     text or json (default text); --log-json = json\n"
	      "      --notify-url URL   POST the summary JSON there when the run ends\n"
	      "      --report FILE.html the run report: one self-contained page (outcome,\n"
	      "                         counts, top error reasons, charts), every run\n"
	      "      --report-pii       the report shows its example rows' emails and phones\n"
	      "                         (masked by default)\n",
	      stdout);
	fputs("  -q, --quiet            only errors on stderr\n"
	      "  -v, --verbose          each row that did not succeed on stderr; -v -v: every\n"
	      "                         request too (never credentials)\n"
	      "  -h, --help             this text\n"
	      "  -V, --version          version\n"
	      "\n"
	      "credentials: DOTS_CLIENT_ID and DOTS_API_KEY, or systemd credentials\n"
	      "dots-client-id and dots-api-key in $CREDENTIALS_DIRECTORY, or api.client_id\n"
	      "and api.api_key_file in the config; DOTS_APP_ID is sent as Api-App-Id.\n"
	      "send-verification needs -o FILE for its results.\n"
	      "\n"
	      "verification column: sent, failed, in_doubt (may have gone out: never resent\n"
	      "unless --resend-in-doubt), verified (the API says the user is already verified:\n"
	      "no code sent), off (--no-verification), empty when there is no user.\n"
	      "status column: created, exists, valid (dry run), invalid, duplicate, failed,\n"
	      "pending, changed (known phone, email or names differ: its id, no code, Dots\n"
	      "not updated), conflict (phone and external_id clash with the ledger).\n"
	      "\n"
	      "exit codes: 0 all rows created/exists/changed and codes sent; 1 some rows\n"
	      "invalid, duplicate, failed or conflict, or a code not sent or in doubt (also\n"
	      "from an earlier run, until settled); 2 usage, config or input error, also a\n"
	      "wrong base URL, certificate or host found by the first request (nothing\n"
	      "sent); 3 aborted (401/403, circuit breaker, --max-failures, a configuration\n"
	      "error found mid-run, the input changed after requests were sent);\n"
	      "4 stopped by a local failure (disk full, ledger or output unwritable) after\n"
	      "requests were sent: rerun to complete; 130/143 interrupted by SIGINT/SIGTERM\n"
	      "(a second signal within 2 s changes nothing; a later one stops waiting for\n"
	      "requests in flight; a third exits at once).\n",
	      stdout);
}

/* Command-line values, applied after the config file. */
struct cli {
	const char *config;
	const char *base_url, *state, *ca_cert, *report;
	const char *encoding;
	char delimiter;
	long concurrency, max_attempts;
	double rate;
	bool set_concurrency, set_rate, set_max_attempts, no_verification, allow_phone_change;
};

/*
 * The option as the user typed it, for a message: "--rate" of
 * "--rate=x" or "--rate x", "--rat" of an abbreviation. getopt_long has
 * just consumed it: it is argv[optind - 1], or argv[optind - 2] when its
 * value came as the next word.
 */
static const char *typed(char **argv, char *buf, size_t cap)
{
	const char *w = argv[optind - 1];
	size_t n;

	if (optarg && w == optarg && optind >= 2)
		w = argv[optind - 2];
	n = strcspn(w, "=");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, w, n);
	buf[n] = '\0';
	return buf;
}

static int parse_long_opt(char **argv, const char *v, long min, long max, long *out,
			  struct err *err)
{
	char name[64];

	if (num_parse_long(v, min, max, out) < 0)
		return err_set(err, "%s: expected an integer from %ld to %ld, got '%s'",
			       typed(argv, name, sizeof(name)), min, max, v);
	return 0;
}

/* Edits between a and b (Levenshtein), capped: for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], prev, tmp;

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = a[i - 1] == b[j - 1] ? prev
				 : 1 + (prev < row[j] ? (prev < row[j - 1] ? prev : row[j - 1])
						      : (row[j] < row[j - 1] ? row[j] : row[j - 1]));
			prev = tmp;
		}
	}
	return row[lb];
}

/* An unknown or incomplete option, named as typed (up to any '='). */
static int bad_option(int ch, char **argv, struct err *err)
{
	char name[64];
	const char *best = NULL;
	size_t best_d = 3; /* more edits than 2: no suggestion */

	optarg = NULL; /* (getopt may leave an earlier option's) */
	if (strncmp(argv[optind - 1], "--", 2) != 0 && optopt > 0 && optopt < 256)
		snprintf(name, sizeof(name), "-%c", optopt);
	else
		typed(argv, name, sizeof(name));
	if (ch == ':') /* a value is missing */
		return err_set(err, "option '%s' needs a value (see --help)", name);
	if (name[1] != '-')
		return err_set(err, "unknown option '%s' (see --help)", name);
	for (const struct option *lo = long_opts; name[0] == '-' && name[1] == '-' && lo->name; lo++) {
		size_t d = distance(name + 2, lo->name);

		if (d < best_d) {
			best_d = d;
			best = lo->name;
		}
	}
	if (best)
		return err_set(err, "unknown option '%s' (did you mean --%s?)", name, best);
	return err_set(err, "unknown option '%s' (see --help)", name);
}

/* "K/N" with 0 <= K < N <= 1024. */
static int parse_shard(struct options *o, const char *v, const char *name, struct err *err)
{
	char k[16], n[16];
	const char *slash = strchr(v, '/');
	long kv, nv;

	if (!slash || (size_t)(slash - v) >= sizeof(k) || strlen(slash + 1) >= sizeof(n))
		return err_set(err, "%s: expected K/N (e.g. 0/4), got '%s'", name, v);
	memcpy(k, v, (size_t)(slash - v));
	k[slash - v] = '\0';
	memcpy(n, slash + 1, strlen(slash + 1) + 1);
	if (num_parse_long(n, 1, 1024, &nv) < 0 || num_parse_long(k, 0, nv - 1, &kv) < 0)
		return err_set(err, "%s: expected K/N with 0 <= K < N <= 1024, got '%s'", name, v);
	o->shard_k = (unsigned)kv;
	o->shard_n = (unsigned)nv;
	return 0;
}

static int parse_argv(struct options *o, struct cli *c, int argc, char **argv,
		      struct err *err)
{
	int ch;

	char name[64];

	opterr = 0;
	optind = 1;
	/* the leading ':' tells a missing value (':') from an unknown option */
	while ((ch = getopt_long(argc, argv, ":c:o:qvhV", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c': c->config = optarg; break;
		case 'o':
			if (config_set_string(&o->output, optarg) < 0)
				return err_set(err, "out of memory");
			break;
		case OPT_BASE_URL: c->base_url = optarg; break;
		case OPT_CONCURRENCY:
			if (parse_long_opt(argv, optarg, 1, 256, &c->concurrency, err) < 0)
				return -1;
			c->set_concurrency = true;
			break;
		case OPT_RATE:
			if (config_parse_rate(optarg, &c->rate) < 0)
				return err_set(err, "%s: expected auto, unlimited or a number from "
						    "0 to 100000, got '%s'", typed(argv, name, sizeof(name)),
					       optarg);
			c->set_rate = true;
			break;
		case OPT_MAX_ATTEMPTS:
			if (parse_long_opt(argv, optarg, 1, 100, &c->max_attempts, err) < 0)
				return -1;
			c->set_max_attempts = true;
			break;
		case OPT_NO_VERIFICATION: c->no_verification = true; break;
		case OPT_ALLOW_PHONE_CHANGE: c->allow_phone_change = true; break;
		case OPT_DRY_RUN: o->dry_run = true; break;
		case OPT_STATE: c->state = optarg; break;
		case OPT_NO_STATE: o->no_state = true; break;
		case OPT_RESEND_IN_DOUBT: o->resend_in_doubt = true; break;
		case OPT_SETTLE_IN_DOUBT: o->settle_in_doubt = true; break;
		case OPT_MAX_INVALID:
			if (parse_long_opt(argv, optarg, 0, 1000000000L, &o->max_invalid, err) < 0)
				return -1;
			break;
		case OPT_MAX_FAILURES:
			if (parse_long_opt(argv, optarg, 1, 1000000000L, &o->max_failures, err) < 0)
				return -1;
			break;
		case OPT_CA_CERT: c->ca_cert = optarg; break;
		case OPT_REJECTS: o->rejects = optarg; break;
		case OPT_SUMMARY_JSON: o->summary_json = optarg; break;
		case OPT_REPORT: c->report = optarg; break;
		case OPT_REPORT_PII: o->report_pii = true; break;
		case OPT_METRICS_FILE: o->metrics_file = optarg; break;
		case OPT_LOG_FILE: o->log_file = optarg; break;
		case OPT_LIMIT:
			if (parse_long_opt(argv, optarg, 1, 1000000000L, &o->limit, err) < 0)
				return -1;
			break;
		case OPT_LOG_JSON: o->log_json = true; break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
				return err_set(err, "%s: expected text or json, got '%s'",
					       typed(argv, name, sizeof(name)), optarg);
			o->log_json = strcmp(optarg, "json") == 0;
			break;
		case OPT_NOTIFY_URL:
			if (config_set_string(&o->notify_url, optarg) < 0)
				return err_set(err, "out of memory");
			if (url_check(o->notify_url, "--notify-url", err) < 0)
				return -1;
			break;
		case OPT_DELIMITER:
			if (config_parse_delimiter(optarg, &c->delimiter) < 0)
				return err_set(err, "%s: expected , ; | or tab, got '%s'",
					       typed(argv, name, sizeof(name)), optarg);
			break;
		case OPT_ENCODING:
			if (decode_check_encoding(optarg, typed(argv, name, sizeof(name)), err) < 0)
				return -1;
			c->encoding = optarg;
			break;
		case OPT_SHARD:
			if (parse_shard(o, optarg, typed(argv, name, sizeof(name)), err) < 0)
				return -1;
			break;
		case 'q': o->verbosity = -1; break;
		case 'v': o->verbosity = o->verbosity < 0 ? 1 : o->verbosity + 1; break;
		case 'h': o->help = true; break;
		case 'V': o->version = true; break;
		default:
			return bad_option(ch, argv, err);
		}
	}
	return 0;
}

/* Applies environment and command line over the loaded config, then
 * takes the credentials (credentials.c). */
static int apply(struct options *o, const struct cli *c, struct err *err)
{
	struct config *cfg = &o->cfg;
	const char *env;
	size_t n;

	if ((env = getenv("DOTS_BASE_URL")) && *env && config_set_string(&cfg->base_url, env) < 0)
		return err_set(err, "out of memory");
	if (c->base_url && config_set_string(&cfg->base_url, c->base_url) < 0)
		return err_set(err, "out of memory");
	if (c->state && config_set_string(&cfg->state, c->state) < 0)
		return err_set(err, "out of memory");
	if (c->ca_cert && config_set_string(&cfg->ca_cert, c->ca_cert) < 0)
		return err_set(err, "out of memory");
	if (c->report && config_set_string(&cfg->report, c->report) < 0)
		return err_set(err, "out of memory");
	if (c->encoding && config_set_string(&cfg->encoding, c->encoding) < 0)
		return err_set(err, "out of memory");
	if (c->delimiter)
		cfg->delimiter = c->delimiter;
	if (c->set_concurrency)
		cfg->concurrency = c->concurrency;
	if (c->set_rate)
		cfg->rate_limit = c->rate;
	if (c->set_max_attempts)
		cfg->max_attempts = c->max_attempts;
	if (c->no_verification)
		cfg->send_verification = false;
	if (c->allow_phone_change)
		cfg->allow_phone_change = true;
	if (url_check(cfg->base_url, "base URL", err) < 0)
		return -1;
	n = strlen(cfg->base_url);
	if (n >= 3 && strcmp(cfg->base_url + n - 3, "/v2") == 0)
		return err_set(err, "base URL '%s': give it without /v2 (e.g. https://host/api)",
			       cfg->base_url);
	return credentials_load(o, err);
}

static int default_output(struct options *o, struct err *err)
{
	size_t n = strlen(o->input);
	const char *suffix = o->command == CMD_VERIFY ? ".verify.csv" : ".results.csv";

	o->output = malloc(n + 16);
	if (!o->output)
		return err_set(err, "out of memory");
	if (n > 4 && strcmp(o->input + n - 4, ".csv") == 0)
		n -= 4;
	snprintf(o->output, n + 16, "%.*s%s", (int)n, o->input, suffix);
	return 0;
}

int options_parse(struct options *o, int argc, char **argv, struct err *err)
{
	struct cli c = {0};
	int nargs;

	memset(o, 0, sizeof(*o));
	config_init(&o->cfg);
	o->max_invalid = -1;
	o->max_failures = -1;
	if (argc > 1 && strcmp(argv[1], "send-verification") == 0) {
		o->command = CMD_SEND_VERIFICATION;
		argc--;
		argv++;
	} else if (argc > 1 && strcmp(argv[1], "verify") == 0) {
		o->command = CMD_VERIFY;
		argc--;
		argv++;
	} else if (argc > 1 && strcmp(argv[1], "restore-ledger") == 0) {
		o->command = CMD_RESTORE_LEDGER;
		argc--;
		argv++;
	}
	if (parse_argv(o, &c, argc, argv, err) < 0)
		return -1;
	if (o->help || o->version)
		return 0;
	nargs = argc - optind;
	if (o->command == CMD_RESTORE_LEDGER) {
		if (nargs < 1)
			return err_set(err, "restore-ledger needs one or more results files (see --help)");
		o->inputs = (const char *const *)argv + optind;
		o->ninputs = (size_t)nargs;
	} else if (o->command == CMD_SEND_VERIFICATION ? nargs != 0 : nargs != 1) {
		return err_set(err, o->command == CMD_SEND_VERIFICATION
					    ? "send-verification takes no file argument (see --help)"
					    : "expected exactly one input file (see --help)");
	}
	if (nargs == 1 && o->command != CMD_RESTORE_LEDGER)
		o->input = argv[optind];
	if (o->input && strcmp(o->input, "-") == 0 && !o->output)
		return err_set(err, "reading standard input (-) needs -o FILE for the results");
	if (o->input && strcmp(o->input, "-") == 0 && o->rejects)
		return err_set(err, "--rejects reads the input again: give it a file, "
				    "not standard input (-)");
	if (o->resend_in_doubt && o->settle_in_doubt)
		return err_set(err, "--resend-in-doubt and --settle-in-doubt exclude each other");
	if (c.config) {
		if (config_load(&o->cfg, c.config, err) < 0)
			return -1;
	} else if (access("config.yaml", F_OK) == 0 &&
		   config_load(&o->cfg, "config.yaml", err) < 0) {
		return -1;
	}
	if (apply(o, &c, err) < 0)
		return -1;
	if (o->command == CMD_SEND_VERIFICATION && !o->output)
		return err_set(err, "send-verification needs -o FILE for its results");
	if (o->command != CMD_RESTORE_LEDGER && !o->output && default_output(o, err) < 0)
		return -1;
	if (o->no_state && (o->command == CMD_SEND_VERIFICATION || o->command == CMD_RESTORE_LEDGER))
		return err_set(err, "%s needs the ledger (--state), not --no-state",
			       options_command_name(o->command));
	return 0;
}

const char *options_command_name(enum command c)
{
	static const char *const names[] = {"import", "send-verification", "verify",
					    "restore-ledger"};

	return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

void options_release(struct options *o)
{
	config_release(&o->cfg);
	free(o->output);
	credentials_release(o);
	free(o->notify_url);
}
