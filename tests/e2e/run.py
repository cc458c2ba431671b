#!/usr/bin/env python3
"""End-to-end tests: the real dots-import against a real dots-sandbox on
127.0.0.1 (a fresh sandbox on a free port per test, never another address).

Two kinds of case, numbered by family (0xx basics, 1xx validation, 2xx
retry, 3xx resume/crash, 4xx concurrency, 5xx security):
  * data cases: tests/e2e/cases/NNN-name/ with input.csv, args (one per
    line; {url} {input} {out} {state} {dir} are substituted), optional
    sandbox (sandbox options), env (KEY=VALUE lines), config.yaml,
    expected.csv (only its columns are compared), expected_exit,
    stats.json (a subset of /_sandbox/stats), stderr (lines that must appear);
  * scripted cases: functions below named case_NNN_name.
Prints one line per case and ends with "e2e: N passed, N failed".
"""
import argparse
import csv
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLIENT_ID = "e2e-client-7f3a9c"
API_KEY = "e2e-secret-key-5b8d2e41"
BUILD = "build"
WRAP = []  # e.g. valgrind for the importer


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


class Sandbox:
    def __init__(self, opts=(), creds=True):
        args = [os.path.join(BUILD, "dots-sandbox"), "--port", "0"]
        if creds:
            args += ["--client-id", CLIENT_ID, "--api-key", API_KEY]
        args += list(opts)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (http://127\.0\.0\.1:\d+/api)", line)
        if not m:
            self.proc.kill()
            raise Fail("sandbox did not start: %r %s" % (line, self.proc.stderr.read()))
        self.url = m.group(1)
        self.root = self.url[:-len("/api")]

    def get(self, path):
        with urllib.request.urlopen(self.root + path, timeout=30) as r:
            return json.loads(r.read().decode())

    def stats(self):
        return self.get("/_sandbox/stats")

    def users(self):
        return self.get("/_sandbox/users")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def run_import(args, env=None, cwd=None, timeout=300, creds=True):
    e = {k: v for k, v in os.environ.items() if not k.startswith("DOTS_")}
    if creds:
        e["DOTS_CLIENT_ID"] = CLIENT_ID
        e["DOTS_API_KEY"] = API_KEY
    e.update(env or {})
    p = subprocess.run(WRAP + [os.path.abspath(os.path.join(BUILD, "dots-import"))] + args,
                       env=e, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return p


def start_import(args, **kw):
    """The importer as a background process (for signals and kills)."""
    e = dict(os.environ, DOTS_CLIENT_ID=CLIENT_ID, DOTS_API_KEY=API_KEY)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([os.path.join(BUILD, "dots-import")] + args, env=e, text=True, **kw)


def wait_requests(sb, n, proc=None, timeout=60):
    """Waits until the sandbox has seen n API requests (counted as they
    arrive): the importer is running, its signal handlers are in place,
    whatever a loaded machine or a sanitizer build did to its start."""
    t0 = time.time()
    while sb.stats()["requests"] < n:
        check(proc is None or proc.poll() is None, "importer exited (%r) before %d requests" %
              (proc and proc.returncode, n))
        check(time.time() - t0 < timeout, "fewer than %d requests after %d s" % (n, timeout))
        time.sleep(0.02)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_users(path, n, start=0, cc="1", extra_rows=()):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "country_code", "phone_number", "first_name", "last_name"])
        for i in range(start, start + n):
            w.writerow(["user%d@example.com" % i, cc, "415%07d" % i, "First%d" % i, "Last"])
        for r in extra_rows:
            w.writerow(r)


def assert_no_secrets(*texts):
    for t in texts:
        check(CLIENT_ID not in t, "client id leaked")
        check(API_KEY not in t, "API key leaked")


def phone_map(sb):
    return {(u["country_code"], u["phone_number"]): u for u in sb.users()}


def assert_results_match_sandbox(rows, sb, statuses=("created", "exists")):
    users = phone_map(sb)
    for r in rows:
        if r["status"] in statuses:
            u = users.get((r["country_code"], r["phone_number"]))
            check(u is not None, "row %s: no sandbox user" % r["row"])
            check(u["id"] == r["user_id"], "row %s: id %s != sandbox %s" % (r["row"], r["user_id"], u["id"]))


# ---- scripted cases --------------------------------------------------------

def case_001_500_users(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 500)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "s.db"), inp])
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(len(rows) == 500, "500 rows")
        check([int(r["row"]) for r in rows] == list(range(1, 501)), "input order")
        check([int(r["line"]) for r in rows] == list(range(2, 502)), "line numbers")
        check(all(r["status"] == "created" and r["verification"] == "sent" for r in rows), "all created+sent")
        assert_results_match_sandbox(rows, sb)
        st = sb.stats()
        check(st["creates"] == 500, "creates %d" % st["creates"])
        check(st["sms"] == 500 and st["max_sms_per_user"] == 1, "one SMS per user: %r" % st)
        check(os.stat(os.path.join(d, "users.results.csv")).st_mode & 0o777 == 0o600, "mode 0600")
        assert_no_secrets(p.stdout, p.stderr)


def case_002_dry_run_sends_nothing(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 500, extra_rows=[["bad", "1", "4150000001", "A", "B"]])
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--dry-run", inp], creds=False)
        check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(sum(r["status"] == "valid" for r in rows) == 500, "500 valid")
        check(rows[-1]["status"] == "invalid", "last invalid")
        check(sb.stats()["requests"] == 0, "no request")
        check(not os.path.exists(os.path.join(d, "dots-import.db")), "no ledger")


def case_003_rerun_creates_nothing(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 50)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, "first run exit %d: %s" % (p.returncode, p.stderr))
        first = read_csv(os.path.join(d, "users.results.csv"))
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, "second run exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(all(r["status"] == "exists" for r in rows), "all exists")
        check([r["user_id"] for r in rows] == [r["user_id"] for r in first], "same ids")
        st = sb.stats()
        check(st["create_requests"] == 50 and st["sms"] == 50, "no second create/SMS: %r" % st)
        check(os.stat(state).st_mode & 0o777 == 0o600, "ledger mode 0600")


def case_004_no_verification(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 20)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--no-verification", inp])
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(all(r["verification"] == "off" for r in rows), "verification off")
        check(sb.stats()["sms"] == 0, "no SMS")


def case_005_sample_file(d):
    inp = os.path.join(d, "users.csv")
    shutil.copy(os.path.join(ROOT, "samples", "users.csv"), inp)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", inp])
        check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        created = [r for r in rows if r["status"] == "created"]
        check(len(created) >= 30, "most sample rows created")
        check(any(r["status"] == "invalid" for r in rows), "some invalid")
        assert_results_match_sandbox(rows, sb)
        st = sb.stats()
        check(st["creates"] == len(created) and st["sms"] == len(created), "counts %r" % st)


def case_501_wrong_key_aborts(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 200)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--concurrency", "4", "-v", inp],
                       env={"DOTS_API_KEY": "wrong-" + API_KEY})
        check(p.returncode == 3, "exit %d: %s" % (p.returncode, p.stderr))
        st = sb.stats()
        check(st["requests"] <= 4, "at most --concurrency requests: %d" % st["requests"])
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(sum(r["status"] == "pending" for r in rows) >= 196, "untried rows pending")
        check(any("HTTP 401" in r["error"] for r in rows), "401 reported")
        with open(os.path.join(d, "users.results.csv")) as f:
            res = f.read()
        check("wrong-" not in p.stderr + p.stdout + res, "wrong key leaked")
        assert_no_secrets(p.stdout, p.stderr, res)


def case_502_plain_http_refused(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 3)
    p = run_import(["--base-url", "http://example.com/api", inp])
    check(p.returncode == 2, "exit %d" % p.returncode)
    check("only allowed to loopback" in p.stderr, p.stderr)
    check(not os.path.exists(os.path.join(d, "users.results.csv")), "no results")


def case_503_secrets_never_printed(d):
    """Every command at -v -v through success, rejections, 401, a config
    error and a sandbox that dies mid-run: neither credential may appear in
    any output or file (results, rejects, summary, metrics, log, ledger)."""
    inp = os.path.join(d, "users.csv")
    write_users(inp, 300, extra_rows=[["bad", "1", "1", "A", "B"]])
    cfg = os.path.join(d, "bad.yaml")
    with open(cfg, "w") as f:
        f.write("api:\n  client_id: %s\n  bogus: 1\n  api_key: %s\n" % (CLIENT_ID, API_KEY))
    state = os.path.join(d, "s.db")
    outs = []

    def files(tag):
        return ["--summary-json", os.path.join(d, tag + ".json"), "--metrics-file",
                os.path.join(d, tag + ".prom"), "--log-file", os.path.join(d, tag + ".log"),
                "--log-format", "json" if tag.endswith("j") else "text"]

    with Sandbox() as sb:
        runs = [
            ["-v", "-v", "--base-url", sb.url, "--state", state, "--no-verification",
             "--rejects", os.path.join(d, "rej.csv")] + files("ok") + [inp],
            ["-v", "-v", "send-verification", "--base-url", sb.url, "--state", state,
             "-o", os.path.join(d, "sent.csv")] + files("sendj"),
            ["-v", "-c", cfg, "--base-url", sb.url, inp],
            ["-v", "-v", "--base-url", sb.url.replace("/api", "/nope"), "--no-state",
             "-o", os.path.join(d, "404.csv")] + files("nf") + [inp],
        ]
        for args in runs:
            p = run_import(args)
            outs += [p.stdout, p.stderr]
        users = sb.users()
        tok = os.path.join(d, "tokens.csv")
        with open(tok, "w") as f:
            f.write("user_id,token\n%s,123456\n" % users[0]["id"])
        p = run_import(["-v", "-v", "verify", "--base-url", sb.url, tok] + files("verj"))
        outs += [p.stdout, p.stderr]
        p = run_import(["-v", "-v", "--base-url", sb.url, "--no-state", "-o", os.path.join(d, "401.csv")] +
                       files("unauth") + [inp], env={"DOTS_API_KEY": "x" + API_KEY})
        check(p.returncode == 3, "401 run exit %d" % p.returncode)
        outs += [p.stdout, p.stderr]
    # a sandbox that dies in the middle of a run
    with Sandbox(["--latency-ms", "20"]) as sb:
        proc = start_import(["-v", "-v", "--base-url", sb.url, "--state", os.path.join(d, "crash.db"),
                             "--max-attempts", "2", "-o", os.path.join(d, "crash.csv")] +
                            files("crashj") + [inp])
        wait_requests(sb, 2, proc)
        time.sleep(0.5)
        sb.proc.kill()
        out, err = proc.communicate(timeout=120)
        outs += [out, err]
    n = 0
    for fn in os.listdir(d):
        if fn == "bad.yaml":
            continue
        with open(os.path.join(d, fn), "rb") as f:
            outs.append(f.read().decode("latin-1"))
            n += 1
    check(n >= 20, "files checked: %d" % n)
    assert_no_secrets(*outs)



def summary_counts(rows):
    c = {}
    for r in rows:
        c[r["status"]] = c.get(r["status"], 0) + 1
    return c


def assert_one_user_one_sms(sb, expect_users=None):
    users = sb.users()
    phones = [(u["country_code"], u["phone_number"]) for u in users]
    check(len(phones) == len(set(phones)), "one user per phone")
    check(all(u["sms"] <= 1 for u in users), "no user with two SMS: %r" %
          [u for u in users if u["sms"] > 1][:3])
    if expect_users is not None:
        check(len(users) == expect_users, "%d users, want %d" % (len(users), expect_users))
    return users


def case_006_summary_json_and_metrics(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 40, extra_rows=[["bad", "1", "4150000001", "A", "B"],
                                     ["dup@example.com", "1", "4150000003", "A", "B"]])
    sj, mf = os.path.join(d, "summary.json"), os.path.join(d, "dots.prom")
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--summary-json", sj, "--metrics-file", mf, inp])
        check(p.returncode == 1, "exit %d" % p.returncode)
        rows = read_csv(os.path.join(d, "users.results.csv"))
        c = summary_counts(rows)
        with open(sj) as f:
            js = json.load(f)
        check(js["exit_code"] == 1 and js["command"] == "import", "exit/command %r" % js)
        check(js["input"] == inp and js["results"] == os.path.join(d, "users.results.csv"), "paths")
        for k in ("created", "invalid", "duplicate", "failed", "pending", "exists"):
            check(js["status"][k] == c.get(k, 0), "summary %s %r vs results %r" % (k, js["status"][k], c.get(k, 0)))
        check(js["codes"]["sent"] == sum(r["verification"] == "sent" for r in rows), "codes sent")
        check(js["requests"] == sb.stats()["requests"], "requests = sandbox requests")
        check(js["latency_ms"]["p50"] >= 0 and js["latency_ms"]["p99"] >= js["latency_ms"]["p50"], "latency")
        check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", js["started_at"]), "started_at")
        metrics = {}
        with open(mf) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                k, v = line.rsplit(" ", 1)
                metrics[k] = float(v)
        check(metrics['dots_import_rows{command="import",status="created"}'] == c["created"], "metric created")
        check(metrics['dots_import_rows{command="import",status="invalid"}'] == c["invalid"], "metric invalid")
        check(metrics['dots_import_exit_code{command="import"}'] == 1, "metric exit code")
        check(metrics["dots_import_last_success_timestamp_seconds"] > 1.7e9, "last success")
        # the summary may name files: 0600; the metrics (no personal data)
        # are read by node_exporter as another user: 0644
        check(os.stat(mf).st_mode & 0o777 == 0o644 and os.stat(sj).st_mode & 0o777 == 0o600, "modes")
        last_ok = metrics["dots_import_last_success_timestamp_seconds"]
        p = run_import(["--base-url", sb.url, "--no-state", "--metrics-file", mf, inp],
                       env={"DOTS_API_KEY": "wrong"})
        check(p.returncode == 3, "aborted run")
        with open(mf) as f:
            text = f.read()
        check("dots_import_last_success_timestamp_seconds %d" % last_ok in text, "success time carried over")
        check('dots_import_exit_code{command="import"} 3' in text, "exit 3 recorded")


def case_007_log_file_text_and_json(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 10, extra_rows=[["bad", "1", "4150000001", "A", "B"]])
    with Sandbox() as sb:
        for fmt in ("text", "json"):
            log = os.path.join(d, "run.%s.log" % fmt)
            p = run_import(["--base-url", sb.url, "--no-state", "--log-file", log, "--log-format", fmt, inp])
            check(p.returncode == 1, "exit %d" % p.returncode)
            with open(log) as f:
                lines = f.read().splitlines()
            if fmt == "json":
                ev = [json.loads(l) for l in lines]
                # the run's errors grouped by class come before the end
                check([e["event"] for e in ev] == ["start", "row", "reason", "end"], "events %r" % ev)
                check(ev[1]["row"] == 11 and ev[1]["line"] == 12 and ev[1]["status"] == "invalid", "row event %r" % ev[1])
                check(ev[2]["reason"] == 'email: missing "@"' and ev[2]["count"] == 1, "reason event %r" % ev[2])
                check(ev[3]["message"] == "exit 1", "end event")
            else:
                check(len(lines) == 4 and " row row=11 line=12 status=invalid email: missing" in lines[1], "text log %r" % lines)
                check(lines[2].endswith(' reason count=1 first_row=11 email: missing "@"'), "text log %r" % lines)
            assert_no_secrets("\n".join(lines))


def case_008_rejects_fix_and_reimport(d):
    inp = os.path.join(d, "users.csv")
    with open(inp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "country_code", "phone_number", "first_name", "last_name", "notes"])
        w.writerow(["ok@example.com", "1", "4155550100", "Ann", "Lee", "x"])
        w.writerow(["broken.example.com", "1", "4155550101", "Bob", "Ray", "fix my email"])
        w.writerow(["=sum@example.com", "1", "41555501xx", "=HYPERLINK(\"x\")", "Lee", "formula"])
        w.writerow(["short@example.com", "1", "555", "Cy", "Dee", "short phone"])
    rej = os.path.join(d, "rejects.csv")
    with Sandbox() as sb:
        state = os.path.join(d, "s.db")
        p = run_import(["--base-url", sb.url, "--state", state, "--rejects", rej, inp])
        check(p.returncode == 1, "exit %d" % p.returncode)
        rows = read_csv(rej)
        check([r["notes"] for r in rows] == ["fix my email", "formula", "short phone"], "rejected rows %r" % rows)
        check(rows[0]["error"] == 'email: missing "@"', rows[0]["error"])
        check(rows[1]["first_name"] == "'=HYPERLINK(\"x\")", "guarded cell %r" % rows[1]["first_name"])
        check(rows[1]["email"] == "'=sum@example.com", "guarded email %r" % rows[1]["email"])
        # the operator fixes two rows in a spreadsheet and feeds the file back as it is
        rows[0]["email"] = "bob@example.com"
        rows[1]["phone_number"] = "4155550102"
        with open(rej, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
        rej2 = os.path.join(d, "rejects2.csv")
        p = run_import(["--base-url", sb.url, "--state", state, "--rejects", rej2, rej])
        check(p.returncode == 1, "exit %d" % p.returncode)
        res = read_csv(os.path.join(d, "rejects.results.csv"))
        check([r["status"] for r in res] == ["created", "created", "invalid"], "statuses %r" % [r["status"] for r in res])
        check(res[1]["email"] == "'=sum@example.com", "guard dropped on input, added on output")
        users = phone_map(sb)
        check(users[("1", "4155550102")]["email"] == "=sum@example.com", "sent without the guard")
        left = read_csv(rej2)
        check(len(left) == 1 and left[0]["notes"] == "short phone", "one left %r" % left)


def case_009_max_failures_stops_run(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 300)
    cfg = write_config(d, FAST_RETRY)
    with Sandbox(["--fault-500", "0.5", "--seed", "5"]) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "--max-attempts", "1",
                        "--max-failures", "5", "--concurrency", "2", inp])
        check(p.returncode == 3, "exit %d: %s" % (p.returncode, p.stderr))
        check("--max-failures" in p.stderr, p.stderr)
        c = summary_counts(read_csv(os.path.join(d, "users.results.csv")))
        check(5 <= c.get("failed", 0) <= 7 and c.get("pending", 0) > 250, "counts %r" % c)


class Hook:
    """A webhook receiver on 127.0.0.1 (a thread of this process)."""
    def __init__(self, fail_first=0):
        import http.server
        import threading
        hook = self
        self.bodies, self.fail_first = [], fail_first

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.bodies.append((dict(self.headers), body))
                code = 503 if len(hook.bodies) <= hook.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def case_010_notify_webhook(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 5)
    hook = Hook(fail_first=1)
    try:
        with Sandbox() as sb:
            p = run_import(["--base-url", sb.url, "--no-state", "--notify-url", hook.url, inp])
            check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
            check(len(hook.bodies) == 2, "retried once after 503: %d posts" % len(hook.bodies))
            headers, body = hook.bodies[-1]
            js = json.loads(body)
            check(js["status"]["created"] == 5 and js["exit_code"] == 0, "summary posted %r" % js)
            check("Authorization" not in headers, "no credentials sent to the webhook")
            assert_no_secrets(body.decode())
            # a dead webhook is reported but never changes the exit code
            p = run_import(["--base-url", sb.url, "--no-state", "--notify-url", "http://127.0.0.1:9/x", inp])
            check(p.returncode == 0, "exit %d" % p.returncode)
            check("notification to 'http://127.0.0.1:9/x' failed" in p.stderr, p.stderr)
            p = run_import(["--base-url", sb.url, "--no-state", "--notify-url", "http://example.com/x", inp])
            check(p.returncode == 2 and "only allowed to loopback" in p.stderr, "https only: %s" % p.stderr)
    finally:
        hook.close()


def case_011_progress_line_in_a_terminal(d):
    if not shutil.which("tmux"):
        raise Fail("tmux is not installed")
    inp = os.path.join(d, "users.csv")
    write_users(inp, 400)
    with Sandbox(["--latency-ms", "30"]) as sb:
        sess = "dotsprog%d" % os.getpid()
        cmd = "DOTS_CLIENT_ID=%s DOTS_API_KEY=%s %s --base-url %s --no-state --no-verification --concurrency 4 %s; sleep 5" % (
            CLIENT_ID, API_KEY, os.path.join(BUILD, "dots-import"), sb.url, inp)
        subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "150", "-y", "10", cmd], check=True)
        try:
            seen = ""
            progress = re.compile(r"\d+/400 rows +\d+\.\d%  \d+ rows/s  ETA \d+:\d\d  \d+ in flight")
            for _ in range(40):
                time.sleep(0.25)
                seen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout
                # the first frames, before a row is done, show "ETA --:--"
                if progress.search(seen) or "results:" in seen:
                    break
            check(progress.search(seen), "progress line: %r" % seen)
            for _ in range(60):
                time.sleep(0.25)
                seen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout
                if "results:" in seen:
                    break
            check("400 rows: 400 created" in seen and "/400 rows" not in seen, "progress cleared before summary: %r" % seen)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
    # without a terminal: no progress noise at all
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", inp])
        check("rows/s" not in p.stderr and "\r" not in p.stderr, "no progress without a terminal")


def case_012_systemd_credentials_directory(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 3)
    cred = os.path.join(d, "creds")
    os.mkdir(cred)
    for name, val in (("dots-client-id", CLIENT_ID), ("dots-api-key", API_KEY)):
        with open(os.path.join(cred, name), "w") as f:
            f.write(val + "\n")
        os.chmod(os.path.join(cred, name), 0o400)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", inp], creds=False, env={"CREDENTIALS_DIRECTORY": cred})
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        keyf = os.path.join(d, "key")
        with open(keyf, "w") as f:
            f.write(API_KEY + "\n")
        os.chmod(keyf, 0o644)
        cfg = write_config(d, "api:\n  client_id: %s\n  api_key_file: %s\n" % (CLIENT_ID, keyf))
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "-o", os.path.join(d, "o2.csv"), inp], creds=False)
        check(p.returncode == 0, "api_key_file: exit %d: %s" % (p.returncode, p.stderr))
        check("readable by group or others" in p.stderr, "warning for a 0644 key file")
        assert_no_secrets(p.stderr, p.stdout)


def case_401_three_shards_cover_every_row_once(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 900, extra_rows=[["bad%d" % i, "1", "1", "A", "B"] for i in range(10)])
    with Sandbox() as sb:
        rows = []
        procs = []
        for k in range(3):
            procs.append(start_import(
                ["--base-url", sb.url, "--shard", "%d/3" % k, "--state", os.path.join(d, "s%d.db" % k),
                 "-o", os.path.join(d, "r%d.csv" % k), "--rate", "300", "-q", inp],
                stdout=None, stderr=None))
        codes = [p.wait(120) for p in procs]
        check(codes == [1, 1, 1], "exit codes %r" % codes)
        for k in range(3):
            part = read_csv(os.path.join(d, "r%d.csv" % k))
            check(150 < len(part) < 450, "shard %d has %d rows" % (k, len(part)))
            rows += part
        check(sorted(int(r["row"]) for r in rows) == list(range(1, 911)), "every row exactly once")
        c = summary_counts(rows)
        check(c == {"created": 900, "invalid": 10}, "counts %r" % c)
        assert_one_user_one_sms(sb, 900)
        check(sb.stats()["create_requests"] == 900, "no create twice")


# ---- 2xx: retries and hostile responses -------------------------------------

FAST_RETRY = "retry:\n  base_delay_ms: 20\n  max_delay_ms: 400\n"


def write_config(d, text):
    p = os.path.join(d, "config.yaml")
    with open(p, "w") as f:
        f.write(text)
    return p


def case_201_faults_every_row_created_once(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 2000)
    cfg = write_config(d, FAST_RETRY)
    # Each injected 429 pauses the whole run for its Retry-After: 1 s, the
    # least the sandbox sends (0 would make the pause vanish). So few 429s:
    # with this seed 5-10 of ~4450 requests, among all the other faults.
    faults = ["--fault-503", "0.08", "--fault-429", "0.0013", "--fault-500", "0.03",
              "--fault-reset", "0.02", "--after-effect", "0.5", "--seed", "42"]
    t0 = time.time()
    with Sandbox(faults) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--state", os.path.join(d, "s.db"),
                        "--max-attempts", "8", "--concurrency", "16", inp], timeout=600)
        rows = read_csv(os.path.join(d, "users.results.csv"))
        c = summary_counts(rows)
        check(c.get("created") == 2000, "all created: %r %s" % (c, p.stderr[-500:]))
        assert_results_match_sandbox(rows, sb)
        users = assert_one_user_one_sms(sb, 2000)
        st = sb.stats()
        check(st["faults"]["429"] > 0, "some 429s: %r" % st["faults"])
        check(st["requests_during_pause"] == 0, "requests during 429 pause: %d" % st["requests_during_pause"])
        in_doubt = sum(r["verification"] == "in_doubt" for r in rows)
        failed_codes = sum(r["verification"] == "failed" for r in rows)
        want = 0 if in_doubt == 0 and failed_codes == 0 else 1
        check(p.returncode == want, "exit %d, want %d" % (p.returncode, want))
        sent = sum(r["verification"] == "sent" for r in rows)
        check(sum(u["sms"] for u in users) >= sent, "every 'sent' is a real SMS")
        m = re.search(r"(\d+) requests, (\d+) retries, (\d+) x 429", p.stderr)
        print("     201: %s; %d in doubt, %d codes failed; %.0f s" % (m.group(0) if m else "?", in_doubt, failed_codes, time.time() - t0))


def hostile(d, sandbox_opts, want_error, extra=()):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 3)
    # 1.5 s: longer than the trickle's 1 s between bytes, so only the
    # request deadline (not an idle timeout) can stop it
    cfg = write_config(d, FAST_RETRY + "api:\n  request_timeout_ms: 1500\n")
    with Sandbox(sandbox_opts) as sb:
        t0 = time.time()
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "--max-attempts", "2"] +
                       list(extra) + [inp], timeout=60)
        check(time.time() - t0 < 30, "finished in bounded time")
        check(p.returncode in (1, 3), "exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(len(rows) == 3, "3 rows")
        check(all(r["status"] == "failed" for r in rows), "failed: %r" % [r["status"] for r in rows])
        check(all(re.search(want_error, r["error"]) for r in rows), "error %r" % rows[0]["error"])
        return rows


def case_202_oversized_body(d):
    hostile(d, ["--fault-oversize", "1"], r"response body larger than 1 MiB")


def case_203_malformed_json(d):
    hostile(d, ["--fault-malformed", "1"], r"HTTP 20\d: response is not JSON")


def case_204_created_without_id(d):
    hostile(d, ["--fault-noid", "1"], r"HTTP 201: response has no \"id\"")


def case_205_html_error_page(d):
    hostile(d, ["--fault-html", "1"], r"HTTP 502 after 2 attempts: .*Bad Gateway")


def case_206_trickling_server_times_out(d):
    hostile(d, ["--trickle"], r"timeout after 2 attempts")


def case_207_redirect_not_followed(d):
    hostile(d, ["--redirect", "http://127.0.0.2:9/api/v2/users"], r"HTTP 302: redirect not followed")


def case_208_hang_times_out(d):
    hostile(d, ["--fault-hang", "1", "--hang-ms", "20000"], r"timeout after 2 attempts")


def case_209_connection_refused(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 2)
    cfg = write_config(d, FAST_RETRY)
    p = run_import(["-c", cfg, "--base-url", "http://127.0.0.1:9/api", "--no-state", "--max-attempts", "2", inp])
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
    rows = read_csv(os.path.join(d, "users.results.csv"))
    check(all(r["status"] == "failed" and r["error"].startswith("cannot connect after 2 attempts") for r in rows),
          rows[0]["error"])


def case_210_circuit_breaker(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 300)
    cfg = write_config(d, "retry:\n  base_delay_ms: 1\n  max_delay_ms: 2\n")
    with Sandbox(["--fault-500", "1"]) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "--max-attempts", "3", inp])
        check(p.returncode == 3, "exit %d: %s" % (p.returncode, p.stderr))
        check("circuit breaker" in p.stderr, p.stderr)
        st = sb.stats()
        check(st["requests"] < 80, "stopped soon: %d requests" % st["requests"])
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(summary_counts(rows).get("pending", 0) > 250, "rest pending")


def case_211_rate_limit_accuracy(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 1500)
    with Sandbox() as sb:
        # timed from the first request the sandbox sees to the importer's
        # exit: how it paces, not how fast a busy machine starts it
        proc = start_import(["--base-url", sb.url, "--no-state", "--no-verification", "--rate", "200",
                             "--concurrency", "16", inp])
        while sb.stats()["requests"] == 0 and proc.poll() is None:
            time.sleep(0.002)
        t0 = time.time()
        proc.communicate(timeout=60)
        el = time.time() - t0
        check(proc.returncode == 0, "exit %d" % proc.returncode)
        n = sb.stats()["requests"] - 1  # intervals after the first
        check(n >= 1500, "%d requests" % (n + 1))
        rate = n / el
        print("     211: %d requests in %.2f s = %.1f/s (target 200)" % (n + 1, el, rate))
        check(abs(rate - 200) / 200 <= 0.05, "rate %.1f/s not within 5%% of 200" % rate)


def case_212_429_pauses_everything(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 300)
    cfg = write_config(d, FAST_RETRY)
    with Sandbox(["--fault-429", "0.02", "--seed", "7", "--retry-after-date"]) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "--no-verification",
                        "--concurrency", "8", "--max-attempts", "8", inp], timeout=120)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        st = sb.stats()
        check(st["faults"]["429"] > 0, "some 429s")
        check(st["requests_during_pause"] == 0, "requests during pause: %d" % st["requests_during_pause"])


def case_213_sends_never_duplicated_on_reset_after_effect(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 400)
    cfg = write_config(d, FAST_RETRY)
    with Sandbox(["--fault-reset", "0.2", "--after-effect", "1", "--seed", "3"]) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "--concurrency", "8",
                        "--max-attempts", "10", inp], timeout=120)
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(all(r["status"] == "created" for r in rows), "all created")
        users = assert_one_user_one_sms(sb, 400)
        in_doubt = sum(r["verification"] == "in_doubt" for r in rows)
        check(in_doubt > 0, "some sends in doubt")
        sent = sum(r["verification"] == "sent" for r in rows)
        check(sum(u["sms"] for u in users) == sent + in_doubt, "SMS = sent + in doubt (all resets after effect)")
        check(p.returncode == 1, "exit 1 with codes in doubt")


# ---- 3xx: ledger, resume, crashes --------------------------------------------

def case_301_nightly_growing_export(d):
    state = os.path.join(d, "s.db")
    a, b = os.path.join(d, "night1.csv"), os.path.join(d, "night2.csv")
    write_users(a, 1000)
    write_users(b, 1500)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, "--concurrency", "16", a])
        check(p.returncode == 0, "night 1 exit %d" % p.returncode)
        p = run_import(["--base-url", sb.url, "--state", state, "--concurrency", "16", b])
        check(p.returncode == 0, "night 2 exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "night2.results.csv"))
        c = summary_counts(rows)
        check(c == {"exists": 1000, "created": 500}, "counts %r" % c)
        st = sb.stats()
        check(st["create_requests"] == 1500 and st["sms"] == 1500, "creates/SMS %r" % st)
        assert_results_match_sandbox(rows, sb)
        before = sb.stats()
        p = run_import(["--base-url", sb.url, "--state", state, b])
        check(p.returncode == 0, "night 3 exit %d" % p.returncode)
        after = sb.stats()
        # only the credentials check every run makes (GET /v2/users?limit=1)
        check(after["requests"] == before["requests"] + 1 and
              after["list_requests"] == before["list_requests"] + 1, "night 3 sent nothing")
        check(summary_counts(read_csv(os.path.join(d, "night2.results.csv"))) == {"exists": 1500}, "all exists")


def rerun_completes(d, sb, state, inp, n):
    """After an interruption the same command finishes the job: every row
    created or exists, one user per phone, no user with two SMS."""
    p = run_import(["--base-url", sb.url, "--state", state, "--concurrency", "16", inp], timeout=300)
    rows = read_csv(os.path.join(d, "users.results.csv"))
    c = summary_counts(rows)
    check(set(c) <= {"created", "exists"} and sum(c.values()) == n, "rerun completes: %r" % c)
    users = assert_one_user_one_sms(sb, n)
    check(p.returncode in (0, 1), "rerun exit %d" % p.returncode)
    return rows, users


def case_302_sigterm_flushes_and_rerun_completes(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 1000)  # about 200 done when the signal comes
    with Sandbox(["--latency-ms", "20"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "8", inp])
        wait_requests(sb, 2, proc)
        time.sleep(1.0)
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 143, "exit %d: %s" % (proc.returncode, err))
        check(time.time() - t0 < 12, "stopped within 12 s")
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(len(rows) == 1000, "results flushed: %d rows" % len(rows))
        c = summary_counts(rows)
        check(c.get("pending", 0) > 0 and c.get("created", 0) > 0, "some created, rest pending: %r" % c)
        rerun_completes(d, sb, state, inp, 1000)


def case_309_second_signal_exits_at_once(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 16)
    # A second signal within 2 s of the first changes nothing (timeout(1)
    # and process-group kills deliver one twice); an operator who insists
    # later is obeyed. 6 s of latency keeps the first request in flight well
    # past the second signal, so only the signal can end the run in time.
    with Sandbox(["--latency-ms", "6000"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "8", inp])
        wait_requests(sb, 1, proc)
        proc.send_signal(signal.SIGINT)   # requests in flight may take 6 s ...
        time.sleep(2.3)
        t0 = time.time()
        proc.send_signal(signal.SIGINT)   # ... unless the operator insists
        proc.communicate(timeout=30)
        check(proc.returncode == 130, "exit %d" % proc.returncode)
        check(time.time() - t0 < 2, "second signal exits at once")
        st = subprocess.run(["sqlite3", state, "PRAGMA integrity_check"], capture_output=True, text=True)
        check(st.stdout.strip() == "ok", "ledger integrity: %r %r" % (st.stdout, st.stderr))
        # the ledger is consistent and usable: a rerun finishes the job
        rerun_completes(d, sb, state, inp, 16)


def case_303_crash_loop_sigkill(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 3000)
    rnd = random.Random(1234)
    with Sandbox(["--latency-ms", "5", "--jitter-ms", "10"]) as sb:
        for i in range(10):
            proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "16", "-q", inp],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.05, 0.6))
            proc.kill()
            proc.wait()
        rows, users = rerun_completes(d, sb, state, inp, 3000)
        in_doubt = sum(r["verification"] == "in_doubt" for r in rows)
        total_sms = sum(u["sms"] for u in users)
        by_phone = {(u["country_code"], u["phone_number"]): u for u in users}
        for r in rows:
            sms = by_phone[(r["country_code"], r["phone_number"])]["sms"]
            if r["verification"] == "sent":
                check(sms == 1, "row %s sent but %d SMS" % (r["row"], sms))
            else:
                check(r["verification"] == "in_doubt" and sms <= 1, "row %s: %s, %d SMS" % (r["row"], r["verification"], sms))
        # a kill -9 between a send leaving and its answer leaves it in doubt
        # although the SMS went out: so SMS >= users - in doubt, not equal
        check(3000 - in_doubt <= total_sms <= 3000, "SMS %d, users 3000, in doubt %d" % (total_sms, in_doubt))
        print("     303: %d in doubt after 10 SIGKILLs; %d SMS" % (in_doubt, total_sms))


def case_304_second_run_on_same_ledger_refused(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 400)
    with Sandbox(["--latency-ms", "20"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "2", inp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_requests(sb, 2, proc)  # past the first request: the ledger is open
        time.sleep(0.5)
        t0 = time.time()
        p = run_import(["--base-url", sb.url, "--state", state, "-o", os.path.join(d, "b.csv"), inp])
        check(p.returncode == 2, "second run exit %d" % p.returncode)
        check("in use by another dots-import process" in p.stderr, p.stderr)
        check(time.time() - t0 < 5, "refused at once")
        proc.terminate()
        proc.wait()


def case_305_corrupt_ledger_untouched(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 5)
    junk = b"this is not a database\n" * 100
    with open(state, "wb") as f:
        f.write(junk)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 2, "exit %d" % p.returncode)
        check("not a dots-import ledger or is corrupt" in p.stderr, p.stderr)
        check(sb.stats()["requests"] == 0, "nothing sent")
    with open(state, "rb") as f:
        check(f.read() == junk, "file left as it was")


def case_306_ledger_of_another_base_url(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 5)
    with Sandbox() as sb1, Sandbox() as sb2:
        p = run_import(["--base-url", sb1.url, "--state", state, inp])
        check(p.returncode == 0, "first exit %d" % p.returncode)
        p = run_import(["--base-url", sb2.url, "--state", state, inp])
        check(p.returncode == 2, "exit %d" % p.returncode)
        check("belongs to base URL" in p.stderr, p.stderr)
        check(sb2.stats()["requests"] == 0, "nothing sent")
        p = run_import(["--base-url", sb1.url, "--state", state, inp], env={"DOTS_CLIENT_ID": "other"})
        check(p.returncode == 2 and "another client id" in p.stderr, p.stderr)


def case_307_unwritable_results_path(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 5)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "-o", "/nonexistent-dir/x.csv", inp])
        check(p.returncode == 2, "exit %d" % p.returncode)
        check("cannot create '/nonexistent-dir/x.csv'" in p.stderr, p.stderr)
        check(sb.stats()["requests"] == 0, "nothing sent")


def case_308_send_verification_later(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 200)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, "--no-verification", inp])
        check(p.returncode == 0, "import exit %d" % p.returncode)
        check(sb.stats()["sms"] == 0, "no SMS yet")
        out = os.path.join(d, "sent.csv")
        p = run_import(["send-verification", "--base-url", sb.url, "--state", state, "-o", out])
        check(p.returncode == 0, "send exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(out)
        check(len(rows) == 200 and all(r["verification"] == "sent" for r in rows), "200 sent")
        p = run_import(["send-verification", "--base-url", sb.url, "--state", state, "-o", out])
        check(p.returncode == 0 and len(read_csv(out)) == 0, "second send-verification sends nothing")
        users = assert_one_user_one_sms(sb, 200)
        check(all(u["sms"] == 1 for u in users), "every user exactly one SMS")
        # verify: one good code, one bad, one malformed id
        u = users[0]
        code = sb.get("/_sandbox/users/" + u["id"])["last_code"]
        tok = os.path.join(d, "tokens.csv")
        with open(tok, "w") as f:
            f.write("user_id,token\n%s,%s\n%s,000000\nnot/an/id,123\n" % (u["id"], code, users[1]["id"]))
        p = run_import(["verify", "--base-url", sb.url, tok])
        check(p.returncode == 1, "verify exit %d: %s" % (p.returncode, p.stderr))
        res = read_csv(os.path.join(d, "tokens.verify.csv"))
        check([r["status"] for r in res] == ["verified", "failed", "invalid"], "statuses %r" % res)
        check(res[1]["error"].startswith("HTTP 4"), res[1]["error"])
        check(sb.get("/_sandbox/users/" + u["id"])["status"] == "verified", "user verified")


def data_case(d, case_dir):
    def opt(name, default=None):
        p = os.path.join(case_dir, name)
        if not os.path.exists(p):
            return default
        with open(p, encoding="utf-8") as f:
            return f.read()

    for fn in os.listdir(case_dir):
        shutil.copy(os.path.join(case_dir, fn), d)
    sb_opts = (opt("sandbox", "") or "").split()
    with Sandbox(sb_opts) as sb:
        subst = {"{url}": sb.url, "{dir}": d, "{input}": os.path.join(d, "input.csv"),
                 "{out}": os.path.join(d, "out.csv"), "{state}": os.path.join(d, "state.db")}
        args = []
        for line in (opt("args", "{input}\n")).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            for k, v in subst.items():
                line = line.replace(k, v)
            args.append(line)
        env = {}
        for line in (opt("env", "") or "").splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip().replace("{url}", sb.url)
        p = run_import(args, env=env, cwd=d)
        want_exit = int((opt("expected_exit", "0")).strip())
        check(p.returncode == want_exit, "exit %d, want %d: %s" % (p.returncode, want_exit, p.stderr[-2000:]))
        for line in (opt("stderr", "") or "").splitlines():
            if line.strip():
                check(line.strip() in p.stderr, "stderr lacks %r: %s" % (line.strip(), p.stderr[-2000:]))
        exp = opt("expected.csv")
        if exp is not None:
            out = os.path.join(d, "out.csv")
            check(os.path.exists(out), "no results file")
            got = read_csv(out)
            want = list(csv.DictReader(io.StringIO(exp)))
            check(len(got) == len(want), "%d result rows, want %d" % (len(got), len(want)))
            for g, w in zip(got, want):
                for k, v in w.items():
                    check(g.get(k) == v, "row %s column %s: %r, want %r" % (w.get("row"), k, g.get(k), v))
        stats = opt("stats.json")
        if stats:
            st = sb.stats()
            for k, v in json.loads(stats).items():
                check(st.get(k) == v, "sandbox %s = %r, want %r" % (k, st.get(k), v))
        assert_no_secrets(p.stdout, p.stderr)


# More scripted cases live beside this file in cases_*.py, run in this
# module's namespace so they share its helpers.
for _extra in sorted(os.listdir(HERE)):
    if _extra.startswith("cases_") and _extra.endswith(".py"):
        with open(os.path.join(HERE, _extra)) as _f:
            exec(compile(_f.read(), os.path.join(HERE, _extra), "exec"), globals())


# Cases that measure time or a terminal run alone, before the parallel batch:
# a loaded machine would bend what they measure.
#   011: the progress line is read off a tmux pane on a clock;
#   211: --rate accuracy within 5 % of wall time;
#   230: compares two runs' 429 counts, which a loaded machine bends;
#   233: two shards must each meet the shared limit (a slow machine may not);
#   662, 663: progress lines read off tmux panes.
SERIAL = {"011", "211", "230", "233", "662", "663"}

# Rough seconds per case (a 2-core machine, -O2 build) for the ones that
# take more than a second: they start first so the pool ends together.
COST = {"309": 21, "319": 8, "316": 8, "201": 7, "303": 6, "208": 6, "206": 6,
        "317": 5, "310": 4, "212": 4, "320": 4, "311": 4, "302": 4, "321": 3,
        "401": 3, "507": 2, "610": 2, "503": 2, "611": 1, "612": 1, "010": 1,
        "322": 1, "617": 18, "600": 2, "616": 2}


def all_cases():
    cases = []
    for name, fn in sorted(globals().items()):
        if name.startswith("case_"):
            cases.append((name[5:], fn, None))
    cdir = os.path.join(HERE, "cases")
    for name in sorted(os.listdir(cdir)):
        cases.append((name.replace("-", "_"), None, os.path.join(cdir, name)))
    cases.sort(key=lambda c: c[0])
    return cases


def run_one(name, fn, path):
    """Runs one case here, prints its line, returns True when it passed."""
    d = tempfile.mkdtemp(prefix="dots-e2e-")
    t0 = time.time()
    try:
        if fn:
            fn(d)
        else:
            data_case(d, path)
        print("ok   %s (%.1f s)" % (name, time.time() - t0))
        shutil.rmtree(d, ignore_errors=True)
        ok = True
    except Exception as e:  # noqa: BLE001 - any failure fails the case
        msg = str(e) if isinstance(e, Fail) else traceback.format_exc()
        print("FAIL %s (%.1f s): %s [files in %s]" % (name, time.time() - t0, msg, d))
        ok = False
    sys.stdout.flush()
    return ok


def default_jobs(valgrind):
    """Most cases wait on sandbox latency and sleeps, not on the CPU: three
    workers per CPU, at least 4. Sanitizer builds are several times slower
    per request, so fewer; valgrind runs one case at a time."""
    if valgrind:
        return 1
    n = max(4, 3 * (os.cpu_count() or 1))
    try:
        with open(os.path.join(BUILD, "dots-import"), "rb") as f:
            if b"__asan_init" in f.read():
                n = max(3, os.cpu_count() or 1)
    except OSError:
        pass
    return n


class Worker:
    """One case in its own python process (and process group): its own
    temp dir, sandboxes and output; killed whole on timeout."""

    def __init__(self, name, argv, timeout):
        self.name, self.timeout = name, timeout
        self.t0 = time.time()
        self.out = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv + ["--case", name], stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, text=True)

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()

    def poll(self):
        """None while running, else (passed, text)."""
        rc = self.proc.poll()
        el = time.time() - self.t0
        if rc is None and el < self.timeout:
            return None
        if rc is None:
            self.kill()  # the case and its sandboxes, before reaping
            rc = "timeout"
        self.out.seek(0)
        text = self.out.read()
        self.out.close()
        if not text.endswith("\n") and text:
            text += "\n"
        if rc == 0 and re.search(r"^ok   %s " % re.escape(self.name), text, re.M):
            return True, text
        if not re.search(r"^FAIL %s " % re.escape(self.name), text, re.M):
            why = "timed out after %d s" % self.timeout if rc == "timeout" else "worker exited %s" % rc
            text += "FAIL %s (%.1f s): %s\n" % (self.name, el, why)
        return False, text


def run_pool(names, argv, jobs, timeout, emit):
    """Runs names, at most jobs at a time, costliest first; emit(name,
    passed, text) as each finishes."""
    todo = sorted(names, key=lambda n: -COST.get(n[:3], 0))
    running = []
    try:
        while todo or running:
            while todo and len(running) < jobs:
                running.append(Worker(todo.pop(0), argv, timeout))
            time.sleep(0.05)
            for w in list(running):
                r = w.poll()
                if r is not None:
                    running.remove(w)
                    emit(w.name, r[0], r[1])
    finally:
        for w in running:
            w.kill()


def main():
    global BUILD, WRAP
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="")
    ap.add_argument("--valgrind", action="store_true")
    ap.add_argument("--jobs", "-j", type=int, default=0,
                    help="cases at a time (default: 3 per CPU, at least 4; fewer under ASan, 1 under --valgrind)")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per case")
    ap.add_argument("--serial", help="comma-separated case numbers to run alone "
                    "(default %s; empty: none)" % ",".join(sorted(SERIAL)))
    ap.add_argument("--case", help=argparse.SUPPRESS)  # a worker: run this one case
    a = ap.parse_args()
    BUILD = os.path.abspath(a.build)
    if a.valgrind:
        WRAP = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect"]
    cases = all_cases()
    if a.case:
        for name, fn, path in cases:
            if name == a.case:
                return 0 if run_one(name, fn, path) else 1
        print("FAIL %s (0.0 s): no such case" % a.case)
        return 1
    names = [c[0] for c in cases if not a.only or re.search(a.only, c[0])]
    jobs = a.jobs or default_jobs(a.valgrind)
    argv = [sys.executable, os.path.abspath(__file__), "--build", BUILD]
    if a.valgrind:
        argv.append("--valgrind")
    # Output in case order, each case's lines together, as soon as every
    # case before it has finished.
    done, order, shown = {}, list(names), [0]
    count = {True: 0, False: 0}

    def emit(name, passed, text):
        done[name] = text
        count[passed] += 1
        while shown[0] < len(order) and order[shown[0]] in done:
            sys.stdout.write(done.pop(order[shown[0]]))
            shown[0] += 1
        sys.stdout.flush()

    serial = SERIAL if a.serial is None else set(a.serial.split(","))
    par = [n for n in names if n[:3] not in serial]
    ser = [n for n in names if n[:3] in serial]
    t0 = time.time()
    for n in ser:
        run_pool([n], argv, 1, a.timeout, emit)
    run_pool(par, argv, jobs, a.timeout, emit)
    print("     %d cases in %.1f s: %d alone, then %d at a time" % (len(names), time.time() - t0, len(ser), jobs))
    print("e2e: %d passed, %d failed" % (count[True], count[False]))
    return 1 if count[False] else 0


if __name__ == "__main__":
    sys.exit(main())
