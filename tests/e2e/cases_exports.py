# cases_exports.py - scripted e2e cases for files as people have them:
# European Excel (semicolons, CRLF, BOM), tab and pipe exports, Excel's
# "Unicode Text" (UTF-16LE, tabs), gzip, Windows-1252, standard input,
# Excel's trailing ",,,," rows, Auth0/Firebase column names, national trunk
# prefixes, the API's name and date-of-birth rules, and messages that name
# the offending character. Every input is generated here.
# Exec'd in run.py's namespace; talks only to 127.0.0.1.
import gzip as _gzip

_HEADER = ["email", "country_code", "phone_number", "first_name", "last_name"]


def _rows(n, start=0, cc="44", first="Ann"):
    return [["ex%d@example.com" % i, cc, "7700 9%05d" % i, first, "Lee"]
            for i in range(start, start + n)]


def _csv_text(rows, delim=",", eol="\r\n", header=_HEADER):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator=eol)
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def _write(d, name, data):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _created(sb):
    return {(u["country_code"], u["phone_number"]) for u in sb.users()}


def _import_ok(sb, d, inp, extra=(), want_exit=0, out="out.csv"):
    out = os.path.join(d, out)
    p = run_import(["--base-url", sb.url, "--no-state", "--no-verification",
                    "-o", out] + list(extra) + [inp])
    check(p.returncode == want_exit, "exit %d, want %d: %s" % (p.returncode, want_exit, p.stderr))
    return p, read_csv(out)


def _env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("DOTS_")}
    e["DOTS_CLIENT_ID"] = CLIENT_ID
    e["DOTS_API_KEY"] = API_KEY
    return e


def _run_stdin(args, data, env=None, cwd=None):
    return subprocess.run(WRAP + [os.path.abspath(os.path.join(BUILD, "dots-import"))] + args,
                          input=data, env=env or _env(), cwd=cwd, capture_output=True,
                          timeout=300)


# ---- 1. delimiters ---------------------------------------------------------

def case_140_semicolon_excel_export_detected(d):
    # European Excel: semicolons, CRLF, a BOM, decimal commas in a cell
    rows = [r + ['{"score": "1,5"}'] for r in _rows(20)]
    rows[3][3] = "Ann, Jr."
    text = _csv_text(rows, delim=";", header=_HEADER + ["metadata"])
    inp = _write(d, "users.csv", b"\xef\xbb\xbf" + text.encode())
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp)
        check(len(res) == 20 and all(r["status"] == "created" for r in res),
              "rows %r" % [(r["status"], r["error"]) for r in res][:3])
        check(len(_created(sb)) == 20, "20 users")
        check(len(res[3]["error"]) == 0, "a comma inside a quoted cell")


def case_141_tab_and_pipe_exports_detected(d):
    with Sandbox() as sb:
        for i, delim in enumerate(["\t", "|"]):
            inp = _write(d, "users%d.csv" % i,
                         _csv_text(_rows(5, start=10 * i), delim=delim, eol="\n").encode())
            p, res = _import_ok(sb, d, inp, out="out%d.csv" % i)
            check(all(r["status"] == "created" for r in res), "%r: %r" % (delim, res))
        check(len(_created(sb)) == 10, "10 users")


def case_142_delimiter_forced_by_option_and_config(d):
    # the header has as many commas as semicolons: detection says comma
    header = _HEADER + ["a,b,c,d,e,f"]
    rows = [["f%d@example.com" % i, "44", "7700 90012%d" % i, "A,B", "Lee", "x"] for i in range(3)]
    inp = _write(d, "users.csv", _csv_text(rows, delim=";", header=header).encode())
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "--dry-run", "-o",
                        os.path.join(d, "o0.csv"), inp])
        check(p.returncode == 2 and "missing required column" in p.stderr, p.stderr)
        _import_ok(sb, d, inp, ["--delimiter", ";"], out="o1.csv")
        check(len(_created(sb)) == 3, "created with --delimiter ';'")
    # as many commas as tabs in the header line: detection says comma
    tabbed = _write(d, "tabbed.csv", _csv_text([r + ["x"] for r in _rows(3)], delim="\t",
                                               header=_HEADER + ["a,b,c,d,e,f"]).encode())
    cfg = write_config(d, "import:\n  delimiter: tab\n")
    with Sandbox() as sb:
        _import_ok(sb, d, tabbed, ["-c", cfg], out="o2.csv")
        check(len(_created(sb)) == 3, "created with import.delimiter: tab")
        _import_ok(sb, d, tabbed, ["--delimiter", "tab", "--dry-run"], out="o3.csv")
        _import_ok(sb, d, tabbed, ["--delimiter", "\t", "--dry-run"], out="o4.csv")
    p = run_import(["--dry-run", "--no-state", "--delimiter", "comma", inp])
    check(p.returncode == 2 and "--delimiter: expected , ; | or tab, got 'comma'" in p.stderr,
          p.stderr)
    bad = write_config(d, "api:\n  base_url: http://127.0.0.1:1/api\nimport:\n  delimiter: ':'\n")
    p = run_import(["--dry-run", "--no-state", "-c", bad, inp])
    check(p.returncode == 2 and "config.yaml:4: import.delimiter: expected" in p.stderr, p.stderr)


# ---- 2. encodings ----------------------------------------------------------

def _names_rows():
    names = [("Ren\u00e9", "M\u00fcller"), ("\u674e", "\u5c0f\u9f99"), ("Zo\u00eb", "\u0141\u00f3d\u017a")]
    return [["n%d@example.com" % i, "49", "0151 234567%02d" % i, f, l]
            for i, (f, l) in enumerate(names)]


def _check_names(sb, res):
    # the sandbox keeps no names: every row valid (a mis-decoded name is
    # invalid UTF-8 or NULs) and its email and phone as written
    check(all(r["status"] == "created" for r in res), "rows %r" % res)
    check({u["email"] for u in sb.users()} == {"n0@example.com", "n1@example.com",
                                                "n2@example.com"}, "emails")
    check({u["phone_number"] for u in sb.users()} ==
          {"15123456700", "15123456701", "15123456702"}, "trunk 0 dropped")


def case_143_utf16le_unicode_text_export(d):
    # Excel's "Unicode Text": UTF-16LE with a BOM, tab-separated
    text = _csv_text(_names_rows(), delim="\t")
    inp = _write(d, "users.txt", text.encode("utf-16"))  # BOM + LE on this machine
    check(open(inp, "rb").read(2) == b"\xff\xfe", "a UTF-16LE BOM")
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp)
        _check_names(sb, res)


def case_144_utf16be_with_bom(d):
    text = _csv_text(_names_rows())
    inp = _write(d, "users.csv", b"\xfe\xff" + text.encode("utf-16-be"))
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp)
        _check_names(sb, res)


def case_145_gzip_read_transparently(d):
    big = _csv_text(_rows(3000), delim=";")  # crosses many read blocks
    inp = _write(d, "users.csv.gz", _gzip.compress(big.encode()))
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp)
        check(len(res) == 3000 and all(r["status"] == "created" for r in res), "3000 created")
        check(res[-1]["line"] == "3001", "line numbers of the decompressed file")
    # gzip of a UTF-16 file, two concatenated members
    text = _csv_text(_names_rows(), delim="\t").encode("utf-16")
    inp = _write(d, "u16.csv.gz", _gzip.compress(text[:40]) + _gzip.compress(text[40:]))
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp, out="o2.csv")
        _check_names(sb, res)
    # a truncated gzip file is an input error: nothing is sent
    data = _gzip.compress(big.encode())
    inp = _write(d, "cut.csv.gz", data[:len(data) // 2])
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "-o", os.path.join(d, "o3.csv"), inp])
        check(p.returncode == 2 and "gzip" in p.stderr, "exit %d: %s" % (p.returncode, p.stderr))
        check(sb.stats()["requests"] == 0, "nothing sent")


def case_146_windows_1252_file_refused_once(d):
    rows = [["w%d@example.com" % i, "33", "06 12 34 56 7%d" % i, "Ren\u00e9", "L\u00e9a"]
            for i in range(50)]
    inp = _write(d, "users.csv", _csv_text(rows).encode("windows-1252"))
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", "-o", os.path.join(d, "o.csv"), inp])
        check(p.returncode == 2, "exit %d: %s" % (p.returncode, p.stderr))
        want = ("'%s' is not UTF-8 (byte 0xE9 at line 2); it looks like Windows-1252: "
                "use --encoding windows-1252" % inp)
        check(want in p.stderr, p.stderr)
        check(p.stderr.count("not UTF-8") == 1 and "invalid UTF-8" not in p.stderr,
              "said once, not per row: %s" % p.stderr)
        check(sb.stats()["requests"] == 0, "nothing sent from a mis-decoded file")


def case_147_encoding_option_converts(d):
    # 50 characters of Windows-1252 are 50 bytes; converted, 100 bytes of
    # UTF-8 and still 50 characters: valid. 51 are one too many.
    rows = [["e0@example.com", "49", "0151 23456700", "Ren\u00e9", "M\u00fcller"],
            ["e1@example.com", "49", "0151 23456701", "\u00e9" * 50, "\u20acuro"],
            ["e2@example.com", "49", "0151 23456702", "\u00e9" * 51, "Lee"]]
    inp = _write(d, "users.csv", _csv_text(rows, delim=";").encode("windows-1252"))
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp, ["--encoding", "windows-1252"], want_exit=1)
        check([r["status"] for r in res] == ["created", "created", "invalid"], "%r" % res)
        check(res[2]["error"] == "first_name: longer than 50 characters", res[2]["error"])
    latin = _write(d, "latin.csv", _csv_text(rows[:2]).encode("latin-1", "replace"))
    cfg = write_config(d, "import:\n  encoding: latin1\n")
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, latin, ["-c", cfg], out="o2.csv")
        check(len(_created(sb)) == 2, "import.encoding")
    p = run_import(["--dry-run", "--no-state", "--encoding", "klingon-8", inp])
    check(p.returncode == 2 and "--encoding: unknown encoding 'klingon-8'" in p.stderr, p.stderr)
    # bytes the named encoding does not have: one input error, exit 2
    bad = _write(d, "bad.csv", _csv_text(rows).encode("windows-1252").replace(b"\xe9", b"\x81"))
    p = run_import(["--dry-run", "--no-state", "--encoding", "windows-1252", "-o",
                    os.path.join(d, "o3.csv"), bad])
    check(p.returncode == 2 and "is not valid windows-1252 (byte 0x81 at line 2)" in p.stderr,
          p.stderr)


# ---- 3. standard input -----------------------------------------------------

def case_148_standard_input(d):
    data = _csv_text(_rows(30), delim=";").encode()
    tmp = os.path.join(d, "tmp")
    os.mkdir(tmp)
    env = dict(_env(), TMPDIR=tmp)
    with Sandbox() as sb:
        out = os.path.join(d, "out.csv")
        p = _run_stdin(["--base-url", sb.url, "--no-state", "--no-verification", "-o", out, "-"],
                       data, env=env)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, p.stderr))
        check(len(read_csv(out)) == 30 and len(_created(sb)) == 30, "30 created from stdin")
        check(os.listdir(tmp) == [], "the spool file is gone: %r" % os.listdir(tmp))
    # `cat users.csv | dots-import -o out.csv -`, gzip on a pipe too
    with Sandbox() as sb:
        cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        imp = subprocess.Popen([os.path.join(BUILD, "dots-import"), "--base-url", sb.url,
                                "--no-state", "-o", os.path.join(d, "o2.csv"), "-"],
                               stdin=cat.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
        cat.stdout.close()
        cat.stdin.write(_gzip.compress(data))
        cat.stdin.close()
        out, err = imp.communicate(timeout=120)
        cat.wait(10)
        check(imp.returncode == 0, "exit %d: %s" % (imp.returncode, err))
        check(len(_created(sb)) == 30, "30 created from a pipe")
    # `-` without -o: a usage error, nothing read
    p = _run_stdin(["--dry-run", "--no-state", "-"], data, env=env)
    check(p.returncode == 2 and b"needs -o FILE" in p.stderr, p.stderr)
    p = _run_stdin(["--dry-run", "--no-state", "-o", os.path.join(d, "o4.csv"), "--rejects",
                    os.path.join(d, "rej.csv"), "-"], data, env=env)
    check(p.returncode == 2 and b"--rejects reads the input again" in p.stderr, p.stderr)
    # an empty standard input
    p = _run_stdin(["--dry-run", "--no-state", "-o", os.path.join(d, "o3.csv"), "-"], b"", env=env)
    check(p.returncode == 2 and b"standard input is empty" in p.stderr, p.stderr)


# ---- 4. Excel's trailing empty rows ------------------------------------------

def case_149_rows_of_empty_cells_skipped(d):
    lines = [",".join(_HEADER)] + [",".join(r) for r in _rows(3)] + [",,,,"] + \
        [",".join(r) for r in _rows(1, start=3)] + [",,,,", ",,,,", '"",,, ,']
    inp = _write(d, "users.csv", ("\r\n".join(lines) + "\r\n").encode())
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp)
        check([r["row"] for r in res] == ["1", "2", "3", "4"], "rows %r" % [r["row"] for r in res])
        check(res[3]["line"] == "6", "line of row 4: %r" % res[3]["line"])
        check(all(r["status"] == "created" for r in res), "%r" % res)
        check("4 rows" in p.stderr, p.stderr)


# ---- 5. column mapping -----------------------------------------------------

def case_150_auth0_firebase_columns(d):
    header = ["email", "phone_number", "given_name", "family_name", "user_id"]
    rows = [["a%d@example.com" % i, "+44 7700 90%04d" % i, "Ann", "Lee", "auth0|%d" % i]
            for i in range(5)]
    inp = _write(d, "auth0.csv", _csv_text(rows, header=header).encode())
    cfg = write_config(d, "columns:\n  phone: phone_number\n  first_name: given_name\n"
                          "  last_name: family_name\n")
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp, ["-c", cfg])
        check(all(r["status"] == "created" for r in res), "%r" % res)
        check(("44", "7700900003") in _created(sb), "split from the mapped phone column")


def case_151_missing_column_names_header_and_closest(d):
    text = "E-mail;Name;Phone\r\na@example.com;Ann;+44 7700 900123\r\n"
    inp = _write(d, "users.csv", text.encode())
    p = run_import(["--dry-run", "--no-state", inp])
    check(p.returncode == 2, "exit %d" % p.returncode)
    check('missing required column "email" (header: "E-mail;Name;Phone"; closest: "E-mail")'
          in p.stderr, p.stderr)


# ---- 6. national trunk prefixes ----------------------------------------------

def case_152_trunk_prefixes_and_duplicates(d):
    rows = [
        ["t1@example.com", "44", "07700 900123", "A", "B"],
        ["t2@example.com", "44", "7700 900123", "A", "B"],     # the same phone
        ["t3@example.com", "49", "0151 23456789", "A", "B"],
        ["t4@example.com", "39", "06 6982 1234", "A", "B"],    # Italy keeps 0
        ["t5@example.com", "7", "8 912 345 67 89", "A", "B"],  # Russia: 8
        ["t6@example.com", "36", "06 30 123 4567", "A", "B"],  # Hungary: 06
        ["t7@example.com", "34", "612 34 56 78", "A", "B"],    # Spain: none
    ]
    header = _HEADER
    inp = _write(d, "users.csv", _csv_text(rows, header=header).encode())
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp, want_exit=1)
        st = [(r["status"], r["country_code"], r["phone_number"]) for r in res]
        check(st == [("created", "44", "7700900123"), ("duplicate", "44", "7700900123"),
                     ("created", "49", "15123456789"), ("created", "39", "0669821234"),
                     ("created", "7", "9123456789"), ("created", "36", "301234567"),
                     ("created", "34", "612345678")], "%r" % st)
        check("duplicate of row 1" in res[1]["error"], res[1]["error"])
    # the single phone column and the split columns share one rule
    inp = _write(d, "phone.csv", b"email,phone,first_name,last_name\n"
                 b"s1@example.com,+44 (0)7700 900123,A,B\ns2@example.com,+44 07700 900124,A,B\n")
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp, out="o2.csv")
        check(_created(sb) == {("44", "7700900123"), ("44", "7700900124")}, "%r" % _created(sb))


# ---- 7. the API's schema: names of 1-50 characters, date_of_birth -------------

def case_153_name_lengths_and_date_of_birth(d):
    header = _HEADER + ["username", "date_of_birth"]
    rows = [
        ["d1@example.com", "44", "7700 900001", "A" * 50, "\u00e9" * 50, "u" * 50, "2000-02-29"],
        ["d2@example.com", "44", "7700 900002", "A" * 51, "Lee", "", ""],
        ["d3@example.com", "44", "7700 900003", "Ann", "L" * 51, "", ""],
        ["d4@example.com", "44", "7700 900004", "Ann", "Lee", "u" * 51, ""],
        ["d5@example.com", "44", "7700 900005", "Ann", "Lee", "", "2023-02-29"],
        ["d6@example.com", "44", "7700 900006", "Ann", "Lee", "", "15/07/1990"],
        ["d7@example.com", "44", "7700 900007", "Ann", "Lee", "", "1990-07-15"],
    ]
    inp = _write(d, "users.csv", _csv_text(rows, header=header).encode())
    with Sandbox() as sb:
        p, res = _import_ok(sb, d, inp, want_exit=1)
        errs = [r["error"] for r in res]
        check([r["status"] for r in res] == ["created", "invalid", "invalid", "invalid",
                                             "invalid", "invalid", "created"], "%r" % errs)
        check(errs[1] == "first_name: longer than 50 characters", errs[1])
        check(errs[2] == "last_name: longer than 50 characters", errs[2])
        check(errs[3] == "username: longer than 50 characters", errs[3])
        check(errs[4] == "date_of_birth: 2023-02-29 is not a real date", errs[4])
        check(errs[5] == 'date_of_birth: expected YYYY-MM-DD, got "15/07/1990"', errs[5])
        check(sb.stats()["creates"] == 2, "2 sent")


# ---- 8. messages name the character ----------------------------------------

def case_154_messages_name_the_character(d):
    rows = [
        ["jos\u00e9@example.com", "44", "7700 900001", "A", "B"],
        ["a@ex\u00e4mple.com", "44", "7700 900002", "A", "B"],
        ["b@example.com", "\uff0b44", "7700 900003", "A", "B"],
        ["c@example.com", "44", "7700\u00a0900004", "A", "B"],
    ]
    inp = _write(d, "users.csv", _csv_text(rows).encode())
    phone = _write(d, "phone.csv", "email,phone,first_name,last_name\n"
                   "p@example.com,\uff0b44 7700 900123,A,B\n".encode())
    p = run_import(["--dry-run", "--no-state", "-o", os.path.join(d, "o.csv"), inp])
    check(p.returncode == 1, p.stderr)
    errs = [r["error"] for r in read_csv(os.path.join(d, "o.csv"))]
    check(errs == ["email: invalid character '\u00e9' (U+00E9) in local part",
                   "email: invalid character '\u00e4' (U+00E4) in domain",
                   "country_code: invalid character '\uff0b' (U+FF0B)",
                   "phone_number: invalid character U+00A0"], "%r" % errs)
    p = run_import(["--dry-run", "--no-state", "-o", os.path.join(d, "o2.csv"), phone])
    errs = [r["error"] for r in read_csv(os.path.join(d, "o2.csv"))]
    check(errs == ["phone: invalid character '\uff0b' (U+FF0B)"], "%r" % errs)


def case_155_invalid_rows_keep_their_raw_values(d):
    """An invalid row's results line keeps its cells as given (not cut at
    15 characters), so the operator sees what to fix."""
    inp = os.path.join(d, "users.csv")
    raw = "+1 (415) 555-0100 ext. 1234 office"
    with open(inp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["email", "phone", "first_name", "last_name"])
        w.writerow(["a@example.com", raw, "A", "B"])
        w.writerow(["b@example.com", "+1 415 555 0101", "C", "D"])
    with Sandbox() as sb:
        p = run_import(["--base-url", sb.url, "--no-state", inp])
        check(p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr))
        rows = read_csv(os.path.join(d, "users.results.csv"))
        check(rows[0]["status"] == "invalid", "row 1: %r" % rows[0])
        check(rows[0]["phone_number"] in (raw, "'" + raw), "raw value kept: %r" % rows[0]["phone_number"])
        check(rows[1]["status"] == "created" and rows[1]["phone_number"] == "4155550101", "%r" % rows[1])
