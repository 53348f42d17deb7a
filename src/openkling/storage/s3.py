"""S3-compatible storage: results uploaded with boto3, served by presigned, expiring GET URLs."""

from __future__ import annotations

import logging
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import Settings

log = logging.getLogger(__name__)

# SigV4 presigned URLs live at most 7 days.
MAX_URL_SECONDS = 7 * 24 * 3600


class S3Storage:
    name = "s3"

    def __init__(self, client, bucket: str, *, probe_client=None) -> None:
        self.client = client
        self.bucket = bucket
        self._probe = probe_client or client  # for check(): answers fast, no retries
        self._clamp_logged = False

    @classmethod
    def from_settings(cls, settings: Settings, *, create_bucket: bool = True) -> S3Storage:
        """A client for ``OPENKLING_S3_*``; credentials fall back to boto3's usual chain
        (``AWS_*`` variables, shared files, instance roles) when the settings leave them out."""

        def client(**config):
            return boto3.client(
                "s3",
                endpoint_url=settings.s3_endpoint_url,
                region_name=settings.s3_region,
                aws_access_key_id=settings.s3_access_key_id,
                aws_secret_access_key=settings.s3_secret_access_key,
                config=Config(
                    signature_version="s3v4",
                    # custom endpoints (MinIO, Ceph, moto) rarely resolve bucket subdomains
                    s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
                    **config,
                ),
            )

        storage = cls(
            client(connect_timeout=5, read_timeout=60, retries={"max_attempts": 5}),
            settings.s3_bucket,
            probe_client=client(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}),
        )
        if create_bucket:
            storage.ensure_bucket(settings.s3_region)
        return storage

    def ensure_bucket(self, region: str) -> None:
        """Create the bucket if it is missing (handy for development; production buckets are
        usually made beforehand). Failures are logged, not raised: ``check()`` reports them."""
        try:
            self._probe.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if _status(exc) != 404:
                log.warning("storage: bucket %s is not usable: %s", self.bucket, exc)
                return
        except BotoCoreError as exc:
            log.warning("storage: S3 endpoint unreachable: %s", exc)
            return
        kwargs: dict = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
            log.info("storage: created bucket %s", self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                log.warning("storage: could not create bucket %s: %s", self.bucket, exc)

    def put_file(self, key: str, src: Path, content_type: str) -> None:
        self.client.upload_file(str(src), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def read(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(key) from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def url(self, key: str, *, base_url: str, expires_in: int) -> str:
        if expires_in > MAX_URL_SECONDS:
            if not self._clamp_logged:
                log.info(
                    "storage: presigned URLs last at most %d s; OPENKLING_URL_EXPIRY_SECONDS=%d "
                    "is shortened to that",
                    MAX_URL_SECONDS,
                    expires_in,
                )
                self._clamp_logged = True
            expires_in = MAX_URL_SECONDS
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def verify(self, key: str, expires: str, signature: str) -> bool:
        return False  # presigned URLs point at the bucket; the API serves no S3 object

    def local_path(self, key: str) -> Path | None:
        return None

    def check(self) -> None:
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise RuntimeError(f"bucket {self.bucket}: HTTP {_status(exc)}") from exc
        except BotoCoreError as exc:
            raise RuntimeError(f"S3 endpoint unreachable: {exc}") from exc


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
