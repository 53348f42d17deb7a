"""The OpenAI video API over S3 storage (moto server): content is read from the bucket, the
spritesheet is kept there, and delete empties the bucket of the video's objects."""

from __future__ import annotations

import io

import av
import boto3
import openai
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks Sora so


def objects(settings: dict) -> set[str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=settings["OPENKLING_S3_ENDPOINT_URL"],
        region_name=settings["OPENKLING_S3_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listing = s3.list_objects_v2(Bucket=settings["OPENKLING_S3_BUCKET"])
    return {item["Key"] for item in listing.get("Contents", [])}


def test_content_and_delete_on_s3(server_factory, s3_settings):
    server = server_factory(env={**s3_settings, "OPENKLING_OPENAI_POLL_AFTER_MS": "200"})
    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key=server.secret_key)
    video = client.videos.create_and_poll(prompt="a harbour crane", size="720x1280", seconds="4")
    assert video.status == "completed", video.error

    data = client.videos.download_content(video.id).content
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (720, 1280)
        assert abs(float(stream.duration * stream.time_base) - 4.0) <= 0.1
    assert (
        client.videos.download_content(video.id, variant="thumbnail").content[:3] == b"\xff\xd8\xff"
    )
    sheet = client.videos.download_content(video.id, variant="spritesheet").content
    task_id = video.id.removeprefix("video_")
    ours = {key for key in objects(s3_settings) if task_id in key}
    assert len(ours) == 3 and any(key.endswith("-sprite.jpg") for key in ours)
    assert client.videos.download_content(video.id, variant="spritesheet").content == sheet

    client.videos.delete(video.id)
    assert not {key for key in objects(s3_settings) if task_id in key}
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
