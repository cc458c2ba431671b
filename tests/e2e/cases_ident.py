# cases_ident.py - scripted e2e cases for identities across nights: what the
# ledger keeps of each user (and ledgers from before that), an edited email
# or name (`changed`), a phone or external id that moved (`conflict`, or a
# new user with --allow-phone-change), a `duplicate` re-imported from the
# rejects file, and the dry run's preview of tonight. Every input is
# generated here. Exec'd in run.py's namespace; talks only to 127.0.0.1.
import sqlite3 as _sqlite3

_ID_HEADER = ["email", "country_code", "phone_number", "first_name", "last_name"]


def _id_csv(d, name, rows, header=None):
    path = os.path.join(d, name)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header or _ID_HEADER)
        for r in rows:
            w.writerow(r)
    return path


def _id_run(sb, d, inp, state, extra=(), out=None, want=None):
    out = out or os.path.join(d, os.path.basename(inp)[:-4] + ".out.csv")
    p = run_import(["--base-url", sb.url, "--state", state, "-o", out] + list(extra) + [inp])
    if want is not None:
        check(p.returncode == want, "exit %d, want %d: %s" % (p.returncode, want, p.stderr))
    assert_no_secrets(p.stdout, p.stderr)
    return p, (read_csv(out) if os.path.exists(out) else None)


def _ledger_rows(state):
    # immutable: read the closed ledger without making a -wal or -shm beside it
    db = _sqlite3.connect("file:%s?immutable=1" % state, uri=True)
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(users)")]
        rows = [dict(zip(cols, r)) for r in db.execute("SELECT * FROM users ORDER BY rowid")]
    finally:
        db.close()
    return cols, rows


def _fingerprint(client_id):
    h = 0xcbf29ce484222325
    for b in ("dots-import-client:" + client_id).encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def _phone_key(cc, national):
    return (int(cc) << 53) | (len(cc) << 51) | (len(national) << 47) | int(national)


def case_640_ledger_keeps_fields_and_older_ledgers_migrate(d):
    # a ledger as earlier versions made it: no email, names or external id
    state = os.path.join(d, "old.db")
    with Sandbox() as sb:
        db = _sqlite3.connect(state)
        db.executescript(
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
            "CREATE TABLE users(key INTEGER NOT NULL UNIQUE, country_code TEXT NOT NULL,"
            " phone_number TEXT NOT NULL, id TEXT NOT NULL, verif INTEGER NOT NULL,"
            " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);")
        db.execute("INSERT INTO meta VALUES('format', 'dots-import-ledger-1')")
        db.execute("INSERT INTO meta VALUES('base_url', ?)", (sb.url,))
        db.execute("INSERT INTO meta VALUES('client', ?)", (_fingerprint(CLIENT_ID),))
        db.execute("INSERT INTO users VALUES(?, '44', '7700900001', 'usr_old', 2, 1, 1)",
                   (_phone_key("44", "7700900001"),))
        db.commit()
        db.close()
        os.chmod(state, 0o600)
        inp = _id_csv(d, "night.csv", [
            ["whoever@example.com", "44", "7700900001", "Any", "Name"],
            ["new@example.com", "44", "7700900002", "New", "Person"]])
        p, res = _id_run(sb, d, inp, state, want=0)
        # the old user's row has no stored fields: never `changed`
        check([r["status"] for r in res] == ["exists", "created"], "%r" % res)
        check(res[0]["user_id"] == "usr_old" and res[0]["error"] == "", "%r" % res[0])
        cols, rows = _ledger_rows(state)
        for c in ("email", "first_name", "last_name", "external_id"):
            check(c in cols, "column %s added: %r" % (c, cols))
        check(rows[0]["email"] is None and rows[0]["first_name"] is None, "%r" % rows[0])
        check((rows[1]["email"], rows[1]["first_name"], rows[1]["last_name"]) ==
              ("new@example.com", "New", "Person"), "what it was created with: %r" % rows[1])
        check(os.stat(state).st_mode & 0o777 == 0o600, "ledger stays 0600")
        # the migrated ledger opens again, and the new user is now compared
        inp2 = _id_csv(d, "night2.csv", [
            ["whoever@example.com", "44", "7700900001", "Any", "Name"],
            ["new@example.com", "44", "7700900002", "New", "Person"]])
        p, res = _id_run(sb, d, inp2, state, want=0)
        check([r["status"] for r in res] == ["exists", "exists"], "%r" % res)


def case_641_edited_email_or_name_is_changed(d):
    state = os.path.join(d, "s.db")
    rows = [["ann@example.com", "44", "7700900001", "Ann", "Lee"],
            ["bo@example.com", "44", "7700900002", "Bo", "Ng"],
            ["cy@example.com", "44", "7700900003", "Cy", "Ox"]]
    with Sandbox() as sb:
        _id_run(sb, d, _id_csv(d, "n1.csv", rows), state, want=0)
        sms = sb.stats()["sms"]
        rows[0][0] = "ann.lee@example.com"          # email edited
        rows[1][3] = "Bob"                          # first name edited
        log = os.path.join(d, "run.log")
        summary = os.path.join(d, "summary.json")
        metrics = os.path.join(d, "m.prom")
        p, res = _id_run(sb, d, _id_csv(d, "n2.csv", rows), state, want=0,
                         extra=["-v", "--log-file", log, "--summary-json", summary,
                                "--metrics-file", metrics])
        check([r["status"] for r in res] == ["changed", "changed", "exists"], "%r" % res)
        first = read_csv(os.path.join(d, "n1.out.csv"))
        check(res[0]["user_id"] == first[0]["user_id"] and res[1]["user_id"] == first[1]["user_id"],
              "the user id Dots has")
        check(res[0]["verification"] == "" and res[0]["http_status"] == "", "%r" % res[0])
        check(res[0]["error"] == "email differs from the one Dots has (created with "
              "a***@example.com); Dots was not updated", res[0]["error"])
        check(res[1]["error"] == "first_name differs from the one Dots has (created with "
              "\"B***\"); Dots was not updated", res[1]["error"])
        check(sb.stats()["sms"] == sms and sb.stats()["creates"] == 3, "no code, no create")
        check("1 exists 2 changed" in p.stderr, p.stderr)
        with open(summary) as f:
            s = json.load(f)
        check(s["status"]["changed"] == 2 and s["exit_code"] == 0, "%r" % s["status"])
        with open(metrics) as f:
            m = f.read()
        check('status="changed"} 2' in m, m)
        with open(log) as f:
            logtext = f.read()
        # the results file (0600) may say what Dots has; stderr and the log do not
        for t in (p.stderr, logtext):
            check("email differs from what Dots has for user" in t, t)
            check("@example.com" not in t and "a***" not in t, "no email in logs: %s" % t)
        check(os.stat(os.path.join(d, "n2.out.csv")).st_mode & 0o777 == 0o600, "0600")
        # the ledger keeps what Dots has: tomorrow says the same
        p, res = _id_run(sb, d, _id_csv(d, "n3.csv", rows), state, want=0)
        check([r["status"] for r in res] == ["changed", "changed", "exists"], "%r" % res)


def case_642_external_id_clash_is_conflict(d):
    state = os.path.join(d, "s.db")
    hdr = _ID_HEADER + ["external_id"]
    n1 = [["ann@example.com", "44", "7700900001", "Ann", "Lee", "crm-1"],
          ["bo@example.com", "44", "7700900002", "Bo", "Ng", "crm-2"]]
    with Sandbox() as sb:
        _id_run(sb, d, _id_csv(d, "n1.csv", n1, hdr), state, want=0)
        st = sb.stats()
        n2 = [["ann@example.com", "44", "7700900011", "Ann", "Lee", "crm-1"],   # new phone
              ["bo@example.com", "44", "7700900002", "Bo", "Ng", "crm-9"],     # other id
              ["cy@example.com", "44", "7700900003", "Cy", "Ox", "crm-3"]]     # new person
        rej = os.path.join(d, "rejects.csv")
        p, res = _id_run(sb, d, _id_csv(d, "n2.csv", n2, hdr), state, want=1,
                         extra=["--rejects", rej, "-v"])
        check([r["status"] for r in res] == ["conflict", "conflict", "created"], "%r" % res)
        check(res[0]["user_id"] == "" and res[0]["verification"] == "", "not created: %r" % res[0])
        check(res[0]["error"].startswith('external_id "crm-1" belongs to user ') and
              "created with phone +44 7700900001: not created (--allow-phone-change creates"
              in res[0]["error"], res[0]["error"])
        check(res[1]["error"].startswith("phone belongs to user ") and
              'created with external_id "crm-2" (this row has "crm-9"): not created'
              in res[1]["error"], res[1]["error"])
        check(sb.stats()["creates"] == st["creates"] + 1 and sb.stats()["sms"] == st["sms"] + 1,
              "only the new person created and texted")
        rj = read_csv(rej)
        check([r["phone_number"] for r in rj] == ["7700900011", "7700900002"], "%r" % rj)
        check(rj[0]["external_id"] == "crm-1" and "belongs to user" in rj[0]["error"], "%r" % rj)
        check("1 created 2 conflict" in p.stderr, p.stderr)
        check("crm-1" not in p.stderr and "7700900001" not in p.stderr, "no ids in the log")
        _, rows = _ledger_rows(state)
        check({r["external_id"] for r in rows} == {"crm-1", "crm-2", "crm-3"}, "%r" % rows)


def case_643_allow_phone_change_creates_and_moves_the_id(d):
    state = os.path.join(d, "s.db")
    hdr = _ID_HEADER + ["external_id"]
    with Sandbox() as sb:
        p, res1 = _id_run(sb, d, _id_csv(d, "n1.csv", [
            ["ann@example.com", "44", "7700900001", "Ann", "Lee", "crm-1"]], hdr), state, want=0)
        moved = [["ann@example.com", "44", "7700900011", "Ann", "Lee", "crm-1"]]
        p, res = _id_run(sb, d, _id_csv(d, "n2.csv", moved, hdr), state, want=0,
                         extra=["--allow-phone-change"])
        check(res[0]["status"] == "created" and res[0]["verification"] == "sent", "%r" % res)
        check(res[0]["user_id"] != res1[0]["user_id"], "a new user")
        check(res[0]["error"].startswith('phone changed: external_id "crm-1" moved from user %s'
                                         % res1[0]["user_id"]), res[0]["error"])
        _, rows = _ledger_rows(state)
        by_phone = {r["phone_number"]: r for r in rows}
        check(by_phone["7700900011"]["external_id"] == "crm-1" and
              by_phone["7700900011"]["id"] == res[0]["user_id"], "the id maps to the new user")
        check(by_phone["7700900001"]["external_id"] is None, "and no longer to the old one")
        check(sb.stats()["sms"] == 2 and sb.stats()["max_sms_per_user"] == 1, "one code each")
        # the next night: the same row is the person the ledger knows
        p, res = _id_run(sb, d, _id_csv(d, "n3.csv", moved, hdr), state, want=0)
        check(res[0]["status"] == "exists", "%r" % res)
        # the config key says the same as the option
        cfg = write_config(d, "import:\n  allow_phone_change: true\n")
        again = [["ann@example.com", "44", "7700900021", "Ann", "Lee", "crm-1"]]
        p, res = _id_run(sb, d, _id_csv(d, "n4.csv", again, hdr), state, want=0,
                         extra=["-c", cfg])
        check(res[0]["status"] == "created", "import.allow_phone_change: %r" % res)


def case_644_reimported_duplicate_is_never_someone_elses_exists(d):
    # two people share a phone in the export: the second is `duplicate`,
    # goes to the rejects file, and is imported from there later
    rows = [["ann@example.com", "44", "7700900001", "Ann", "Lee", "crm-1"],
            ["bo@example.com", "44", "7700900001", "Bo", "Ng", "crm-2"]]
    for with_ext in (False, True):
        sub = os.path.join(d, "ext" if with_ext else "email")
        os.mkdir(sub)
        state = os.path.join(sub, "s.db")
        hdr = _ID_HEADER + (["external_id"] if with_ext else [])
        data = [r if with_ext else r[:5] for r in rows]
        rej = os.path.join(sub, "rejects.csv")
        with Sandbox() as sb:
            p, res = _id_run(sb, sub, _id_csv(sub, "n1.csv", data, hdr), state, want=1,
                             extra=["--rejects", rej])
            check([r["status"] for r in res] == ["created", "duplicate"], "%r" % res)
            sms = sb.stats()["sms"]
            p, res = _id_run(sb, sub, rej, state, out=os.path.join(sub, "r.out.csv"),
                             want=1 if with_ext else 0)
            want = "conflict" if with_ext else "changed"
            check(res[0]["status"] == want, "%s: %r" % (want, res))
            check(res[0]["verification"] == "", "no code state of another person: %r" % res)
            check(res[0]["status"] != "exists", "never someone else's exists")
            check(sb.stats()["sms"] == sms, "no code sent")


def case_645_dry_run_previews_tonight(d):
    state = os.path.join(d, "s.db")
    hdr = _ID_HEADER + ["external_id"]
    with Sandbox() as sb:
        _id_run(sb, d, _id_csv(d, "n1.csv", [
            ["ann@example.com", "44", "7700900001", "Ann", "Lee", "crm-1"],
            ["bo@example.com", "44", "7700900002", "Bo", "Ng", "crm-2"],
            ["cy@example.com", "44", "7700900003", "Cy", "Ox", ""]], hdr), state, want=0)
        before = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)
                  if f.startswith("s.db")}
        requests = sb.stats()["requests"]
        tonight = _id_csv(d, "n2.csv", [
            ["ann@example.com", "44", "7700900001", "Ann", "Lee", ""],             # exists
            ["bo.new@example.com", "44", "7700900002", "Bo", "Ng", "crm-2"],      # changed
            ["cy@example.com", "44", "7700900013", "Cy", "Ox", "crm-2x"],         # new
            ["dee@example.com", "44", "7700900004", "Dee", "Ox", "crm-1"],        # conflict
            ["eve@example.com", "44", "7700900005", "Eve", "Ox", ""]], hdr)       # new
        summary = os.path.join(d, "preview.json")
        out = os.path.join(d, "preview.csv")
        p = run_import(["--base-url", sb.url, "--state", state, "--dry-run", "-o", out,
                        "--summary-json", summary, tonight], creds=False)
        check(p.returncode == 1, "a conflict: exit %d: %s" % (p.returncode, p.stderr))
        res = read_csv(out)
        check([r["status"] for r in res] == ["exists", "changed", "valid", "conflict", "valid"],
              "%r" % res)
        check("preview against the ledger: 2 would be created, 1 exist, 1 changed, 1 conflict"
              in p.stderr, p.stderr)
        with open(summary) as f:
            s = json.load(f)
        check(s["preview"] == {"create": 2, "exists": 1, "changed": 1, "conflict": 1},
              "%r" % s["preview"])
        check(sb.stats()["requests"] == requests, "no request")
        after = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)
                 if f.startswith("s.db")}
        check(after == before, "the ledger and its directory as they were: %r" % list(after))
        # without a ledger there is nothing to preview: every valid row is `valid`
        p = run_import(["--base-url", sb.url, "--state", os.path.join(d, "none.db"),
                        "--dry-run", "-o", out, "--summary-json", summary, tonight], creds=False)
        check(p.returncode == 0 and "preview against" not in p.stderr, p.stderr)
        check(not os.path.exists(os.path.join(d, "none.db")), "no ledger made")
        with open(summary) as f:
            check(json.load(f)["preview"] is None, "no preview")
        # the real run does what the preview said
        p, res = _id_run(sb, d, tonight, state, want=1)
        check([r["status"] for r in res] == ["exists", "changed", "created", "conflict",
                                             "created"], "%r" % res)


def case_646_external_id_twice_in_one_file_is_duplicate(d):
    hdr = _ID_HEADER + ["external_id"]
    with Sandbox() as sb:
        p, res = _id_run(sb, d, _id_csv(d, "n.csv", [
            ["ann@example.com", "44", "7700900001", "Ann", "Lee", "crm-1"],
            ["ann@example.com", "44", "7700900002", "Ann", "Lee", "crm-1"],
            ["bo@example.com", "44", "7700900003", "Bo", "Ng", "crm-01"]], hdr),
            os.path.join(d, "s.db"), want=1)
        check([r["status"] for r in res] == ["created", "duplicate", "created"], "%r" % res)
        check(res[1]["error"] == "duplicate of row 1 (same external_id, another phone)",
              res[1]["error"])
        check(sb.stats()["creates"] == 2, "one user for one person")


def case_647_external_id_column_mapped_and_validated(d):
    cfg = write_config(d, "columns:\n  external_id: Customer ID\n")
    hdr = _ID_HEADER + ["Customer ID"]
    state = os.path.join(d, "s.db")
    with Sandbox() as sb:
        p, res = _id_run(sb, d, _id_csv(d, "n.csv", [
            ["ann@example.com", "44", "7700900001", "Ann", "Lee", " C-1 "],
            ["bo@example.com", "44", "7700900002", "Bo", "Ng", "x" * 129]], hdr), state,
            want=1, extra=["-c", cfg])
        check([r["status"] for r in res] == ["created", "invalid"], "%r" % res)
        check(res[1]["error"] == "external_id: longer than 128 bytes", res[1]["error"])
        _, rows = _ledger_rows(state)
        check(rows[0]["external_id"] == "C-1", "trimmed, kept: %r" % rows)
        # the API never sees it
        check(all("external_id" not in u for u in sb.users()), "%r" % sb.users())
