"""Retention on S3: the sweeper deletes a result's objects from the bucket."""

from __future__ import annotations

import time

import boto3
import httpx
from botocore.exceptions import ClientError

PATH = "/v1/videos/text2video"


def test_expired_results_are_deleted_from_the_bucket(server_factory, s3_settings):
    env = {
        **s3_settings,
        "OPENKLING_RETENTION_SECONDS": "4",
        "OPENKLING_RETENTION_SWEEP_SECONDS": "0.5",
    }
    server = server_factory(env=env)
    task_id = server.request("POST", PATH, json={"prompt": "a tin robot"}).json()["data"]["task_id"]
    assert server.wait_task(task_id)["task_status"] == "succeed"
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_settings["OPENKLING_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = s3_settings["OPENKLING_S3_BUCKET"]

    def keys() -> list[str]:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"videos/{task_id}-")
        return sorted(o["Key"] for o in listing.get("Contents", []))

    assert keys() == [f"videos/{task_id}-1.jpg", f"videos/{task_id}-1.mp4"]
    deadline = time.monotonic() + 60
    while True:
        data = server.request("GET", f"{PATH}/{task_id}").json()["data"]
        video = data["task_result"]["videos"][0]
        if video.get("expired"):
            break
        assert time.monotonic() < deadline, server.log()[-3000:]
        status = httpx.get(video["url"], timeout=30).status_code
        # 200 until the sweep runs; it may run between the read above and this fetch, and then
        # the next read says the video expired
        assert status in (200, 404), status
        time.sleep(0.2)
    assert data["task_status"] == "succeed" and video["url"] == ""
    assert keys() == []
    try:
        s3.head_object(Bucket=bucket, Key=f"videos/{task_id}-1.mp4")
        raise AssertionError("the object is still there")
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
