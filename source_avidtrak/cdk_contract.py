"""Every CDK behaviour the connector relies on that the CDK does not document, in one place.

Each item says why the connector needs it; unit_tests/test_cdk_contract.py pins each one
with a test that fails, naming the item, when a CDK upgrade changes it. Nothing here
assigns to a CDK object's private attributes.

1. `AbstractSource.check` reports `repr(error)` of what `check_connection` returns.
   `CheckFailure` is a str whose repr is itself, so the user reads the sentence, not a
   quoted Python literal.
2. The concurrent CDK closes a partition (`Cursor.close_partition`) on the worker thread
   that read it, after its last record is on the record queue, and only when the read
   succeeded. `AccountWindowCursor` (account_state.py) emits STATE there, through the same
   queue: so a STATE follows the records it covers, and a failed window is never covered.
3. When the HTTP client gives up retrying, the AirbyteTracedException it raises is raised
   while handling the backoff exception, so `__context__` is that exception; it carries
   our error handler's message for the last attempt. `backoff_cause` reads it.
4. The concurrent CDK puts request URLs (the pin included) into TRACE `internal_message`
   and `stack_trace` without filtering them, emits one TRACE error per failed window, and
   ends with a "streams did not sync successfully" error labelled `config_error` whatever
   the streams failed with. `mask_secrets` and `single_failure` compensate.
5. The CDK's retry handler logs every wait a BackoffStrategy asks for as "Rate limit
   exceeded", on the "airbyte" logger, whatever the failure was (a refused connection, a
   503). `RetryLogWording` rewrites that line unless the answer really was HTTP 429.
6. The concurrent CDK logs every failed partition at ERROR with its traceback ("Exception
   while syncing stream ..."), on the "airbyte" logger. A window abandoned because the sync
   is stopping is no error: `RetryLogWording` moves those records to DEBUG, where
   `--debug` still shows them, instead of a traceback per window of a 90-day sync.
7. HttpStream reads a window's pages in order on one thread: `request_params` for page N,
   the request, `parse_response` and `next_page_token` for that response, then page N+1;
   and the concurrent CDK reads each partition on a single worker thread. The streams'
   per-thread page number (`streams._CurrentPage`) depends on it, because HttpStream hands
   `next_page_token` the response alone.
8. The call-rate budget handed to HttpStream (`api_budget`) sees every attempt: the
   HttpClient's LimiterSession calls `acquire_call(request)` before each send, retries
   included, and `update_from_response(request, response)` after each response, a 429
   too, before the error handler decides on it. HttpAPIBudget's `update_from_response`
   calls the matching policy's `update(available_calls, call_reset_ts)` with
   `available_calls` 0 for a 429 (None otherwise, without a remaining-calls header) and
   `call_reset_ts` from `get_reset_ts_from_response`. A blocking `acquire_call` sleeps the
   `time_to_wait` of the policy's CallRateLimitHit and asks again until it passes.
   rate_budget.py builds the shared pause and pace on exactly this.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable, Iterator, List, Optional

from airbyte_cdk.models import AirbyteMessage, AirbyteTraceMessage, FailureType, TraceType, Type
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak.stopping import STOPPED_MESSAGE, SyncStop, SyncStopped

logger = logging.getLogger("airbyte")


class CheckFailure(str):
    """(1) A check_connection error that AbstractSource.check's repr() leaves readable."""

    def __repr__(self) -> str:
        return str(self)


RATE_LIMIT_LINE = re.compile(r"UserDefinedBackoffException: Rate limit exceeded(?: \(HTTP (\d+)\))?\. (Retrying in .*)")


class RetryLogWording(logging.Filter):
    """(5) Keeps "rate limit" for 429s; other retries say what they are. (6) Stopped windows at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SyncStopped):  # (6)
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return True
        match = RATE_LIMIT_LINE.fullmatch(record.getMessage())
        if match and match.group(1) != "429":
            answer = f"AvidTrak answered HTTP {match.group(1)}" if match.group(1) else "No answer from AvidTrak"
            record.msg, record.args = f"{answer}. {match.group(2)}", None
        return True


def install_retry_log_wording() -> None:
    airbyte_logger = logging.getLogger("airbyte")
    if not any(isinstance(existing, RetryLogWording) for existing in airbyte_logger.filters):
        airbyte_logger.addFilter(RetryLogWording())


def backoff_cause(error: AirbyteTracedException) -> Optional[BaseBackoffException]:
    """(3) The backoff exception behind the HTTP client's "gave up retrying" error, if any."""
    cause = error.__context__
    return cause if isinstance(cause, BaseBackoffException) else None


def mask_secrets(message: AirbyteMessage) -> AirbyteMessage:
    """(4) Filters the registered secrets out of LOG and TRACE text the CDK left unfiltered."""
    if message.type == Type.LOG and message.log is not None:
        message.log.message = filter_secrets(message.log.message)
    elif message.type == Type.TRACE and message.trace is not None and message.trace.error is not None:
        error = message.trace.error
        error.message = filter_secrets(error.message) if error.message else error.message
        error.internal_message = filter_secrets(error.internal_message) if error.internal_message else None
        error.stack_trace = filter_secrets(error.stack_trace) if error.stack_trace else None
    return message


def single_failure(messages: Iterable[AirbyteMessage], stop: SyncStop) -> Iterator[AirbyteMessage]:
    """(4) Masks every message; a failed sync ends with exactly one error.

    The CDK emits one TRACE error per failed window, then a closing "did not sync
    successfully" error labelled config_error whatever the windows failed with (the
    platform would ask the user to fix a config that is fine). Windows abandoned because
    their account is stopping (stopping.py) are no failure of their own. So the per-window
    errors are held back: each failed account's first error is in `stop`, any other error
    is kept here, and once every other account has finished the sync raises them in place
    of the CDK's closing error: the one error with its own failure type and message, or,
    when several accounts failed, one error that lists them all.
    """
    others: List[AirbyteTracedException] = []
    try:
        for message in messages:
            trace = message.trace if message.type == Type.TRACE else None
            if trace is None or trace.type != TraceType.ERROR or trace.error is None:
                yield mask_secrets(message)
                continue
            text = trace.error.message or ""
            if text != STOPPED_MESSAGE and not stop.recorded(text):  # not a window's failure: keep it too
                mask_secrets(message)
                others.append(_as_exception(trace))
    except AirbyteTracedException:
        if not (others or stop.failures()):
            raise
    failures = [_masked(error) for _, error in stop.failures()] + others
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise _combined(failures)


def _masked(error: AirbyteTracedException) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=filter_secrets(error.message or ""),
        internal_message=filter_secrets(error.internal_message or error.message or ""),
        failure_type=error.failure_type or FailureType.system_error,
    )


def _combined(failures: List[AirbyteTracedException]) -> AirbyteTracedException:
    """Several accounts failed: one error naming each; config_error if any needs the user."""
    listed = " ".join(f"({number}) {error.message}" for number, error in enumerate(failures, start=1))
    message = f"{len(failures)} failures in this sync; everything else synced. {listed}"
    types = [error.failure_type for error in failures]
    failure_type = FailureType.config_error if FailureType.config_error in types else types[0]
    return AirbyteTracedException(message=message, internal_message=message, failure_type=failure_type)


def _as_exception(trace: AirbyteTraceMessage) -> AirbyteTracedException:
    error = trace.error
    assert error is not None  # single_failure keeps only TRACE errors
    return AirbyteTracedException(
        message=error.message,
        internal_message=error.internal_message,
        failure_type=error.failure_type or FailureType.system_error,
        stream_descriptor=error.stream_descriptor,
    )
