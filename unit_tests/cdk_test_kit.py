"""The tests' uses of CDK internals, in one place (the product's are in source_avidtrak/cdk_contract.py).

- `run_check`: the CDK's test wrapper has `read` and `discover` but no `check`; its private
  runner `_run_command` is what they use, and the CDK's own docs note that connectors call it.
- `assert_every_mock_used`: HttpMocker checks unused mocks only when used as a decorator;
  as a context manager per parametrized case its private `_validate_all_matchers_called`
  is the same check.
- `patch_retry_sleeps`: the CDK's retry handlers sleep through the `time` module attribute
  of `airbyte_cdk.sources.streams.http.rate_limiting` (user-defined backoff) and of
  `backoff._sync` (the default backoff); a recorder there keeps tests free of real waits.

unit_tests/test_cdk_test_kit.py fails, naming the item, when a CDK upgrade moves one.
"""

from __future__ import annotations

from typing import Any, List, Protocol

import backoff._sync
from airbyte_cdk.sources import Source
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.models.outcome import ExpectedOutcome


def run_check(source: Source, config_path: str) -> EntrypointOutput:
    return _run_command(source, ["check", "--config", config_path], expected_outcome=ExpectedOutcome.ALLOW_ANY)


def assert_every_mock_used(mocker: HttpMocker) -> None:
    mocker._validate_all_matchers_called()


class Sleeper(Protocol):
    def sleep(self, seconds: float) -> None: ...


class Patcher(Protocol):
    def setattr(self, target: Any, name: str, value: Any) -> None: ...


RETRY_SLEEP_MODULES: List[Any] = [rate_limiting, backoff._sync]


def patch_retry_sleeps(monkeypatch: Patcher, sleeper: Sleeper) -> None:
    for module in RETRY_SLEEP_MODULES:
        monkeypatch.setattr(module, "time", sleeper)
