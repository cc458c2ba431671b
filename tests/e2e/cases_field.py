# cases_field.py - scripted e2e cases for promises kept in the field, not
# only against the sandbox's own faults: a file that changes during a run, a
# lost or half-deleted ledger, users verified elsewhere, sends that never
# left, codes in doubt from earlier runs, echoed secrets, proxies, doubled
# signals, full disks, colliding paths, stale temporary files, wrong base
# URLs and certificates, a wrong key on a quiet night.
# Exec'd in run.py's namespace; talks only to 127.0.0.1.
import resource
import socket
import threading


def _results(d, name="users.results.csv"):
    return read_csv(os.path.join(d, name))


def _sql(state, q):
    p = subprocess.run(["sqlite3", state, q], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "sqlite3: %s" % p.stderr)
    return p.stdout.strip()


def _sms_by_phone(sb):
    return {(u["country_code"], u["phone_number"]): u["sms"] for u in sb.users()}


def _no_two_sms(sb):
    for u in sb.users():
        check(u["sms"] <= 1, "user %s got %d SMS" % (u["phone_number"], u["sms"]))


# ---- 1. the input changes during a run --------------------------------------

def case_310_rows_appended_during_run_are_not_sent(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 800)  # about 200 done when rows are appended
    with Sandbox(["--latency-ms", "20"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "8", inp])
        wait_requests(sb, 2, proc)
        time.sleep(1.0)
        with open(inp, "a", newline="") as f:  # same phones, new emails
            w = csv.writer(f)
            for i in range(100):
                w.writerow(["changed%d@example.com" % i, "1", "415%07d" % i, "F", "L"])
        out, err = proc.communicate(timeout=120)
        check(proc.returncode == 0, "exit %d: %s" % (proc.returncode, err))
        rows = _results(d)
        check(len(rows) == 800, "the rows validated, no more: %d" % len(rows))
        check("appended to the input during the run" in err, err)
        _no_two_sms(sb)
        check(sb.stats()["creates"] == 800, "creates %r" % sb.stats()["creates"])


def case_311_validated_bytes_changed_stops_run(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 3000)
    with Sandbox(["--latency-ms", "20"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "16", inp])
        wait_requests(sb, 2, proc)
        time.sleep(1.0)
        # a row in the second 64 KiB block (rows ~1250-2500) changes in
        # place: at most ~400 rows are done by now, and the run stops when
        # it reads that block, before sending any of its rows
        with open(inp, "r+b") as f:
            data = f.read()
            at = data.rindex(b"user1900@")
            check(65536 < at < 2 * 65536, "row 1900 at byte %d" % at)
            f.seek(at)
            f.write(b"evil1900@")
        out, err = proc.communicate(timeout=120)
        check(proc.returncode == 3, "exit %d: %s" % (proc.returncode, err))
        check("changed while it was being imported" in err, err)
        _no_two_sms(sb)
        check(not any(u["email"].startswith("evil") for u in sb.users()), "changed row sent")


# ---- 2. a ledger's WAL without its main file ---------------------------------

def case_312_ledger_leftovers_without_ledger_refused(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "w.db")
    write_users(inp, 20)
    with Sandbox() as sb:
        for suffix in ("-wal", "-shm", "-journal"):
            with open(state + suffix, "wb") as f:
                f.write(b"left by a crash " * 64)
            p = run_import(["--base-url", sb.url, "--state", state, inp])
            check(p.returncode == 2, "%s: exit %d: %s" % (suffix, p.returncode, p.stderr))
            check(suffix in p.stderr, p.stderr)
            with open(state + suffix, "rb") as f:
                check(f.read() == b"left by a crash " * 64, "%s touched" % suffix)
            check(not os.path.exists(state), "a new ledger was made beside %s" % suffix)
            os.unlink(state + suffix)
        open(state, "wb").close()  # an empty ledger file
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 2 and "empty" in p.stderr, "empty: %d %s" % (p.returncode, p.stderr))
        check(os.path.getsize(state) == 0, "empty ledger touched")
        check(sb.stats()["creates"] == 0, "nothing sent")


# ---- 3. a lost ledger ---------------------------------------------------------

def case_313_verified_users_never_get_a_code(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 40)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "a.db"), inp])
        check(p.returncode == 0, p.stderr)
        urllib.request.urlopen(urllib.request.Request(
            sb.root + "/_sandbox/verify-users", data=b'{"all": true}', method="POST"), timeout=30).read()
        # the ledger is lost: a new one, the same users
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "b.db"), inp])
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        rows = _results(d)
        check(all(r["verification"] == "verified" for r in rows), "verification %r" % rows[0])
        check("40 users already verified" in p.stderr, p.stderr)
        _no_two_sms(sb)
        # and a third run on that ledger keeps them verified
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "b.db"), inp])
        rows = _results(d)
        check(all(r["status"] == "exists" and r["verification"] == "verified" for r in rows), "%r" % rows[0])


def case_314_restore_ledger_from_results(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 300)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, p.stderr)
        shutil.copy(os.path.join(d, "users.results.csv"), os.path.join(d, "night1.csv"))
        p = run_import(["restore-ledger", "--base-url", sb.url, "--state", state,
                        os.path.join(d, "night1.csv")])
        check(p.returncode == 2 and "refusing to overwrite" in p.stderr, "existing: %s" % p.stderr)
        for f in os.listdir(d):
            if f.startswith("s.db"):
                os.unlink(os.path.join(d, f))
        p = run_import(["restore-ledger", "--base-url", sb.url, "--state", state,
                        os.path.join(d, "night1.csv")])
        check(p.returncode == 0, "restore exit %d: %s" % (p.returncode, p.stderr))
        check("restored 300 users" in p.stderr, p.stderr)
        before = sb.stats()
        write_users(inp, 310)  # tonight: 10 new rows
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, "rerun exit %d: %s" % (p.returncode, p.stderr))
        c = summary_counts(_results(d))
        check(c == {"exists": 300, "created": 10}, "%r" % c)
        after = sb.stats()
        check(after["creates"] - before["creates"] == 10, "only new rows created")
        check(after["sms"] - before["sms"] == 10, "only new users texted")
        _no_two_sms(sb)
        assert_no_secrets(p.stdout, p.stderr)


# ---- 4. sends that never left are not in doubt ---------------------------------

def case_316_sigterm_with_503_sends_rerun_sends_them(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 600)
    cfg = write_config(d, FAST_RETRY)  # half the requests retried: short backoffs
    with Sandbox(["--latency-ms", "20", "--fault-503", "0.5", "--seed", "7"]) as sb:
        proc = start_import(["-c", cfg, "--base-url", sb.url, "--state", state, "--concurrency", "8",
                             "--max-attempts", "30", inp])
        wait_requests(sb, 2, proc)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        check(proc.returncode == 143, "exit %d: %s" % (proc.returncode, err))
        first = {r["row"]: r for r in _results(d)}
        cut = [k for k, r in first.items() if r["error"].startswith("verification: not sent")]
        check(cut, "some sends cut short by the stop")
        p = run_import(["-c", cfg, "--base-url", sb.url, "--state", state, "--concurrency", "8",
                        "--max-attempts", "30", inp], timeout=300)
        rows = {r["row"]: r for r in _results(d)}
        sms = _sms_by_phone(sb)
        for k in cut:
            r = rows[k]
            check(r["verification"] == "sent", "row %s cut short, then %r" % (k, r["verification"]))
            check(sms[(r["country_code"], r["phone_number"])] == 1, "row %s: SMS" % k)
        _no_two_sms(sb)


def case_317_send_verification_commits_as_it_goes(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 1500)
    with Sandbox(["--latency-ms", "10"]) as sb:
        p = run_import(["--base-url", sb.url, "--state", state, "--no-verification", inp])
        check(p.returncode == 0, p.stderr)
        n = sb.stats()["requests"]
        proc = start_import(["send-verification", "--base-url", sb.url, "--state", state,
                             "--concurrency", "4", "-o", os.path.join(d, "sv.csv")])
        wait_requests(sb, n + 2, proc)
        time.sleep(1.5)
        proc.kill()
        proc.wait()
        sent = sum(1 for u in sb.users() if u["sms"])
        intents = int(_sql(state, "SELECT count(*) FROM users WHERE verif IN (1, 4)"))
        recorded = int(_sql(state, "SELECT count(*) FROM users WHERE verif = 2"))
        check(sent > 100, "sent %d in 1.5 s" % sent)
        # outcomes are committed as they come, not once per batch of 512
        check(intents <= 64, "%d intents left after kill -9 (%d sent, %d recorded)" % (intents, sent, recorded))
        p = run_import(["send-verification", "--base-url", sb.url, "--state", state,
                        "-o", os.path.join(d, "sv.csv")])
        _no_two_sms(sb)


# ---- 5. codes in doubt from earlier runs -----------------------------------------

def case_318_in_doubt_from_earlier_runs_counted_until_settled(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    sj = os.path.join(d, "summary.json")
    metrics = os.path.join(d, "m.prom")
    write_users(inp, 30)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, p.stderr)
        _sql(state, "UPDATE users SET verif = 4 WHERE rowid <= 5")  # as a crash leaves them
        p = run_import(["--base-url", sb.url, "--state", state, "--summary-json", sj,
                        "--metrics-file", metrics, inp])
        check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
        check("5 in doubt (5 from earlier runs)" in p.stderr, p.stderr)
        s = json.load(open(sj))
        check(s["codes"]["in_doubt"] == 5 and s["codes"]["in_doubt_from_earlier_runs"] == 5, "%r" % s["codes"])
        m = open(metrics).read()
        check('dots_import_codes_in_doubt_from_earlier_runs{command="import"} 5' in m, m)
        rows = _results(d)
        check(sum(r["verification"] == "in_doubt" for r in rows) == 5, "results")
        before = sb.stats()["sms"]
        p = run_import(["--base-url", sb.url, "--state", state, "--settle-in-doubt", inp])
        check(p.returncode == 0, "settle exit %d: %s" % (p.returncode, p.stderr))
        check(sb.stats()["sms"] == before, "settling sends nothing")
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0 and "0 in doubt" in p.stderr, "after settling: %d %s" % (p.returncode, p.stderr))
        p = run_import(["--base-url", sb.url, "--state", state, "--settle-in-doubt",
                        "--resend-in-doubt", inp])
        check(p.returncode == 2, "both options: %d" % p.returncode)
        # send-verification counts them too
        _sql(state, "UPDATE users SET verif = 4 WHERE rowid <= 2")
        p = run_import(["send-verification", "--base-url", sb.url, "--state", state,
                        "-o", os.path.join(d, "sv.csv")])
        check(p.returncode == 1 and "2 in doubt" in p.stderr, "send-verification: %d %s" % (p.returncode, p.stderr))


# ---- 8. signals as timeout(1) and process groups send them ------------------------

def case_319_two_sigterms_at_once_still_write_everything(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 800)  # under 100 done at the signals, ~40 more under timeout 2
    with Sandbox(["--latency-ms", "50"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "8", inp])
        wait_requests(sb, 2, proc)
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 143, "exit %d: %s" % (proc.returncode, err))
        check(len(_results(d)) == 800, "results written")
        check("rows:" in err, "summary printed: %s" % err)
        check(not [f for f in os.listdir(d) if ".tmp." in f], "temp files left: %r" % os.listdir(d))
        # GNU timeout, the way cron jobs are bounded
        os.unlink(os.path.join(d, "users.results.csv"))
        p = subprocess.run(["timeout", "2", os.path.join(BUILD, "dots-import"), "--base-url", sb.url,
                            "--state", state, "--concurrency", "2", inp],
                           env=dict(os.environ, DOTS_CLIENT_ID=CLIENT_ID, DOTS_API_KEY=API_KEY),
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 124, "timeout exit %d: %s" % (p.returncode, p.stderr))
        check(len(_results(d)) == 800, "results written under timeout")
        check(not [f for f in os.listdir(d) if ".tmp." in f], "temp files left")
        rerun_completes(d, sb, state, inp, 800)


def case_320_late_second_signal_abandons_in_flight_but_writes(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 16)
    with Sandbox(["--latency-ms", "8000"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", state, "--concurrency", "8", inp])
        wait_requests(sb, 1, proc)  # the first request is in flight for 8 s
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(2.5)
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        check(proc.returncode == 143, "exit %d: %s" % (proc.returncode, err))
        check(time.time() - t0 < 3, "in-flight requests abandoned")
        check(len(_results(d)) == 16, "results still written")
        check(_sql(state, "PRAGMA integrity_check") == "ok", "ledger")


# ---- 9. a local write fails mid-run -------------------------------------------------

def _fsize_limit(n):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return pre


def case_321_disk_full_mid_run_exits_4_and_rerun_completes(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 3000)
    with Sandbox(["--latency-ms", "2"]) as sb:
        env = dict(os.environ, DOTS_CLIENT_ID=CLIENT_ID, DOTS_API_KEY=API_KEY)
        p = subprocess.run([os.path.join(BUILD, "dots-import"), "--base-url", sb.url, "--state", state,
                            "--concurrency", "8", inp], env=env, capture_output=True, text=True,
                           timeout=120, preexec_fn=_fsize_limit(150000))
        check(p.returncode == 4, "exit %d: %s" % (p.returncode, p.stderr))
        check("rerun to complete" in p.stderr, p.stderr)
        check(re.search(r"(File too large|No space|disk I/O error)", p.stderr) and
              ("s.db" in p.stderr or "results" in p.stderr), "names the file and error: %s" % p.stderr)
        check(sb.stats()["creates"] > 0, "requests were sent")
        check(not [f for f in os.listdir(d) if ".tmp." in f], "temp files left")
        rerun_completes(d, sb, state, inp, 3000)
        # a log file that cannot be written before anything is sent: exit 2
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "t.db"),
                        "--log-file", "/dev/full", "-o", os.path.join(d, "t.csv"), inp])
        check(p.returncode == 2 and "/dev/full" in p.stderr, "log: %d %s" % (p.returncode, p.stderr))


# ---- 10, 11, 12. local checks before the first request -------------------------------

def case_322_local_problems_found_before_any_request(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 10)
    with Sandbox() as sb:
        def refused(args, text):
            p = run_import(["--base-url", sb.url] + args)
            check(p.returncode == 2, "%r: exit %d: %s" % (args, p.returncode, p.stderr))
            check(text in p.stderr, "%r: %s" % (args, p.stderr))
        refused(["--state", os.path.join(d, "a.db"), "--ca-cert", os.path.join(d, "none.pem"), inp], "none.pem")
        with open(os.path.join(d, "bad.pem"), "w") as f:
            f.write("not a certificate\n")
        refused(["--state", os.path.join(d, "a.db"), "--ca-cert", os.path.join(d, "bad.pem"), inp], "PEM")
        refused(["--state", os.path.join(d, "a.db"), "-o", os.path.join(d, "no", "dir.csv"), inp], "dir.csv")
        refused(["--state", os.path.join(d, "a.db"), "--summary-json", os.path.join(d, "no", "s.json"), inp], "s.json")
        # paths that collide
        refused(["--state", os.path.join(d, "a.db"), "-o", inp, inp], "same file")
        refused(["--state", os.path.join(d, "n.db"), "-o", os.path.join(d, "n.db"), inp], "same file")
        refused(["--state", os.path.join(d, "n.db"), "--log-file", os.path.join(d, "n.db-wal"), inp], "same file")
        refused(["--state", os.path.join(d, "a.db"), "--rejects", inp, inp], "same file")
        os.symlink(inp, os.path.join(d, "link.csv"))
        refused(["--state", os.path.join(d, "a.db"), "-o", os.path.join(d, "link.csv"), inp], "same file")
        refused(["--state", os.path.join(d, "a.db"), "--metrics-file", os.path.join(d, "x.csv"),
                 "--summary-json", os.path.join(d, "x.csv"), inp], "same file")
        check(sb.stats()["requests"] == 0, "no request: %r" % sb.stats()["requests"])
        with open(inp) as f:
            check(f.read().startswith("email,"), "input intact")
        # a symlinked ledger works across runs
        real = os.path.join(d, "real")
        os.mkdir(real)
        os.symlink(os.path.join(real, "l.db"), os.path.join(d, "l.db"))
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "l.db"), inp])
        check(p.returncode == 0, "symlinked ledger: %s" % p.stderr)
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "l.db"), inp])
        check(summary_counts(_results(d)) == {"exists": 10}, "rerun through the link")


def case_323_stale_temp_files_of_our_outputs_removed(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 5)
    ours = ["users.results.csv.tmp.AB12cd", "rej.csv.tmp.x1Y2z3", "s.json.tmp.000000"]
    theirs = ["users.results.csv.tmp.keepme1", "other.csv.tmp.ABCDEF", "users.csv.tmp.QWERTY"]
    for f in ours + theirs:
        with open(os.path.join(d, f), "w") as fh:
            fh.write("email,phone\nsomeone@example.com,4155550100\n")
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "s.db"), "--rejects",
                        os.path.join(d, "rej.csv"), "--summary-json", os.path.join(d, "s.json"), inp])
        check(p.returncode == 0, p.stderr)
    left = set(os.listdir(d))
    for f in ours:
        check(f not in left, "stale %s not removed" % f)
    for f in theirs:
        check(f in left, "%s is not ours, yet removed" % f)


# ---- 6, 7. secrets: echoed by the server, proxies ------------------------------------

SPECIAL_KEY = "k3y/with+sp=cial&chars%2F"


def case_504_secrets_echoed_by_the_server_are_scrubbed(d):
    import base64
    import urllib.parse
    inp = os.path.join(d, "users.csv")
    write_users(inp, 60)
    cid = "client/id+7"
    token = base64.b64encode(("%s:%s" % (cid, SPECIAL_KEY)).encode()).decode()
    secrets = [SPECIAL_KEY, cid, token, urllib.parse.quote(SPECIAL_KEY, safe=""),
               urllib.parse.quote(SPECIAL_KEY, safe="").lower(), urllib.parse.quote(cid, safe="")]
    for raw in ([], ["--echo-raw"]):
        args = [os.path.join(BUILD, "dots-sandbox"), "--port", "0", "--client-id", cid,
                "--api-key", SPECIAL_KEY, "--fault-echo", "0.5", "--seed", "3"] + raw
        sbp = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = re.match(r"listening on (\S+)", sbp.stdout.readline()).group(1)
            env = {"DOTS_CLIENT_ID": cid, "DOTS_API_KEY": SPECIAL_KEY}
            out = os.path.join(d, "r%d.csv" % len(raw))
            files = [out, os.path.join(d, "rej.csv"), os.path.join(d, "log.txt"), os.path.join(d, "s.json")]
            p = run_import(["--base-url", url, "--no-state", "-o", out, "--rejects", files[1],
                            "--log-file", files[2], "--summary-json", files[3], "-v", "-v", inp],
                           env=env, creds=False)
            check(p.returncode in (1, 2), "exit %d: %s" % (p.returncode, p.stderr))
            texts = [p.stdout, p.stderr] + [open(f).read() for f in files if os.path.exists(f)]
            if p.returncode == 1:
                rows = read_csv(out)
                check(any(r["error"].startswith("HTTP 422") for r in rows), "echoes reached rows")
            for t in texts:
                for s in secrets:
                    check(s not in t, "secret %r leaked: %s" % (s, t[:400]))
        finally:
            sbp.terminate()
            sbp.wait()


class _Listener:
    """A TCP listener on 127.0.0.1 that counts connections (a proxy that
    must never be used)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.count += 1
                c.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        self.sock.close()


def case_505_plain_http_never_goes_through_a_proxy(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 40)
    proxy = _Listener()
    try:
        with Sandbox() as sb:
            purl = "http://127.0.0.1:%d" % proxy.port
            env = {k: purl for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                     "all_proxy", "ALL_PROXY")}
            p = run_import(["--base-url", sb.url, "--no-state", inp], env=env)
            check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
            check(sb.stats()["creates"] == 40, "sent directly")
            p = run_import(["send-verification", "--base-url", sb.url, "--state",
                            os.path.join(d, "none.db"), "-o", os.path.join(d, "sv.csv")], env=env)
    finally:
        proxy.close()
    check(proxy.count == 0, "%d connections went to the proxy" % proxy.count)


# ---- 13, 14. configuration mistakes found by the first request ------------------------

def case_506_wrong_base_url_found_by_the_first_request(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 50)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.root, "--state", os.path.join(d, "a.db"), inp])
        check(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
        check("does the base URL end in /api?" in p.stderr, p.stderr)
        st = sb.stats()
        check(st["creates"] == 0 and st["requests"] <= 1, "one request at most: %r" % st)
        for cmd in (["send-verification", "-o", os.path.join(d, "sv.csv")],):
            p = run_import(cmd + ["--base-url", sb.root, "--state", os.path.join(d, "a.db")])
            check(p.returncode == 2 and "/api" in p.stderr, "%s: %d %s" % (cmd[0], p.returncode, p.stderr))


def case_507_untrusted_certificate_is_a_configuration_error(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 20)
    cert, key = _make_cert(d)
    with TlsSandbox(cert, key) as sb:
        url = sb.url
        p = run_import(["--base-url", url, "--state", os.path.join(d, "a.db"), inp])
        check(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
        check("--ca-cert" in p.stderr, p.stderr)
        check(sb.stats()["creates"] == 0, "nothing created")
        p = run_import(["--base-url", url, "--state", os.path.join(d, "a.db"), "--ca-cert", cert, inp])
        check(p.returncode == 0, "with --ca-cert: %d %s" % (p.returncode, p.stderr))
        check(sb.stats()["creates"] == 20, "created over TLS")


def case_508_wrong_key_on_a_quiet_night(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    write_users(inp, 20)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, p.stderr)
        # nothing to send tonight, but the key was rotated
        p = run_import(["--base-url", sb.url, "--state", state, inp],
                       env={"DOTS_API_KEY": "rotated-wrong-key"})
        check(p.returncode == 3, "exit %d: %s" % (p.returncode, p.stderr))
        check("refused the credentials" in p.stderr, p.stderr)
        check("rotated-wrong-key" not in p.stderr, "key printed")
        write_users(inp, 30)
        p = run_import(["--base-url", sb.url, "--state", state, inp],
                       env={"DOTS_API_KEY": "rotated-wrong-key"})
        check(p.returncode == 3, "exit %d" % p.returncode)
        rows = _results(d)
        pend = [r for r in rows if r["status"] == "pending"]
        check(pend and all(r["error"].startswith("not attempted: ") for r in pend),
              "pending rows say why: %r" % pend[:1])
