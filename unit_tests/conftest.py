"""Shared fixtures: no test sleeps for real, and a strict HTTP mock per test.

The CDK's HttpClient sleeps `backoff + 1` seconds between retries through the `time`
module attribute of airbyte_cdk.sources.streams.http.rate_limiting; every test gets a
fake there that records the requested sleeps instead.
"""

from typing import Iterator, List

import pytest
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.mock_http import HttpMocker


class FakeTime:
    def __init__(self) -> None:
        self.sleeps: List[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture(autouse=True)
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(rate_limiting, "time", fake)
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
        mocker._validate_all_matchers_called()
