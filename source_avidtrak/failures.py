"""What a failure does: an account's first failure stops that account; a sync ends with one error.

Streams only raise. `Failures.window_failed` is the stream's error path: it names the
account, turns a give-up into our message, records the account's first error and hands
back what to raise. A stopped account starts no window and its windows in flight raise
`AccountStopped` before their next page. `Failures.single_failure` wraps the CDK's
messages: per-window TRACE errors are held back, and once every other account is done
the sync raises the one error, or one listing each failed account (docs/architecture.md).
"""

from __future__ import annotations

import logging
import threading
from typing import Dict, Iterable, Iterator, List, Tuple

from airbyte_cdk.models import AirbyteMessage, AirbyteTraceMessage, FailureType, TraceType, Type
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak.accounts import Account
from source_avidtrak.cdk_contract import backoff_cause, mask_secrets

STOPPED_MESSAGE = "Stopped: another window of this account failed first."
LISTED_FAILURES = 10  # a combined error names this many; the log names the rest

logger = logging.getLogger("airbyte")


class AccountStopped(AirbyteTracedException):
    """A window abandoned because its account is stopping; never the error the user sees."""

    def __init__(self) -> None:
        super().__init__(
            message=STOPPED_MESSAGE, internal_message=STOPPED_MESSAGE, failure_type=FailureType.transient_error
        )


class Failures:
    """One per sync (and one per check), shared by every stream and worker thread."""

    def __init__(self, names_accounts: bool = False) -> None:
        self._names_accounts = names_accounts
        self._lock = threading.Lock()
        self._first: Dict[str, AirbyteTracedException] = {}  # account -> its first error, in order
        self._messages: set[str] = set()  # every recorded message, as a TRACE carries it

    def stopped(self, account: str) -> bool:
        return account in self._first  # a dict read: atomic

    def raise_if_stopped(self, account: str) -> None:
        if account in self._first:
            raise AccountStopped()

    def window_failed(self, account: Account, error: Exception, give_up_advice: str) -> AirbyteTracedException:
        """The error a failed window raises, recorded as its account's failure."""
        if isinstance(error, AccountStopped):
            return error
        if isinstance(error, AirbyteTracedException):
            traced = error
            cause = backoff_cause(traced)
            if cause is not None:  # the CDK gave up retrying: our handler's last message says why
                traced.message = f"{cause} {give_up_advice}"
        else:  # a bug: still this account's failure, with the account named
            traced = AirbyteTracedException.from_exception(
                error,
                message=f"An unexpected error occurred: {type(error).__name__}: {error}",
                failure_type=FailureType.system_error,
            )
        if self._names_accounts and account.describe() not in (traced.message or ""):
            traced.message = f"{account.describe().capitalize()}: {traced.message}"
        with self._lock:
            self._messages.add(filter_secrets(traced.message or ""))
            self._first.setdefault(account.name, traced)
        return traced

    def failures(self) -> List[Tuple[str, AirbyteTracedException]]:
        """Each failed account's first error, in the order they failed."""
        with self._lock:
            return list(self._first.items())

    def single_failure(self, messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
        """Masks every message (cdk_contract item 4); a failed sync ends with exactly one error."""
        others: List[AirbyteTracedException] = []
        try:
            for message in messages:
                trace = message.trace if message.type == Type.TRACE else None
                if trace is None or trace.type != TraceType.ERROR or trace.error is None:
                    yield mask_secrets(message)
                    continue
                if not self._is_windows_own(trace.error.message or ""):
                    mask_secrets(message)
                    others.append(_as_exception(trace))
        except AirbyteTracedException:  # the CDK's closing "did not sync successfully"
            if not (others or self._first):
                raise
        errors = [_masked(error) for _, error in self.failures()] + others
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise _combined(errors)

    def _is_windows_own(self, message: str) -> bool:
        with self._lock:
            return message == STOPPED_MESSAGE or filter_secrets(message) in self._messages


def _masked(error: AirbyteTracedException) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=filter_secrets(error.message or ""),
        internal_message=filter_secrets(error.internal_message or error.message or ""),
        failure_type=error.failure_type or FailureType.system_error,
    )


def _combined(errors: List[AirbyteTracedException]) -> AirbyteTracedException:
    """Several accounts failed: one error naming each; config_error if any needs the user."""
    listed = " ".join(f"({number}) {error.message}" for number, error in enumerate(errors[:LISTED_FAILURES], 1))
    more = len(errors) - LISTED_FAILURES
    if more > 0:
        for error in errors[LISTED_FAILURES:]:
            logger.error(error.message)
        listed += f" ... and {more} more, each logged above."
    message = f"{len(errors)} failures in this sync; everything else synced. {listed}"
    types = [error.failure_type for error in errors]
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
