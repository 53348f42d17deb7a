"""The server-side CLI: first start prints a ready key, keys and credits beside a running
server, `db upgrade`, and TLS with --ssl-certfile / --ssl-keyfile."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support import processes
from support.accounts import make_token
from support.server import FAST_ENV, cli, free_port


def _serve(data_dir, *extra, port):
    env = {**os.environ, **FAST_ENV, "OPENKLING_DATA_DIR": str(data_dir)}
    return processes.spawn(
        [sys.executable, "-m", "openkling", "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait(url: str, proc, **kw) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(url, timeout=1, **kw).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_first_start_prints_a_working_key(tmp_path):
    port = free_port()
    proc = _serve(tmp_path / "data", port=port)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", proc)
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    access = re.search(r"KLING_ACCESS_KEY=(\S+)", out).group(1)
    secret = re.search(r"KLING_SECRET_KEY=(\S+)", out).group(1)
    assert "curl" in out and "/v1/videos/text2video" in out

    # a second start with the same data dir keeps that account and prints no new key
    proc = _serve(tmp_path / "data", port=port)
    try:
        _wait(f"http://127.0.0.1:{port}/healthz", proc)
        token = make_token(access, secret)
        resp = httpx.get(
            f"http://127.0.0.1:{port}/account/costs",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resp.status_code == 200
        remaining = resp.json()["data"]["resource_pack_subscribe_infos"][0]["remaining_quantity"]
        assert remaining == 1000
        proc.terminate()
        out2, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "KLING_ACCESS_KEY" not in out2
    # ... but says where keys come from
    data_dir = tmp_path / "data"
    assert f"New keys: openkling keys create --data-dir {data_dir}" in " ".join(out2.split())


def test_keys_and_credits_beside_a_running_server(live_server):
    keys = json.loads(
        cli("keys", "create", "--json", "--credits", "15", data_dir=live_server.data_dir).stdout
    )
    assert set(keys) == {"access_key", "secret_key", "webhook_secret", "credits"}
    assert keys["credits"] == 15 and keys["webhook_secret"].startswith("whsec_")
    headers = {"Authorization": f"Bearer {make_token(keys['access_key'], keys['secret_key'])}"}
    body = {"prompt": "a quiet harbour", "mode": "std", "duration": "10"}  # 20 credits
    resp = httpx.post(f"{live_server.base_url}/v1/videos/text2video", headers=headers, json=body)
    assert resp.status_code == 402 and resp.json()["code"] == 1102

    out = cli("credits", "add", keys["access_key"], "10", data_dir=live_server.data_dir).stdout
    assert "25" in out
    resp = httpx.post(f"{live_server.base_url}/v1/videos/text2video", headers=headers, json=body)
    assert resp.status_code == 200, resp.text
    shown = cli("credits", "show", keys["access_key"], data_dir=live_server.data_dir).stdout
    assert shown.strip() == "balance: 5"


def test_credits_for_unknown_key_fails(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli("credits", "show", "nobody", data_dir=tmp_path)
    assert "no account" in failed.value.stderr


def test_db_upgrade_is_idempotent(tmp_path):
    first = cli("db", "upgrade", data_dir=tmp_path).stdout
    second = cli("db", "upgrade", data_dir=tmp_path).stdout
    assert "revision" in first and first == second


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(tmp_path):
    cert, key = _self_signed(tmp_path)
    port = free_port()
    proc = _serve(
        tmp_path / "data", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), port=port
    )
    try:
        _wait(f"https://127.0.0.1:{port}/healthz", proc, verify=False)
        with httpx.Client(verify=False) as client:
            assert client.get(f"https://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        assert f"KLING_BASE_URL=https://127.0.0.1:{port}" in out
    finally:
        if proc.poll() is None:
            proc.kill()
