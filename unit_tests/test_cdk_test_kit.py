"""Pins the CDK internals the tests use (unit_tests/cdk_test_kit.py)."""

from __future__ import annotations

import logging

import pytest
from airbyte_cdk.sources.streams.http.error_handlers import HttpStatusErrorHandler
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from unit_tests.cdk_test_kit import assert_every_mock_used, patch_retry_sleeps


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def test_given_patched_retry_sleeps_when_the_cdk_retries_a_500_then_the_wait_is_recorded_not_slept(monkeypatch):
    recorder = Recorder()
    patch_retry_sleeps(monkeypatch, recorder)
    client = HttpClient(
        "kit", logging.getLogger("test"), HttpStatusErrorHandler(logging.getLogger("test"), max_retries=1)
    )

    with HttpMocker() as mocker:
        mocker.get(HttpRequest("https://kit.test/api"), [HttpResponse("{}", 500), HttpResponse("{}", 200)])
        _, response = client.send_request("GET", "https://kit.test/api", request_kwargs={})

    assert response.status_code == 200
    assert [seconds for seconds in recorder.sleeps if seconds] != [], "the CDK's retry no longer sleeps where we patch"


def test_given_an_unused_mock_when_validated_then_it_fails():
    with HttpMocker() as mocker:
        mocker.get(HttpRequest("https://kit.test/unused"), HttpResponse("{}", 200))
        with pytest.raises(ValueError, match="Invalid number of matches"):
            assert_every_mock_used(mocker)
