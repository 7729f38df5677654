"""S3 for tests: one moto server per test process (started on first use), a fresh bucket per
test. Credentials are made up: moto accepts any, and the code under test reads them from
boto3's usual chain as it would in production."""

from __future__ import annotations

import os
import uuid

import pytest

from referrals.core.objectstore import LocalObjects
from referrals.core.s3store import S3Objects
from tests.servers import moto_s3_server

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing-key", "AWS_SECRET_ACCESS_KEY": "testing-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    with moto_s3_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def new_bucket(endpoint: str, prefix: str = "") -> S3Objects:
    objects = S3Objects.connect(f"test-{uuid.uuid4().hex[:20]}", prefix=prefix,
                                endpoint_url=endpoint, path_style=True)
    objects.client.create_bucket(Bucket=objects.bucket)
    return objects


@pytest.fixture
def s3_objects(s3_endpoint) -> S3Objects:
    return new_bucket(s3_endpoint, prefix="installation")


@pytest.fixture(params=["local", "s3"])
def objects(request, tmp_path):
    """Each backend in turn: a test using this proves the same behaviour on both."""
    if request.param == "local":
        return LocalObjects(tmp_path / "objects")
    return new_bucket(request.getfixturevalue("s3_endpoint"), prefix="installation")
