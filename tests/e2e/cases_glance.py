# cases_glance.py - scripted e2e cases (660-689) for answers at a glance:
# top reasons, --max-invalid with real outputs, the progress line in a
# narrow terminal, attempt outcomes in the log, --limit, option errors as
# typed, grouped verification tokens. Exec'd in run.py's namespace.

# Rows that break validation in many different ways: (row, class) pairs.
_GL_BAD = [
    (["", "1", "4150000001", "A", "B"], "email: empty"),
    (["no-at.example.com", "1", "4150000002", "A", "B"], 'email: missing "@"'),
    (["a@b@c.com", "1", "4150000003", "A", "B"], 'email: more than one "@"'),
    (["@c.com", "1", "4150000004", "A", "B"], 'email: nothing before "@"'),
    (["bob.secret@", "1", "4150000005", "A", "B"], 'email: nothing after "@"'),
    ([".a@c.com", "1", "4150000006", "A", "B"], "email: local part starts with a dot"),
    (["a.@c.com", "1", "4150000007", "A", "B"], "email: local part ends with a dot"),
    (["a..b@c.com", "1", "4150000008", "A", "B"], "email: two dots in a row in local part"),
    (["a@privatehost", "1", "4150000009", "A", "B"], 'email: domain "..." has no dot'),
    (["a@c..com", "1", "4150000010", "A", "B"], 'email: domain "..." has an empty label'),
    (["a@-c.com", "1", "4150000011", "A", "B"], 'email: domain label "..." starts or ends with "-"'),
    (["a@c.123", "1", "4150000012", "A", "B"], 'email: top-level domain "..." is all digits'),
    (["a@c\u00e9.com", "1", "4150000013", "A", "B"], None),
    (["ok14@example.com", "28", "4150000014", "A", "B"], "country_code: N is not an ITU calling code"),
    (["ok15@example.com", "1", "41500", "A", "B"], "phone_number: N digits, expected N for country code N"),
    (["ok16@example.com", "1", "1.23457E+09", "A", "B"], None),
    (["ok17@example.com", "1", "4150000017", "", "B"], None),
    (["ok18@example.com", "1", "4150000018", "A", ""], None),
    (["ok19@example.com", "1", "4150000019", "X" * 51, "B"], None),
    (["ok20@example.com", "1", "4150000020", "A", "Y" * 51], None),
    (["ok21@example.com", "44", "12", "A", "B"], None),
    (["ok22@example.com", "1", "41500000x2", "A", "B"], None),
    (["ok23@example.com", "", "4150000023", "A", "B"], None),
    (["ok24@example.com", "1", "", "A", "B"], None),
]


def _gl_users(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "country_code", "phone_number", "first_name", "last_name"])
        for r in rows:
            w.writerow(r)


def case_660_top_reasons_summary_json_and_log(d):
    inp = os.path.join(d, "users.csv")
    rows = []
    # 10 003 invalid rows: 9000 without "@", 1000 too-short phones, 3 of
    # the rest; then 24 distinct classes once each, and 5 good rows
    for i in range(9000):
        rows.append(["person%d.example.com" % i, "1", "415%07d" % i, "P", "Q"])
    for i in range(1000):
        rows.append(["short%d@example.com" % i, "1", "4%d" % (i % 1000), "P", "Q"])
    for i in range(3):
        rows.append(["x%d@example.com" % i, "999", "4155550100", "P", "Q"])
    for r, _ in _GL_BAD:
        rows.append(r)
    for i in range(5):
        rows.append(["good%d@example.com" % i, "44", "7700900%03d" % i, "G", "H"])
    _gl_users(inp, rows)
    sj, log = os.path.join(d, "summary.json"), os.path.join(d, "run.log")
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--summary-json", sj,
                        "--log-file", log, "--log-format", "json", inp])
        check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr[-2000:]))
        js = json.load(open(sj))
        top = js["top_errors"]
        check(len(top) == 20, "at most 20 reasons: %d" % len(top))
        # (9000 + the one of the list)
        check(top[0] == {"reason": 'email: missing "@"', "count": 9001, "first_row": 1}, "first %r" % top[0])
        check(top[1]["count"] == 1001 and top[1]["first_row"] == 9001 and
              top[1]["reason"] == "phone_number: N digits, expected N for country code N", "second %r" % top[1])
        check(top[2]["reason"] == "country_code: N is not an ITU calling code" and top[2]["count"] == 4,
              "third (3 + the one of the list) %r" % top[2])
        counts = [t["count"] for t in top]
        check(counts == sorted(counts, reverse=True), "by count %r" % counts)
        check(js["rows_with_errors"] == js["status"]["invalid"] == 10003 + len(_GL_BAD), "totals %r" % js["status"])
        want = {c for _, c in _GL_BAD if c}
        got = {t["reason"] for t in top}
        check(want <= got, "reasons missing: %r" % sorted(want - got))
        check(js["rows_with_errors"] - sum(counts) == 4, "the rest in the total (the first 20 kinds are kept)")
        # no row's own values in any class: emails, names, digits of phones
        blob = json.dumps(top, ensure_ascii=False)
        for needle in ("person", "example.com", "bob.secret", "privatehost", "XXXX", "415", "\u00e9"):
            check(needle not in blob, "a row's value %r in the reasons: %s" % (needle, blob))
        # stderr: the largest classes on the summary
        check('9001 x email: missing "@" (first: row 1)' in p.stderr, p.stderr[-1500:])
        check("1001 x phone_number: N digits, expected N for country code N (first: row 9001)" in p.stderr, p.stderr[-1500:])
        check("x other reasons" in p.stderr, "the rest counted: %s" % p.stderr[-1500:])
        # the log: one "reason" event per class, after the rows, same counts
        ev = [json.loads(l) for l in open(log)]
        reasons = [e for e in ev if e["event"] == "reason"]
        check([(e["reason"], e["count"], e["first_row"]) for e in reasons] ==
              [(t["reason"], t["count"], t["first_row"]) for t in top], "log reasons %r" % reasons[:3])
        rowev = [e for e in ev if e["event"] == "row"]
        check(rowev[0]["reason"] == 'email: missing "@"' and rowev[0]["row"] == 1, "row event %r" % rowev[0])
        check(sb.stats()["users"] == 5, "the good rows went")
    # an API's 422 echoing the credentials: its class names no secret
    # (the probe must get through: a seed where its answer is not a fault)
    inp2 = os.path.join(d, "few.csv")
    write_users(inp2, 20)
    for seed in ("3", "4", "5", "6", "7", "8"):
        with Sandbox(["--fault-echo", "0.5", "--seed", seed]) as sb:
            p = run_import(["--base-url", sb.url, "--no-state", "--summary-json", sj, inp2])
        if p.returncode == 1:
            break
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
    js = json.load(open(sj))
    n422 = sum(r["error"].startswith("HTTP 422") for r in read_csv(os.path.join(d, "few.results.csv")))
    check(n422 and js["top_errors"][0]["reason"].startswith("HTTP 422") and
          js["top_errors"][0]["count"] == n422, "422 grouped: %r (%d rows)" % (js["top_errors"], n422))
    assert_no_secrets(json.dumps(js), p.stderr)


def case_661_max_invalid_still_writes_outputs(d):
    inp = os.path.join(d, "users.csv")
    _gl_users(inp, [["ok1@example.com", "1", "4155550100", "Ada", "L"],
                    ["bad1.example.com", "1", "4155550101", "B", "E"],
                    ["ok2@example.com", "44", "2079460958", "Alan", "T"],
                    ["dup@example.com", "1", "(415) 555-0100", "D", "R"],
                    ["bad2.example.com", "1", "4155550103", "B", "E"],
                    ["bad3@example.com", "1", "555", "B", "E"]])
    out, rej, sj = (os.path.join(d, n) for n in ("out.csv", "rej.csv", "s.json"))
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "s.db"), "--max-invalid", "2",
                        "-o", out, "--rejects", rej, "--summary-json", sj, inp])
        check(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
        check("3 invalid rows, more than --max-invalid 2: nothing sent" in p.stderr, p.stderr)
        check(sb.stats()["requests"] == 0, "nothing sent")
        check(not os.path.exists(os.path.join(d, "s.db")), "no ledger made")
        res = read_csv(out)
        check([r["status"] for r in res] == ["pending", "invalid", "pending", "duplicate", "invalid", "invalid"],
              "statuses %r" % [r["status"] for r in res])
        check(res[0]["error"] == "not attempted: 3 invalid rows, more than --max-invalid 2", res[0]["error"])
        check(res[1]["error"] == 'email: missing "@"', res[1]["error"])
        js = json.load(open(sj))
        check(js["exit_code"] == 2 and js["status"]["invalid"] == 3 and js["status"]["pending"] == 2 and
              js["status"]["duplicate"] == 1 and js["rows"] == 6, "real counts %r" % js["status"])
        check([t["reason"] for t in js["top_errors"]][0] == 'email: missing "@"' and
              all("not attempted" not in t["reason"] for t in js["top_errors"]), "reasons %r" % js["top_errors"])
        check(len(read_csv(rej)) == 6, "rejects: every row not created")
        check("6 rows: 0 created 3 invalid 1 duplicate 2 pending" in p.stderr, "summary: %s" % p.stderr)
        check(os.stat(out).st_mode & 0o777 == 0o600, "results 0600")


def _gl_tmux(cmd, width, frames, until, sess_tag, every=0.1, limit=300):
    """Runs cmd in a detached tmux pane `width` columns wide; calls
    frames(text) on each capture until until(text) or limit captures."""
    sess = "dotsgl%s%d" % (sess_tag, os.getpid())
    subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", str(width), "-y", "12", cmd], check=True)
    try:
        seen = ""
        for _ in range(limit):
            time.sleep(every)
            seen = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", sess],
                                  capture_output=True, text=True).stdout
            frames(seen)
            if until(seen):
                break
        return seen, sess
    except BaseException:
        subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
        raise


def _gl_importer_cmd(args):
    return "DOTS_CLIENT_ID=%s DOTS_API_KEY=%s %s %s; sleep 30" % (
        CLIENT_ID, API_KEY, os.path.abspath(os.path.join(BUILD, "dots-import")), " ".join(args))


def case_662_progress_fits_a_narrow_terminal(d):
    if not shutil.which("tmux"):
        raise Fail("tmux is not installed")
    inp = os.path.join(d, "users.csv")
    write_users(inp, 300)
    prog = re.compile(r"^\d+/300 rows +\d+\.\d%")
    lines_seen = []

    def frames(text):
        # -J joins wrapped lines: a progress line wider than the pane
        # comes back as one line longer than 59 columns
        for l in text.splitlines():
            if prog.match(l):
                lines_seen.append(l)

    with Sandbox(["--latency-ms", "25"]) as sb:
        seen, sess = _gl_tmux(_gl_importer_cmd(["--base-url", sb.url, "--no-state", "--concurrency", "2",
                                                "--rate", "unlimited", inp]),
                              60, frames, lambda t: "results:" in t, "w")
        subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
    check(lines_seen, "a progress line was drawn: %r" % seen)
    check(all(len(l) <= 59 for l in lines_seen), "wider than 59 columns: %r" %
          [l for l in lines_seen if len(l) > 59][:2])
    check(any("ETA" in l for l in lines_seen), "ETA fits at 60 columns: %r" % lines_seen[-1])
    check("300 rows: 300 created" in seen, "summary %r" % seen)


def _gl_run_script(d, sb_url, inp, extra=""):
    """A script for a tmux pane that records the importer's pid."""
    pidf, script = os.path.join(d, "pid"), os.path.join(d, "run.sh")
    with open(script, "w") as f:
        f.write("echo $$ > %s\nexec env DOTS_CLIENT_ID=%s DOTS_API_KEY=%s %s --base-url %s --no-state %s %s\n" % (
            pidf, CLIENT_ID, API_KEY, os.path.abspath(os.path.join(BUILD, "dots-import")), sb_url, extra, inp))
    return "sh %s; sleep 30" % script, pidf


def case_663_progress_paused_then_stopping_never_100(d):
    if not shutil.which("tmux"):
        raise Fail("tmux is not installed")
    inp = os.path.join(d, "users.csv")
    write_users(inp, 400)
    frames = []
    # a pause of minutes after 40 requests (Retry-After to the window's end)
    with Sandbox(["--limit-window", "40/3600"]) as sb:
        cmd, pidf = _gl_run_script(d, sb.url, inp)
        pause = re.compile(r"paused \d+\.\ds \(429\)")
        seen, sess = _gl_tmux(cmd, 120, frames.append, lambda t: pause.search(t), "p")
        try:
            check(pause.search(seen), "paused shown: %r" % seen)
            os.kill(int(open(pidf).read()), signal.SIGINT)
            seen, _ = _gl_tmux_watch(sess, frames.append, lambda t: "results:" in t)
            check(re.search(r"400 rows: \d+ created .*pending", seen), "pending rows: %r" % seen)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
    # slow answers: after the signal the requests in flight finish, and the
    # line says so meanwhile
    with Sandbox(["--latency-ms", "1500"]) as sb:
        cmd, pidf = _gl_run_script(d, sb.url, inp, "--concurrency 8 --no-verification")
        seen, sess = _gl_tmux(cmd, 120, frames.append, lambda t: re.search(r"[1-9]\d*/400 rows", t), "s")
        try:
            os.kill(int(open(pidf).read()), signal.SIGINT)
            stop_frames = []
            seen, _ = _gl_tmux_watch(sess, stop_frames.append, lambda t: "results:" in t)
            check(any("stopping" in f for f in stop_frames), "stopping shown: %r" % stop_frames[-3:])
            frames.extend(stop_frames)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
    check(not any(re.search(r"/400 rows 100\.0%", f) for f in frames), "100% shown for an interrupted run")


def _gl_tmux_watch(sess, frames, until, limit=400):
    seen = ""
    for _ in range(limit):
        time.sleep(0.05)
        seen = subprocess.run(["tmux", "capture-pane", "-p", "-J", "-t", sess],
                              capture_output=True, text=True).stdout
        frames(seen)
        if until(seen):
            break
    return seen, sess


def case_664_request_events_carry_the_attempts_outcome(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 30)
    cfg = write_config(d, FAST_RETRY)
    with Sandbox(["--fault-500", "0.3", "--seed", "7"]) as sb:
        for fmt in ("text", "json"):
            log = os.path.join(d, "r.%s.log" % fmt)
            args = ["-c", cfg, "--base-url", sb.url, "--no-state", "--no-verification", "-v",
                    "--log-file", log, inp]
            args[0:0] = ["--log-json"] if fmt == "json" else []
            p = run_import(args)
            check(p.returncode in (0, 1), "exit %d: %s" % (p.returncode, p.stderr[-800:]))
            lines = open(log).read().splitlines()
            if fmt == "json":
                req = [json.loads(l) for l in lines if '"event":"request"' in l]
                check(req and all(set(("outcome", "http_status", "attempt", "elapsed_ms")) <= set(e) for e in req),
                      "fields %r" % req[:2])
                check(req[0]["message"].startswith("read attempt 1") and req[0]["attempt"] == 1 and
                      req[0]["outcome"] == "ok", "the first request (the probe) %r" % req[0])
                check(all("status" not in e for e in req), "no row status on a request: %r" % req[:2])
                fails = [e for e in req if e["http_status"] == 500]
                oks = [e for e in req if e["http_status"] in (200, 201)]
                check(fails and all(e["outcome"] != "ok" for e in fails), "500s: %r" % fails[:2])
                check(oks and all(e["outcome"] == "ok" for e in oks), "201s: %r" % oks[:2])
                check(any(e["attempt"] >= 2 for e in req), "retries have attempt >= 2")
                check(all(e["elapsed_ms"] >= 0 for e in req), "elapsed")
            else:
                req = [l for l in lines if " request row=" in l]
                check(req and not any("status=created" in l for l in req), "request lines %r" % req[:2])
                check(any(re.search(r" outcome=\w+ http_status=500 attempt=\d+ elapsed_ms=\d+ ", l) for l in req),
                      "a 500 attempt: %r" % req[:3])
                check(any(" outcome=ok http_status=20" in l for l in req), "a 2xx attempt: %r" % req[:3])
            assert_no_secrets("\n".join(lines))


def case_665_limit_canary_then_the_rest(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 50, extra_rows=[["bad.example.com", "1", "4159999999", "A", "B"]])
    state = os.path.join(d, "s.db")
    out, sj = os.path.join(d, "out.csv"), os.path.join(d, "s.json")
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--dry-run", "--limit", "10", "-o", out, inp])
        res = read_csv(out)
        check([r["status"] for r in res].count("valid") == 10, "dry run: 10 valid %r" % summary_counts(res))
        p = run_import(["--base-url", sb.url, "--state", state, "--limit", "10", "-o", out,
                        "--summary-json", sj, inp])
        check(p.returncode == 1, "exit 1 for the invalid row only: %d %s" % (p.returncode, p.stderr))
        res = read_csv(out)
        c = summary_counts(res)
        check(c == {"created": 10, "pending": 40, "invalid": 1}, "counts %r" % c)
        check([r["status"] for r in res[:10]] == ["created"] * 10, "the first 10 rows")
        check(res[10]["error"] == "not attempted: beyond --limit 10 (the next run imports it)", res[10]["error"])
        check("--limit: 40 valid rows left for the next run" in p.stderr, p.stderr)
        js = json.load(open(sj))
        check(js["limit_left"] == 40 and js["rows_with_errors"] == 1, "summary %r" % js)
        check(sb.stats()["users"] == 10 and sb.stats()["sms"] == 10, "10 users, 10 codes")
        # the next night: the rest, nothing twice
        p = run_import(["--base-url", sb.url, "--state", state, "-o", out, inp])
        c = summary_counts(read_csv(out))
        check(c == {"exists": 10, "created": 40, "invalid": 1}, "second run %r" % c)
        assert_one_user_one_sms(sb, 50)
    # a limit on a clean file exits 0: the rows left are not errors
    inp2 = os.path.join(d, "clean.csv")
    write_users(inp2, 8, start=100)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--limit", "3", inp2])
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))


def case_666_send_verification_limit_paces_codes(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 12)
    state = os.path.join(d, "s.db")
    out = os.path.join(d, "sent.csv")
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, "--no-verification", inp])
        check(p.returncode == 0, "import %d" % p.returncode)
        for n, total in ((5, 5), (5, 10), (5, 12)):
            p = run_import(["send-verification", "--base-url", sb.url, "--state", state, "--limit", str(n), "-o", out])
            check(p.returncode == 0, "send exit %d: %s" % (p.returncode, p.stderr))
            rows = read_csv(out)
            check(len(rows) == min(n, 12 - (total - len(rows))) and all(r["verification"] == "sent" for r in rows),
                  "sent %r" % rows)
            check(sb.stats()["sms"] == total, "sms %d, want %d" % (sb.stats()["sms"], total))
        check("users left without a code" not in p.stderr, "nothing left at the end")
        assert_one_user_one_sms(sb, 12)


def case_667_option_errors_name_the_option_as_typed(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 2)
    cases = [
        (["--concurency", "4", inp], "unknown option '--concurency' (did you mean --concurrency?)"),
        (["--concurency=4", inp], "unknown option '--concurency' (did you mean --concurrency?)"),
        (["--rate=x", inp], "--rate: expected auto, unlimited or a number from 0 to 100000, got 'x'"),
        (["--rate", "fast", inp], "--rate: expected auto, unlimited or a number from 0 to 100000, got 'fast'"),
        (["--max-attempts=0", inp], "--max-attempts: expected an integer from 1 to 100, got '0'"),
        (["--limit", "-3", inp], "--limit: expected an integer from 1 to 1000000000, got '-3'"),
        ([inp, "--rate"], "option '--rate' needs a value"),
        (["-Z", inp], "unknown option '-Z'"),
        (["--shard=9", inp], "--shard: expected K/N (e.g. 0/4), got '9'"),
    ]
    for args, want in cases:
        p = run_import(args)
        check(p.returncode == 2, "%r: exit %d" % (args, p.returncode))
        check(p.stderr.count("error:") == 1 and ("dots-import: error: " + want) in p.stderr,
              "%r: %r" % (args, p.stderr))
    # a run stopped by refused credentials says why once
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", inp], env={"DOTS_API_KEY": "wrong"})
        check(p.returncode == 3, "exit %d" % p.returncode)
        check(p.stderr.count("the API refused the credentials") == 2, "the stop, and the rows' reason: %r" % p.stderr)
        check(p.stderr.count("stopping: HTTP 401") == 1 and "stopped early" not in p.stderr, p.stderr)
    # --help says where verify writes
    p = run_import(["--help"])
    check("TOKENS.verify.csv" in p.stdout and "--limit N" in p.stdout, "help: %s" % p.stdout)


def case_668_verify_takes_grouped_tokens(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 3)
    state = os.path.join(d, "s.db")
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--state", state, inp])
        check(p.returncode == 0, "import %d" % p.returncode)
        users = sorted(sb.users(), key=lambda u: u["phone_number"])
        codes = [sb.get("/_sandbox/users/" + u["id"])["last_code"] for u in users]
        check(all(len(c) >= 4 for c in codes), "codes %r" % codes)

        def spaced(c, sep):
            return sep.join(c[i:i + 2] for i in range(0, len(c), 2))
        tok = os.path.join(d, "tokens.csv")
        with open(tok, "w") as f:
            f.write("user_id,token\n%s,%s\n%s, %s \n%s,%s\n" % (
                users[0]["id"], spaced(codes[0], " "), users[1]["id"], spaced(codes[1], "-"),
                users[2]["id"], spaced(codes[2], " - ")))
        with open(tok, "a") as f:
            f.write("not/an/id,123456\n")
        sj = os.path.join(d, "s.json")
        p = run_import(["verify", "--base-url", sb.url, "--summary-json", sj, tok])
        check(p.returncode == 1, "verify exit %d: %s" % (p.returncode, p.stderr))
        res = read_csv(os.path.join(d, "tokens.verify.csv"))  # where --help says
        check([r["status"] for r in res] == ["verified"] * 3 + ["invalid"], "statuses %r" % res)
        # verify's rows that did not succeed are grouped too
        check("1 x user_id: not a Dots user id (first: row 4)" in p.stderr, p.stderr)
        check(json.load(open(sj))["top_errors"] ==
              [{"reason": "user_id: not a Dots user id", "count": 1, "first_row": 4}], "top_errors")
        check(all(sb.get("/_sandbox/users/" + u["id"])["status"] == "verified" for u in users), "verified")
