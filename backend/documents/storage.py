"""Where encrypted document blobs live, behind a small interface.

Keys are generated here ("ab/cd/<uuid>") and checked again by every store, so no
name a user gave ever becomes a path or an object key.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from backend.core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}$")


class BlobNotFound(LookupError):
    """The store has nothing under this key."""


class DocumentStore(Protocol):
    kind: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...  # raises BlobNotFound

    def delete(self, key: str) -> None: ...  # no error when already gone

    def check(self) -> None: ...  # raises when the store cannot be used

    def stale_keys(self, before: datetime) -> Iterator[str]: ...  # written before `before`


def new_storage_key() -> str:
    """A fresh key; the two leading levels keep any one directory small."""
    name = uuid.uuid4().hex
    return f"{name[0:2]}/{name[2:4]}/{name}"


def _checked(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a storage key made by new_storage_key: {key!r}")
    return key


class LocalDirectoryStore:
    """Blobs as files under one directory (the default; fine for one server)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write beside the target, fsync, then rename: a reader or a crash never
        # sees half a blob.
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_dir(path.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def stale_keys(self, before: datetime) -> Iterator[str]:
        """Keys of blobs written before `before`; half-written temporary files left by a
        crash that old are removed on the way."""
        if not self.root.is_dir():
            return
        cutoff = before.timestamp()
        for path in self.root.rglob("*"):
            if not path.is_file():
                continue
            try:
                modified = path.stat().st_mtime
            except FileNotFoundError:
                continue  # deleted meanwhile
            if modified >= cutoff:
                continue
            key = path.relative_to(self.root).as_posix()
            if _KEY.match(key):
                yield key
            elif path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(dir=self.root, prefix=".health-")
        os.close(fd)
        os.unlink(probe)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable. Not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3Store:
    """Blobs as objects in one bucket of any S3-compatible server (AWS, MinIO, Ceph...)."""

    kind = "s3"

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        kwargs: dict[str, Any] = {
            "region_name": settings.s3_region,
            "config": Config(
                # Path-style works on every S3-compatible server; virtual hosts need DNS.
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        }
        if settings.s3_endpoint_url:
            kwargs["endpoint_url"] = settings.s3_endpoint_url
        if settings.s3_access_key_id and settings.s3_secret_access_key:
            kwargs["aws_access_key_id"] = settings.s3_access_key_id.get_secret_value()
            kwargs["aws_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        return cls(boto3.client("s3", **kwargs), settings.s3_bucket)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=_checked(key),
            Body=data,
            ContentType="application/octet-stream",
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=_checked(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobNotFound(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=_checked(key))

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def stale_keys(self, before: datetime) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        for page in pages:
            for item in page.get("Contents", []):
                modified = item["LastModified"]
                if modified.tzinfo is None:
                    modified = modified.replace(tzinfo=UTC)
                if modified < before and _KEY.match(item["Key"]):
                    yield item["Key"]


def make_document_store(settings: Settings) -> DocumentStore:
    if settings.document_store == "s3":
        return S3Store.from_settings(settings)
    return LocalDirectoryStore(settings.document_dir)
