"""Point 1 of issue 13, end to end: Debian's nginx terminates TLS in front of the Procfile's `web:` line.

Register over https, submit, per-IP limits keyed on the real client (two loopback source
addresses), plain HTTP refused, spoofed X-Forwarded-* ignored. Skipped (one line) without nginx.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from devtools.embedded_redis import free_port
from tests.conftest import CANONICAL_BODY, PASSWORD
from tests.stack import Stack

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
pytestmark = pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason=f"nginx tests skipped: no nginx at {NGINX}")
NEW_KEY = re.compile(r'data-testid="new-key">(pxk_[0-9A-Za-z]+)<')


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{https_port} ssl;
        server_name localhost;
        ssl_certificate {cert}; ssl_certificate_key {key};
        location / {{
            proxy_pass http://127.0.0.1:{web_port};
            proxy_set_header Host $host:$server_port;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host:$server_port;
            proxy_set_header X-Forwarded-Port $server_port;
        }}
    }}
}}
"""


class SourceAddressAdapter(HTTPAdapter):
    """Connect from a chosen loopback address (the 'client IP' nginx sees)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        return super().init_poolmanager(*args, **kwargs)


def client_from(address: str, cert: Path) -> requests.Session:
    session = requests.Session()
    session.mount("https://", SourceAddressAdapter(address))
    session.mount("http://", SourceAddressAdapter(address))
    session.verify = str(cert)
    session.trust_env = False  # a CA bundle from the environment would override `verify`
    return session


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory, redis_url):
    workdir = tmp_path_factory.mktemp("nginx")
    cert, key = self_signed(workdir)
    https_port = free_port()
    public = f"https://localhost:{https_port}"
    env = {
        "APP_ENV": "production", "SECRET_KEY": "n" * 48, "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PUBLIC_URL": public, "TRUSTED_PROXIES": "1", "REGISTER_RATE_LIMIT": "2/hour",
        "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192",
    }
    stack = Stack(workdir, redis_url, workers=1, env=env, web_threads=4, use_procfile_web=True)
    stack.start()
    prefix = workdir / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, https_port=https_port, cert=cert, key=key,
                                      web_port=stack.web_ports[0]))
    log = open(prefix / "stdout.log", "wb")  # noqa: SIM115
    nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(f"{public}/healthz", verify=str(cert), timeout=2)
                break
            except requests.ConnectionError:
                if nginx.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((prefix / "error.log").read_text()) from None
                time.sleep(0.2)
        yield stack, public, cert
    finally:
        nginx.send_signal(signal.SIGQUIT)  # only the nginx this fixture started, by its PID
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        stack.stop()


def register(session: requests.Session, public: str) -> requests.Response:
    page = session.get(f"{public}/register")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    return session.post(f"{public}/register", headers={"Referer": f"{public}/register"}, data={
        "csrf_token": token, "username": f"u{uuid.uuid4().hex[:10]}", "email": "",
        "password": PASSWORD, "confirm": PASSWORD})


def test_register_and_submit_over_https(tls_stack):
    _stack, public, cert = tls_stack
    session = client_from("127.0.0.4", cert)
    response = register(session, public)
    assert response.status_code == 200, response.text[:500]
    key = NEW_KEY.search(response.text).group(1)
    assert response.url.startswith(public)
    submitted = session.post(f"{public}/v1/predictions", json=CANONICAL_BODY,
                             headers={"Authorization": f"Bearer {key}"})
    assert submitted.status_code == 202, submitted.text
    assert submitted.headers["Location"].startswith(f"{public}/v1/predictions/")
    assert submitted.headers["Strict-Transport-Security"].startswith("max-age=")


def test_registration_limit_is_per_real_client(tls_stack):
    _stack, public, cert = tls_stack
    first, second = client_from("127.0.0.2", cert), client_from("127.0.0.3", cert)
    assert [register(first, public).status_code for _ in range(2)] == [200, 200]
    assert register(first, public).status_code == 429
    assert register(second, public).status_code == 200


def test_spoofed_forwarded_for_does_not_escape_the_limit(tls_stack):
    _stack, public, cert = tls_stack
    spoofer = client_from("127.0.0.5", cert)
    spoofer.headers["X-Forwarded-For"] = "203.0.113.7"
    assert [register(spoofer, public).status_code for _ in range(2)] == [200, 200]
    spoofer.headers["X-Forwarded-For"] = "203.0.113.8"
    assert register(spoofer, public).status_code == 429


def test_plain_http_to_waitress_is_refused(tls_stack):
    stack, _public, _cert = tls_stack
    direct = requests.get(f"{stack.base_url}/v1/me", headers={"Host": "localhost"}, timeout=5)
    assert direct.status_code == 403
    assert direct.json()["error"]["code"] == "https_required"
    spoofed = requests.get(f"{stack.base_url}/v1/me", headers={"X-Forwarded-Proto": "https"}, timeout=5)
    assert spoofed.status_code in (401, 403)
