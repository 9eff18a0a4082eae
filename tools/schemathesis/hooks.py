"""Schemathesis hooks that sign each request the way its API wants it (docs/openapi.json
names the schemes): the platform API's four headers, the gate dialect's `sign` in the
body, the bank dialect's HMAC headers, and the admin token. Credentials come from the
data directory of the server under test (PITBOSS_DATA_DIR)."""
import hashlib
import hmac
import json
import os
import secrets
import time

import schemathesis

DATA = os.environ["PITBOSS_DATA_DIR"]
with open(os.path.join(DATA, "demo-operator.json")) as f:
    CREDS = json.load(f)
with open(os.path.join(DATA, "admin-token")) as f:
    ADMIN_TOKEN = f.read().strip()

GATE_PATHS = {"/getBalance", "/bet", "/win", "/refund"}


def gate_sign(params: dict) -> str:
    """md5 of the sorted `k=v` pairs (values as JSON writes them, strings bare),
    then `&key=<appSecret>` (docs/gate.md)."""
    def text(v):
        return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    pairs = "&".join(f"{k}={text(v)}" for k, v in sorted(params.items())
                     if k != "sign" and v is not None and text(v) != "")
    return hashlib.md5(f"{pairs}&key={CREDS['appSecret']}".encode()).hexdigest()


@schemathesis.hook
def before_call(ctx, case, kwargs):
    headers = dict(case.headers or {})
    path = case.operation.path
    now = time.time()
    if path.startswith("/service/"):
        ts, nonce = str(int(now)), secrets.token_hex(8)
        sig = hashlib.sha256(f"{CREDS['clientId']}{ts}{nonce}{CREDS['apiKey']}".encode()).hexdigest()
        headers.update({"X-Client-ID": CREDS["clientId"], "X-Timestamp": ts,
                        "X-Nonce": nonce, "X-Signature": sig})
    elif path.startswith("/admin/"):
        headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    elif path in GATE_PATHS and isinstance(case.body, dict):
        body = dict(case.body)
        body["app_key"], body["timestamp"] = CREDS["appKey"], int(now)
        body["sign"] = gate_sign(body)
        case.body = body
    elif path.startswith("/api/bank/") and isinstance(case.body, dict):
        # Signed over the bytes the transport sends: `json.dumps` with its defaults,
        # as requests serializes a JSON body.
        raw = json.dumps(case.body, allow_nan=False).encode()
        mac = hmac.new(CREDS["appSecret"].encode(), raw, hashlib.sha256).hexdigest()
        headers.update({"X-API-Key": CREDS["appKey"], "X-Timestamp": str(int(now * 1000)),
                        "X-Signature": hashlib.md5(mac.encode()).hexdigest()})
    case.headers = headers
