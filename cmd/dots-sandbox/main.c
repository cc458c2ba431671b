/*
 * main.c - dots-sandbox: a local stand-in for the Dots users API.
 * Parses the command line, starts the server, prints the one "listening"
 * line and waits for SIGINT/SIGTERM (sigwait: no handler, no globals).
 * The only file that prints to the user or exits; never prints credentials.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "err.h"
#include "limitdoc.h"
#include "num.h"
#include "pem.h"
#include "server.h"

#include "banned.h"

#ifndef DOTS_VERSION
#define DOTS_VERSION "dev"
#endif

#define SANDBOX_URL_MAX 2048	    /* --redirect */

enum sandbox_exit {
	SANDBOX_EXIT_OK = 0,	  /* stopped by SIGINT/SIGTERM */
	SANDBOX_EXIT_FAILURE = 1, /* could not start (port taken, ...) */
	SANDBOX_EXIT_USAGE = 2,	  /* bad command line */
};

enum sandbox_opt {
	OPT_PORT = 256,
	OPT_BIND,
	OPT_CLIENT_ID,
	OPT_API_KEY,
	OPT_THREADS,
	OPT_MAX_CONNECTIONS,
	OPT_SEED,
	OPT_LATENCY,
	OPT_JITTER,
	OPT_RETRY_AFTER,
	OPT_RETRY_AFTER_DATE,
	OPT_TRICKLE,
	OPT_REDIRECT,
	OPT_AFTER_EFFECT,
	OPT_RATE_LIMIT,
	OPT_PAUSE_GRACE,
	OPT_HANG_MS,
	OPT_ECHO_RAW,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_LIMIT_BUCKET,
	OPT_LIMIT_BURST,
	OPT_LIMIT_WINDOW,
	OPT_LIMIT_NO_RETRY_AFTER,
	OPT_LIMIT_SMS,
	OPT_LIMIT_SCHEDULE,
	OPT_FAULT_BASE = 512, /* + enum fault_kind */
};

static const struct option sandbox_options[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"bind", required_argument, NULL, OPT_BIND},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"api-key", required_argument, NULL, OPT_API_KEY},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"latency-ms", required_argument, NULL, OPT_LATENCY},
    {"jitter-ms", required_argument, NULL, OPT_JITTER},
    {"fault-429", required_argument, NULL, OPT_FAULT_BASE + FAULT_429},
    {"fault-500", required_argument, NULL, OPT_FAULT_BASE + FAULT_500},
    {"fault-502", required_argument, NULL, OPT_FAULT_BASE + FAULT_502},
    {"fault-503", required_argument, NULL, OPT_FAULT_BASE + FAULT_503},
    {"fault-504", required_argument, NULL, OPT_FAULT_BASE + FAULT_504},
    {"fault-reset", required_argument, NULL, OPT_FAULT_BASE + FAULT_RESET},
    {"fault-hang", required_argument, NULL, OPT_FAULT_BASE + FAULT_HANG},
    {"fault-malformed", required_argument, NULL,
     OPT_FAULT_BASE + FAULT_MALFORMED},
    {"fault-oversize", required_argument, NULL,
     OPT_FAULT_BASE + FAULT_OVERSIZE},
    {"fault-noid", required_argument, NULL, OPT_FAULT_BASE + FAULT_NOID},
    {"fault-html", required_argument, NULL, OPT_FAULT_BASE + FAULT_HTML},
    {"fault-echo", required_argument, NULL, OPT_FAULT_BASE + FAULT_ECHO},
    {"echo-raw", no_argument, NULL, OPT_ECHO_RAW},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
    {"retry-after-date", no_argument, NULL, OPT_RETRY_AFTER_DATE},
    {"trickle", no_argument, NULL, OPT_TRICKLE},
    {"redirect", required_argument, NULL, OPT_REDIRECT},
    {"after-effect", required_argument, NULL, OPT_AFTER_EFFECT},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {"pause-grace-ms", required_argument, NULL, OPT_PAUSE_GRACE},
    {"hang-ms", required_argument, NULL, OPT_HANG_MS},
    {"limit-bucket", required_argument, NULL, OPT_LIMIT_BUCKET},
    {"limit-burst", required_argument, NULL, OPT_LIMIT_BURST},
    {"limit-window", required_argument, NULL, OPT_LIMIT_WINDOW},
    {"limit-no-retry-after", no_argument, NULL, OPT_LIMIT_NO_RETRY_AFTER},
    {"limit-sms", required_argument, NULL, OPT_LIMIT_SMS},
    {"limit-schedule", required_argument, NULL, OPT_LIMIT_SCHEDULE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void sandbox_usage(FILE *out)
{
	fputs("usage: dots-sandbox [--port N] [--bind ADDR] "
	      "[--client-id ID --api-key KEY]\n"
	      "                    [--threads N] [--max-connections N] "
	      "[--seed N]\n"
	      "                    [--tls-cert FILE --tls-key FILE] "
	      "[fault options]\n"
	      "\n"
	      "  --port N              listen port, 0 = any free port "
	      "(default 0)\n"
	      "  --bind ADDR           IP address to bind (default 127.0.0.1)\n"
	      "  --client-id ID        required Basic auth user "
	      "(with --api-key)\n"
	      "  --api-key KEY         required Basic auth password\n"
	      "  --threads N           worker threads (default 2)\n"
	      "  --max-connections N   connection limit (default 1024)\n"
	      "  --seed N              seed for every random choice "
	      "(default 1)\n"
	      "  --tls-cert FILE       serve HTTPS (/_sandbox/ too) with this "
	      "PEM certificate\n"
	      "  --tls-key FILE        and this PEM private key "
	      "(both or neither)\n"
	      "faults (probabilities 0..1, default 0, sum at most 1):\n"
	      "  --fault-429 P  --fault-500 P  --fault-502 P  --fault-503 P  "
	      "--fault-504 P\n"
	      "  --fault-reset P      close the connection without an answer\n"
	      "  --fault-hang P       never answer (see --hang-ms)\n"
	      "  --fault-malformed P  200/201 with a body that is not JSON\n"
	      "  --fault-oversize P   200 with a 5 MiB body\n"
	      "  --fault-noid P       201 with a JSON object lacking \"id\"\n"
	      "  --fault-html P       502 with an HTML page\n"
	      "  --fault-echo P       422 whose JSON message and error echo "
	      "the Authorization\n"
	      "                       header and its client id and key, "
	      "plain and %-encoded\n"
	      "  --echo-raw           --fault-echo answers text/plain, "
	      "not JSON\n"
	      "  --after-effect P     apply a faulted request's effect first\n"
	      "  --latency-ms N       added latency per API request\n"
	      "  --jitter-ms N        plus uniform random 0..N ms\n"
	      "  --retry-after S      Retry-After of injected 429s "
	      "(default 1)\n"
	      "  --retry-after-date   send Retry-After as an HTTP-date\n"
	      "  --rate-limit R       requests/s token bucket, "
	      "burst max(1, R/10)\n"
	      "  --pause-grace-ms N   in-flight allowance after a 429 "
	      "(default 200)\n"
	      "  --hang-ms N          close hung requests after N ms "
	      "(default: at exit)\n"
	      "  --trickle            send API bodies one byte per second\n"
	      "  --redirect URL       answer every API request 302 to URL\n"
	      "limiter (routed, authenticated /api requests, never "
	      "/_sandbox; its 429s\n"
	      "  act on nothing; independent of --rate-limit):\n"
	      "  --limit-bucket N     token bucket of N requests/s\n"
	      "  --limit-burst B      its size (default max(1, N/10))\n"
	      "  --limit-window N/S   at most N requests per S seconds, "
	      "windows aligned on\n"
	      "                       the monotonic clock (600/60, 300/1)\n"
	      "  --limit-no-retry-after  429s without Retry-After (default: "
	      "the whole seconds,\n"
	      "                       at least 1, until a token / the next "
	      "window)\n"
	      "  --limit-sms N        also a bucket of N/s (burst max(1, "
	      "N/10)) for\n"
	      "                       POST .../send-verification-token\n"
	      "  --limit-schedule T1:N1,T2:N2  at T s after start the "
	      "limiter becomes a\n"
	      "                       bucket of N/s (0: none; --limit-burst "
	      "kept, tokens kept)\n"
	      "  GET /_sandbox/limit shows the limiter; POST /_sandbox/limit "
	      "{\"kind\":\n"
	      "  \"bucket\"|\"window\"|\"none\", \"rate\": N, "
	      "\"window_s\": S, \"burst\": B, \"retry_after\":\n"
	      "  true|false, \"sms_rate\": N, \"schedule\": \"T:N,...\"} "
	      "replaces it atomically:\n"
	      "  absent fields keep their values (a new kind needs \"rate\", "
	      "a window\n"
	      "  \"window_s\"), the pending schedule is dropped unless given "
	      "(T from now),\n"
	      "  buckets start full, windows count afresh. 400/422 on bad "
	      "bodies.\n"
	      "  Stats: \"limited\" (its 429s), \"limited_sms\" (of them "
	      "the SMS limit's),\n"
	      "  \"accepted_per_s\" (requests it let through per second since "
	      "start, the\n"
	      "  last 3600 at most; the last entry is the current second).\n"
	      "API: POST /api/v2/users, GET /api/v2/users?limit=N "
	      "(1..100, default 10),\n"
	      "  GET /api/v2/users/ID, POST /api/v2/users/ID/"
	      "send-verification-token|verify.\n"
	      "Test hook: POST /_sandbox/verify-users {\"all\": true} or\n"
	      "  {\"phones\": [{\"country_code\": \"1\", "
	      "\"phone_number\": \"4155550100\"}, ...]}\n"
	      "  marks users verified, answers {\"verified\": N}.\n"
	      "Stops on SIGINT/SIGTERM. Introspection: GET /_sandbox/stats, "
	      "/_sandbox/users[/ID].\n",
	      out);
}

static int sandbox_long(const char *name, const char *arg, long min, long max,
			long *out, struct err *err)
{
	if (num_parse_long(arg, min, max, out) < 0)
		return err_set(err,
			       "--%s: '%s' is not a whole number in "
			       "%ld..%ld",
			       name, arg, min, max);
	return 0;
}

static int sandbox_double(const char *name, const char *arg, double min,
			  double max, double *out, struct err *err)
{
	if (num_parse_double(arg, min, max, out) < 0)
		return err_set(err, "--%s: '%s' is not a number in %g..%g",
			       name, arg, min, max);
	return 0;
}

static int sandbox_text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || n >= max)
			return 0;
	return 1;
}

static int sandbox_is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * Fills cfg from argv and reads the --tls-cert/--tls-key files into pems
 * (cfg points at them; sandbox_release frees them). Returns 0, 1 for
 * --help/--version, or -1 (err, nothing held).
 */
static int sandbox_parse(int argc, char **argv, struct server_config *cfg,
			 struct pems *pems, struct err *err)
{
	const char *cert_path = NULL, *key_path = NULL;
	const char *name;
	int have_bucket = 0, have_window = 0, have_burst = 0;
	long v;
	int c, idx;

	memset(cfg, 0, sizeof(*cfg));
	pems->cert = pems->key = NULL;
	cfg->bind_addr = "127.0.0.1";
	cfg->threads = 2;
	cfg->max_connections = 1024;
	cfg->retry_after_s = 1;
	cfg->faults.seed = 1;
	cfg->faults.pause_grace_ms = 200;
	limit_settings_default(&cfg->limit);
	opterr = 0;
	idx = -1;
	while ((c = getopt_long(argc, argv, ":hV", sandbox_options, &idx)) !=
	       -1) {
		name = idx >= 0 ? sandbox_options[idx].name : "?";
		switch (c) {
		case 'h':
			sandbox_usage(stdout);
			return 1;
		case 'V':
			printf("dots-sandbox %s\n", DOTS_VERSION);
			return 1;
		case ':':
			return err_set(err, "option '%s' needs a value",
				       argv[optind - 1]);
		case '?':
			return err_set(err, "unknown option '%s'",
				       argv[optind - 1]);
		case OPT_PORT:
			if (sandbox_long(name, optarg, 0, 65535, &v, err))
				return -1;
			cfg->port = (unsigned)v;
			break;
		case OPT_BIND:
			cfg->bind_addr = optarg;
			break;
		case OPT_CLIENT_ID:
			cfg->client_id = optarg;
			break;
		case OPT_API_KEY:
			cfg->api_key = optarg;
			break;
		case OPT_THREADS:
			if (sandbox_long(name, optarg, 1, 256, &v, err))
				return -1;
			cfg->threads = (unsigned)v;
			break;
		case OPT_MAX_CONNECTIONS:
			if (sandbox_long(name, optarg, 8, 65536, &v, err))
				return -1;
			cfg->max_connections = (unsigned)v;
			break;
		case OPT_SEED:
			if (sandbox_long(name, optarg, 0, 0x7fffffffffffffffL,
					 &v, err))
				return -1;
			cfg->faults.seed = (uint64_t)v;
			break;
		case OPT_LATENCY:
			if (sandbox_long(name, optarg, 0, 600000,
					 &cfg->faults.latency_ms, err))
				return -1;
			break;
		case OPT_JITTER:
			if (sandbox_long(name, optarg, 0, 600000,
					 &cfg->faults.jitter_ms, err))
				return -1;
			break;
		case OPT_RETRY_AFTER:
			if (sandbox_long(name, optarg, 0, 86400,
					 &cfg->retry_after_s, err))
				return -1;
			break;
		case OPT_RETRY_AFTER_DATE:
			cfg->retry_after_date = 1;
			break;
		case OPT_TRICKLE:
			cfg->trickle = 1;
			break;
		case OPT_REDIRECT:
			if (!*optarg ||
			    !sandbox_text_ok(optarg, SANDBOX_URL_MAX))
				return err_set(err, "--redirect: URL is empty, "
						    "too long or has control "
						    "characters");
			cfg->redirect_url = optarg;
			break;
		case OPT_AFTER_EFFECT:
			if (sandbox_double(name, optarg, 0, 1,
					   &cfg->faults.after_effect, err))
				return -1;
			break;
		case OPT_RATE_LIMIT:
			if (sandbox_double(name, optarg, 0, 1e7,
					   &cfg->faults.rate_limit, err))
				return -1;
			break;
		case OPT_PAUSE_GRACE:
			if (sandbox_long(name, optarg, 0, 3600000,
					 &cfg->faults.pause_grace_ms, err))
				return -1;
			break;
		case OPT_ECHO_RAW:
			cfg->echo_raw = 1;
			break;
		case OPT_TLS_CERT:
			cert_path = optarg;
			break;
		case OPT_TLS_KEY:
			key_path = optarg;
			break;
		case OPT_LIMIT_BUCKET:
			if (sandbox_double(name, optarg, 0.001, LIMIT_RATE_MAX,
					   &cfg->limit.rate, err))
				return -1;
			cfg->limit.kind = LIMIT_BUCKET;
			have_bucket = 1;
			break;
		case OPT_LIMIT_BURST:
			if (sandbox_double(name, optarg, 1, LIMIT_RATE_MAX,
					   &cfg->limit.burst, err))
				return -1;
			have_burst = 1;
			break;
		case OPT_LIMIT_WINDOW:
			if (limitdoc_parse_window(optarg, &cfg->limit.rate,
						  &cfg->limit.window_s,
						  err) < 0)
				return err_prefix(err, "--limit-window");
			cfg->limit.kind = LIMIT_WINDOW;
			have_window = 1;
			break;
		case OPT_LIMIT_NO_RETRY_AFTER:
			cfg->limit.no_retry_after = 1;
			break;
		case OPT_LIMIT_SMS:
			if (sandbox_double(name, optarg, 0, LIMIT_RATE_MAX,
					   &cfg->limit.sms_rate, err))
				return -1;
			break;
		case OPT_LIMIT_SCHEDULE:
			if (limitdoc_parse_schedule(optarg, &cfg->limit, err) <
			    0)
				return err_prefix(err, "--limit-schedule");
			break;
		case OPT_HANG_MS:
			if (sandbox_long(name, optarg, 0, 86400000,
					 &cfg->hang_ms, err))
				return -1;
			break;
		default:
			if (c > OPT_FAULT_BASE &&
			    c < OPT_FAULT_BASE + FAULT_KIND_COUNT) {
				if (sandbox_double(
					name, optarg, 0, 1,
					&cfg->faults.prob[c - OPT_FAULT_BASE],
					err))
					return -1;
				break;
			}
			return err_set(err, "unknown option");
		}
		idx = -1;
	}
	if (optind < argc)
		return err_set(err, "unexpected argument '%s'", argv[optind]);
	if (!sandbox_is_ip(cfg->bind_addr))
		return err_set(err, "--bind: '%s' is not an IP address",
			       cfg->bind_addr);
	if (!cfg->client_id != !cfg->api_key)
		return err_set(err, "--client-id and --api-key go together");
	if ((cfg->client_id && !*cfg->client_id) ||
	    (cfg->api_key && !*cfg->api_key))
		return err_set(err, "--client-id and --api-key must not be "
				    "empty");
	if (!cert_path != !key_path)
		return err_set(err, "--tls-cert and --tls-key go together");
	if (faults_config_check(&cfg->faults, err) < 0)
		return -1;
	if (have_bucket && have_window)
		return err_set(err, "--limit-bucket and --limit-window "
				    "exclude each other");
	if (have_burst && !have_bucket && cfg->limit.n_steps == 0)
		return err_set(err, "--limit-burst needs --limit-bucket or "
				    "--limit-schedule");
	if (limit_settings_check(&cfg->limit, err) < 0)
		return err_prefix(err, "--limit-*");
	if (cert_path &&
	    (pem_read("tls-cert", cert_path, &pems->cert, err) < 0 ||
	     pem_read("tls-key", key_path, &pems->key, err) < 0)) {
		pem_release(pems);
		return -1;
	}
	cfg->tls_cert = pems->cert;
	cfg->tls_key = pems->key;
	return 0;
}

/*
 * Every connection needs a descriptor: raise the soft limit towards the hard
 * one so --max-connections is reachable. Failure only lowers the ceiling.
 */
static void sandbox_raise_nofile(unsigned max_connections)
{
	rlim_t want = (rlim_t)max_connections + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
			  ? want
			  : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* The loopback form of the bound address, for the one "listening" line. */
static void sandbox_print_url(const char *bind, unsigned port, int tls)
{
	const char *scheme = tls ? "https" : "http";

	if (strcmp(bind, "0.0.0.0") == 0)
		bind = "127.0.0.1";
	else if (strcmp(bind, "::") == 0)
		bind = "::1";
	if (strchr(bind, ':'))
		printf("listening on %s://[%s]:%u/api\n", scheme, bind, port);
	else
		printf("listening on %s://%s:%u/api\n", scheme, bind, port);
	fflush(stdout);
}


int main(int argc, char **argv)
{
	struct server_config cfg;
	struct pems pems;
	struct server *srv;
	struct err err;
	sigset_t stop;
	int rc, sig;

	err_init(&err);
	rc = sandbox_parse(argc, argv, &cfg, &pems, &err);
	if (rc > 0)
		return SANDBOX_EXIT_OK;
	if (rc < 0) {
		fprintf(stderr, "dots-sandbox: error: %s\n", err.msg);
		fprintf(stderr, "try 'dots-sandbox --help'\n");
		return SANDBOX_EXIT_USAGE;
	}
	/* Block the stop signals before any thread exists, so every thread
	 * inherits the mask and only sigwait below receives them. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	sandbox_raise_nofile(cfg.max_connections);
	srv = server_start(&cfg, &err);
	if (!srv) {
		pem_release(&pems);
		fprintf(stderr, "dots-sandbox: error: %s\n", err.msg);
		return SANDBOX_EXIT_FAILURE;
	}
	sandbox_print_url(cfg.bind_addr, server_port(srv), pems.cert != NULL);
	do
		rc = sigwait(&stop, &sig);
	while (rc != 0);
	server_free(srv);
	pem_release(&pems);
	return SANDBOX_EXIT_OK;
}
