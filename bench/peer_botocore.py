#!/usr/bin/env python3
"""
peer_botocore.py - the pacing benchmark's peer (bench/pacing.py): the same
work as `dots-import` (create each user, then send it a verification code)
paced by botocore's adaptive retry mode, against dots-sandbox on 127.0.0.1.

    python3 bench/peer_botocore.py --url http://127.0.0.1:PORT/api \
        --csv USERS.csv --json OUT.json [--threads 32] [--max-attempts 5]
        [--shard K/N]

botocore is wired the way botocore/client.py wires retry_mode=adaptive:
standard retries (botocore/retries/standard.py: RetryHandler over
StandardRetryConditions, ExponentialBackoff and the RetryQuota) plus the
adaptive limiter (botocore/retries/adaptive.py: ClientRateLimiter over a
CubicCalculator, a TokenBucket and a RateClocker, built exactly as
adaptive.register_retry_handler builds them). Per attempt this does what
botocore/endpoint.py does: emit 'before-send' (the limiter takes a token),
send, emit 'needs-retry' to both handlers (the limiter measures and adjusts;
the standard handler returns the delay or None), sleep the delay and try
again; 'after-call' releases retry quota.

The one translation: botocore knows a throttle by its error code, not by the
HTTP status (a 429 from an AWS JSON API carries e.g. TooManyRequestsException),
so a 429 here is given the parsed error {"Code": "TooManyRequestsException"}.
5xx are transient by status as in botocore; connection errors become
botocore's HTTPClientError. Retry-After is ignored, as botocore ignores it.

32 threads (one keep-alive http.client connection each) take users from a
shared queue. Output: JSON with creates, sends (successful), failed users,
attempts, throttled (429s seen), wall seconds.
"""
import argparse
import base64
import csv
import http.client
import json
import os
import queue
import sys
import threading
import time
import urllib.parse

try:
    import botocore  # noqa: F401
except ImportError:  # Debian's python3-botocore, seen from another python3
    sys.path.append("/usr/lib/python3/dist-packages")
from botocore import __version__ as botocore_version  # noqa: E402
from botocore.exceptions import HTTPClientError  # noqa: E402
from botocore.retries import adaptive, bucket, quota, standard, throttling  # noqa: E402


class ServiceModel:
    service_name = "dots"


class OperationModel:
    """What the retry checkers read of an operation: no modeled errors."""
    error_shapes = []
    service_model = ServiceModel()


class HTTPResponse:
    def __init__(self, status):
        self.status_code = status


def wire_adaptive(max_attempts):
    """retry_mode=adaptive: client.py registers standard, then adaptive."""
    retry_quota = standard.RetryQuotaChecker(quota.RetryQuota())
    handler = standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=max_attempts),
            retry_backoff=standard.ExponentialBackoff(),
        ),
        retry_event_adapter=standard.RetryEventAdapter(),
        retry_quota=retry_quota,
    )
    # adaptive.register_retry_handler, without a client to register on
    clock = bucket.Clock()
    limiter = adaptive.ClientRateLimiter(
        rate_adjustor=throttling.CubicCalculator(starting_max_rate=0,
                                                 start_time=clock.current_time()),
        rate_clocker=adaptive.RateClocker(clock),
        token_bucket=bucket.TokenBucket(max_rate=1, clock=clock),
        throttling_detector=standard.ThrottlingErrorDetector(
            retry_event_adapter=standard.RetryEventAdapter()),
        clock=clock,
    )
    return retry_quota, handler, limiter


class Client:
    def __init__(self, url, auth, wiring, stats):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.base = u.hostname, u.port or 80, u.path.rstrip("/")
        self.auth = auth
        self.retry_quota, self.handler, self.limiter = wiring
        self.stats = stats
        self.conn = None
        self.op = OperationModel()

    def _http(self, path, body):
        """One attempt: (status, parsed body) or raises HTTPClientError."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.request("POST", self.base + path, body=body, headers={
                "Authorization": self.auth, "Content-Type": "application/json",
                "Accept": "application/json"})
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return r.status, data
        except (OSError, http.client.HTTPException) as e:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            raise HTTPClientError(error=e)

    def call(self, path, payload):
        """botocore's endpoint loop for one API call; the parsed body or None."""
        body = json.dumps(payload).encode()
        request_dict = {"context": {}}
        attempts = 1
        while True:
            self.limiter.on_sending_request(request=None)          # before-send
            exc, response, http_resp, parsed = None, None, None, None
            try:
                status, data = self._http(path, body)
                http_resp = HTTPResponse(status)
                if status == 429:
                    parsed = {"Error": {"Code": "TooManyRequestsException"}}
                elif status >= 300:
                    parsed = {"Error": {"Code": str(status)}}
                else:
                    try:
                        parsed = json.loads(data)
                    except ValueError:
                        parsed = {}
                    if not isinstance(parsed, dict):
                        parsed = {"value": parsed}
                response = (http_resp, parsed)
            except HTTPClientError as e:
                exc = e
            with self.stats["lock"]:
                self.stats["attempts"] += 1
                if http_resp is not None and http_resp.status_code == 429:
                    self.stats["throttled"] += 1
            kw = dict(response=response, attempts=attempts, operation=self.op,
                      request_dict=request_dict, caught_exception=exc)
            self.limiter.on_receiving_response(**kw)                 # needs-retry
            delay = self.handler.needs_retry(**kw)                   # needs-retry.<service>
            if delay is None:
                break
            time.sleep(delay)
            attempts += 1
        if http_resp is not None:                                    # after-call
            self.retry_quota.release_retry_quota(request_dict["context"], http_resp)
            if 200 <= http_resp.status_code < 300:
                return parsed
        return None


def worker(client, users, stats):
    while True:
        try:
            u = users.get_nowait()
        except queue.Empty:
            return
        ok = False
        try:
            made = client.call("/v2/users", u)
            uid = made.get("id") if made else None
            if uid:
                with stats["lock"]:
                    stats["creates"] += 1
                sent = client.call("/v2/users/%s/send-verification-token"
                                   % urllib.parse.quote(str(uid), safe=""), {})
                if sent is not None:
                    ok = True
                    with stats["lock"]:
                        stats["sends"] += 1
        except Exception as e:  # a bug here must not hang or spam: count it, keep one
            with stats["lock"]:
                stats.setdefault("error", repr(e))
        if not ok:
            with stats["lock"]:
                stats["failed"] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="API base incl. /api")
    ap.add_argument("--csv", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--max-attempts", type=int, default=5)
    ap.add_argument("--shard", default="0/1", help="K/N: rows i with i %% N == K")
    a = ap.parse_args()
    k, n = (int(x) for x in a.shard.split("/"))
    cid, key = os.environ["DOTS_CLIENT_ID"], os.environ["DOTS_API_KEY"]
    auth = "Basic " + base64.b64encode(("%s:%s" % (cid, key)).encode()).decode()
    users = queue.Queue()
    with open(a.csv, newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            if i % n == k:
                users.put({c: row[c] for c in ("email", "country_code", "phone_number",
                                               "first_name", "last_name")})
    total = users.qsize()
    stats = {"lock": threading.Lock(), "creates": 0, "sends": 0, "failed": 0,
             "attempts": 0, "throttled": 0}
    wiring = wire_adaptive(a.max_attempts)
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(Client(a.url, auth, wiring, stats),
                                                     users, stats), daemon=True)
               for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    out = {k_: v for k_, v in stats.items() if k_ != "lock"}
    out.update(users=total, wall=wall, useful=out["creates"] + out["sends"],
               final_rate=wiring[2]._token_bucket.max_rate,
               botocore=botocore_version, python=sys.version.split()[0],
               cpu=sum(os.times()[:2]))
    with open(a.json, "w") as f:
        json.dump(out, f)
    return 0 if out["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
