# cases_limits.py - scripted e2e cases (62x) for dots-sandbox's limiter
# (--limit-window, --limit-sms, /_sandbox/limit): urllib against the
# sandbox only, never the importer. Exec'd in run.py's namespace (Sandbox,
# check, Fail, CLIENT_ID, API_KEY); talks only to 127.0.0.1.
import base64 as _lim_b64
import urllib.error as _lim_uerr


def _lim_call(url, method="GET", body=None, auth=True):
    """One request; returns (status, headers, parsed JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        raw = ("%s:%s" % (CLIENT_ID, API_KEY)).encode()
        req.add_header("Authorization", "Basic " + _lim_b64.b64encode(raw).decode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, headers, text = r.status, r.headers, r.read().decode()
    except _lim_uerr.HTTPError as e:
        status, headers, text = e.code, e.headers, e.read().decode()
    if headers.get("Content-Type", "").startswith("application/json"):
        return status, headers, json.loads(text)
    return status, headers, text


def _lim_user(i):
    return {"email": "l%d@example.com" % i, "country_code": "1", "phone_number": "415556%04d" % i,
            "first_name": "F", "last_name": "L"}


def _lim_limit(sb, body=None):
    """GET /_sandbox/limit, or POST body to it: (status, JSON)."""
    st, _, doc = _lim_call(sb.root + "/_sandbox/limit", "POST" if body is not None else "GET",
                           body, auth=False)
    return st, doc


def case_620_limit_window_counts(d):
    # An hour-long window: the few requests below never straddle a boundary
    # (windows are aligned on the monotonic clock, not on the start).
    with Sandbox(["--limit-window", "5/3600"]) as sb:
        codes = [_lim_call(sb.url + "/v2/users", "POST", _lim_user(i))[0] for i in range(5)]
        check(codes == [201] * 5, "first 5 in the window: %r" % codes)
        st, hdr, doc = _lim_call(sb.url + "/v2/users", "POST", _lim_user(5))
        check(st == 429 and doc.get("error") == "rate_limited", "6th: %d %r" % (st, doc))
        ra = hdr.get("Retry-After")
        check(ra is not None and 1 <= int(ra) <= 3600, "Retry-After to the window's end: %r" % ra)
        for _ in range(5):  # /_sandbox is never limited
            sb.stats()
        st, _, _ = _lim_call(sb.url + "/v2/users")
        check(st == 429, "the list is limited too: %d" % st)
        s = sb.stats()
        check(s["users"] == 5 and s["creates"] == 5, "a refused create acted: %r" % s)
        check(s["limited"] == 2 and s["limited_sms"] == 0, "limited: %r" % s)
        check(sum(s["accepted_per_s"]) == 5, "accepted_per_s %r" % s["accepted_per_s"])
        check(s["rate_limited"] == 0 and s["responses"].get("429") == 2, "stats %r" % s)
        check(all(k in s for k in ("requests", "faults", "requests_during_pause")), "old keys kept")
    with Sandbox(["--limit-window", "2/3600", "--limit-no-retry-after"]) as sb:
        for _ in range(2):
            _lim_call(sb.url + "/v2/users")
        st, hdr, _ = _lim_call(sb.url + "/v2/users")
        check(st == 429 and hdr.get("Retry-After") is None, "no Retry-After: %d %r" % (st, dict(hdr)))


def case_621_limit_runtime_change(d):
    with Sandbox(["--limit-bucket", "1000", "--limit-burst", "1000"]) as sb:
        st, doc = _lim_limit(sb)
        check(st == 200 and doc["kind"] == "bucket" and doc["rate"] == 1000 and doc["burst"] == 1000
              and doc["retry_after"] is True, "GET: %d %r" % (st, doc))
        st, doc = _lim_limit(sb, {"kind": "window", "rate": 3, "window_s": 3600})
        check(st == 200 and doc["kind"] == "window" and doc["window_s"] == 3600, "POST: %d %r" % (st, doc))
        codes = [_lim_call(sb.url + "/v2/users")[0] for _ in range(5)]
        check(codes == [200, 200, 200, 429, 429], "after the change: %r" % codes)
        st, doc = _lim_limit(sb, {"kind": "bucket", "rate": 0.5, "burst": 2, "retry_after": True})
        check(st == 200 and doc["kind"] == "bucket" and "window_s" not in doc, "to bucket: %r" % doc)
        codes = [_lim_call(sb.url + "/v2/users")[0] for _ in range(3)]
        check(codes == [200, 200, 429], "bucket of 2: %r" % codes)
        st, hdr, _ = _lim_call(sb.url + "/v2/users")
        check(st == 429 and int(hdr["Retry-After"]) in (1, 2), "Retry-After %r" % hdr.get("Retry-After"))
        for body, want, text in (({"kind": "window", "rate": 3}, 422, "window_s"),
                                 ({"kind": "leaky", "rate": 3}, 422, "kind"),
                                 ({"rate": -1}, 422, "rate"),
                                 ({"speed": 1}, 422, "unknown field")):
            st, doc = _lim_limit(sb, body)
            check(st == want and text in doc.get("message", ""), "%r: %d %r" % (body, st, doc))
        st, _, doc = _lim_call(sb.root + "/_sandbox/limit", "PUT", {}, auth=False)
        check(st == 405, "PUT: %d" % st)
        st, doc = _lim_limit(sb)
        check(doc["rate"] == 0.5 and doc["burst"] == 2, "refused changes changed nothing: %r" % doc)
        st, doc = _lim_limit(sb, {"kind": "none", "schedule": "30:5"})
        check(st == 200 and doc["kind"] == "none" and len(doc["schedule"]) == 1, "none: %r" % doc)
        codes = [_lim_call(sb.url + "/v2/users")[0] for _ in range(20)]
        check(codes == [200] * 20, "no limit: %r" % codes)
        s = sb.stats()
        check(s["limited"] == 4, "limited %r" % s["limited"])
        check(sum(s["accepted_per_s"]) == 3 + 2 + 20, "accepted_per_s %r" % s["accepted_per_s"])


def case_622_limit_sms(d):
    with Sandbox(["--limit-bucket", "1000", "--limit-burst", "1000", "--limit-sms", "0.2"]) as sb:
        st, _, u = _lim_call(sb.url + "/v2/users", "POST", _lim_user(1))
        check(st == 201, "create: %d" % st)
        send = sb.url + "/v2/users/%s/send-verification-token" % u["id"]
        st, _, _ = _lim_call(send, "POST", {})
        check(st == 200, "first SMS: %d" % st)
        st, hdr, doc = _lim_call(send, "POST", {})
        check(st == 429 and "Retry-After" in hdr, "second SMS: %d %r" % (st, doc))
        check(1 <= int(hdr["Retry-After"]) <= 5, "Retry-After %r" % hdr["Retry-After"])
        codes = [_lim_call(sb.url + "/v2/users/" + u["id"])[0] for _ in range(10)]
        check(codes == [200] * 10, "other requests unaffected: %r" % codes)
        s = sb.stats()
        check(s["sms"] == 1 and s["users_with_multiple_sms"] == 0, "refused SMS was sent: %r" % s)
        check(s["limited"] == 1 and s["limited_sms"] == 1, "limited %r / %r" % (s["limited"], s["limited_sms"]))
        st, doc = _lim_limit(sb)
        check(doc["sms_rate"] == 0.2, "GET sms_rate: %r" % doc)
