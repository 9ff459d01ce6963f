"""The run-wide stop: the first window that fails ends the whole sync.

The CDK's concurrent framework keeps reading every other window after one fails, so a
rejected pin used to cost one request and one error per window, and an outage the full
retry budget of every window in turn. Each stream of a sync shares one `SyncStop`: a
window that fails trips it before its error reaches the CDK; the partition generator
starts no window after that, and windows in progress stop before their next page by
raising `SyncStopped`, which `cdk_contract.single_failure` keeps out of the output. A
stopped window is never closed, so the state cannot cover it.
"""

from __future__ import annotations

import threading

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

STOPPED_MESSAGE = "Stopped: another window of this sync failed first."


class SyncStopped(AirbyteTracedException):
    """A window abandoned because the sync is stopping; never the error the user sees."""

    def __init__(self) -> None:
        super().__init__(
            message=STOPPED_MESSAGE, internal_message=STOPPED_MESSAGE, failure_type=FailureType.transient_error
        )


class SyncStop:
    def __init__(self) -> None:
        self._tripped = threading.Event()

    def trip(self) -> None:
        self._tripped.set()

    @property
    def tripped(self) -> bool:
        return self._tripped.is_set()

    def raise_if_tripped(self) -> None:
        if self._tripped.is_set():
            raise SyncStopped()
