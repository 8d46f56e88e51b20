#!/usr/bin/env python3
"""Kring scaled out on one machine: three `kring serve` instances on one PostgreSQL database,
one Redis and one S3-compatible bucket (moto's server), behind HAProxy on loopback.

It checks what sharing promises, through the load balancer:
  - one rate budget: the 601st request of a minute, whichever instance takes it, is a 429;
  - each webhook event is delivered once, whichever instance's worker claims it;
  - a file uploaded through one instance downloads, byte for byte, through another;
and, unless --checks-only, measures read throughput with 1, 2 and 3 instances behind the
balancer (ApacheBench, `ab`), printing requests per second.

  python3 contrib/scale-out.py --kring target/release/kring \\
      --postgres postgres://postgres@127.0.0.1/kring_scale --redis redis://127.0.0.1:6379

The database must exist and be empty (the script migrates it). Needs haproxy, moto_server,
python3 with requests; `ab` (apache2-utils) for the measurement.
"""

import argparse
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    sys.exit(f"{what} did not come up at {url}")


class Deployment:
    """The shared services, the instances and the balancer; everything stopped on exit."""

    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="kring-scale-")
        self.children = []
        self.prefix = f"scale{os.getpid()}"
        self.moto_port = free_port()
        self.spawn(["moto_server", "-H", "127.0.0.1", "-p", str(self.moto_port)], "moto.log")
        self.endpoint = f"http://127.0.0.1:{self.moto_port}"
        wait_for(self.endpoint, "moto_server")
        requests.put(f"{self.endpoint}/kring").raise_for_status()
        self.env = dict(
            os.environ,
            KRING_DATABASE_URL=args.postgres,
            KRING_LOG="warn",
        )
        self.kring(["migrate"])
        email = f"owner@{self.prefix}.test"
        self.kring(["user", "create", "--company", "Scale Co", "--name", "Owner",
                    "--email", email, "--password", "scale-out-password"])
        self.token = self.kring(["token", "create", "--email", email]).strip()
        budget = f"budget@{self.prefix}.test"
        self.kring(["user", "create", "--company", "Scale Co", "--name", "Budget",
                    "--email", budget, "--password", "scale-out-password"])
        self.budget_token = self.kring(["token", "create", "--email", budget]).strip()
        self.instances = [self.instance(n) for n in range(3)]
        self.balancer_port = free_port()
        self.balancer = None
        self.balance(3)

    def spawn(self, command, log, env=None):
        out = open(os.path.join(self.dir, log), "w")
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        self.children.append(child)
        return child

    def kring(self, arguments):
        done = subprocess.run([self.args.kring, *arguments], env=self.env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"kring {' '.join(arguments)}: {done.stderr}")
        return done.stdout

    def instance(self, n, extra=()):
        port = free_port()
        files = os.path.join(self.dir, f"files{n}")
        self.spawn([
            self.args.kring, "serve", "--bind", f"127.0.0.1:{port}",
            "--redis-url", self.args.redis, "--redis-prefix", self.prefix,
            "--s3-endpoint", self.endpoint, "--s3-bucket", "kring",
            "--s3-access-key-id", "scale", "--s3-secret-access-key", "scale-secret",
            "--files-dir", files, "--webhook-allow-private", *extra,
        ], f"kring{n}-{port}.log", self.env)
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/ready", f"instance {n}")
        return base

    def balance(self, count):
        """HAProxy round-robin over the first `count` instances (restarted for each count)."""
        if self.balancer is not None:
            self.balancer.terminate()
            self.balancer.wait()
        servers = "\n".join(
            f"  server k{n} {base.removeprefix('http://')} check"
            for n, base in enumerate(self.instances[:count])
        )
        config = os.path.join(self.dir, f"haproxy{count}.cfg")
        with open(config, "w") as f:
            f.write(f"""global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend api
  bind 127.0.0.1:{self.balancer_port}
  default_backend kring
backend kring
  balance roundrobin
  option httpchk GET /ready
{servers}
""")
        self.balancer = self.spawn(["haproxy", "-db", "-f", config], f"haproxy{count}.log")
        self.base = f"http://127.0.0.1:{self.balancer_port}"
        wait_for(f"{self.base}/ready", "haproxy")

    def stop(self):
        for child in reversed(self.children):
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def check(condition, message):
    if not condition:
        sys.exit(f"FAILED: {message}")
    print(f"ok: {message}")


def shared_budget(d):
    """600 requests a minute per token owner across all instances; the 601st is a 429."""
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {d.budget_token}"
    ok = 0
    for _ in range(700):
        answer = session.get(f"{d.base}/api/customer?limit=1")
        if answer.status_code == 429:
            break
        if answer.status_code != 200:
            sys.exit(f"FAILED: a read within the budget answered {answer.status_code}")
        ok += 1
    check(ok == 600, f"600 reads through the balancer, then a 429 (got {ok})")


class Receiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Receiver.received.append((self.headers.get("webhook-id"), json.loads(body or b"{}")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def webhooks_once(d):
    """Every event goes out once, though three workers poll the one outbox."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    auth = {"Authorization": f"Bearer {d.token}"}
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    made = requests.post(f"{d.base}/api/webhook", headers=auth,
                         json={"url": url, "event": "customer.created"})
    check(made.status_code == 201, f"a webhook registered ({made.status_code})")
    count = 30
    for n in range(count):
        created = requests.post(f"{d.base}/api/customer", headers=auth,
                                json={"name": f"Scaled {n}"})
        if created.status_code != 201:
            sys.exit(f"FAILED: a create answered {created.status_code}")
    deadline = time.time() + 60
    while len(Receiver.received) < count and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    ids = [message_id for message_id, _ in Receiver.received]
    check(len(ids) == count and len(set(ids)) == count,
          f"{count} events, each delivered once ({len(ids)} deliveries, {len(set(ids))} distinct)")
    server.shutdown()


def files_across(d):
    """A file kept through one instance is read through another, from the shared bucket."""
    auth = {"Authorization": f"Bearer {d.token}"}
    photo = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + os.urandom(64)
    made = requests.post(
        f"{d.instances[0]}/api/customers", headers=auth,
        data={"email": "photo@scale.test", "name": "Photo", "last_name": "Graph",
              "phone": "0201234567", "business_information[company_name]": "Photo BV",
              "permissions[invoice][view-invoice]": "1"},
        files={"profile_photo_path": ("me.png", photo, "image/png")},
    )
    check(made.status_code == 201, f"a photo uploaded through instance 1 ({made.status_code})")
    link = made.json()["data"]["profile_photo_path"]
    path = link[link.index("/api/files/"):]
    other = requests.get(f"{d.instances[2]}{path}", headers=auth)
    check(other.status_code == 200 and other.content == photo,
          "the same bytes downloaded through instance 3")


def throughput(d):
    """Reads per second through the balancer with 1, 2 and 3 instances behind it."""
    if shutil.which("ab") is None:
        print("ab (apache2-utils) is not installed: no throughput measured")
        return
    created = requests.post(f"{d.base}/api/customer",
                            headers={"Authorization": f"Bearer {d.token}"},
                            json={"name": "Measured BV"}).json()
    url = f"{d.base}/api/customer/{created['id']}"
    # Instances without a budget in the way: the measurement is of reads, not of 429s.
    unlimited = ["--rate-limit", "1000000000", "--concurrency-limit", "100000"]
    d.instances = [d.instance(n, unlimited) for n in range(3)]
    for count in (1, 2, 3):
        d.balance(count)
        rates = []
        for _ in range(3):
            done = subprocess.run(
                ["ab", "-q", "-k", "-n", str(d.args.requests), "-c", "16",
                 "-H", f"Authorization: Bearer {d.token}", url],
                capture_output=True, text=True)
            lines = done.stdout.splitlines()
            if any(l.startswith("Non-2xx responses") for l in lines):
                sys.exit(f"FAILED: the measured reads were not all answered 200:\n{done.stdout}")
            line = next((l for l in lines if l.startswith("Requests per second")), "")
            rates.append(float(line.split()[3]) if line else 0.0)
        rates.sort()
        print(f"{count} instance(s): {rates[1]:.0f} reads/s (median of 3: {', '.join(f'{r:.0f}' for r in rates)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kring", default="target/release/kring")
    parser.add_argument("--postgres", required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--checks-only", action="store_true")
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    d = Deployment(args)
    try:
        shared_budget(d)
        webhooks_once(d)
        files_across(d)
        if not args.checks_only:
            throughput(d)
    finally:
        d.stop()


if __name__ == "__main__":
    main()
