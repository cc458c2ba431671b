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
    inp = os.path.join(d, "users.csv")
    write_users(inp, 10, extra_rows=[["bad", "1", "1", "A", "B"]])
    cfg = os.path.join(d, "bad.yaml")
    with open(cfg, "w") as f:
        f.write("api:\n  client_id: 42\n  bogus: 1\n")
    with Sandbox() as sb:
        outs = []
        for args in (["-v", "-v", "--base-url", sb.url, "--state", os.path.join(d, "s.db"), inp],
                     ["-v", "-c", cfg, "--base-url", sb.url, inp],
                     ["-v", "--base-url", sb.url.replace("/api", "/nope"), "--no-state", inp]):
            p = run_import(args)
            outs += [p.stdout, p.stderr]
        for fn in os.listdir(d):
            with open(os.path.join(d, fn), "rb") as f:
                outs.append(f.read().decode("latin-1"))
        assert_no_secrets(*outs)


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


def main():
    global BUILD, WRAP
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="")
    ap.add_argument("--valgrind", action="store_true")
    a = ap.parse_args()
    BUILD = os.path.abspath(a.build)
    if a.valgrind:
        WRAP = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect"]
    cases = []
    for name, fn in sorted(globals().items()):
        if name.startswith("case_"):
            cases.append((name[5:], fn, None))
    cdir = os.path.join(HERE, "cases")
    for name in sorted(os.listdir(cdir)):
        cases.append((name.replace("-", "_"), None, os.path.join(cdir, name)))
    cases.sort(key=lambda c: c[0])
    passed = failed = 0
    for name, fn, path in cases:
        if a.only and not re.search(a.only, name):
            continue
        d = tempfile.mkdtemp(prefix="dots-e2e-")
        t0 = time.time()
        try:
            if fn:
                fn(d)
            else:
                data_case(d, path)
            passed += 1
            print("ok   %s (%.1f s)" % (name, time.time() - t0))
            shutil.rmtree(d, ignore_errors=True)
        except Exception as e:  # noqa: BLE001 - any failure fails the case
            failed += 1
            msg = str(e) if isinstance(e, Fail) else traceback.format_exc()
            print("FAIL %s (%.1f s): %s [files in %s]" % (name, time.time() - t0, msg, d))
        sys.stdout.flush()
    print("e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
