"""Pins every undocumented CDK behaviour listed in source_avidtrak/cdk_contract.py.

Each test names the item it guards. When one fails after a CDK upgrade, the CDK changed
that behaviour: read the item's note in cdk_contract.py before touching the test.
"""

from __future__ import annotations

import logging
import threading
from queue import Queue
from typing import Any, Mapping, Optional, Tuple

import pytest
import requests
from airbyte_cdk.models import AirbyteLogMessage, AirbyteMessage, FailureType, Level, Status, TraceType, Type
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.concurrent.cursor import FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.partition_reader import PartitionReader
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.types import PartitionCompleteSentinel
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, HttpStatusErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.sources.types import Record
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak.cdk_contract import CheckFailure, backoff_cause, mask_secrets

CONTRACT = "CDK contract item {} changed (source_avidtrak/cdk_contract.py): "


class FailingCheck(AbstractSource):
    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Any]:
        return False, CheckFailure("AvidTrak rejected the pin code.")

    def streams(self, config: Mapping[str, Any]) -> list:
        return []


def test_item_1_given_check_failure_when_abstract_source_checks_then_message_is_the_sentence():
    status = FailingCheck().check(logging.getLogger("test"), {})

    assert status.status == Status.FAILED
    assert status.message == "AvidTrak rejected the pin code.", CONTRACT.format(1) + repr(status.message)


class RecordingCursor(FinalStateCursor):
    """Records, in the queue's own order, when the CDK closes a partition."""

    def __init__(self, queue: Queue) -> None:
        super().__init__("contract", None, InMemoryMessageRepository())
        self.queue = queue
        self.closed_after: list = []
        self.threads: list = []

    def close_partition(self, partition: Any) -> None:
        self.closed_after.append(list(self.queue.queue))
        self.threads.append(threading.get_ident())


class TwoRecords(Partition):
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def read(self):
        yield Record({"n": 1}, self)
        yield Record({"n": 2}, self)
        if self.fail:
            raise RuntimeError("window failed")

    def to_slice(self):
        return {"n": 1}

    def stream_name(self) -> str:
        return "contract"

    def __hash__(self) -> int:
        return 1


def test_item_2_given_a_partition_read_when_it_succeeds_then_closed_on_its_thread_after_its_records_are_queued():
    queue: Queue = Queue()
    cursor = RecordingCursor(queue)

    reader = threading.Thread(target=PartitionReader(queue).process_partition, args=(TwoRecords(), cursor))
    reader.start()
    reader.join()

    assert [[item.data for item in items] for items in cursor.closed_after] == [[{"n": 1}, {"n": 2}]], CONTRACT.format(
        2
    ) + repr(cursor.closed_after)
    assert cursor.threads == [reader.ident], CONTRACT.format(2)
    assert isinstance(queue.queue[-1], PartitionCompleteSentinel) and queue.queue[-1].is_successful


def test_item_2_given_a_partition_read_when_it_fails_then_never_closed():
    queue: Queue = Queue()
    cursor = RecordingCursor(queue)

    PartitionReader(queue).process_partition(TwoRecords(fail=True), cursor)

    assert cursor.closed_after == [], CONTRACT.format(2)
    assert not queue.queue[-1].is_successful, CONTRACT.format(2)


def test_item_3_given_retries_exhausted_when_http_client_gives_up_then_context_is_the_backoff_exception():
    client = HttpClient(
        name="contract",
        logger=logging.getLogger("test"),
        error_handler=HttpStatusErrorHandler(logging.getLogger("test"), max_retries=0),
    )
    with HttpMocker() as mocker:
        mocker.get(HttpRequest("https://contract.test/api"), HttpResponse("{}", 500))
        with pytest.raises(AirbyteTracedException) as raised:
            client.send_request("GET", "https://contract.test/api", request_kwargs={})

    cause = backoff_cause(raised.value)
    assert isinstance(cause, BaseBackoffException), CONTRACT.format(3) + repr(raised.value.__context__)
    assert isinstance(cause.response, requests.Response) and cause.response.status_code == 500


def trace(message: str, internal: str, failure_type: FailureType = FailureType.transient_error) -> AirbyteMessage:
    return AirbyteTracedException(
        message=message, internal_message=internal, failure_type=failure_type
    ).as_airbyte_message()


def test_item_4_given_registered_secret_in_trace_and_log_when_masked_then_gone():
    update_secrets(["contract-secret-pin"])
    log = AirbyteMessage(
        type=Type.LOG, log=AirbyteLogMessage(level=Level.INFO, message="GET ?pincode=contract-secret-pin")
    )

    masked = [mask_secrets(trace("x", "url ?pincode=contract-secret-pin")), mask_secrets(log)]

    assert "contract-secret-pin" not in repr(masked)


def run_failing_concurrent_sync() -> list:
    """Two partitions that fail, through the CDK's ConcurrentSource: what it emits and raises."""
    from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
    from airbyte_cdk.sources.message import InMemoryMessageRepository
    from airbyte_cdk.sources.streams.concurrent.cursor import FinalStateCursor
    from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
    from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
    from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import PartitionGenerator
    from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger

    class Failing(Partition):
        def __init__(self, number: int) -> None:
            self.number = number

        def read(self):
            raise AirbyteTracedException(
                message=f"window {self.number} failed", failure_type=FailureType.transient_error
            )
            yield  # a generator

        def to_slice(self):
            return {"n": self.number}

        def stream_name(self) -> str:
            return "contract"

        def __hash__(self) -> int:
            return self.number

    class Generator(PartitionGenerator):
        def generate(self):
            yield Failing(1)
            yield Failing(2)

    repository = InMemoryMessageRepository()
    stream = DefaultStream(
        Generator(), "contract", {}, [], None, logging.getLogger("test"), FinalStateCursor("contract", None, repository)
    )
    source = ConcurrentSource.create(2, 1, logging.getLogger("test"), DebugSliceLogger(), repository)
    emitted = []
    with pytest.raises(AirbyteTracedException) as raised:
        emitted.extend(source.read([stream]))
    return [m for m in emitted if m.type == Type.TRACE and m.trace.type == TraceType.ERROR] + [raised.value]


def test_item_4_given_concurrent_cdk_when_two_windows_fail_then_one_trace_each_and_a_config_error_summary():
    """The behaviour single_failure compensates for: if the CDK changes it, revisit single_failure."""
    *traces, closing = run_failing_concurrent_sync()

    assert sorted(t.trace.error.message for t in traces) == ["window 1 failed", "window 2 failed"], CONTRACT.format(4)
    assert closing.failure_type == FailureType.config_error, CONTRACT.format(4) + repr(closing.failure_type)


def test_item_5_given_cdk_retry_handler_when_a_503_is_retried_then_it_logs_rate_limit_and_we_reword_it(caplog):
    from airbyte_cdk.sources.streams.http import rate_limiting

    from source_avidtrak.cdk_contract import install_retry_log_wording

    install_retry_log_wording()
    source_text = rate_limiting.__loader__.get_source(rate_limiting.__name__)  # type: ignore[union-attr]
    assert "Rate limit exceeded (HTTP {exc.response.status_code}). Retrying in" in source_text, CONTRACT.format(5)

    with caplog.at_level(logging.INFO, logger="airbyte"):
        logging.getLogger("airbyte").info(
            "UserDefinedBackoffException: Rate limit exceeded (HTTP 503). Retrying in 3 seconds."
        )
        logging.getLogger("airbyte").info("UserDefinedBackoffException: Rate limit exceeded. Retrying in 3 seconds.")
        logging.getLogger("airbyte").info(
            "UserDefinedBackoffException: Rate limit exceeded (HTTP 429). Retrying in 3 seconds."
        )

    assert [record.getMessage() for record in caplog.records] == [
        "AvidTrak answered HTTP 503. Retrying in 3 seconds.",
        "No answer from AvidTrak. Retrying in 3 seconds.",
        "UserDefinedBackoffException: Rate limit exceeded (HTTP 429). Retrying in 3 seconds.",
    ]


def test_item_6_given_concurrent_cdk_when_a_partition_fails_then_it_logs_the_exception_and_ours_go_to_debug(
    caplog,
):
    import inspect

    from airbyte_cdk.sources.concurrent_source.concurrent_read_processor import ConcurrentReadProcessor

    from source_avidtrak.cdk_contract import install_retry_log_wording

    assert "self._logger.exception(" in inspect.getsource(ConcurrentReadProcessor.on_exception), CONTRACT.format(6)
    install_retry_log_wording()
    with caplog.at_level(logging.DEBUG, logger="airbyte"):
        traced = AirbyteTracedException(message="AvidTrak rejected the pin code")
        logging.getLogger("airbyte").exception("Exception while syncing stream x", exc_info=traced)
        logging.getLogger("airbyte").exception("Exception while syncing stream y", exc_info=ValueError("real"))

    # The failed window's error reaches the user as the sync's TRACE: its traceback only with --debug.
    assert [(record.getMessage(), record.levelname) for record in caplog.records] == [
        ("Exception while syncing stream x", "DEBUG"),
        ("Exception while syncing stream y", "ERROR"),
    ]


def test_item_7_given_http_stream_with_pages_when_read_then_each_page_is_requested_parsed_and_tokened_in_order():
    import threading

    from airbyte_cdk.models import SyncMode
    from airbyte_cdk.sources.streams.http import HttpStream

    calls: list = []

    class Paged(HttpStream):
        url_base = "https://contract.test/"
        primary_key = None
        cursor_field = "call_date"  # as the report streams: HttpStream then pages with _read_pages

        def path(self, **kwargs: Any) -> str:
            return "pages"

        def request_params(self, stream_state, stream_slice=None, next_page_token=None):
            page = (next_page_token or {}).get("page", 1)
            calls.append(("params", page, threading.get_ident()))
            return {"page": page}

        def parse_response(self, response, **kwargs):
            calls.append(("parse", response.json()["page"], threading.get_ident()))
            return []

        def next_page_token(self, response):
            page = response.json()["page"]
            calls.append(("token", page, threading.get_ident()))
            return {"page": page + 1} if page < 3 else None

    with HttpMocker() as mocker:
        for page in (1, 2, 3):
            mocker.get(
                HttpRequest("https://contract.test/pages", query_params={"page": str(page)}),
                HttpResponse(f'{{"page": {page}}}'),
            )
        list(Paged().read_records(SyncMode.full_refresh, stream_slice={}))

    expected = [(step, page) for page in (1, 2, 3) for step in ("params", "parse", "token")]
    assert [(step, page) for step, page, _ in calls] == expected, CONTRACT.format(7) + repr(calls)
    assert len({thread for _, _, thread in calls}) == 1, CONTRACT.format(7)


class RecordingBudget(APIBudget):
    """Records what the HTTP client asks of its budget, on the same timeline as the error handler."""

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        events.append(("acquire", request.url))

    def update_from_response(self, request: Any, response: Any) -> None:
        events.append(("update", response.status_code))


class Retry429(HttpStatusErrorHandler):
    def interpret_response(self, response_or_exception: Any = None) -> ErrorResolution:
        resolution = super().interpret_response(response_or_exception)
        events.append(("handler", getattr(response_or_exception, "status_code", None)))
        return resolution


events: list = []


def test_item_8_given_a_budget_when_a_429_is_retried_then_it_is_asked_before_and_told_after_every_attempt(fake_time):
    events.clear()
    client = HttpClient(
        name="contract",
        logger=logging.getLogger("test"),
        error_handler=Retry429(logging.getLogger("test"), max_retries=1),
        backoff_strategy=ZeroWait(),
        api_budget=RecordingBudget(policies=[]),
    )
    url = "https://contract.test/api"
    with HttpMocker() as mocker:
        mocker.get(HttpRequest(url), [HttpResponse("{}", 429), HttpResponse("{}", 200)])
        client.send_request("GET", url, request_kwargs={})

    expected = [
        ("acquire", url),
        ("update", 429),
        ("handler", 429),
        ("acquire", url),
        ("update", 200),
        ("handler", 200),
    ]
    assert events == expected, CONTRACT.format(8) + repr(events)


class ZeroWait(BackoffStrategy):
    def backoff_time(self, response_or_exception: Any, attempt_count: int) -> Optional[float]:
        return 0.001  # the CDK adds a second to a user-defined wait: see the RetryPolicy docstring
