"""Every CDK behaviour the connector relies on that the CDK does not document, in one place.

unit_tests/test_cdk_contract.py pins each item with a test that fails, naming it, when a CDK
upgrade changes it; docs/architecture.md says why each is needed. No private attribute set.
1. `AbstractSource.check` reports `repr()` of `check_connection`'s error (CheckFailure).
2. A partition is closed on its worker after its last record is queued; a failed one never.
3. A give-up error's `__context__` is the last backoff exception, our message (backoff_cause).
4. TRACE internal_message and stack_trace carry unmasked URLs; one TRACE per failed window,
   then a closing config_error whatever failed (mask_secrets, failures.Failures).
5. Every user-defined backoff is logged as "Rate limit exceeded" (RetryLogWording).
6. Every failed partition is logged at ERROR with its traceback (RetryLogWording).
7. HttpStream reads a window's pages in order on one thread (streams._CurrentPage).
8. LimiterSession asks the budget before every attempt and tells it every response.
"""

from __future__ import annotations

import logging
import re
from typing import Optional

from airbyte_cdk.models import AirbyteMessage, Type
from airbyte_cdk.sources.streams.http.exceptions import BaseBackoffException
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

logger = logging.getLogger("airbyte")


class CheckFailure(str):
    """(1) A check_connection error that AbstractSource.check's repr() leaves readable."""

    def __repr__(self) -> str:
        return str(self)


RATE_LIMIT_LINE = re.compile(r"UserDefinedBackoffException: Rate limit exceeded(?: \(HTTP (\d+)\))?\. (Retrying in .*)")


FAILED_PARTITION_LINE = "Exception while syncing stream "


class RetryLogWording(logging.Filter):
    """(5) Keeps "rate limit" for 429s; other retries say what they are.

    (6) A failed window's traceback goes to DEBUG (`--debug` shows it): the sync's one TRACE
    error says what failed, and a traceback per window of a 90-day sync helps nobody.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], AirbyteTracedException):
            if record.getMessage().startswith(FAILED_PARTITION_LINE):  # (6)
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
