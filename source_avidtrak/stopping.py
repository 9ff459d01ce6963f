"""The per-account stop: the first window of an account that fails ends that account's sync.

The CDK's concurrent framework keeps reading every other window after one fails, so a
rejected pin used to cost one request and one error per window, and an outage the full
retry budget of every window in turn. Every stream of a sync shares one `SyncStop`. A
window that fails records its error under its account before the error reaches the CDK;
the partition generator then starts no window of that account, and the account's windows
in progress stop before their next page by raising `SyncStopped`, which
`cdk_contract.single_failure` keeps out of the output. A stopped window is never closed,
so the state cannot cover it.

Accounts are independent: one account's rejected pin or outage never stops another's
windows, and the sync ends with the recorded errors once every other account is done.
"""

from __future__ import annotations

import threading
from typing import Dict, List, Tuple

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

STOPPED_MESSAGE = "Stopped: another window of this account failed first."


class SyncStopped(AirbyteTracedException):
    """A window abandoned because its account is stopping; never the error the user sees."""

    def __init__(self) -> None:
        super().__init__(
            message=STOPPED_MESSAGE, internal_message=STOPPED_MESSAGE, failure_type=FailureType.transient_error
        )


class SyncStop:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: Dict[str, AirbyteTracedException] = {}  # account -> its first error, in order
        self._messages: set[str] = set()  # every recorded error's message, the later ones too

    def trip(self, account: str, error: AirbyteTracedException) -> bool:
        """Records the error; True when it is the account's first."""
        with self._lock:
            self._messages.add(filter_secrets(error.message or ""))  # as the TRACE will carry it
            return self._first.setdefault(account, error) is error

    def tripped(self, account: str) -> bool:
        return account in self._first  # a dict read: atomic, no lock needed

    def raise_if_tripped(self, account: str) -> None:
        if account in self._first:
            raise SyncStopped()

    def recorded(self, message: str) -> bool:
        """Whether a window's failure already carried this message (the CDK's TRACE of it)."""
        with self._lock:
            return filter_secrets(message) in self._messages

    def failures(self) -> List[Tuple[str, AirbyteTracedException]]:
        """Each failed account's first error, in the order they failed."""
        with self._lock:
            return list(self._first.items())
