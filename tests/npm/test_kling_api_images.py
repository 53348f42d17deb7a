"""npm's kling-api 1.0.0, unchanged, against a real `openkling serve` over TLS: generateImage
with and without a reference image, waited for and saved by the package itself, and the image
task list; the files it saved measured here.

The package speaks only HTTPS to public-looking host names, so the server gets a certificate
for a name of its own, which Node resolves to loopback (hosts.mjs, an /etc/hosts line)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from liveserver import FAST_ENV, Account, cli, free_port
from pictures import encode, gradient, resize

HERE = Path(__file__).parent
HOST = "images.openkling.test"

pytestmark = pytest.mark.skipif(
    not (HERE / "node_modules" / "kling-api").is_dir() or shutil.which("node") is None,
    reason="needs Node and `npm ci` in tests/npm (.ci/run does it)",
)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    """``openkling serve`` over TLS as https://images.openkling.test:PORT, and an account."""
    data = tmp_path_factory.mktemp("npm-images")
    cert, key = self_signed(data)
    port = free_port()
    base = f"https://{HOST}:{port}"
    env = {
        **os.environ,
        **FAST_ENV,
        "OPENKLING_DATA_DIR": str(data),
        "OPENKLING_PUBLIC_BASE_URL": base,
        "OPENKLING_WORKERS": "2",
    }
    account = Account(**json.loads(cli("keys", "create", "--json", data_dir=data).stdout))
    log = open(data / "server.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "openkling", "serve", "--port", str(port)]
        + ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (data / "server.log").read_text()
            try:
                health = httpx.get(
                    f"https://127.0.0.1:{port}/healthz", verify=False, headers={"Host": HOST}
                )
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, cert, account, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_generate_image_with_and_without_a_reference_through_kling_api(https_server, tmp_path):
    base, cert, account, data = https_server
    reference = gradient(800, 450, seed=3)
    reference_path = tmp_path / "reference.png"
    reference_path.write_bytes(encode(reference))
    run = subprocess.run(
        ["node", "--import", str(HERE / "hosts.mjs"), str(HERE / "images.mjs")],
        cwd=HERE,
        env={
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "OPENKLING_TEST_HOST": HOST,
            "KLING_BASE_URL": base,
            "KLING_ACCESS_KEY": account.access_key,
            "KLING_SECRET_KEY": account.secret_key,
            "OUT_DIR": str(tmp_path / "out"),
            "REFERENCE": str(reference_path),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:] + (data / "server.log").read_text()[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    text, ref = report["text"], report["reference"]
    for item in (text, ref):
        assert item["result"]["task_status"] == "succeed", item
    assert [i["index"] for i in text["result"]["task_result"]["images"]] == [0, 1]
    assert len(set(text["files"])) == 2
    for path in text["files"]:
        with Image.open(path) as picture:
            assert (picture.format, picture.size) == ("PNG", (1024, 1024))  # 1:1 at 1k
    (path,) = ref["files"]
    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape == (720, 1280, 3)
    expected = resize(reference, 1280, 720)
    # image_fidelity 1: the reference itself, clear of the number and the prompt's band
    assert np.abs(picture[100:400].astype(int) - expected[100:400].astype(int)).mean() < 3
    assert text["result"]["final_unit_deduction"] == "8"  # 2 pictures at 4
    assert ref["result"]["final_unit_deduction"] == "8"  # 1 picture from a reference
    assert report["list"] == [ref["created"]["task_id"], text["created"]["task_id"]]
