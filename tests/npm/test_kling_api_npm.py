"""npm's kling-api 1.0.0, unchanged, against a real `openkling serve` over TLS: extendVideo,
multiImageToVideo and POST /v1/videos/effects (zoom_out, hug_pro), each waited for and
downloaded by the package itself; the files it saved measured with PyAV.

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

from liveserver import FAST_ENV, Account, cli, free_port
from pictures import encode, gradient

HERE = Path(__file__).parent
HOST = "kling.openkling.test"
FPS = 8

pytestmark = pytest.mark.skipif(
    not (HERE / "node_modules" / "kling-api").is_dir() or shutil.which("node") is None,
    reason="needs Node and `npm ci` in tests/npm (.ci/run does it)",
)


def certificate(directory: Path) -> tuple[Path, Path]:
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
def tls_server(tmp_path_factory):
    """``openkling serve`` over TLS as https://kling.openkling.test:PORT, and an account."""
    data = tmp_path_factory.mktemp("npm-server")
    cert, key = certificate(data)
    port = free_port()
    base = f"https://{HOST}:{port}"
    env = {
        **os.environ,
        **FAST_ENV,
        "OPENKLING_DATA_DIR": str(data),
        "OPENKLING_PUBLIC_BASE_URL": base,
        "OPENKLING_FPS": str(FPS),
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


def frames(path: str) -> list[np.ndarray]:
    import av

    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def share(frame: np.ndarray, colour: tuple[int, int, int]) -> float:
    distance = np.abs(frame.astype(np.int16) - np.array(colour, np.int16)).sum(axis=2)
    return float(np.mean(distance < 40))


def flat(colour: tuple[int, int, int]) -> np.ndarray:
    picture = np.empty((400, 400, 3), np.uint8)
    picture[:] = colour
    return picture


def test_extend_multi_image_and_effects_through_kling_api(tls_server, tmp_path):
    base, cert, account, data = tls_server
    colours = [(220, 40, 40), (40, 180, 60), (40, 60, 220)]
    references = []
    for i, colour in enumerate(colours):
        path = tmp_path / f"ref{i}.png"
        path.write_bytes(encode(flat(colour)))
        references.append(str(path))
    single = tmp_path / "single.png"
    picture = np.full((480, 640, 3), 215, np.uint8)
    yy, xx = np.mgrid[0:480, 0:640]
    picture[(xx - 320) ** 2 + (yy - 240) ** 2 < 90**2] = (30, 30, 120)
    single.write_bytes(encode(picture))
    pair = [tmp_path / "left.png", tmp_path / "right.png"]
    pair[0].write_bytes(encode(flat(colours[0])))
    pair[1].write_bytes(encode(flat(colours[2])))
    (tmp_path / "noise.png").write_bytes(encode(gradient(400, 400)))

    run = subprocess.run(
        ["node", "--import", str(HERE / "hosts.mjs"), str(HERE / "neighbours.mjs")],
        cwd=HERE,
        env={
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(cert),
            "OPENKLING_TEST_HOST": HOST,
            "KLING_BASE_URL": base,
            "KLING_ACCESS_KEY": account.access_key,
            "KLING_SECRET_KEY": account.secret_key,
            "OUT_DIR": str(tmp_path / "out"),
            "REFERENCES": ",".join(references),
            "SINGLE": str(single),
            "PAIR": ",".join(str(p) for p in pair),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:] + (data / "server.log").read_text()[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    for name in ("text2video", "extend", "multi", "zoom_out", "hug_pro"):
        assert report[name]["result"]["task_status"] == "succeed", report[name]
        assert len(report[name]["files"]) == 1 and Path(report[name]["files"][0]).stat().st_size

    parent, extended = (
        frames(report["text2video"]["files"][0]),
        frames(report["extend"]["files"][0]),
    )
    assert len(extended) == len(parent) + 5 * FPS  # the whole video: the parent and 5 s more
    info = report["extend"]["result"]["task_info"]["parent_video"]
    assert info["id"] == report["text2video"]["result"]["task_result"]["videos"][0]["id"]

    multi = frames(report["multi"]["files"][0])
    assert all(share(multi[len(multi) // 2], c) > 0.03 for c in colours)

    zoom = frames(report["zoom_out"]["files"][0])
    dark = [
        np.sum(np.abs(f[f.shape[0] // 2].astype(int) - (30, 30, 120)).sum(1) < 90) for f in zoom
    ]
    assert dark[-1] < 0.8 * dark[0]  # the picture shrinks as the camera pulls back

    hug = frames(report["hug_pro"]["files"][0])
    assert share(hug[-1], colours[0]) > 0.15 and share(hug[-1], colours[2]) > 0.15
    assert report["hug_pro"]["result"]["final_unit_deduction"] == "35"

    refused = report["refused"]
    assert refused["code"] == 1201 and refused["status"] == 400
    assert "effect_scene" in refused["message"]
