"""Shared fixtures: no test sleeps for real, and a strict HTTP mock per test.

The CDK's HttpClient sleeps `backoff + 1` seconds between retries; every test gets a fake
sleeper that records the requested sleeps instead (cdk_test_kit.patch_retry_sleeps).
"""

from typing import Iterator, List

import pytest
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.cdk_test_kit import assert_every_mock_used, patch_retry_sleeps


class FakeTime:
    def __init__(self) -> None:
        self.sleeps: List[float] = []

    def sleep(self, seconds: float) -> None:
        if seconds:  # the backoff library also "sleeps" 0 s before its first try
            self.sleeps.append(seconds)


@pytest.fixture(autouse=True)
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    patch_retry_sleeps(monkeypatch, fake)
    return fake


@pytest.fixture
def http_mocker() -> Iterator[HttpMocker]:
    """A fresh, strict HttpMocker per test (parametrized cases included).

    Inside it, a request that matches no mock raises, so the read fails; at teardown, a
    mock that was not requested as often as it has responses fails the test, exactly as
    the `@HttpMocker()` decorator does (the decorator cannot give each parametrized case
    its own mocker).
    """
    with HttpMocker() as mocker:
        yield mocker
        assert_every_mock_used(mocker)
