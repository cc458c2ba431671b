# cases_pacing.py - adaptive pacing end to end (2xx family): against a
# sandbox token bucket the default run finds the limit from its 429s,
# reports it (summary, JSON, metrics), keeps it in the ledger, and the next
# run starts from it. Exec'd in run.py's namespace; 127.0.0.1 only.


def case_230_auto_pacing_learns_and_keeps_the_limit(d):
    inp = os.path.join(d, "users.csv")
    state = os.path.join(d, "s.db")
    sj = os.path.join(d, "s.json")
    metrics = os.path.join(d, "m.prom")
    write_users(inp, 900)
    with Sandbox(["--limit-bucket", "150", "--latency-ms", "5"]) as sb:
        p = run_import(["--base-url", sb.url, "--state", state, "--concurrency", "16",
                        "--no-verification", "--summary-json", sj, "--metrics-file", metrics, inp],
                       timeout=120)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        s = json.load(open(sj))
        learned = s["pacing"]["learned_rate"]
        check(s["pacing"]["rate_limited"] > 0, "the API pushed back: %r" % s["pacing"])
        check(90 <= learned <= 200, "learned %.1f for a limit of 150" % learned)
        check("pacing: " in p.stderr and "learned" in p.stderr, p.stderr)
        check("dots_import_learned_rate" in open(metrics).read(), "metrics")
        kept = float(subprocess.run(["sqlite3", state, "SELECT v FROM meta WHERE k='learned_rate'"],
                                    capture_output=True, text=True).stdout.strip() or 0)
        check(abs(kept - learned) < 1, "ledger keeps %.1f, summary says %.1f" % (kept, learned))
        first_429 = s["pacing"]["rate_limited"]
        st0 = sb.stats()
        # tonight's run: 900 more users, starting from the learned rate
        write_users(inp, 900, start=900)
        p = run_import(["--base-url", sb.url, "--state", state, "--concurrency", "16",
                        "--no-verification", "--summary-json", sj, inp], timeout=120)
        check(p.returncode == 0, "second run exit %d: %s" % (p.returncode, p.stderr))
        s2 = json.load(open(sj))
        check(s2["pacing"]["rate_limited"] <= first_429,
              "second run: %d 429s, first %d" % (s2["pacing"]["rate_limited"], first_429))
        check(sb.stats()["creates"] - st0["creates"] == 900, "all created")


def case_231_429s_never_trip_the_breaker(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 300)
    # a fixed one-second window whose 429s carry no Retry-After
    with Sandbox(["--limit-window", "60/1", "--limit-no-retry-after"]) as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--no-verification",
                        "--concurrency", "16", inp], timeout=120)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        check("circuit breaker" not in p.stderr, p.stderr)
        check(sb.stats()["creates"] == 300, "all created")


def case_232_rate_unlimited_and_ceiling(d):
    inp = os.path.join(d, "users.csv")
    write_users(inp, 200)
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--no-verification", "--rate",
                        "unlimited", inp])
        check(p.returncode == 0, p.stderr)
        p = run_import(["--base-url", sb.url, "--no-state", "--no-verification", "--rate",
                        "fast", inp])
        check(p.returncode == 2 and "--rate" in p.stderr, "bad --rate: %s" % p.stderr)


def case_233_shards_share_one_limit(d):
    # two shards of one job against one token bucket of 100/s: each learns
    # a share of it from its own 429s (probing at half the speed, so that
    # together they probe as one), both finish, nothing is lost
    inp = os.path.join(d, "users.csv")
    write_users(inp, 800)
    with Sandbox(["--limit-bucket", "100", "--latency-ms", "5"]) as sb:
        procs = []
        for k in (0, 1):
            sj = os.path.join(d, "s%d.json" % k)
            procs.append((start_import(["--base-url", sb.url, "--shard", "%d/2" % k,
                                        "--state", os.path.join(d, "s%d.db" % k),
                                        "-o", os.path.join(d, "out%d.csv" % k),
                                        "--concurrency", "16", "--no-verification",
                                        "--summary-json", sj, inp]), sj))
        learned = []
        for p, sj in procs:
            out, err = p.communicate(timeout=120)
            check(p.returncode == 0, "exit %d: %s" % (p.returncode, err))
            s = json.load(open(sj))
            learned.append(s["pacing"]["learned_rate"])
            check(s["pacing"]["rate_limited"] > 0, "the API pushed back: %r" % s["pacing"])
        check(sb.stats()["creates"] == 800, "all created once: %r" % sb.stats())
        # a share each, not the whole limit twice
        check(sum(learned) <= 160 and min(learned) >= 20,
              "learned %r for a limit of 100 shared by two" % learned)
