#!/usr/bin/env python3
"""
pacing.py - the pacing benchmark (`make bench`, after bench.py; alone:
`python3 bench/pacing.py build`). How close `dots-import --rate auto` (the
default) gets to a rate limit it is not told, against dots-sandbox's
limiters on 127.0.0.1, beside two same-run references: the fixed-rate best
case (`--rate 0.97 x limit`, the operator who guessed right) and a peer,
botocore's adaptive retry mode driving the same work (bench/peer_botocore.py).

Every run: a fresh sandbox (`--latency-ms 20`) and a fresh ledger, importer
`--concurrency 32`, users with verification codes (useful requests = creates
+ codes sent), its own process group, killed on overrun.

    python3 bench/pacing.py [BUILD_DIR]

Environment knobs:
    BENCH_PACING_REPS=3   runs per cell (best of N; 1 = "1 run")
    BENCH_PACING_SECONDS=60  target length of a scenario-1/4 run at the limit
                          (a cold start costs any client that is not told
                          the limit at least one Retry-After pause and its
                          ramp, about 1.3 s at 300/s: over 15 s that alone
                          caps an ideal learner near 0.9; over a minute it
                          weighs about what discovery weighs in the first
                          minute of a long migration)
    BENCH_PACING_WINDOW=60/6  the fixed window of scenario 2 (600/60 = 2-3 min runs)
    BENCH_PACING_WINDOWS=5    its run length in windows
    BENCH_PACING_PEER=1   0: no botocore peer
    BENCH_ONLY=pace1,pace3  a subset (pace = all; keys pace1..pace5)
"""
import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no bench/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (Sandbox, gen_csv, the environment without proxies)

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer_botocore.py")
LAT = 20
CONC = 32
REPS = B.env_int("BENCH_PACING_REPS", 3)
SECONDS = B.env_int("BENCH_PACING_SECONDS", 60)
WINDOW = os.environ.get("BENCH_PACING_WINDOW", "").strip() or "60/6"
WINDOWS = B.env_int("BENCH_PACING_WINDOWS", 5)
USE_PEER = B.env_int("BENCH_PACING_PEER", 1)
ONLY = set(k for k in B.ONLY if k.startswith("pace"))  # other keys are bench.py's
PEER_PY = None      # an interpreter that imports botocore.retries.adaptive
PEER_VERSION = None


def log(msg):
    sys.stderr.write("pacing: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- processes

class Proc:
    """A client run in its own session/process group; killed whole when it
    overruns (an error) or at stop_at (monotonic; a measuring cut-off)."""

    def __init__(self, args, timeout, stop_at=None, stderr_path=None):
        self.err = open(stderr_path or os.devnull, "w")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=self.err, env=B.ENV, start_new_session=True)
        self.deadline = self.t0 + timeout
        self.stop_at = stop_at
        self.cut = False
        self.rc = None
        self.wall = None

    def _kill(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except OSError:
            pass

    def wait(self):
        while self.p.poll() is None:
            now = time.monotonic()
            if self.stop_at is not None and now >= self.stop_at:
                self.cut = True
                self._kill()
                break
            if now >= self.deadline:
                self._kill()
                self.p.wait()
                self.err.close()
                raise RuntimeError("%s: killed after %.0f s" % (
                    os.path.basename(self.p.args[0 if "python" not in self.p.args[0] else 1]),
                    self.deadline - self.t0))
            time.sleep(0.02)
        self.p.wait()
        self._kill()  # anything it left behind in its group
        self.wall = time.monotonic() - self.t0
        self.rc = self.p.returncode
        self.err.close()
        return self


def importer_args(tmp, sb, csv, extra, tag):
    d = tempfile.mkdtemp(dir=tmp, prefix="run.")          # a fresh ledger per run
    return [B.IMPORT, "--base-url", sb.url, "-q", "--concurrency", str(CONC),
            "--state", os.path.join(d, "state.db"), "-o", os.path.join(d, "out.csv"),
            "--summary-json", os.path.join(d, "summary.json")] + list(extra) + [csv], d


def peer_args(tmp, sb, csv, shard=None):
    d = tempfile.mkdtemp(dir=tmp, prefix="peer.")
    a = [PEER_PY, PEER, "--url", sb.url, "--csv", csv, "--json", os.path.join(d, "peer.json"),
         "--threads", str(CONC)]
    if shard:
        a += ["--shard", shard]
    return a, d


def client_args(kind, tmp, sb, csv, limit, extra=(), shard=None, fixed=None):
    """kind: auto (default options), fixed (--rate fixed), peer."""
    if kind == "peer":
        return peer_args(tmp, sb, csv, shard)
    ex = list(extra)
    if shard:
        ex += ["--shard", shard]
    if kind == "fixed":
        ex += ["--rate", "%g" % (fixed if fixed is not None else round(0.97 * limit, 1))]
    return importer_args(tmp, sb, csv, ex, kind)


def own_useful(kind, d):
    """Useful requests one client reports (for shards sharing a sandbox)."""
    try:
        if kind == "peer":
            with open(os.path.join(d, "peer.json")) as f:
                j = json.load(f)
            return j["creates"] + j["sends"], j
        with open(os.path.join(d, "summary.json")) as f:
            j = json.load(f)
        return j["status"]["created"] + j["codes"]["sent"], j
    except (OSError, ValueError, KeyError):
        return None, None


class Run:
    pass


def measure(kind, tmp, csv, limit, sb_extra, timeout, stop_at_s=None, shards=None,
            extra=(), fixed=None):
    """One run of one client kind (shards: K/N strings run in parallel) against
    a fresh sandbox. Returns a Run with useful/s over the run, 429 %, stats."""
    with B.Sandbox(tmp, latency_ms=LAT, extra=sb_extra) as sb:
        t_sb = time.monotonic()
        procs = []
        for sh in (shards or [None]):
            args, d = client_args(kind, tmp, sb, csv, limit, extra, sh, fixed)
            stop = t_sb + stop_at_s if stop_at_s else None
            procs.append((Proc(args, timeout, stop, os.path.join(d, "stderr")), d))
        errs = []
        for p, _ in procs:
            try:
                p.wait()
            except RuntimeError as e:
                errs.append(str(e))
        st = sb.stats()
    if errs:
        raise RuntimeError("; ".join(errs))
    r = Run()
    r.kind = kind
    r.stats = st
    r.wall = max(p.wall for p, _ in procs)
    r.cut = any(p.cut for p, _ in procs)
    r.rcs = [p.rc for p, _ in procs]
    r.useful = st["creates"] + st["sms"]
    r.rate = r.useful / r.wall
    r.p429 = 100.0 * st["limited"] / max(1, st["requests"])
    r.per = []
    for p, d in procs:
        u, j = own_useful(kind, d)
        r.per.append((u, p.wall, j))
        if kind == "peer" and j and j.get("error"):
            log("peer error: %s" % j["error"])
        shutil.rmtree(d, ignore_errors=True)
    r.aps = st.get("accepted_per_s", [])
    return r


def window_rate(r, a, b):
    """Accepted /api requests per second over sandbox seconds [a, b)."""
    s = r.aps[a:b]
    if len(s) < b - a:
        return None
    return sum(s) / float(b - a)


# ---------------------------------------------------------------- table

ROWS = []
NOTES = []


def fmt_ref(rate, ratio, p429, runs=None):
    if rate is None:
        return "-"
    s = "%.1f (%.3f" % (rate, ratio)
    if p429 is not None:
        s += ", %.1f%% 429" % p429
    s += ")"
    if runs == 1:
        s += " 1 run"
    return s


def add_row(scenario, rate, ratio, p429, target, ok, fixed, peer, runs):
    ROWS.append((scenario + ("" if runs != 1 else " [1 run]"),
                 "-" if rate is None else "%.1f" % rate,
                 "-" if ratio is None else "%.3f" % ratio,
                 "-" if p429 is None else "%.1f" % p429,
                 target, "INFO" if ok is None else ("PASS" if ok else "MISS"), fixed, peer))


def print_table():
    head = ("scenario", "dots-import useful/s", "ratio to limit", "429 %", "target",
            "PASS/MISS", "fixed-rate best", "botocore peer")
    w = [max(len(str(x[i])) for x in ROWS + [head]) for i in range(len(head))]
    line = "+" + "+".join("-" * (n + 2) for n in w) + "+"
    out = [line, "| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |", line]
    for r in ROWS:
        out.append("| " + " | ".join(str(c).rjust(w[i]) if i in (1, 2, 3) else str(c).ljust(w[i])
                                     for i, c in enumerate(r)) + " |")
    out.append(line)
    print("\n".join(out))
    sys.stdout.flush()


def best(runs, key):
    runs = [r for r in runs if key(r) is not None]
    return max(runs, key=key) if runs else None


def kinds():
    return ["auto", "fixed"] + (["peer"] if PEER_PY else [])


def cells(tmp, csv, limit, sb_extra, timeout, key, label, **kw):
    """REPS rounds of (auto, fixed, peer), interleaved; {kind: [Run]}."""
    res = {k: [] for k in kinds()}
    for rep in range(REPS):
        for k in kinds():
            try:
                r = measure(k, tmp, csv, limit, sb_extra, timeout, **kw)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                log("%s %s rep %d: %s" % (label, k, rep + 1, e))
                continue
            res[k].append(r)
            v = key(r)
            log("%s %s rep %d: %s useful/s, %.1f%% 429, %.1f s%s, exit %s" % (
                label, k, rep + 1, "-" if v is None else "%.1f" % v, r.p429, r.wall,
                " (cut)" if r.cut else "", ",".join(str(c) for c in r.rcs)))
    return res


def ref_text(runs, key, limit, with429=True):
    b = best(runs, key)
    if not b:
        return "-"
    return fmt_ref(key(b), key(b) / limit, b.p429 if with429 else None)


# ---------------------------------------------------------------- scenarios

def users_csv(tmp, name, n):
    p = os.path.join(tmp, name)
    B.gen_csv(p, n)
    return p


def pace1(tmp):
    """Token bucket of 50, 300, 1000 requests/s."""
    for limit in (50, 300, 1000):
        n = max(100, int(limit * SECONDS / 2))
        csv = users_csv(tmp, "p1.csv", n)
        key = lambda r: r.rate  # noqa: E731
        res = cells(tmp, csv, limit, ["--limit-bucket", str(limit)],
                    timeout=max(120, 8 * SECONDS), key=key, label="1 bucket %d" % limit)
        b = best(res["auto"], key)
        if not b:
            add_row("1 bucket %d/s" % limit, None, None, None, "-", False, "-", "-", REPS)
            continue
        ratio = b.rate / limit
        add_row("1 bucket %d/s, %d users" % (limit, n), b.rate, ratio, b.p429,
                ">= 0.90, <= 3% 429", ratio >= 0.90 and b.p429 <= 3.0,
                ref_text(res["fixed"], key, limit), ref_text(res.get("peer", []), key, limit),
                len(res["auto"]))
        # the same runs once the limit is found: the sandbox's accepted
        # requests per second from s 5 to the last whole second (a long
        # migration spends nearly all its time here; a learned rate kept
        # in the ledger starts the next night here)
        def steady(r):
            return window_rate(r, 5, len(r.aps) - 1) if len(r.aps) > 8 else None
        sb_ = best(res["auto"], steady)
        if sb_:
            v = steady(sb_)
            add_row("1 bucket %d/s, from s 5 (limit found)" % limit, v, v / limit, None,
                    ">= 0.90", v / limit >= 0.90, ref_text(res["fixed"], steady, limit, False),
                    ref_text(res.get("peer", []), steady, limit, False), len(res["auto"]))
        pb = best(res.get("peer", []), key)
        if pb and pb.per and pb.per[0][2] and "cpu" in pb.per[0][2]:
            NOTES.append("1 bucket %d: the peer used %.1f s CPU in %.1f s (%.0f%% of a core; "
                         "python's GIL caps it at one)" % (limit, pb.per[0][2]["cpu"], pb.wall,
                                                           100 * pb.per[0][2]["cpu"] / pb.wall))
        os.unlink(csv)


def pace2(tmp):
    """Fixed window, with and without Retry-After."""
    wn, ws = (int(x) for x in WINDOW.split("/"))
    limit = wn / float(ws)
    n = max(20, int(wn * WINDOWS / 2))
    csv = users_csv(tmp, "p2.csv", n)
    key = lambda r: r.rate  # noqa: E731
    for ra in (True, False):
        sb = ["--limit-window", WINDOW] + ([] if ra else ["--limit-no-retry-after"])
        lbl = "2 window %s%s" % (WINDOW, "" if ra else " no Retry-After")
        res = cells(tmp, csv, limit, sb, timeout=max(180, 6 * WINDOWS * ws), key=key, label=lbl)
        b = best(res["auto"], key)
        if not b:
            add_row(lbl, None, None, None, "-", False, "-", "-", REPS)
            continue
        add_row(lbl + ", %d users" % n, b.rate, b.rate / limit, b.p429, ">= 0.85",
                b.rate / limit >= 0.85, ref_text(res["fixed"], key, limit),
                ref_text(res.get("peer", []), key, limit), len(res["auto"]))
    NOTES.append("2: useful/s over the client's wall; a run that starts inside a window gets "
                 "that window's remainder as well, so a perfect client scores above 1.0 here "
                 "(%d windows of %s)" % (WINDOWS, WINDOW))
    os.unlink(csv)


def pace3(tmp):
    """The limit halved (300 -> 150) and doubled (150 -> 300) at T = 10 s."""
    T = 10
    for a, b_, w0, lbl in ((300, 150, T + 5, "3 halved 300->150 at 10 s, s 15-20"),
                           (150, 300, T + 30, "3 doubled 150->300 at 10 s, s 40-45")):
        w1 = w0 + 5
        # enough users that even a perfect client is still running at w1
        n = int((a * T + b_ * (w1 - T)) / 2 * 1.15)
        csv = users_csv(tmp, "p3.csv", n)

        def key(r, w0=w0, w1=w1):
            return window_rate(r, w0, w1)
        res = cells(tmp, csv, b_, ["--limit-bucket", str(a), "--limit-schedule", "%d:%d" % (T, b_)],
                    timeout=w1 + 60, key=key, label=lbl, stop_at_s=w1 + 1.2,
                    fixed=round(0.97 * b_, 1))
        bst = best(res["auto"], key)
        if not bst:
            add_row(lbl, None, None, None, "-", False, "-", "-", REPS)
            continue
        r = key(bst)
        add_row(lbl, r, r / b_, bst.p429, ">= 0.85 x %d" % b_, r / b_ >= 0.85,
                ref_text(res["fixed"], key, b_), ref_text(res.get("peer", []), key, b_),
                len(res["auto"]))
        NOTES.append("%s: accepted per second, s %d-%d: %s" % (
            lbl, T - 2, w1, "; ".join("%s %s" % (k, " ".join(str(x) for x in best(v, key).aps[T - 2:w1]))
                                      for k, v in res.items() if best(v, key))))
        os.unlink(csv)
    NOTES.append("3: useful/s = the sandbox's accepted_per_s over the 5 s shown; 429 % over "
                 "the run (clients are stopped 1 s after it); fixed-rate best = --rate 0.97 x "
                 "the limit in force in that window, i.e. the operator who knew the new limit")


def pace4(tmp):
    """Three importers (--shard 0/3 .. 2/3, same input) on one 300/s bucket."""
    limit = 300
    n = int(limit * SECONDS / 2)
    csv = users_csv(tmp, "p4.csv", n)
    shards = ["0/3", "1/3", "2/3"]
    key = lambda r: r.rate  # noqa: E731
    res = cells(tmp, csv, limit, ["--limit-bucket", str(limit)], timeout=max(150, 10 * SECONDS),
                key=key, label="4 three shards", shards=shards, fixed=round(0.97 * limit / 3, 1))

    def fair(r):
        per = [u / w for u, w, _ in r.per if u is not None]
        if len(per) != 3:
            return None, "?"
        share = r.rate / 3
        worst = max(abs(x / share - 1) for x in per)
        return worst, "/".join("%.0f" % x for x in per)
    def together(r):
        # the sandbox's accepted requests per second while all three ran
        # (until the first shard ended: after it, fewer share the limit)
        end = int(min(p for _, p, _ in r.per))
        return window_rate(r, 0, end) if end >= 5 else None
    bst = best(res["auto"], together)
    if not bst:
        add_row("4 three shards", None, None, None, "-", False, "-", "-", REPS)
        return
    worst, per = fair(bst)
    tg = together(bst)
    ok = tg / limit >= 0.85 and worst is not None and worst <= 0.25
    add_row("4 3 shards, bucket 300/s, %d users, together" % n, tg, tg / limit, bst.p429,
            ">= 0.85, each +-25% of 1/3", ok, ref_text(res["fixed"], together, limit),
            ref_text(res.get("peer", []), together, limit), len(res["auto"]))
    add_row("4 same runs, to the last shard's end", bst.rate, bst.rate / limit, None, "info",
            None, ref_text(res["fixed"], key, limit, False),
            ref_text(res.get("peer", []), key, limit, False), len(res["auto"]))
    NOTES.append("4: together = the sandbox's accepted requests/s while all three ran (until "
                 "the first shard ended); to the end = all useful requests / the longest "
                 "shard's wall; per shard (own useful/s) dots-import %s, worst %.0f%% off a "
                 "fair share" % (per, 100 * worst if worst is not None else -1)
                 + "".join("; %s %s" % (k, fair(best(res[k], together))[1])
                           for k in ("fixed", "peer") if res.get(k)))
    os.unlink(csv)


def pace5(tmp):
    """No limit: bench 1's latency-bound run with the default (--rate auto:
    slow start, then unpaced) and with --rate unlimited, side by side."""
    n = 5000
    csv = users_csv(tmp, "p5.csv", n)
    ideal = CONC / (LAT / 1000.0)
    res = {"auto": [], "unlimited": []}
    for rep in range(REPS):
        for k, ex in (("auto", []), ("unlimited", ["--rate", "unlimited"])):
            with B.Sandbox(tmp, latency_ms=LAT) as sb:
                args, d = importer_args(tmp, sb, csv, ["--no-state", "--no-verification"], k)
                args.remove("--state")
                args.remove(os.path.join(d, "state.db"))
                p = Proc(args, 120).wait()
                st = sb.stats()
                shutil.rmtree(d, ignore_errors=True)
            if p.rc != 0 or st["creates"] != n:
                log("5 %s rep %d: exit %d, %d creates" % (k, rep + 1, p.rc, st["creates"]))
                continue
            res[k].append(n / p.wall)
            log("5 %s rep %d: %.0f req/s" % (k, rep + 1, n / p.wall))
    a = max(res["auto"]) if res["auto"] else None
    u = max(res["unlimited"]) if res["unlimited"] else None
    # "stays where it is": the default against pacing off, in the same run
    # (the ideal-bound row of bench.py is the absolute check)
    add_row("5 no limit: 5000 creates (bench 1), default", a, a / ideal if a else None, 0.0,
            ">= 0.97 x --rate unlimited", a is not None and u is not None and a >= 0.97 * u,
            "--rate unlimited: %s" % ("-" if u is None else "%.0f (%.3f)" % (u, u / ideal)), "-",
            len(res["auto"]))
    if a and u:
        NOTES.append("5: default (auto) / --rate unlimited = %.3f; the existing suite (bench.py "
                     "1, 2, 4, 5, 5b) runs the importer without --rate, i.e. with this "
                     "default, so its latency- and CPU-bound rows already guard against a "
                     "regression" % (a / u))
    os.unlink(csv)


# ---------------------------------------------------------------- main

def find_peer_python():
    global PEER_PY, PEER_VERSION
    if not USE_PEER:
        return
    for py in ("/usr/bin/python3", sys.executable):   # Debian's python3-botocore first
        if not py or not os.access(py, os.X_OK):
            continue
        try:
            r = subprocess.run([py, "-c", "import botocore, botocore.retries.adaptive; "
                                "print(botocore.__version__)"], capture_output=True, text=True,
                               timeout=30, env=B.ENV)
        except (OSError, subprocess.SubprocessError):
            continue
        if r.returncode == 0:
            PEER_PY, PEER_VERSION = py, r.stdout.strip()
            return


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    B.IMPORT = os.path.abspath(os.path.join(build, "dots-import"))
    B.SANDBOX = os.path.abspath(os.path.join(build, "dots-sandbox"))
    for b in (B.IMPORT, B.SANDBOX):
        if not os.access(b, os.X_OK):
            sys.exit("pacing: %s missing; run make first" % b)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    find_peer_python()
    t0 = time.monotonic()
    print("\npacing: sandbox --latency-ms %d, importer --concurrency %d, users with "
          "verification (useful = creates + codes sent), fresh sandbox and ledger per run, "
          "best of %d" % (LAT, CONC, REPS))
    print("pacing peer: %s" % ("botocore %s adaptive mode (%s, %d threads, keep-alive)"
                               % (PEER_VERSION, PEER_PY, CONC) if PEER_PY else
                               "none (apt-get install python3-botocore)"))
    sys.stdout.flush()
    tmp = tempfile.mkdtemp(prefix="dots-pacing.")
    failed = []
    try:
        for key, fn in (("pace1", pace1), ("pace3", pace3), ("pace4", pace4), ("pace2", pace2),
                        ("pace5", pace5)):
            if ONLY and key not in ONLY and "pace" not in ONLY:
                continue
            log("scenario %s ..." % key)
            s0 = time.monotonic()
            try:
                fn(tmp)
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
                failed.append(key)
                add_row(key + " ERROR: %s" % e, None, None, None, "-", False, "-", "-", REPS)
            log("scenario %s: %.0f s" % (key, time.monotonic() - s0))
        print()
        print_table()
        print("each cell: useful requests/s (ratio to the limit, 429s as % of requests); "
              "fixed-rate best = --rate 0.97 x limit (per shard in 4)")
        for n_ in NOTES:
            print(n_)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\npacing bench time: %.0f s" % (time.monotonic() - t0))
    print("%d PASS, %d MISS%s" % (sum(1 for r in ROWS if r[5] == "PASS"),
                                  sum(1 for r in ROWS if r[5] == "MISS"),
                                  ", errors in " + ",".join(failed) if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
