# cases_report.py - the HTML run report (--report) end to end (600, 608-609,
# 614-617: the other 6xx numbers are the sandbox's):
# its figures are the summary JSON's, it is written by every command and
# every kind of ending (faults, interrupted, aborted, nothing sent), stays
# small for a long input, masks personal data unless --report-pii, holds no
# secret, and a real browser (headless Chromium, network off) draws its
# charts without a console error. Exec'd in run.py's namespace.

import html.parser
import shutil
import struct
import zlib


class _ReportParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells = {}
        self.exit = None
        self.data = ""
        self.scripts = 0
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-k" in a and a["data-k"] != "reason.count":
            self.cells[a["data-k"]] = a.get("data-v", "")
        if a.get("id") == "outcome":
            self.exit = int(a["data-exit"])
        if tag == "script":
            self.scripts += 1
            self._in_data = a.get("type") == "application/json"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data += data


def read_report(path):
    """The report's visible figures (data-k -> data-v), its data block and text."""
    check(os.path.exists(path), "no report at %s" % path)
    check(os.stat(path).st_mode & 0o777 == 0o600, "report mode %o" % (os.stat(path).st_mode & 0o777))
    text = open(path, encoding="utf-8").read()
    p = _ReportParser()
    p.feed(text)
    check(p.scripts == 1, "one script element (the data block), found %d" % p.scripts)
    return p.cells, json.loads(p.data), text, p.exit


def assert_report_matches_summary(cells, data, s):
    """Every figure of the page and of its data block is the summary's."""
    for k in ("rows", "requests", "retries", "rate_limited"):
        check(int(cells[k]) == s[k], "%s: report %s, summary %s" % (k, cells[k], s[k]))
        check(data[k] == s[k], "%s: data %s, summary %s" % (k, data[k], s[k]))
    for k, v in s["status"].items():
        if "status." + k in cells:
            check(int(cells["status." + k]) == v, "status %s: report %s, summary %d" % (k, cells["status." + k], v))
        check(data["status"][k] == v, "data status %s" % k)
    for k, v in s["codes"].items():
        check(int(cells["codes." + k]) == v, "codes %s: report %s, summary %d" % (k, cells["codes." + k], v))
    for k in ("p50", "p95", "p99"):
        want = s["latency_ms"][k]
        got = cells["latency_ms." + k]
        check((got == "" and want < 0) or abs(float(got or -1) - want) < 0.01,
              "latency %s: report %r, summary %r" % (k, got, want))
    check(abs(float(cells["elapsed_s"]) - s["elapsed_s"]) < 0.01, "elapsed")
    check(abs(float(cells["paused_s"]) - s["pacing"]["paused_s"]) < 0.01, "paused")
    check(data["exit_code"] == s["exit_code"], "exit code")
    # the series account for every request the run made
    check(sum(data["series"]["requests"]) == s["requests"],
          "series requests %d, summary %d" % (sum(data["series"]["requests"]), s["requests"]))


def _users_with_invalid(path, n, bad):
    write_users(path, n, extra_rows=[["bad%d.example.com" % i, "1", "416555%04d" % i, "B", "C"]
                                     for i in range(bad)])


def case_600_report_numbers_match_summary_under_faults(d):
    inp = os.path.join(d, "users.csv")
    rep = os.path.join(d, "run.html")
    sj = os.path.join(d, "s.json")
    _users_with_invalid(inp, 400, 15)
    cfg = write_config(d, FAST_RETRY)
    with Sandbox(["--latency-ms", "5", "--fault-500", "0.15", "--fault-503", "0.05",
                  "--seed", "3"]) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--state", os.path.join(d, "s.db"),
                        "--max-attempts", "2", "--report", rep, "--summary-json", sj, inp],
                       timeout=120)
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
    check("report: " + rep in p.stderr, p.stderr)
    s = json.load(open(sj))
    cells, data, text, code = read_report(rep)
    check(code == 1 and data["outcome"].startswith("Finished"), "outcome %r" % data["outcome"])
    assert_report_matches_summary(cells, data, s)
    check(s["retries"] > 0, "faults made retries")
    check(sum(data["series"]["done"]) == s["rows"], "every row in the series once")
    # the reasons are the results' errors, grouped
    errors = [r["error"] for r in read_csv(os.path.join(d, "users.results.csv")) if r["error"]]
    check(sum(r["count"] for r in data["reasons"]) + data["rows_with_other_reasons"] == len(errors),
          "reasons count %d errors" % len(errors))
    bad = [r for r in data["reasons"] if r["reason"] == 'email: missing "@"']
    check(bad and bad[0]["count"] == 15, "15 invalid emails: %r" % data["reasons"])
    check([e["row"] for e in bad[0]["rows"]] == [401, 402, 403, 404, 405], "first rows %r" % bad[0]["rows"])
    check(bad[0]["rows"][0]["line"] == 402, "line numbers")
    check(any(r["reason"].startswith("HTTP 5") or "HTTP 5" in r["reason"] for r in data["reasons"]),
          "server errors grouped: %r" % [r["reason"] for r in data["reasons"]])
    # masked: no example's phone or email in the page
    check("bad0.example.com" not in text and "4165550000" not in text, "PII masked by default")
    check(text.count("<polyline") >= 5, "lines drawn")
    assert_no_secrets(text)


def case_608_report_pii_and_config_key(d):
    inp = os.path.join(d, "users.csv")
    rep = os.path.join(d, "r.html")
    _users_with_invalid(inp, 20, 3)
    cfg = write_config(d, "import:\n  report: %s\n" % rep)
    p = run_import(["-c", cfg, "--dry-run", "--no-state", inp])
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
    cells, data, text, code = read_report(rep)
    check(data["dry_run"] and int(cells["status.invalid"]) == 3, "dry run, 3 invalid")
    check("bad0.example.com" not in text and "+1 4165550000" not in text, "masked")
    check("b***" in text and "+1 4*******00" in text, "masked forms shown")
    p = run_import(["-c", cfg, "--dry-run", "--no-state", "--report-pii", inp])
    cells, data, text, code = read_report(rep)
    check("bad0.example.com" in text and "+1 4165550000" in text, "--report-pii shows them")
    check(data["reasons"][0]["rows"][0]["email"] == "bad0.example.com", "data block too")


def case_609_interrupted_run_writes_report(d):
    inp = os.path.join(d, "users.csv")
    rep = os.path.join(d, "r.html")
    sj = os.path.join(d, "s.json")
    write_users(inp, 3000)
    with Sandbox(["--latency-ms", "30"]) as sb:
        proc = start_import(["--base-url", sb.url, "--state", os.path.join(d, "s.db"),
                             "--concurrency", "4", "--report", rep, "--summary-json", sj, inp])
        wait_requests(sb, 20, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    check(proc.returncode == 143, "exit %d: %s" % (proc.returncode, err))
    cells, data, text, code = read_report(rep)
    check(code == 143 and data["outcome"] == "Interrupted (SIGTERM)", data["outcome"])
    s = json.load(open(sj))
    assert_report_matches_summary(cells, data, s)
    check(s["status"]["pending"] > 0 and data["status"]["pending"] == s["status"]["pending"], "pending rows")


def case_614_aborted_and_refused_runs_write_report(d):
    inp = os.path.join(d, "users.csv")
    rep = os.path.join(d, "r.html")
    write_users(inp, 200)
    cfg = write_config(d, FAST_RETRY)
    with Sandbox(["--fault-500", "1"]) as sb:
        p = run_import(["-c", cfg, "--base-url", sb.url, "--no-state", "--max-failures", "5",
                        "--max-attempts", "1", "--report", rep, inp])
    check(p.returncode == 3, "exit %d: %s" % (p.returncode, p.stderr))
    cells, data, text, code = read_report(rep)
    check(code == 3 and "max-failures" in (data["stopped_early"] or ""), "aborted: %r" % data["stopped_early"])
    check('id="stopped"' in text, "the reason is on the page")
    # --max-invalid: nothing sent, the report still says so
    _users_with_invalid(inp, 10, 5)
    p = run_import(["--base-url", "http://127.0.0.1:9/api", "--no-state", "--max-invalid", "2",
                    "--report", rep, inp])
    check(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
    cells, data, text, code = read_report(rep)
    check(code == 2 and data["requests"] == 0 and "Stopped before sending" in text, "refused run")


def case_615_long_run_report_stays_small(d):
    inp = os.path.join(d, "users.csv")
    rep = os.path.join(d, "r.html")
    # 200 000 rows, 40 kinds of invalid ones: the reasons table stays at 20
    extra = [["x%d@example" % i, "1", "4175550%03d" % (i % 1000), "F", "L"] for i in range(400)]
    extra += [["ok%d@example.com" % i, "1", "1" * (i % 40 + 16), "F", "L"] for i in range(400)]
    write_users(inp, 199200, extra_rows=extra)
    t0 = time.time()
    p = run_import(["--dry-run", "--no-state", "--report", rep, inp], timeout=120)
    took = time.time() - t0
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr[-2000:]))
    size = os.path.getsize(rep)
    check(size < 2 * 1024 * 1024, "report of 200 000 rows is %d bytes" % size)
    cells, data, text, code = read_report(rep)
    check(data["rows"] == 200000 and sum(data["series"]["done"]) == 200000, "all rows")
    check(len(data["reasons"]) <= 20, "reasons bounded")
    check(sum(r["count"] for r in data["reasons"]) + data["rows_with_other_reasons"] == 800,
          "800 invalid rows: %r" % [(r["reason"], r["count"]) for r in data["reasons"]])
    check(all(len(r["rows"]) <= 5 for r in data["reasons"]), "5 examples at most")
    check(took < 40, "took %.1f s" % took)


def case_616_send_verification_and_verify_write_reports(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    rep = os.path.join(d, "r.html")
    sj = os.path.join(d, "s.json")
    write_users(inp, 40)
    with Sandbox(["--latency-ms", "5"]) as sb:
        p = run_import(["--base-url", sb.url, "--state", state, "--no-verification", inp])
        check(p.returncode == 0, p.stderr)
        p = run_import(["send-verification", "--base-url", sb.url, "--state", state,
                        "-o", os.path.join(d, "sv.csv"), "--report", rep, "--summary-json", sj])
        check(p.returncode == 0, "send exit %d: %s" % (p.returncode, p.stderr))
        cells, data, text, code = read_report(rep)
        s = json.load(open(sj))
        assert_report_matches_summary(cells, data, s)
        check(data["command"] == "send-verification" and data["codes"]["sent"] == 40, "40 sent")
        check(sum(data["series"]["done"]) == 40, "series: %r" % data["series"]["done"])
        users = sb.users()
        tok = os.path.join(d, "tokens.csv")
        with open(tok, "w") as f:
            f.write("user_id,token\n")
            for u in users[:3]:
                f.write("%s,%s\n" % (u["id"], sb.get("/_sandbox/users/" + u["id"])["last_code"]))
            f.write("%s,000000\nnot/an/id,123\n" % users[3]["id"])
        p = run_import(["verify", "--base-url", sb.url, "--report", rep, "--summary-json", sj, tok])
        check(p.returncode == 1, "verify exit %d: %s" % (p.returncode, p.stderr))
        cells, data, text, code = read_report(rep)
        s = json.load(open(sj))
        assert_report_matches_summary(cells, data, s)
        check(data["command"] == "verify" and data["status"]["created"] == 3, "3 verified")
        reasons = [r["reason"] for r in data["reasons"]]
        check("user_id: not a Dots user id" in reasons and any(r.startswith("HTTP 4") for r in reasons),
              "verify reasons %r" % reasons)
        check(data["reasons"][0]["rows"][0]["line"] > 0, "rows and lines of the tokens file")
        assert_no_secrets(text)


# ---- a real browser --------------------------------------------------------

def _png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    raw = open(path, "rb").read()
    check(raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(raw):
        n, kind = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            check(depth == 8 and ctype in (2, 6), "PNG depth %d type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    data = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = data[y * (stride + 1)]
        line = bytearray(data[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_check(report, shot, size="900,2300"):
    """Loads report in headless Chromium with the network off; returns its
    stderr (console messages included) after checking for errors."""
    home = os.path.join(os.path.dirname(shot), "chromium-home")
    os.makedirs(home, exist_ok=True)
    p = subprocess.run([chromium_binary(), "--headless", "--disable-gpu", "--no-sandbox",
                        "--no-first-run", "--user-data-dir=" + home,
                        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                        "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
                        "--window-size=" + size, "--screenshot=" + shot,
                        "file://" + os.path.abspath(report)],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=home))
    check(os.path.exists(shot), "no screenshot: %s" % p.stderr[-2000:])
    for line in p.stderr.splitlines():
        check("CONSOLE" not in line and "Refused to" not in line and "Uncaught" not in line,
              "console message: %s" % line)
    return p.stderr


# The chart line colours (lib/runreport.c): each must be drawn in the charts.
CHART_COLOURS = {"rows/s": (0x1f, 0x6f, 0xd1), "p50": (0x1b, 0x9e, 0x4b),
                 "p95": (0xd6, 0x27, 0x28), "in flight": (0x7b, 0x3f, 0xbf),
                 "pacing rate": (0xf0, 0x7f, 0x09)}


def case_617_chromium_draws_the_charts(d):
    if not chromium_binary():
        print("skip 617: chromium is not installed (apt-get install chromium); "
              "the report was not checked in a browser")
        return
    inp = os.path.join(d, "users.csv")
    rep = os.path.join(d, "r.html")
    shot = os.path.join(d, "shot.png")
    _users_with_invalid(inp, 1500, 10)
    with Sandbox(["--latency-ms", "10", "--jitter-ms", "30", "--limit-bucket", "400"]) as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--concurrency", "16",
                        "--report", rep, inp], timeout=120)
    check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
    chromium_check(rep, shot)
    w, h, bpp, rows = _png_pixels(shot)
    text = open(rep, encoding="utf-8").read()
    # the charts are the lower part of the page: count each colour there
    counts = {k: 0 for k in CHART_COLOURS}
    want = {bytes(v): k for k, v in CHART_COLOURS.items()}
    for y in range(h // 3, h):
        line = bytes(rows[y])
        for v, k in want.items():
            if bpp == 3:
                counts[k] += line.count(v)  # may straddle pixels: a few false hits at most
            else:
                counts[k] += line.count(v + b"\xff")
    for k, n in counts.items():
        # a legend swatch is 56 pixels: more means the line itself is drawn
        check(n > 150, "chart colour of %s: %d pixels in the screenshot (%r)" % (k, n, counts))
    check("rows/s" in text, "legend")
