"""An independent OAuth client (Authlib) against a running Kring: authorization code with
PKCE S256, a call to the API, refresh, revocation. Prints what happened as JSON; the Rust test
`oauth::t15_authlib_interop` runs it and checks every step.

Usage: authlib_flow.py BASE CLIENT_ID CLIENT_SECRET EMAIL PASSWORD REDIRECT_URI
"""

import html
import json
import os
import re
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

# Kring listens on plain HTTP on loopback in the tests.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

base, client_id, client_secret, email, password, redirect_uri = sys.argv[1:7]
client = OAuth2Session(
    client_id,
    client_secret,
    scope="customers:read",
    redirect_uri=redirect_uri,
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_basic",
)
verifier = generate_token(64)
authorize_url, state = client.create_authorization_url(
    f"{base}/oauth/authorize", code_verifier=verifier
)

# The user's half: sign in on the consent page and approve, as a browser would.
browser = requests.Session()
page = browser.get(authorize_url)
fields = {
    name: html.unescape(value)
    for name, value in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text
    )
}
fields.update(email=email, password=password, decision="approve")
approved = browser.post(f"{base}/oauth/authorize", data=fields, allow_redirects=False)
location = approved.headers.get("Location", "")

token = client.fetch_token(
    f"{base}/oauth/token", authorization_response=location, code_verifier=verifier
)
api = client.get(f"{base}/api/customer")
refreshed = client.refresh_token(f"{base}/oauth/token", refresh_token=token["refresh_token"])
after_refresh = client.get(f"{base}/api/customer")
revoked = client.revoke_token(
    f"{base}/oauth/revoke", token=refreshed["refresh_token"], token_type_hint="refresh_token"
)
after_revoke = requests.get(
    f"{base}/api/customer",
    headers={"Authorization": f"Bearer {refreshed['access_token']}"},
)
print(
    json.dumps(
        {
            "page": page.status_code,
            "approved": approved.status_code,
            "state_returned": f"state={state}" in location,
            "token_type": token.get("token_type"),
            "api": api.status_code,
            "refreshed": refreshed.get("access_token") != token.get("access_token"),
            "after_refresh": after_refresh.status_code,
            "revoked": revoked.status_code,
            "after_revoke": after_revoke.status_code,
        }
    )
)
