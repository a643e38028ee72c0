#!/usr/bin/env python3
"""The platform's half of Latchkey's delegated sign-in, as small as it gets.

Latchkey, configured with `login.mode = "delegate"`, sends a person who must
sign in to this page with `login_challenge` and `return_to` in the query. The
page authenticates them (here: a form that believes whatever is typed; a
real platform checks its own password, SSO or session), then sends the
browser back to `return_to` with a short-lived HS256-signed assertion in the
`assertion` parameter. Only Python's standard library is used.

    LATCHKEY_ISSUER=http://localhost:3001 \
    PLATFORM_SECRET="$(openssl rand -base64 32)" \
    python3 examples/delegate_login.py           # listens on 127.0.0.1:8025

with Latchkey started as

    LATCHKEY_LOGIN__MODE=delegate \
    LATCHKEY_LOGIN__DELEGATE_URL=http://localhost:8025/login \
    LATCHKEY_LOGIN__DELEGATE_HS256_SECRET="$PLATFORM_SECRET" \
    cargo run -- serve --demo

The assertion's issuer is this page's origin (`http://localhost:8025`),
which Latchkey expects unless `login.delegate_issuer` says otherwise.
"""

import base64
import hashlib
import hmac
import html
import json
import os
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

LATCHKEY_ISSUER = os.environ.get("LATCHKEY_ISSUER", "http://localhost:3001")
SECRET = os.environ["PLATFORM_SECRET"].encode()
HOST, PORT = "127.0.0.1", int(os.environ.get("PORT", "8025"))
ISSUER = os.environ.get("PLATFORM_ISSUER", f"http://localhost:{PORT}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_hs256(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signed = f"{header}.{payload}".encode()
    signature = hmac.new(SECRET, signed, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def assertion(challenge: str, email: str, name: str, organization: str, role: str) -> str:
    now = int(time.time())
    return sign_hs256({
        "iss": ISSUER,
        "aud": LATCHKEY_ISSUER,
        "iat": now,
        "exp": now + 120,                      # at most 10 minutes
        "jti": str(uuid.uuid4()),              # used once
        "login_challenge": challenge,          # the one Latchkey sent
        "sub": "user-" + hashlib.sha256(email.lower().encode()).hexdigest()[:16],
        "email": email,
        "email_verified": True,
        "name": name,
        "auth_time": now,
        "amr": ["pwd"],
        "organizations": [{"name": organization, "role": role}],
    })


FORM = """<!doctype html><meta charset="utf-8"><title>Platform sign-in</title>
<h1>Sign in to the platform</h1>
<form method="post" action="/login">
<input type="hidden" name="login_challenge" value="{challenge}">
<input type="hidden" name="return_to" value="{return_to}">
<p><label>Email <input name="email" type="email" required></label>
<p><label>Name <input name="name" required></label>
<p><label>Organization <input name="organization" value="Acme Legal" required></label>
<p><label>Role <input name="role" value="FIRM_ADMIN" required></label>
<p><button>Sign in</button>
</form>"""


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        query = parse_qs(urlsplit(self.path).query)
        challenge = query.get("login_challenge", [""])[0]
        return_to = query.get("return_to", [""])[0]
        if not challenge or not return_to.startswith(LATCHKEY_ISSUER + "/"):
            self.send_error(400, "expected login_challenge and a return_to on Latchkey")
            return
        page = FORM.format(challenge=html.escape(challenge), return_to=html.escape(return_to))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(page.encode())

    def do_POST(self):
        length = min(int(self.headers.get("Content-Length", "0")), 16 * 1024)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        return_to = form.get("return_to", "")
        # Only ever send the assertion back to Latchkey.
        if not return_to.startswith(LATCHKEY_ISSUER + "/"):
            self.send_error(400, "return_to is not on Latchkey")
            return
        token = assertion(form["login_challenge"], form["email"], form["name"],
                          form["organization"], form["role"])
        # A GET redirect back; with an https Latchkey a POST form works too.
        self.send_response(303)
        self.send_header("Location", return_to + "?" + urlencode({"assertion": token}))
        self.end_headers()


if __name__ == "__main__":
    print(f"platform login on http://localhost:{PORT}/login (issuer {ISSUER})")
    HTTPServer((HOST, PORT), Handler).serve_forever()
