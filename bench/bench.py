#!/usr/bin/env python3
"""
bench.py - the performance suite of issue 6, run by `make bench` through
bench/run.sh. Talks only to dots-sandbox on 127.0.0.1; every generated file
lives in one temporary directory that is removed at the end; every process
it starts is stopped; every run has a time limit.

    python3 bench/bench.py [BUILD_DIR]

Environment knobs (defaults are the issue's figures):
    BENCH_REPS=3          repetitions per figure (best of N)
    BENCH_CPU_USERS=100000  users of the CPU-bound run (x2 requests)
    BENCH_CPU_REPS=       repetitions of the CPU-bound / ledger runs (BENCH_REPS)
    BENCH_DRY_ROWS=1000000  rows of the dry-run file
    BENCH_MEM_SMALL=20000 BENCH_MEM_LARGE=200000
    BENCH_RATE_SECONDS=20 BENCH_RATE=500
    BENCH_PROFILE=1       callgrind profile of a 5000-request run (0 = skip)
    BENCH_ONLY=1,2,...    run only these benchmarks
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import json
import urllib.request

CID = "bench-client"
KEY = "bench-key"
TICK = os.sysconf("SC_CLK_TCK")
NPROC = os.cpu_count() or 1
RUN_TIMEOUT = 600  # seconds, any single process run


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


REPS = env_int("BENCH_REPS", 3)
CPU_USERS = env_int("BENCH_CPU_USERS", 100000)
CPU_REPS = env_int("BENCH_CPU_REPS", REPS)
DRY_ROWS = env_int("BENCH_DRY_ROWS", 1000000)
MEM_SMALL = env_int("BENCH_MEM_SMALL", 20000)
MEM_LARGE = env_int("BENCH_MEM_LARGE", 200000)
RATE = env_int("BENCH_RATE", 500)
RATE_SECONDS = env_int("BENCH_RATE_SECONDS", 20)
PROFILE = env_int("BENCH_PROFILE", 1)
ONLY = set(x for x in os.environ.get("BENCH_ONLY", "").replace(" ", "").split(",") if x)


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def child_env():
    """The environment for every child: credentials, and no proxy at all, so
    nothing leaves 127.0.0.1 whatever the caller's shell had set."""
    e = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    e["no_proxy"] = e["NO_PROXY"] = "*"
    e["DOTS_CLIENT_ID"] = CID
    e["DOTS_API_KEY"] = KEY
    for k in ("DOTS_BASE_URL", "DOTS_APP_ID", "CREDENTIALS_DIRECTORY"):
        e.pop(k, None)
    return e


ENV = child_env()
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ---------------------------------------------------------------- processes

class Sandbox:
    """One dots-sandbox on a free loopback port; fresh per measured run so
    every run creates new users (no `existing` shortcuts)."""

    def __init__(self, tmp, latency_ms=0, threads=None, extra=()):
        self.out = tempfile.NamedTemporaryFile(dir=tmp, prefix="sandbox.", delete=False)
        args = [SANDBOX, "--port", "0", "--bind", "127.0.0.1",
                "--client-id", CID, "--api-key", KEY,
                "--threads", str(threads or max(2, NPROC))]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        args += list(extra)
        self.p = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=ENV)
        deadline = time.monotonic() + 10
        self.url = None
        while time.monotonic() < deadline:
            with open(self.out.name) as f:
                m = re.search(r"(http://127\.0\.0\.1:\d+)/api", f.read())
            if m:
                self.root = m.group(1)
                self.url = self.root + "/api"
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        if not self.url:
            self.stop()
            raise RuntimeError("dots-sandbox did not start")

    def cpu(self):
        """user+sys seconds so far, from /proc/PID/stat."""
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def stats(self):
        with LOCAL.open(self.root + "/_sandbox/stats", timeout=10) as r:
            return json.load(r)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self.out.close()
        try:
            os.unlink(self.out.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


class Result:
    pass


RUSAGE = None  # path of the compiled bench/rusage.c


def build_rusage(tmp):
    """Compile bench/rusage.c into tmp; None (and a note) if no compiler."""
    global RUSAGE
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rusage.c")
    out = os.path.join(tmp, "rusage")
    cc = os.environ.get("CC") or "cc"
    try:
        r = subprocess.run([cc, "-O2", "-o", out, src], capture_output=True, timeout=60)
        if r.returncode == 0:
            RUSAGE = out
            return
    except (OSError, subprocess.SubprocessError):
        pass
    print("note: could not build bench/rusage.c with %s: peak RSS figures include "
          "python's own (Linux keeps ru_maxrss across exec)" % cc)


def run(args, timeout=RUN_TIMEOUT, stderr=subprocess.DEVNULL, on_stderr=None):
    """Run to completion in its own process group (killed whole on timeout).
    Wall from here; user+sys CPU and peak RSS of the command from wait4(2)
    in bench/rusage.c. on_stderr(lines, t) gets stderr lines as they arrive."""
    r = Result()
    ru_path = None
    if RUSAGE:
        fd, ru_path = tempfile.mkstemp(prefix="rusage.", dir=os.path.dirname(RUSAGE))
        os.close(fd)
        args = [RUSAGE, ru_path] + list(args)
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE if on_stderr else stderr, env=ENV,
                         start_new_session=True)

    def kill():
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        if on_stderr:
            fd = p.stderr.fileno()
            buf = b""
            while True:
                chunk = os.read(fd, 65536)
                t = time.monotonic()
                if not chunk:
                    break
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()
                on_stderr(lines, t)
            p.stderr.close()
        _, status, ru = os.wait4(p.pid, 0)
    except BaseException:
        kill()
        raise
    finally:
        timer.cancel()
    r.wall = time.monotonic() - t0
    p.returncode = r.rc = os.waitstatus_to_exitcode(status)
    r.user, r.sys, r.rss_kb, r.nvcsw = ru.ru_utime, ru.ru_stime, ru.ru_maxrss, ru.ru_nvcsw
    if ru_path:
        try:
            with open(ru_path) as f:
                u, s_, m, w = f.read().split()
            r.user, r.sys, r.rss_kb, r.nvcsw = float(u), float(s_), int(m), int(w)
        except (OSError, ValueError):
            r.rc = r.rc or 127
        os.unlink(ru_path)
    r.cpu = r.user + r.sys
    r.timed_out = r.wall >= timeout
    if r.timed_out:
        raise RuntimeError("%s: killed after %d s" % (os.path.basename(args[2 if RUSAGE else 0]),
                                                      timeout))
    return r


def importer(sb, csv, out, extra, err_path=None, **kw):
    """dots-import against sandbox sb (None: a dry run). With err_path its
    stderr (summary included) goes there, else it runs with -q."""
    args = [IMPORT, "--base-url", sb.url if sb else "http://127.0.0.1:9/api",
            "-q", "-o", out] + extra + [csv]
    if kw.get("on_stderr") or err_path:
        args.remove("-q")
    if err_path:
        with open(err_path, "w") as ef:
            return run(args, stderr=ef, **kw)
    return run(args, **kw)


def summary_p50(err_path):
    """p50 request latency (ms) from the importer's stderr summary."""
    with open(err_path) as f:
        m = re.search(r"latency p50 (\d+) ms", f.read())
    return int(m.group(1)) if m else None


def check(cond, what):
    if not cond:
        raise RuntimeError(what)


# ---------------------------------------------------------------- data

def phone(i):
    return str(4150000000 + i)


def gen_csv(path, n):
    with open(path, "w") as f:
        f.write("email,country_code,phone_number,first_name,last_name\n")
        step = 50000
        for s in range(0, n, step):
            f.write("".join("user%d@example.com,1,%s,First%d,Last%d\n"
                            % (i, phone(i), i, i) for i in range(s, min(n, s + step))))


def gen_curl_cfg(path, url, n):
    """One option group per request, separated by `next`: the same body the
    importer sends, the same Basic auth, responses to /dev/null."""
    with open(path, "w") as f:
        for s in range(0, n, 50000):
            parts = []
            for i in range(s, min(n, s + 50000)):
                body = ('{\\"email\\":\\"user%d@example.com\\",\\"country_code\\":\\"1\\",'
                        '\\"phone_number\\":\\"%s\\",\\"first_name\\":\\"First%d\\",'
                        '\\"last_name\\":\\"Last%d\\"}' % (i, phone(i), i, i))
                parts.append('url = "%s/v2/users"\nuser = "%s:%s"\n'
                             'header = "Content-Type: application/json"\n'
                             'noproxy = "*"\ndata = "%s"\noutput = "/dev/null"\n'
                             % (url, CID, KEY, body))
            f.write("next\n".join(parts))
            if s + 50000 < n:
                f.write("next\n")


def curl_run(tmp, sb, n, parallel=32):
    cfg = os.path.join(tmp, "curl.cfg")
    gen_curl_cfg(cfg, sb.url, n)
    r = run(["curl", "--silent", "--show-error", "--parallel", "--parallel-max",
             str(parallel), "--noproxy", "*", "-K", cfg])
    os.unlink(cfg)
    st = sb.stats()
    check(r.rc == 0, "curl exited %d" % r.rc)
    check(st.get("creates") == n, "curl: sandbox saw %s creates, not %d" % (st.get("creates"), n))
    return r


# ---------------------------------------------------------------- table

ROWS = []


def row(bench, metric, value, ref, ratio, target, ok, fmt="%.1f", reffmt=None):
    def f(v, ff):
        if v is None:
            return "-"
        return ff % v if not isinstance(v, str) else v
    ROWS.append((bench, metric, f(value, fmt), f(ref, reffmt or fmt),
                 "-" if ratio is None else "%.3f" % ratio, target,
                 "INFO" if ok is None else ("PASS" if ok else "MISS")))


def print_table():
    head = ("benchmark", "metric", "measured", "reference", "ratio", "target", "result")
    w = [max(len(str(x[i])) for x in ROWS + [head]) for i in range(len(head))]
    line = "+".join("-" * (n + 2) for n in w)
    out = ["+" + line + "+",
           "| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |",
           "+" + line + "+"]
    for r in ROWS:
        out.append("| " + " | ".join(str(c).rjust(w[i]) if i in (2, 3, 4) else str(c).ljust(w[i])
                                     for i, c in enumerate(r)) + " |")
    out.append("+" + line + "+")
    print("\n".join(out))
    sys.stdout.flush()


# ---------------------------------------------------------------- benchmarks

def bench1(tmp):
    """Latency-bound: 20 ms per request, 5000 creates, 32 in flight."""
    n, conc, lat = 5000, 32, 20
    csv = os.path.join(tmp, "b1.csv")
    gen_csv(csv, n)
    ideal_wall = n / conc * lat / 1000.0
    imp, crl, sbcpu, p50 = [], [], [], []
    for rep in range(REPS):
        with Sandbox(tmp, latency_ms=lat) as sb:
            c0 = sb.cpu()
            ep = os.path.join(tmp, "b1.err")
            r = importer(sb, csv, os.path.join(tmp, "b1.out"),
                         ["--no-state", "--no-verification", "--concurrency", str(conc)],
                         err_path=ep)
            sbcpu.append(sb.cpu() - c0)
            p50.append(summary_p50(ep))
            st = sb.stats()
            check(r.rc == 0, "importer exited %d" % r.rc)
            check(st["creates"] == n, "sandbox saw %s creates" % st["creates"])
            imp.append(r)
        with Sandbox(tmp, latency_ms=lat) as sb:
            crl.append(curl_run(tmp, sb, n, conc))
        log("1 rep %d: dots-import %.3f s, curl %.3f s" % (rep + 1, imp[-1].wall, crl[-1].wall))
    # what one request really costs end to end at this latency, one at a time
    with Sandbox(tmp, latency_ms=lat) as sb:
        gen_csv(csv, 100)
        serial = importer(sb, csv, os.path.join(tmp, "b1.out"),
                          ["--no-state", "--no-verification", "--concurrency", "1"])
        check(serial.rc == 0, "serial importer exited %d" % serial.rc)
    wi = min(r.wall for r in imp)
    wc = min(r.wall for r in crl)
    row("1 latency 20ms", "dots-import req/s", n / wi, n / ideal_wall, (n / wi) / (n / ideal_wall),
        ">= 0.95 x ideal", (n / wi) >= 0.95 * n / ideal_wall, "%.0f")
    row("1 latency 20ms", "wall s (vs curl)", wi, wc, wi / wc, "<= 1.00 x curl", wi <= wc, "%.3f")
    best = min(range(len(imp)), key=lambda i: imp[i].wall)
    if p50[best] is not None:
        row("1 latency 20ms", "request p50 ms (vs --latency-ms)", p50[best], lat,
            p50[best] / float(lat), "info", None, "%d")
    row("1 latency 20ms", "serial ms/request (vs --latency-ms)", serial.wall * 1000 / 100, lat,
        serial.wall * 10 / lat, "info: 100 creates, concurrency 1", None, "%.2f", "%d")
    real_ideal = n / (n / conc * serial.wall / 100)
    row("1 latency 20ms", "req/s vs ideal at serial latency", n / wi, real_ideal,
        (n / wi) / real_ideal, "info: >= 0.95 would pass", None, "%.0f")
    row("1 latency 20ms", "sandbox CPU s (vs wall)", sbcpu[best], wi, sbcpu[best] / wi,
        "info: cores used", None, "%.2f", "%.3f")


NOTES = []


def bench2_5(tmp):
    """CPU-bound (2) and ledger cost (5) on the same workload, interleaved."""
    n, conc = CPU_USERS, 32
    csv = os.path.join(tmp, "b2.csv")
    gen_csv(csv, n)
    nostate, state, crl = [], [], []
    sbc_nostate, sbc_curl = [], []
    do5 = not ONLY or "5" in ONLY
    for rep in range(CPU_REPS):
        with Sandbox(tmp) as sb:
            c0 = sb.cpu()
            r = importer(sb, csv, os.path.join(tmp, "b2.out"),
                         ["--no-state", "--concurrency", str(conc)])
            sbc_nostate.append(sb.cpu() - c0)
            st = sb.stats()
            check(r.rc == 0, "importer exited %d" % r.rc)
            check(st["creates"] == n and st["sms"] == n,
                  "sandbox saw %s creates, %s sms" % (st["creates"], st["sms"]))
            nostate.append(r)
        if do5:
            db = os.path.join(tmp, "b5.db")
            with Sandbox(tmp) as sb:
                r = importer(sb, csv, os.path.join(tmp, "b5.out"),
                             ["--state", db, "--concurrency", str(conc)])
                st = sb.stats()
                check(r.rc == 0, "importer (--state) exited %d" % r.rc)
                check(st["creates"] == n, "sandbox saw %s creates" % st["creates"])
                state.append(r)
            for sfx in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(db + sfx):
                    os.unlink(db + sfx)
        with Sandbox(tmp) as sb:
            c0 = sb.cpu()
            crl.append(curl_run(tmp, sb, n, conc))
            sbc_curl.append(sb.cpu() - c0)
        log("2 rep %d: no-state %.2f s (cpu %.2f), state %s, curl %.2f s (cpu %.2f)"
            % (rep + 1, nostate[-1].wall, nostate[-1].cpu,
               "%.2f s" % state[-1].wall if do5 else "-", crl[-1].wall, crl[-1].cpu))
    req = 2 * n
    lbl = "2 cpu %dk users" % (n // 1000)
    wi = min(r.wall for r in nostate)
    wc = min(r.wall for r in crl)
    row(lbl, "dots-import req/s (vs curl)", req / wi, n / wc, (req / wi) / (n / wc),
        "info", None, "%.0f")
    ci = min(r.cpu for r in nostate) / req * 1000 * 1000  # ms per 1000 requests
    cc = min(r.cpu for r in crl) / n * 1000 * 1000
    row(lbl, "CPU ms/1000 req (vs curl)", ci, cc, ci / cc, "<= 0.50 x curl", ci <= 0.5 * cc, "%.1f")
    best = min(range(len(nostate)), key=lambda i: nostate[i].wall)
    row(lbl, "sandbox CPU s (vs wall)", sbc_nostate[best], nostate[best].wall,
        sbc_nostate[best] / nostate[best].wall, "info: cores used", None, "%.2f")
    row(lbl, "importer CPU s (vs wall)", nostate[best].cpu, nostate[best].wall,
        nostate[best].cpu / nostate[best].wall, "info: cores used", None, "%.2f")
    bc = min(range(len(crl)), key=lambda i: crl[i].cpu)
    NOTES.append("CPU-bound best run: dots-import user %.2f s + sys %.2f s for %d requests; "
                 "curl user %.2f s + sys %.2f s for %d; sandbox %.2f s CPU in %.2f s wall"
                 % (nostate[best].user, nostate[best].sys, req, crl[bc].user, crl[bc].sys, n,
                    sbc_nostate[best], nostate[best].wall))
    if do5:
        ws = min(r.wall for r in state)
        row("5 ledger %dk users" % (n // 1000), "wall s --state (vs --no-state)", ws, wi, ws / wi,
            "<= 1.10", ws <= 1.10 * wi, "%.2f")
        bs = min(range(len(state)), key=lambda i: state[i].wall)
        NOTES.append("ledger best runs: --state user %.2f s + sys %.2f s, %d blocking waits; "
                     "--no-state user %.2f s + sys %.2f s, %d blocking waits"
                     % (state[bs].user, state[bs].sys, state[bs].nvcsw,
                        nostate[best].user, nostate[best].sys, nostate[best].nvcsw))


def bench5b(tmp):
    """Ledger cost where imports really spend their time: waiting on the API.
    5000 users with verification, sandbox latency 20 ms, concurrency 32."""
    n, conc, lat = 5000, 32, 20
    csv = os.path.join(tmp, "b5b.csv")
    gen_csv(csv, n)
    nostate, state = [], []
    for rep in range(REPS):
        for mode, out in (("--no-state", nostate), ("--state", state)):
            db = os.path.join(tmp, "b5b.db")
            for sfx in ("", "-wal", "-shm"):
                if os.path.exists(db + sfx):
                    os.unlink(db + sfx)
            with Sandbox(tmp, latency_ms=lat) as sb:
                extra = ["--no-state"] if mode == "--no-state" else ["--state", db]
                r = importer(sb, csv, os.path.join(tmp, "b5b.out"), extra + ["--concurrency", str(conc)])
                check(r.rc == 0, "importer (%s) exited %d" % (mode, r.rc))
                out.append(r)
        log("5b rep %d: no-state %.2f s, state %.2f s" % (rep + 1, nostate[-1].wall, state[-1].wall))
    wi = min(r.wall for r in nostate)
    ws = min(r.wall for r in state)
    row("5b ledger, latency 20ms", "wall s --state (vs --no-state)", ws, wi, ws / wi,
        "<= 1.10", ws <= 1.10 * wi, "%.2f")


def bench3(tmp):
    """Validation only: --dry-run over a big generated file."""
    n = DRY_ROWS
    csv = os.path.join(tmp, "b3.csv")
    gen_csv(csv, n)
    rs = []
    for rep in range(REPS):
        r = importer(None, csv, os.path.join(tmp, "b3.out"), ["--dry-run", "--no-state"])
        check(r.rc == 0, "dry run exited %d" % r.rc)
        rs.append(r)
        log("3 rep %d: %.2f s, %d KB" % (rep + 1, r.wall, r.rss_kb))
    os.unlink(csv)
    gen_csv(csv, 1)
    base = importer(None, csv, os.path.join(tmp, "b3.out"), ["--dry-run", "--no-state"])
    os.unlink(csv)
    rate = n / min(r.wall for r in rs)
    rss = min(r.rss_kb for r in rs) / 1024.0
    lbl = "3 dry-run %gM rows" % (n / 1e6)
    row(lbl, "rows/s", rate, 500000, rate / 500000, ">= 500000", rate >= 500000, "%.0f")
    row(lbl, "peak RSS MB", rss, 16, rss / 16, "<= 16 MB", rss <= 16, "%.1f")
    row(lbl, "peak RSS MB (vs 1-row file)", rss, base.rss_kb / 1024.0,
        rss / (base.rss_kb / 1024.0), "info: fixed vs per-row", None, "%.1f")


def bench4(tmp):
    """Memory is flat: peak RSS of real runs (creates + codes), small vs large,
    and the large run again with 1% injected 503s, whose retries (backoff
    250 ms .. 30 s) hold rows back while thousands finish after them."""
    rss = {}
    for n, faults in ((MEM_SMALL, 0), (MEM_LARGE, 0), (MEM_LARGE, 1)):
        csv = os.path.join(tmp, "b4.csv")
        gen_csv(csv, n)
        vals = []
        for rep in range(REPS):
            with Sandbox(tmp, extra=["--fault-503", "0.01", "--seed", str(rep + 1)]
                         if faults else []) as sb:
                r = importer(sb, csv, os.path.join(tmp, "b4.out"),
                             ["--no-state", "--concurrency", "32"])
                st = sb.stats()
                check(r.rc == 0, "importer exited %d" % r.rc)
                check(st["creates"] == n and st["sms"] == n,
                      "sandbox saw %s creates, %s sms" % (st["creates"], st["sms"]))
                retried = st["faults"]["503"]
            vals.append(r.rss_kb / 1024.0)
            log("4 %d rows%s rep %d: %.2f s, %.1f MB%s" % (
                n, " 1% 503" if faults else "", rep + 1, r.wall, vals[-1],
                ", %d retried" % retried if faults else ""))
        os.unlink(csv)
        rss[(n, faults)] = min(vals)
    s = rss[(MEM_SMALL, 0)]
    small = "%dk" % (MEM_SMALL // 1000)
    row("4 memory %s rows" % small, "peak RSS MB", s, 64, s / 64, "<= 64 MB", s <= 64)
    for faults in (0, 1):
        l = rss[(MEM_LARGE, faults)]
        row("4 memory %dk rows%s" % (MEM_LARGE // 1000, " 1% 503" if faults else ""),
            "peak RSS MB (vs %s)" % small, l, s, l / s, "<= 64 MB, <= 1.2 x",
            l <= 64 and l <= 1.2 * s)


def bench6(tmp):
    """Rate accuracy: --rate R for RATE_SECONDS, request times from -v lines."""
    n = RATE * RATE_SECONDS
    csv = os.path.join(tmp, "b6.csv")
    gen_csv(csv, n)
    pat = re.compile(rb"create attempt \d+: ")
    rates, wins = [], []
    for rep in range(REPS):
        times = []

        def seen(lines, t):
            for ln in lines:
                if pat.search(ln):
                    times.append(t)
        with Sandbox(tmp) as sb:
            r = importer(sb, csv, os.path.join(tmp, "b6.out"),
                         ["--no-state", "--no-verification", "--concurrency", "32",
                          "--rate", str(RATE), "-v", "-v"], on_stderr=seen,
                         timeout=RATE_SECONDS * 3 + 30)
            check(r.rc == 0, "importer exited %d" % r.rc)
        check(len(times) == n, "saw %d request lines, not %d" % (len(times), n))
        rate = (n - 1) / (times[-1] - times[0])
        win, j = 0, 0
        for i in range(n):  # most events in any [t, t + 100 ms)
            while times[i] - times[j] >= 0.1:
                j += 1
            win = max(win, i - j + 1)
        rates.append(rate)
        wins.append(win)
        log("6 rep %d: %.1f req/s, max %d in 100 ms" % (rep + 1, rate, win))
    rate = min(rates, key=lambda x: abs(x - RATE))
    win = min(wins)
    lbl = "6 rate %d/s %ds" % (RATE, RATE_SECONDS)
    row(lbl, "measured req/s", rate, RATE, rate / RATE, "within 2%", abs(rate / RATE - 1) <= 0.02)
    row(lbl, "max req in 100 ms", win, RATE / 10.0, win / (RATE / 10.0), "<= 1.10 x",
        win <= 1.1 * RATE / 10.0, "%d", "%.0f")


FUNC_LINE = re.compile(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)$")
BORING = re.compile(r"\?\?\?:0x|below main|PROGRAM TOTALS|libc-start|main\.c:main|"
                    r"import_run|ld-linux|/work/|^/")


def annotate(cg, inclusive):
    out = subprocess.run(["callgrind_annotate", "--inclusive=" + ("yes" if inclusive else "no"), cg],
                         capture_output=True, text=True, timeout=120).stdout.splitlines()
    total, funcs = None, []
    for ln in out:
        m = FUNC_LINE.match(ln)
        if not m:
            continue
        if "PROGRAM TOTALS" in ln:
            total = int(m.group(1).replace(",", ""))
        else:
            funcs.append((m.group(1), m.group(2), m.group(3)))
    return total, funcs


def callgrind(tmp, what, args, requests=None):
    cg = os.path.join(tmp, "callgrind.out")
    try:
        r = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg] + args, timeout=600)
    except RuntimeError as e:
        print("profile %s: %s" % (what, e))
        return
    if r.rc not in (0, 1) or not os.path.exists(cg):
        print("profile %s: callgrind run failed (exit %d)" % (what, r.rc))
        return
    total, selfs = annotate(cg, False)
    _, incl = annotate(cg, True)
    os.unlink(cg)
    print("\nprofile: callgrind, dots-import %s" % what)
    if total:
        print("  instructions: %d total%s" % (total, ", %.0f per request" % (total / requests)
                                              if requests else ""))
    print("  top 10 functions by self cost (libcurl/jansson have no symbols: ???:0xADDR):")
    for n, pct, name in selfs[:10]:
        print("    %15s %6s%%  %s" % (n, pct, name))
    print("  top 12 named functions by inclusive cost (what the self cost above is spent for):")
    seen = set()
    shown = 0
    for n, pct, name in incl:
        short = name.split(" [")[0]
        if BORING.search(short) or short in seen:
            continue
        seen.add(short)
        print("    %15s %6s%%  %s" % (n, pct, name))
        shown += 1
        if shown == 12:
            break
    sys.stdout.flush()


def profile(tmp):
    """Where the CPU goes: callgrind over a 5000-request run (2500 users with
    verification) and over a 100 000-row dry run."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        print("profile: valgrind/callgrind_annotate not installed (apt-get install valgrind); skipped")
        return
    n = 2500
    csv = os.path.join(tmp, "prof.csv")
    gen_csv(csv, n)
    with Sandbox(tmp) as sb:
        callgrind(tmp, "%d users with verification (%d requests), --no-state, concurrency 32"
                  % (n, 2 * n),
                  [IMPORT, "--base-url", sb.url, "-q", "--no-state", "--concurrency", "32",
                   "-o", os.path.join(tmp, "prof.out"), csv], requests=2 * n)
    gen_csv(csv, 100000)
    callgrind(tmp, "--dry-run, 100000 rows",
              [IMPORT, "--dry-run", "--no-state", "-q", "-o", os.path.join(tmp, "prof.out"), csv])
    os.unlink(csv)


# ---------------------------------------------------------------- main

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print("machine: nproc %d, CPU %s" % (NPROC, model))
    print("tools: %s" % curl)
    print("each figure: best of %d (CPU-bound and ledger: best of %d); "
          "a fresh dots-sandbox per run on 127.0.0.1" % (REPS, CPU_REPS))
    sys.stdout.flush()


def main():
    global IMPORT, SANDBOX
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    IMPORT = os.path.abspath(os.path.join(build, "dots-import"))
    SANDBOX = os.path.abspath(os.path.join(build, "dots-sandbox"))
    for b in (IMPORT, SANDBOX):
        if not os.access(b, os.X_OK):
            sys.exit("bench: %s missing; run make first" % b)
    if not shutil.which("curl"):
        sys.exit("bench: curl not installed (make deps)")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    t0 = time.monotonic()
    machine()
    tmp = tempfile.mkdtemp(prefix="dots-bench.")
    failed = []
    try:
        build_rusage(tmp)
        plan = [("1", bench1), ("2", bench2_5), ("5b", bench5b), ("3", bench3), ("4", bench4),
                ("6", bench6)]
        for key, fn in plan:
            if ONLY and key not in ONLY and not (key == "2" and "5" in ONLY):
                continue
            log("benchmark %s ..." % key)
            b0 = time.monotonic()
            try:
                fn(tmp)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                failed.append(key)
                row(key, "ERROR: %s" % e, None, None, None, "-", False)
            log("benchmark %s: %.0f s" % (key, time.monotonic() - b0))
        print()
        print_table()
        for n_ in NOTES:
            print(n_)
        if PROFILE and (not ONLY or "p" in ONLY or "2" in ONLY):
            profile(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\ntotal bench time: %.0f s" % (time.monotonic() - t0))
    misses = sum(1 for r in ROWS if r[-1] == "MISS")
    print("%d PASS, %d MISS%s" % (sum(1 for r in ROWS if r[-1] == "PASS"), misses,
                                  ", errors in benchmark " + ",".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
