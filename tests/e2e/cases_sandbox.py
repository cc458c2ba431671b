# cases_sandbox.py - scripted e2e cases (6xx) for dots-sandbox itself: the
# list endpoint, user status and the /_sandbox/verify-users hook, the echo
# fault (JSON and raw) and HTTPS. Exec'd in run.py's namespace (Sandbox,
# check, Fail, CLIENT_ID, API_KEY, BUILD, ...); talks only to 127.0.0.1.
import base64
import ssl
import urllib.error
import urllib.parse


def _basic(cid=None, key=None):
    raw = "%s:%s" % (CLIENT_ID if cid is None else cid, API_KEY if key is None else key)
    return "Basic " + base64.b64encode(raw.encode()).decode()


def _call(url, method="GET", body=None, auth=None, ctx=None, raw=False):
    """One request; returns (status, content type, parsed JSON or text)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        req.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as r:
            status, ctype, text = r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        status, ctype, text = e.code, e.headers.get("Content-Type", ""), e.read().decode()
    if raw or not ctype.startswith("application/json"):
        return status, ctype, text
    return status, ctype, json.loads(text)


def _api(sb, path, method="GET", body=None, auth=True, ctx=None, raw=False):
    return _call(sb.url + path, method, body, _basic() if auth is True else auth, ctx, raw)


def _user_body(i, cc="1"):
    return {"email": "u%d@example.com" % i, "country_code": cc, "phone_number": "415555%04d" % i,
            "first_name": "F%d" % i, "last_name": "L"}


def _create(sb, i, want=201, ctx=None):
    st, _, doc = _api(sb, "/v2/users", "POST", _user_body(i), ctx=ctx)
    check(st == want, "create %d: HTTP %d %r" % (i, st, doc))
    return doc


def _hook(sb, body, ctx=None):
    return _call(sb.root + "/_sandbox/verify-users", "POST", body, ctx=ctx)


def _pct(s):
    return urllib.parse.quote(s, safe="-._~")


class TlsSandbox(Sandbox):
    """A Sandbox serving HTTPS with cert/key; self.ctx trusts the cert."""

    def __init__(self, cert, key, opts=()):  # noqa: super().__init__ wants http
        args = [os.path.join(BUILD, "dots-sandbox"), "--port", "0",
                "--client-id", CLIENT_ID, "--api-key", API_KEY,
                "--tls-cert", cert, "--tls-key", key] + list(opts)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (https://127\.0\.0\.1:\d+/api)", line)
        if not m:
            self.proc.kill()
            raise Fail("TLS sandbox did not start: %r %s" % (line, self.proc.stderr.read()))
        self.url = m.group(1)
        self.root = self.url[:-len("/api")]
        self.ctx = ssl.create_default_context(cafile=cert)

    def get(self, path):
        with urllib.request.urlopen(self.root + path, timeout=30, context=self.ctx) as r:
            return json.loads(r.read().decode())


def _make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-days", "2", "-keyout", key, "-out", cert],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "openssl req: %s" % p.stderr)
    return cert, key


# ---- GET /api/v2/users -------------------------------------------------------

def case_601_list_users(d):
    with Sandbox() as sb:
        st, _, doc = _api(sb, "/v2/users")
        check(st == 200 and doc == {"data": [], "has_more": False}, "empty list: %d %r" % (st, doc))
        ids = [_create(sb, i)["id"] for i in range(12)]
        st, _, doc = _api(sb, "/v2/users")
        check(st == 200, "default list: HTTP %d" % st)
        check([u["id"] for u in doc["data"]] == ids[:10], "default limit 10, creation order")
        check(doc["has_more"] is True, "has_more with 12 users")
        check(all(u["status"] == "unverified" for u in doc["data"]), "status in list")
        check(all(u["phone_number"]["country_code"] == "1" for u in doc["data"]), "user objects")
        for lim, n, more in (("1", 1, True), ("12", 12, False), ("100", 12, False), ("011", 11, True)):
            st, _, doc = _api(sb, "/v2/users?limit=" + lim)
            check(st == 200 and len(doc["data"]) == n and doc["has_more"] is more,
                  "limit=%s: %d %r" % (lim, st, doc))
        bad = ("0", "101", "abc", "", "-1", "1.5", "5%20")
        for lim in bad:
            st, ctype, doc = _api(sb, "/v2/users?limit=" + lim)
            check(st == 400 and ctype.startswith("application/json"), "limit=%r: HTTP %d" % (lim, st))
            check("limit" in doc["message"], "limit=%r message: %r" % (lim, doc))
        st, _, doc = _api(sb, "/v2/users?limit")
        check(st == 400, "bare ?limit: HTTP %d" % st)
        st, _, doc = _api(sb, "/v2/users?limit=3&other=x")
        check(st == 200 and len(doc["data"]) == 3, "unknown parameters ignored")
        st, _, doc = _api(sb, "/v2/users", auth=None)
        check(st == 401 and "message" in doc, "no auth: HTTP %d" % st)
        st, _, doc = _api(sb, "/v2/users", auth=_basic(key="wrong"))
        check(st == 401, "wrong key: HTTP %d" % st)
        st, _, doc = _api(sb, "/v2/users", "DELETE")
        check(st == 405, "DELETE: HTTP %d" % st)
        s = sb.stats()
        n_list = 2 + 4 + len(bad) + 2
        check(s["list_requests"] == n_list, "list_requests %r, want %d" % (s["list_requests"], n_list))
        check(s["get_requests"] == 0, "lists are not gets: %r" % s["get_requests"])
        check(s["create_requests"] == 12 and s["unauthorized"] == 2, "other keys: %r" % s)
        check(s["responses"]["400"] == len(bad) + 1, "400s: %r" % s["responses"])


def case_602_list_faults_and_rate_limit(d):
    # Faults and the token bucket apply to the list like to other routes.
    with Sandbox(["--fault-500", "1"]) as sb:
        st, _, doc = _api(sb, "/v2/users?limit=5")
        check(st == 500, "fault-500 on the list: HTTP %d" % st)
        s = sb.stats()
        check(s["list_requests"] == 1 and s["faults"]["500"] == 1, "stats %r" % s)
        check(s["after_effects"] == 0, "a list has no effect")
    with Sandbox(["--rate-limit", "1"]) as sb:
        codes = [_api(sb, "/v2/users")[0] for _ in range(4)]
        check(codes[0] == 200 and 429 in codes, "rate limit on the list: %r" % codes)
        check(sb.stats()["rate_limited"] >= 1, "rate_limited counted")


# ---- status ------------------------------------------------------------------

def case_603_status_via_verify(d):
    with Sandbox() as sb:
        u = _create(sb, 1)
        check(u["status"] == "unverified", "new user: %r" % u["status"])
        again = _create(sb, 1, want=200)
        check(again["id"] == u["id"] and again["status"] == "unverified", "repeat create: %r" % again)
        st, _, doc = _api(sb, "/v2/users/" + u["id"])
        check(st == 200 and doc["status"] == "unverified", "GET: %r" % doc)
        check(sb.get("/_sandbox/users/" + u["id"])["status"] == "unverified", "sandbox view")
        st, _, _ = _api(sb, "/v2/users/%s/send-verification-token" % u["id"], "POST", {})
        check(st == 200, "send: HTTP %d" % st)
        code = sb.get("/_sandbox/users/" + u["id"])["last_code"]
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        st, _, _ = _api(sb, "/v2/users/%s/verify" % u["id"], "POST", {"token": wrong})
        check(st == 422, "wrong code: HTTP %d" % st)
        check(_api(sb, "/v2/users/" + u["id"])[2]["status"] == "unverified", "still unverified")
        st, _, _ = _api(sb, "/v2/users/%s/verify" % u["id"], "POST", {"token": code})
        check(st == 200, "right code: HTTP %d" % st)
        check(_api(sb, "/v2/users/" + u["id"])[2]["status"] == "verified", "GET verified")
        check(_create(sb, 1, want=200)["status"] == "verified", "repeat create verified")
        check(_api(sb, "/v2/users")[2]["data"][0]["status"] == "verified", "list verified")
        check(sb.users()[0]["status"] == "verified", "/_sandbox/users verified")
        s = sb.stats()
        check(s["verified_users"] == 1 and s["verifies_ok"] == 1, "stats %r" % s)


def case_604_status_via_sandbox_hook(d):
    with Sandbox() as sb:
        ids = [_create(sb, i)["id"] for i in range(3)]
        st, _, doc = _hook(sb, {"phones": [{"country_code": "1", "phone_number": "4155550001"},
                                           {"country_code": "1", "phone_number": "4159999999"}]})
        check(st == 200 and doc == {"verified": 1}, "by phone: %d %r" % (st, doc))
        status = {u["id"]: u["status"] for u in sb.users()}
        check(status == {ids[0]: "unverified", ids[1]: "verified", ids[2]: "unverified"}, "%r" % status)
        check(_api(sb, "/v2/users/" + ids[1])[2]["status"] == "verified", "API sees it")
        st, _, doc = _hook(sb, {"all": True})
        check(st == 200 and doc == {"verified": 3}, "all: %d %r" % (st, doc))
        check(all(u["status"] == "verified" for u in _api(sb, "/v2/users")[2]["data"]), "list all verified")
        for body, want in ((b"not json", 400), ({}, 422), ({"all": 1}, 422), ({"phones": {}}, 422),
                           ({"phones": [{"country_code": "1", "phone_number": "41-5"}]}, 422),
                           ({"all": True, "phones": []}, 422)):
            st, _, doc = _hook(sb, body)
            check(st == want and doc.get("message"), "body %r: %d %r" % (body, st, doc))
        st, _, _ = _call(sb.root + "/_sandbox/verify-users")
        check(st == 405, "GET verify-users: HTTP %d" % st)
        s = sb.stats()
        check(s["verified_users"] == 3 and s["verifies_ok"] == 0, "stats %r" % s)
        check(s["requests"] == 5, "the hook is not an API request: %r" % s["requests"])


# ---- the echo fault ----------------------------------------------------------

def _echo_parts(cid, key, auth):
    return [auth, cid, key, _pct(cid), _pct(key)]


def case_605_echo_fault_json(d):
    cid, key = "e2e client/7f", "k:ey+5b/é%"
    auth = _basic(cid, key)
    with Sandbox(["--client-id", cid, "--api-key", key, "--fault-echo", "1"], creds=False) as sb:
        st, ctype, doc = _api(sb, "/v2/users", "POST", _user_body(1), auth=auth)
        check(st == 422 and ctype.startswith("application/json"), "HTTP %d %s" % (st, ctype))
        for part in _echo_parts(cid, key, auth):
            check(part in doc["message"], "message lacks %r: %r" % (part, doc["message"]))
        check(doc["error"] == doc["message"], "error repeats message")
        check("k%3Aey%2B5b%2F%C3%A9%25" in doc["message"], "upper-case %%XX: %r" % doc["message"])
        st, _, doc = _api(sb, "/v2/users", auth=auth)
        check(st == 422 and auth in doc["message"], "list echoed too")
        st, _, doc = _api(sb, "/v2/users", auth=_basic(cid, "wrong"))
        check(st == 401 and key not in json.dumps(doc), "no echo before auth")
        s = sb.stats()
        check(s["echoed"] == 2 and s["faults"]["echo"] == 2, "echo counts %r" % s)
        check(s["creates"] == 0 and s["responses"] == {"401": 1, "422": 2}, "stats %r" % s)
    with Sandbox(["--fault-echo", "1"]) as sb:  # the e2e credentials
        st, _, doc = _api(sb, "/v2/users/x")
        check(st == 422 and CLIENT_ID in doc["message"] and API_KEY in doc["message"]
              and _basic() in doc["message"], "e2e credentials echoed: %r" % doc)


def case_606_echo_fault_raw(d):
    cid, key = "raw client", "raw:key/ü"
    auth = _basic(cid, key)
    with Sandbox(["--client-id", cid, "--api-key", key, "--fault-echo", "1", "--echo-raw"],
                 creds=False) as sb:
        st, ctype, text = _api(sb, "/v2/users", "POST", _user_body(1), auth=auth, raw=True)
        check(st == 422 and ctype.startswith("text/plain"), "HTTP %d %s" % (st, ctype))
        try:
            json.loads(text)
            raise Fail("raw echo body is JSON: %r" % text)
        except ValueError:
            pass
        for part in _echo_parts(cid, key, auth):
            check(part in text, "raw body lacks %r: %r" % (part, text))
        check(sb.stats()["echoed"] == 1, "echoed counted")


def case_607_echo_fault_probability(d):
    with Sandbox(["--fault-echo", "0.5", "--seed", "7"]) as sb:
        codes = [_api(sb, "/v2/users?limit=1")[0] for _ in range(40)]
        n = codes.count(422)
        check(set(codes) <= {200, 422} and 5 < n < 35, "about half echoed: %r" % codes)
        s = sb.stats()
        check(s["echoed"] == n and s["faults"]["echo"] == n and s["list_requests"] == 40, "%r" % s)
    p = subprocess.run([os.path.join(BUILD, "dots-sandbox"), "--fault-echo", "0.6", "--fault-500", "0.6"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "more than 1" in p.stderr, "sum checked: %d %s" % (p.returncode, p.stderr))
    p = subprocess.run([os.path.join(BUILD, "dots-sandbox"), "--fault-echo", "2"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and p.stderr.startswith("dots-sandbox: error: --fault-echo"), p.stderr)


# ---- HTTPS -------------------------------------------------------------------

def case_610_tls(d):
    cert, key = _make_cert(d)
    with TlsSandbox(cert, key) as sb:
        check(sb.url.startswith("https://127.0.0.1:"), sb.url)
        u = _create(sb, 1, ctx=sb.ctx)
        st, _, doc = _api(sb, "/v2/users", ctx=sb.ctx)
        check(st == 200 and doc["data"][0]["id"] == u["id"], "list over https: %r" % doc)
        st, _, doc = _hook(sb, {"all": True}, ctx=sb.ctx)
        check(st == 200 and doc == {"verified": 1}, "hook over https")
        check(sb.users()[0]["status"] == "verified", "/_sandbox/users over https")
        check(sb.stats()["create_requests"] == 1, "/_sandbox/stats over https")
        st, _, _ = _api(sb, "/v2/users", auth=None, ctx=sb.ctx)
        check(st == 401, "401 over https")
        # A client that does not trust the certificate must refuse it.
        try:
            urllib.request.urlopen(sb.root + "/_sandbox/stats", timeout=10,
                                   context=ssl.create_default_context())
            raise Fail("untrusted certificate accepted")
        except urllib.error.URLError as e:
            check(isinstance(e.reason, ssl.SSLError), "untrusted: %r" % e)
        # Plain HTTP to the TLS port gets no HTTP answer.
        try:
            urllib.request.urlopen(sb.root.replace("https:", "http:") + "/_sandbox/stats", timeout=10)
            raise Fail("plain http answered on the TLS port")
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            check(not isinstance(e, urllib.error.HTTPError), "plain http: %r" % e)
        if shutil.which("curl"):
            p = subprocess.run(["curl", "-sS", "--cacert", cert, "-u", "%s:%s" % (CLIENT_ID, API_KEY),
                                sb.url + "/v2/users?limit=1"], capture_output=True, text=True, timeout=30)
            check(p.returncode == 0, "curl --cacert: %s" % p.stderr)
            check(json.loads(p.stdout)["data"][0]["id"] == u["id"], "curl body %r" % p.stdout)
            p = subprocess.run(["curl", "-sS", sb.root + "/_sandbox/stats"],
                               capture_output=True, text=True, timeout=30)
            check(p.returncode != 0, "curl without the CA must fail")


def case_611_tls_echo(d):
    cert, key = _make_cert(d)
    with TlsSandbox(cert, key, ["--fault-echo", "1"]) as sb:
        st, _, doc = _api(sb, "/v2/users", ctx=sb.ctx)
        check(st == 422 and _basic() in doc["message"] and API_KEY in doc["error"], "%r" % doc)


def case_612_tls_bad_options(d):
    cert, key = _make_cert(d)
    junk = os.path.join(d, "junk.pem")
    with open(junk, "w") as f:
        f.write("not a certificate\n")
    sb = os.path.join(BUILD, "dots-sandbox")
    for args, rc, msg in (
            (["--tls-cert", cert], 2, "--tls-cert and --tls-key go together"),
            (["--tls-key", key], 2, "--tls-cert and --tls-key go together"),
            (["--tls-cert", os.path.join(d, "none.pem"), "--tls-key", key], 2, "--tls-cert: cannot open"),
            (["--tls-cert", cert, "--tls-key", os.path.join(d, "none.pem")], 2, "--tls-key: cannot open"),
            (["--tls-cert", junk, "--tls-key", key], 2, "is not a PEM file"),
            (["--tls-cert", d, "--tls-key", key], 2, "--tls-cert: cannot read"),
            (["--tls-cert", key, "--tls-key", cert], 1, "not a valid PEM pair")):
        p = subprocess.run([sb, "--port", "0"] + args, capture_output=True, text=True, timeout=30)
        check(p.returncode == rc, "%r: exit %d, want %d (%s)" % (args, p.returncode, rc, p.stderr))
        check(p.stderr.startswith("dots-sandbox: error: ") and msg in p.stderr, "%r: %r" % (args, p.stderr))
        check(p.stdout == "", "nothing on stdout: %r" % p.stdout)
        check("PRIVATE KEY" not in p.stderr, "key text printed")


def case_613_help_documents_new_options(d):
    p = subprocess.run([os.path.join(BUILD, "dots-sandbox"), "--help"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "exit %d" % p.returncode)
    for word in ("--fault-echo", "--echo-raw", "--tls-cert", "--tls-key", "limit=N",
                 "/_sandbox/verify-users"):
        check(word in p.stdout, "--help lacks %s" % word)
