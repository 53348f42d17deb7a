"""image2video in the scaled layout: the API host fetches and stores the inputs in S3; a GPU
worker on another host renders from storage, long after the caller's URL is gone."""

from __future__ import annotations

import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import boto3
import httpx

from pictures import decode_frames, encode, gradient, psnr, resize

from .conftest import sql


def test_a_worker_elsewhere_renders_from_the_stored_inputs(cluster, scaled_env, tmp_path):
    picture = gradient(360, 640, seed=8)  # portrait 9:16
    (tmp_path / "photo.png").write_bytes(encode(picture))
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    site = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()

    api = cluster.api()
    body = {
        "model_name": "kling-v1",
        "image": f"http://127.0.0.1:{site.server_address[1]}/photo.png",
    }
    response = api.request("POST", "/v1/videos/image2video", json=body)
    assert response.status_code == 200, response.text
    task_id = response.json()["data"]["task_id"]
    site.shutdown()  # the caller's picture is gone before any worker sees the task
    site.server_close()

    db = scaled_env["OPENKLING_DATABASE_URL"]
    [(request,)] = sql(db, "SELECT request FROM tasks WHERE id = %s", task_id)
    key = request["image"]["key"]
    s3 = boto3.client(
        "s3",
        endpoint_url=scaled_env["OPENKLING_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stored = s3.get_object(Bucket=scaled_env["OPENKLING_S3_BUCKET"], Key=key)
    assert stored["Body"].read() == (tmp_path / "photo.png").read_bytes()
    assert stored["ContentType"] == "image/png"

    worker = cluster.worker(models="kling-v1")
    deadline = time.monotonic() + 90
    while True:
        data = api.request("GET", f"/v1/videos/image2video/{task_id}").json()["data"]
        if data["task_status"] in ("succeed", "failed"):
            break
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.2)
    assert data["task_status"] == "succeed", data
    assert f"task {task_id}: synthetic engine" in worker.log()
    frames = decode_frames(httpx.get(data["task_result"]["videos"][0]["url"], timeout=30).content)
    h, w = frames[0].shape[:2]
    assert h > w
    assert psnr(frames[0], resize(picture, w, h)) >= 25
