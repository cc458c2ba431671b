# cases_samples.py - the deployment samples run the way their hosts run
# them (7xx): `make install` into a temporary PREFIX/DESTDIR, the nightly
# script from cron's bare environment and as the systemd service starts it,
# systemd-analyze verify on the units, every YAML parsed, the Kubernetes
# jobs' command lines run against the installed binary, the Containerfile
# checked against the libraries the binaries really load. Exec'd in
# run.py's namespace; 127.0.0.1 only.
try:
    import yaml  # python3-yaml (scripts/deps.sh installs it)
except ImportError:  # only the cases that parse YAML fail, saying so
    yaml = None

CRON_PATH = "/usr/bin:/bin"  # what cron gives a job


def make_install(d, target="install", **kv):
    """Runs make TARGET from the repository with BUILD and the given
    variables; returns the completed process (checked)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    args = ["make", "-C", ROOT, "--no-print-directory", "BUILD=" + BUILD, target]
    args += ["%s=%s" % (k, v) for k, v in sorted(kv.items())]
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "make %s: exit %d: %s" % (target, p.returncode, p.stderr[-2000:]))
    return p


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


class Host:
    """An installed dots-import laid out as README's deployment section
    says: PREFIX, SYSCONFDIR and LOCALSTATEDIR under d (no DESTDIR, so the
    installed paths are the real ones), the state, log and metrics
    directories, /etc/dots-import/config.yaml from the installed example with
    the client id filled in and the base URL pointed at the sandbox, the key
    file mode 0600."""

    def __init__(self, d, sb_url):
        self.d = d
        self.prefix = os.path.join(d, "usr")
        self.etc = os.path.join(d, "etc")
        self.var = os.path.join(d, "var")
        make_install(d, PREFIX=self.prefix, SYSCONFDIR=self.etc, LOCALSTATEDIR=self.var)
        self.script = os.path.join(self.prefix, "lib", "dots-import", "nightly-export")
        self.examples = os.path.join(self.prefix, "share", "doc", "dots-import", "examples")
        self.units = os.path.join(self.prefix, "lib", "systemd", "system")
        self.state = os.path.join(self.var, "lib", "dots-import")
        self.logs = os.path.join(self.var, "log", "dots-import")
        self.metrics_dir = os.path.join(self.var, "lib", "node_exporter", "textfile_collector")
        for p in (self.state, self.logs, self.metrics_dir, os.path.join(self.etc, "dots-import")):
            os.makedirs(p, mode=0o750)
        with open(os.path.join(self.examples, "config.yaml")) as f:
            cfg = f.read()
        check("your-client-id" in cfg and "base_url: https://pls.senddots.com/api" in cfg,
              "the example config names a client id to fill in and the production API")
        cfg = cfg.replace("your-client-id", CLIENT_ID)
        cfg = cfg.replace("https://pls.senddots.com/api", sb_url)
        self.config = os.path.join(self.etc, "dots-import", "config.yaml")
        with open(self.config, "w") as f:
            f.write(cfg)
        key = os.path.join(self.etc, "dots-import", "api_key")
        check(key in cfg, "the example config's api_key_file is %s" % key)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (API_KEY + "\n").encode())
        os.close(fd)

    def results(self, kind="results.csv"):
        day = time.strftime("%Y-%m-%d")
        return os.path.join(self.state, "results", "users-%s.%s" % (day, kind))


def cron_file(path):
    """(environment, [(five time fields, user, command)]) of a cron.d file,
    read as Debian's cron reads it."""
    env, jobs = {}, []
    with open(path) as f:
        text = f.read()
    check(text.endswith("\n"), "cron ignores a last line without a newline")
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", s)
        if m:
            v = m.group(2)
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            env[m.group(1)] = v
            continue
        f = s.split(None, 6)
        check(len(f) == 7, "cron line without a user or a command: %r" % s)
        for field in f[:5]:
            check(re.match(r"^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,[0-9]+(-[0-9]+)?)*$", field),
                  "time field %r" % field)
        check("%" not in f[6], "an unescaped %% in a cron command is a newline: %r" % f[6])
        jobs.append((f[:5], f[5], f[6]))
    return env, jobs


def run_cron_job(env, command, timeout=120):
    """The command as cron runs it: /bin/sh -c, PATH=/usr/bin:/bin, the
    file's variables, no HOME and nothing else from this process."""
    args = ["env", "-i", "PATH=" + CRON_PATH, "SHELL=/bin/sh", "LOGNAME=dots-import"]
    args += ["%s=%s" % kv for kv in sorted(env.items())]
    return subprocess.run(args + ["/bin/sh", "-c", command], capture_output=True, text=True,
                          timeout=timeout)


def run_script(host, env, timeout=120):
    """nightly-export started with a bare environment plus env."""
    args = ["env", "-i", "PATH=" + CRON_PATH] + ["%s=%s" % kv for kv in sorted(env.items())]
    return subprocess.run(args + [host.script], capture_output=True, text=True, timeout=timeout)


def case_700_make_install_layout_destdir_prefix(d):
    dest = os.path.join(d, "dest")
    prefix = "/opt/dots-import"
    make_install(d, DESTDIR=dest, PREFIX=prefix)
    want = {  # path under PREFIX: mode
        "bin/dots-import": 0o755, "bin/dots-sandbox": 0o755,
        "share/man/man1/dots-import.1": 0o644,
        "lib/dots-import/nightly-export": 0o755,
        "lib/systemd/system/dots-import.service": 0o644,
        "lib/systemd/system/dots-import.timer": 0o644,
        "share/doc/dots-import/examples/config.yaml": 0o644,
        "share/doc/dots-import/examples/users.csv": 0o644,
        "share/doc/dots-import/examples/cron.d/dots-import": 0o644,
        "share/doc/dots-import/examples/kubernetes/cronjob.yaml": 0o644,
        "share/doc/dots-import/examples/kubernetes/indexed-job.yaml": 0o644,
    }
    found = {}
    for root, _, files in os.walk(dest):
        for f in files:
            p = os.path.join(root, f)
            found[os.path.relpath(p, dest + prefix)] = os.stat(p).st_mode & 0o777
    check(found == want, "installed %r, want %r" % (sorted(found.items()), sorted(want.items())))
    # the installed samples name the installed paths, never DESTDIR or the
    # default prefix
    for rel in want:
        if rel.startswith("bin/") or rel.endswith(".csv") or rel.endswith(".1"):
            continue
        with open(os.path.join(dest + prefix, rel)) as f:
            text = f.read()
        check(dest not in text, "%s names DESTDIR" % rel)
        check("/usr/local" not in text, "%s still names /usr/local" % rel)
        for p in re.findall(re.escape(prefix) + r"/[A-Za-z0-9_./-]*[A-Za-z0-9_-]", text):
            check(os.path.exists(dest + p), "%s names %s, which make install does not install" % (rel, p))
    unit = open(os.path.join(dest + prefix, "lib/systemd/system/dots-import.service")).read()
    check("ExecStart=%s/lib/dots-import/nightly-export\n" % prefix in unit, unit)
    script = open(os.path.join(dest + prefix, "lib/dots-import/nightly-export")).read()
    check("DOTS_IMPORT:-%s/bin/dots-import}" % prefix in script, "the script finds the installed dots-import")
    _, jobs = cron_file(os.path.join(dest + prefix, "share/doc/dots-import/examples/cron.d/dots-import"))
    check(len(jobs) == 1 and jobs[0][2].split()[0] == prefix + "/lib/dots-import/nightly-export",
          "the cron line runs the installed script: %r" % jobs)
    check(re.match(r"^[A-Za-z0-9_-]+$", "dots-import"), "cron.d name")
    # the default layout: every installed path README's deployment section names exists
    dest2 = os.path.join(d, "dest2")
    make_install(d, DESTDIR=dest2)
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    named = set()
    for p in re.findall(r"(/usr/local/[A-Za-z0-9_./{},-]*[A-Za-z0-9_}-])", readme):
        m = re.match(r"^(.*)\{([^}]*)\}(.*)$", p)  # dots-import.{service,timer}
        named |= {m.group(1) + alt + m.group(3) for alt in m.group(2).split(",")} if m else {p}
    check(len(named) >= 4, "README names the installed paths: %r" % named)
    for p in named:
        check(os.path.exists(dest2 + p), "README names %s; make install does not install it" % p)
    # uninstall takes all of it away again
    make_install(d, "uninstall", DESTDIR=dest, PREFIX=prefix)
    left = [os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs]
    check(not left, "left after uninstall: %r" % left)
    check(not os.path.exists(dest + prefix + "/lib/dots-import"), "uninstall removes its directories")


def case_701_nightly_export_from_cron(d):
    inp = os.path.join(d, "export.csv")
    write_users(inp, 30)
    with Sandbox() as sb:
        host = Host(d, sb.url)
        env, jobs = cron_file(os.path.join(host.examples, "cron.d", "dots-import"))
        check(len(jobs) == 1, "one job: %r" % jobs)
        (minute, hour, _, _, _), user, command = jobs[0]
        check(user == "dots-import" and (minute, hour) == ("15", "2"), "02:15 as dots-import: %r" % (jobs,))
        check("DATABASE_URL" in env, "the cron file says where the users come from")
        # the admin's one addition: this host exports with a command
        env["EXPORT_COMMAND"] = "cat " + inp
        p = run_cron_job(env, command)
        log = open(os.path.join(host.logs, "cron.log")).read()
        check(p.returncode == 0, "night 1: exit %d: %s" % (p.returncode, log))
        check(log.startswith("nightly-export: exported 30 lines to "), log)
        check("dots-import: error" not in log and "not found" not in log, log)
        assert_no_secrets(log, p.stdout, p.stderr)
        rows = read_csv(host.results())
        check(len(rows) == 30 and all(r["status"] == "created" and r["verification"] == "sent"
                                      for r in rows), "30 created and sent")
        assert_results_match_sandbox(rows, sb)
        s = json.load(open(host.results("summary.json")))
        check(s["exit_code"] == 0, "summary exit code %r" % s["exit_code"])
        metrics = os.path.join(host.metrics_dir, "dots_import.prom")
        check("dots_import_exit_code" in open(metrics).read(), "metrics written")
        check(os.stat(metrics).st_mode & 0o777 == 0o644, "metrics 0644 for node_exporter")
        export = os.path.join(host.state, "exports", "users-%s.csv" % time.strftime("%Y-%m-%d"))
        for f in (export, host.results(), host.results("rejects.csv"),
                  host.results("summary.json"), os.path.join(host.logs, "import.log"),
                  os.path.join(host.state, "dots-import.db")):
            check(os.stat(f).st_mode & 0o777 == 0o600, "%s is personal data: mode %o" %
                  (f, os.stat(f).st_mode & 0o777))
        # night 2: the export grew by 10 users and one broken row; dots-import's
        # exit 1 is the job's exit status, the earlier 30 are exists
        write_users(inp, 40, extra_rows=[["not-an-email", "1", "4155550199", "A", "B"]])
        p = run_cron_job(env, command)
        log = open(os.path.join(host.logs, "cron.log")).read()
        check(p.returncode == 1, "night 2: exit %d: %s" % (p.returncode, log))
        rows = read_csv(host.results())
        st = summary_counts(rows)
        check(st.get("exists") == 30 and st.get("created") == 10 and st.get("invalid") == 1, st)
        check(sb.stats()["creates"] == 40, "40 users in all")
        assert_one_user_one_sms(sb, 40)
        rejects = read_csv(host.results("rejects.csv"))
        check([r["email"] for r in rejects] == ["not-an-email"], "the rejects file: %r" % rejects)


def case_702_nightly_export_own_errors_and_exit_codes(d):
    inp = os.path.join(d, "export.csv")
    write_users(inp, 3)
    with Sandbox() as sb:
        host = Host(d, sb.url)
        base = {"EXPORT_COMMAND": "cat " + inp}

        def own(env, code, words):
            p = run_script(host, env)
            check(p.returncode == code, "%r: exit %d, want %d: %s" % (env, p.returncode, code, p.stderr))
            mine = [x for x in p.stderr.splitlines() if x.startswith("nightly-export: error: ")]
            check(len(mine) == 1 and words in mine[0], "%r: %r" % (env, p.stderr))
            check("dots-import:" not in p.stderr, "dots-import did not run: %r" % p.stderr)

        own({}, 5, "set EXPORT_COMMAND")
        own(dict(base, DOTS_IMPORT="/nonexistent/dots-import"), 5, "dots-import not found at /nonexistent")
        own(dict(base, DOTS_IMPORT_CONFIG=os.path.join(d, "none.yaml")), 5, "cannot read the config")
        nourl = os.path.join(d, "nourl.yaml")
        with open(nourl, "w") as f:
            f.write(re.sub(r"\n\s*base_url:[^\n]*", "", open(host.config).read()))
        own(dict(base, DOTS_IMPORT_CONFIG=nourl), 5, "would use the Dots sandbox")
        own(dict(base, METRICS_FILE=os.path.join(d, "no", "such", "m.prom")), 5, "METRICS_FILE=")
        own(dict(base, KEEP_DAYS="two weeks"), 5, "KEEP_DAYS")
        own(dict(base, STATE_DIRECTORY=os.path.join(d, "missing")), 5, "cannot write in")
        # the export's own exit status 2 is not taken for dots-import's 2
        own({"EXPORT_COMMAND": "echo 'FATAL: no such database' >&2; exit 2"}, 6, "exited 2")
        own({"EXPORT_COMMAND": "true"}, 6, "wrote nothing")
        if os.path.exists("/usr/bin/psql"):  # psql on cron's PATH, its server down
            own({"DATABASE_URL": "postgresql://127.0.0.1:1/customers?connect_timeout=5"}, 6, "psql exited")
        # last night's run still holds the lock
        import fcntl
        with open(os.path.join(host.state, "run.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            own(base, 7, "still holds")
        check(sb.stats()["requests"] == 0, "nothing reached the API: %r" % sb.stats())
        # dots-import's own errors and codes come through as they are: a
        # missing column is its exit 2, in its words
        bad = os.path.join(d, "bad.csv")
        with open(bad, "w") as f:
            f.write("mail,country_code,phone_number,first_name,last_name\nx@example.com,1,4155550100,A,B\n")
        p = run_script(host, {"EXPORT_COMMAND": "cat " + bad})
        check(p.returncode == 2 and "dots-import: error" in p.stderr and "email" in p.stderr,
              "exit %d: %s" % (p.returncode, p.stderr))
        p = run_script(host, base)
        check(p.returncode == 0, "then a good export: exit %d: %s" % (p.returncode, p.stderr))
        assert_no_secrets(p.stderr)
    if shutil.which("shellcheck"):
        p = subprocess.run(["shellcheck", "-s", "sh", host.script], capture_output=True, text=True)
        check(p.returncode == 0, "shellcheck: %s" % p.stdout)
    else:
        print("     702: shellcheck not installed: the script's lint skipped")


def case_703_nightly_export_as_the_systemd_service_sigterm(d):
    inp = os.path.join(d, "export.csv")
    write_users(inp, 300)
    with Sandbox(["--latency-ms", "150"]) as sb:
        host = Host(d, sb.url)
        os.unlink(os.path.join(host.etc, "dots-import", "api_key"))  # the key as a credential only
        cred = os.path.join(d, "credentials")
        os.mkdir(cred, 0o700)
        with open(os.path.join(cred, "dots-api-key"), "w") as f:
            f.write(API_KEY + "\n")
        os.chmod(os.path.join(cred, "dots-api-key"), 0o400)
        unit = open(os.path.join(host.units, "dots-import.service")).read()
        check("ExecStart=%s\n" % host.script in unit, "ExecStart runs the installed script")
        check("LoadCredential=dots-api-key:" in unit and "StateDirectory=dots-import" in unit, unit)
        # as systemd starts it: its PATH, StateDirectory=, LogsDirectory=,
        # LoadCredential= and Environment= as variables, nothing else
        env = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "STATE_DIRECTORY=" + host.state, "LOGS_DIRECTORY=" + host.logs,
               "CREDENTIALS_DIRECTORY=" + cred, "EXPORT_COMMAND=cat " + inp]
        proc = subprocess.Popen(env + [host.script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        wait_requests(sb, 20, proc)
        proc.send_signal(signal.SIGTERM)  # systemctl stop
        _, err = proc.communicate(timeout=60)
        check(proc.returncode == 143, "SIGTERM: exit %d, want dots-import's 143: %s" % (proc.returncode, err))
        rows = read_csv(host.results())
        st = summary_counts(rows)
        check(st.get("pending", 0) > 0 and st.get("created", 0) > 0, "stopped half way: %r" % st)
        p = subprocess.run(env + [host.script], capture_output=True, text=True, timeout=120)
        check(p.returncode == 0, "next start: exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(host.results())
        check(all(r["status"] in ("created", "exists") for r in rows), summary_counts(rows))
        assert_one_user_one_sms(sb, 300)
        assert_no_secrets(err, p.stderr)


def case_704_systemd_units_verify(d):
    sa = shutil.which("systemd-analyze")
    prefix = os.path.join(d, "usr")
    make_install(d, PREFIX=prefix)
    units = os.path.join(prefix, "lib", "systemd", "system")
    service = open(os.path.join(units, "dots-import.service")).read()
    m = re.search(r"^ExecStart=(\S+)", service, re.M)
    check(m and os.access(m.group(1), os.X_OK), "ExecStart names an installed, executable file: %r" %
          (m and m.group(1)))
    check(re.search(r"^SuccessExitStatus=1$", service, re.M), "exit 1 (rows to fix) is no unit failure")
    check("ReadWritePaths=-" in service, "a missing textfile collector does not stop the unit")
    if not sa:
        print("     704: systemd-analyze not installed (a container without systemd): verify skipped")
        return
    # Documentation=man:dots-import(1) is looked up with man(1) in the
    # installed manual; without man-db only the rest is verified
    man = [] if shutil.which("man") else ["--man=no"]
    env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man") + ":")
    p = subprocess.run([sa, "verify"] + man + [os.path.join(units, "dots-import.service"),
                        os.path.join(units, "dots-import.timer")], capture_output=True, text=True,
                       timeout=120, env=env)
    ours = [line for line in (p.stdout + p.stderr).splitlines() if "dots-import" in line or d in line]
    check(p.returncode == 0 and not ours, "systemd-analyze verify: exit %d: %s" % (p.returncode, "\n".join(ours)))
    # it does check: the repository's unit names the script by its installed
    # path, which is not executable here
    broken = os.path.join(d, "broken")
    os.mkdir(broken)
    with open(os.path.join(broken, "dots-import.service"), "w") as f:
        f.write(service.replace(m.group(1), os.path.join(d, "no-such-script")))
    p = subprocess.run([sa, "verify"] + man + [os.path.join(broken, "dots-import.service")],
                       capture_output=True, text=True, timeout=120, env=env)
    check(p.returncode != 0 and "no-such-script" in p.stderr, "verify catches a missing script: %s" % p.stderr)
    timer = open(os.path.join(units, "dots-import.timer")).read()
    cal = re.search(r"^OnCalendar=(.+)$", timer, re.M).group(1)
    p = subprocess.run([sa, "calendar", cal], capture_output=True, text=True)
    check(p.returncode == 0 and "02:15:00" in p.stdout, "OnCalendar %r: %s" % (cal, p.stdout + p.stderr))


def need_yaml():
    check(yaml is not None, "python3-yaml is not installed (make deps installs it)")


def k8s_containers(doc):
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    return pod, pod["containers"]


def containerfile():
    with open(os.path.join(ROOT, "Containerfile")) as f:
        text = f.read()
    return text, re.sub(r"\\\n", " ", text)


def case_705_every_yaml_sample_parses(d):
    need_yaml()
    version = makefile_version()
    image = "registry.example.com/dots-import:" + version
    _, cf = containerfile()
    uid = re.search(r"^USER (\d+)", cf, re.M).group(1)
    kdir = os.path.join(ROOT, "samples", "kubernetes")
    manifests = sorted(f for f in os.listdir(kdir) if f.endswith(".yaml"))
    check(manifests == ["cronjob.yaml", "indexed-job.yaml"], manifests)
    help_text = run_import(["--help"]).stdout
    for name in manifests:
        with open(os.path.join(kdir, name)) as f:
            text = f.read()
        docs = [x for x in yaml.safe_load_all(text) if x is not None]
        check(docs, name)
        if name == "cronjob.yaml":
            check("podman build -t %s -f Containerfile ." % image in text, "%s says how its image is built" % name)
        for doc in docs:
            check(doc.get("kind") != "Secret", "%s: a Secret in a sample overwrites the real one on apply" % name)
            check((doc.get("apiVersion"), doc.get("kind")) in (("batch/v1", "CronJob"), ("batch/v1", "Job")),
                  "%s: %r" % (name, (doc.get("apiVersion"), doc.get("kind"))))
            pod, containers = k8s_containers(doc)
            check(str(pod["securityContext"]["runAsUser"]) == uid, "%s runs as the image's user %s" % (name, uid))
            vols = {v["name"] for v in pod["volumes"]}
            for c in containers:
                check(c["image"] == image, "%s: image %r, the Containerfile builds %s" % (name, c["image"], image))
                env = {e["name"]: e for e in c.get("env", [])}
                url = env.get("DOTS_BASE_URL", {}).get("value", "")
                check(url.startswith("https://") and "sandbox" not in url,
                      "%s sets the production base URL: %r" % (name, url))
                check(not any(k in env for k in ("DOTS_API_KEY", "DOTS_CLIENT_ID")) and
                      [s["secretRef"]["name"] for s in c["envFrom"]] == ["dots-credentials"],
                      "%s: credentials from the Secret only" % name)
                for m in c["volumeMounts"]:
                    check(m["name"] in vols, "%s: mount of an undefined volume %s" % (name, m["name"]))
                args = c["args"]
                for ref in re.findall(r"\$\((\w+)\)", " ".join(args)):
                    check(ref in env, "%s: $(%s) is not defined in env" % (name, ref))
                for opt in (a for a in args if a.startswith("--")):
                    check(opt in help_text, "%s: dots-import has no option %s" % (name, opt))
                if doc["kind"] == "Job":
                    n = int(args[args.index("--shard") + 1].split("/")[1])
                    check(n == doc["spec"]["completions"] == doc["spec"]["parallelism"],
                          "%s: --shard .../%d for %d completions" % (name, n, doc["spec"]["completions"]))
    # the config sample parses as YAML and dots-import's own loader takes it
    cfg = os.path.join(ROOT, "samples", "config.yaml")
    check(isinstance(yaml.safe_load(open(cfg)), dict), "config.yaml")
    inp = os.path.join(d, "u.csv")
    write_users(inp, 2)
    p = run_import(["--config", cfg, "--dry-run", "--no-state", inp], creds=False)
    check(p.returncode == 0, "dots-import --config samples/config.yaml: exit %d: %s" % (p.returncode, p.stderr))


def case_706_kubernetes_jobs_run_as_their_pods(d):
    need_yaml()
    _, cf = containerfile()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", cf, re.M).group(1))
    workdir = re.search(r"^WORKDIR (\S+)$", cf.split("\nFROM ")[-1], re.M).group(1)
    prefix = os.path.join(d, "usr")
    make_install(d, PREFIX=prefix)
    check(entry[0].startswith("/usr/local/bin/"), "ENTRYPOINT %r" % entry)
    binary = os.path.join(prefix, "bin", os.path.basename(entry[0]))
    kdir = os.path.join(ROOT, "samples", "kubernetes")
    n = 80
    with Sandbox() as sb:
        for i, name in enumerate(("cronjob.yaml", "indexed-job.yaml")):
            doc = yaml.safe_load(open(os.path.join(kdir, name)))
            pod, (c,) = k8s_containers(doc)
            vols = {}  # each volume a directory of its own; the pod sees it at mountPath
            for m in c["volumeMounts"]:
                vols[m["mountPath"]] = os.path.join(d, name, m["name"])
                os.makedirs(vols[m["mountPath"]], exist_ok=True)
            check("/exports" in vols, "%s mounts the exports" % name)
            write_users(os.path.join(vols["/exports"], "users.csv"), n, start=i * n)
            pods = int(doc["spec"].get("completions", 1)) if doc["kind"] == "Job" else 1
            procs = []
            for index in range(pods):
                env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       "DOTS_CLIENT_ID": CLIENT_ID, "DOTS_API_KEY": API_KEY}  # the Secret
                for e in c["env"]:
                    if "value" in e:
                        env[e["name"]] = e["value"]
                    else:
                        check("job-completion-index" in e["valueFrom"]["fieldRef"]["fieldPath"], e)
                        env[e["name"]] = str(index)
                env["DOTS_BASE_URL"] = sb.url  # the one change: the sandbox, not production
                args = []
                for a in c["args"]:  # Kubernetes' $(VAR) expansion, then the mounts
                    a = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a)
                    for mp in sorted(vols, key=len, reverse=True):
                        if a.startswith(mp + "/"):
                            a = vols[mp] + a[len(mp):]
                            break
                    args.append(a)
                cwd = vols.get(workdir, d)
                procs.append(subprocess.Popen(["env", "-i"] + ["%s=%s" % kv for kv in env.items()] +
                                              [binary] + entry[1:] + args, cwd=cwd, text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            for p in procs:
                _, err = p.communicate(timeout=120)
                check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, err))
                assert_no_secrets(err)
            created = []
            for f in os.listdir(vols["/state"]):
                if f.startswith("results") and f.endswith(".csv"):
                    path = os.path.join(vols["/state"], f)
                    check(os.stat(path).st_mode & 0o777 == 0o600, "%s mode" % f)
                    created += [r["email"] for r in read_csv(path) if r["status"] == "created"]
            check(sorted(created) == sorted(set(created)) and len(created) == n,
                  "%s: %d pods created %d users of %d, each once" % (name, pods, len(set(created)), n))
        check(sb.stats()["creates"] == 2 * n, "every row created once per sample")
        assert_one_user_one_sms(sb, 2 * n)


def deps_packages():
    with open(os.path.join(ROOT, "scripts", "deps.sh")) as f:
        m = re.search(r'^PKGS="([^"]*)"', f.read(), re.M)
    return m.group(1).split()


def apt_line(stage):
    m = re.search(r"apt-get install -y --no-install-recommends ([^&]*)&&", stage)
    check(m, "apt-get install --no-install-recommends in %r" % stage[:200])
    return set(m.group(1).split())


def case_707_containerfile_builds_what_the_binaries_need(d):
    raw, cf = containerfile()
    stages = re.split(r"^FROM ", cf, flags=re.M)[1:]
    check(len(stages) == 2 and all(s.startswith("debian:12-slim") for s in stages),
          "two stages FROM debian:12-slim: %r" % [s.split("\n")[0] for s in stages])
    build, image = stages
    # the build stage: the compiler and every -dev library scripts/deps.sh
    # builds with (cmocka is for the tests), then make install
    need = {p for p in deps_packages() if p.endswith("-dev") and p != "libcmocka-dev"}
    need |= {"build-essential", "pkg-config"}
    have = apt_line(build)
    check(need <= have, "build stage lacks %s" % sorted(need - have))
    check(re.search(r"^RUN make .*\binstall\b", build, re.M) and "DESTDIR=/install" in build,
          "the build stage runs make install")
    check(re.search(r"BUILD=/\S+", build), "a host build/ copied in is never taken for the build")
    check("COPY --from=build /install/ /" in image, "the image takes what make install installed")
    # the image: a package for every library the binaries load (libc6 is
    # in every Debian image), and the CA bundle for HTTPS
    runtime = apt_line(image)
    check("ca-certificates" in runtime, "ca-certificates")
    wanted = set()
    for b in ("dots-import", "dots-sandbox"):
        out = subprocess.run(["readelf", "-d", os.path.join(BUILD, b)], capture_output=True,
                             text=True).stdout
        for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out):
            if lib.startswith(("libasan", "libubsan")):
                continue  # a sanitizer build's
            ld = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
            m = re.search(r"^\s*%s \(.*x86-64.*\) => (\S+)$" % re.escape(lib), ld, re.M) or \
                re.search(r"^\s*%s \(.*\) => (\S+)$" % re.escape(lib), ld, re.M)
            check(m, "%s not found by ldconfig" % lib)
            real = os.path.realpath(m.group(1))
            owner = None
            for cand in (real, real[len("/usr"):] if real.startswith("/usr/") else "/usr" + real):
                q = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
                if q.returncode == 0:
                    owner = q.stdout.split(":")[0]
                    break
            check(owner, "no package owns %s" % real)
            wanted.add(owner)
    wanted -= {"libc6", "libgcc-s1"}  # in every Debian image
    check(wanted <= runtime, "the image lacks %s (the binaries load them)" % sorted(wanted - runtime))
    # runs as the unprivileged user the Kubernetes samples name; the
    # context leaves out host builds
    check(re.search(r"useradd --system --uid 10001\b", image) and re.search(r"^USER 10001", image, re.M),
          "USER 10001")
    ignore = open(os.path.join(ROOT, ".dockerignore")).read().split()
    check("build" in ignore and ".git" in ignore, ".dockerignore: %r" % ignore)
    check("registry.example.com/dots-import:%s" % makefile_version() in raw, "the tag is the version")
