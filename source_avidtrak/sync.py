"""One read, assembled once: (settings, today, catalog, state) -> the CDK's concurrent source.

`Sync.build` creates everything a read needs in data-flow order: the state manager, the
record queue and the message repository on it, one rate budget, one `Failures`, the worker
slots, then per configured report an AccountCursor (the slicer) and its stream, and the
`ConcurrentSource`. Nothing is created or swapped later; nothing is shared between reads.
docs/architecture.md says why each piece is wired as it is.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from queue import Queue
from typing import Any, Callable, Iterator, List, Optional, Sequence

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.streams.concurrent.adapters import StreamPartitionGenerator
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger

from source_avidtrak import api
from source_avidtrak.account_state import SavedState, read_cursors
from source_avidtrak.components import DatetimeWindow
from source_avidtrak.config import Settings
from source_avidtrak.cursor import STATE_INTERVAL_SECONDS, AccountCursor, WorkerSlots
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.failures import Failures
from source_avidtrak.rate_budget import AvidTrakBudget
from source_avidtrak.records import PRIMARY_KEY
from source_avidtrak.streams import StreamClasses

# Two full pages: enough to keep the workers busy. The CDK's default (10,000) let a large
# sync hold ~25 MB more than a small one (bench/README.md).
READ_QUEUE_SIZE = 2 * api.MAX_PAGE_SIZE

logger = logging.getLogger("airbyte")


@dataclass(frozen=True)
class Timing:
    """The clock and sleep of the rate budget, and how often STATE leaves: tests pass their own."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    state_interval_seconds: float = STATE_INTERVAL_SECONDS


@dataclass(frozen=True)
class Sync:
    concurrent_source: ConcurrentSource
    streams: Sequence[DefaultStream]
    failures: Failures
    slots: WorkerSlots

    @classmethod
    def build(
        cls,
        settings: Settings,
        today: date,
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]],
        retry_policy: RetryPolicy,
        stream_classes: StreamClasses,
        timing: Timing = Timing(),
    ) -> Sync:
        state_manager = ConnectorStateManager(state=state)
        queue: Queue[Any] = Queue(maxsize=READ_QUEUE_SIZE)
        repository = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        budget = AvidTrakBudget(settings.requests_per_second, retry_policy, timing.monotonic, timing.sleep)
        failures = Failures(settings.names_accounts)
        slots = WorkerSlots(settings.num_workers)
        planner = DatetimeWindow(settings)
        sync_modes = {configured.stream.name: configured.sync_mode for configured in catalog.streams}
        streams = []
        for report in settings.reports:
            if report not in sync_modes:
                continue
            saved = None
            if sync_modes[report] == SyncMode.incremental:
                saved = _saved_state(report, state_manager, settings)
            cursor = AccountCursor(
                report,
                planner,
                today,
                [account.name for account in settings.accounts],
                saved,
                slots,
                failures,
                state_manager,
                repository,
                timing.monotonic,
                timing.state_interval_seconds,
            )
            stream = stream_classes[report](settings, budget, failures, cursor)
            streams.append(_concurrent_stream(stream.name, stream, cursor, sync_modes[report], repository))
        # One generator per stream. They block while every worker slot is taken (cursor.py),
        # so the pool has a thread for each on top of the `num_workers` that read.
        generators = max(1, len(streams))
        concurrent_source = ConcurrentSource.create(
            settings.num_workers + generators, generators, logger, DebugSliceLogger(), repository, queue=queue
        )
        return cls(concurrent_source, streams, failures, slots)

    def read(self) -> Iterator[AirbyteMessage]:
        try:
            yield from self.failures.single_failure(self.concurrent_source.read(list(self.streams)))
        finally:
            self.slots.close()  # a generator still waiting for a slot ends with the read


def _saved_state(report: str, state_manager: ConnectorStateManager, settings: Settings) -> SavedState:
    saved = read_cursors(state_manager.get_stream_state(report, None), settings)
    if saved.dropped:
        names = ", ".join(map(repr, saved.dropped))
        logger.info(f"{report}: the saved state has accounts no longer configured, dropped: {names}.")
    if saved.ignored:
        keys = ", ".join(map(repr, saved.ignored))
        logger.warning(
            f"{report}: the saved state has {keys} where this connector keeps {api.CURSOR_FIELD!r}: it is not this "
            "connector's state (or was edited), so it is ignored and this sync reads the configured range."
        )
    return saved


def _concurrent_stream(
    name: str, stream: Any, cursor: AccountCursor, sync_mode: SyncMode, repository: ConcurrentMessageRepository
) -> DefaultStream:
    incremental = sync_mode == SyncMode.incremental
    return DefaultStream(
        partition_generator=StreamPartitionGenerator(
            stream, repository, sync_mode, [api.CURSOR_FIELD] if incremental else None, {}
        ),
        name=name,
        namespace=None,
        json_schema=stream.get_json_schema(),
        primary_key=list(PRIMARY_KEY),
        cursor_field=CursorField(api.CURSOR_FIELD),
        logger=logging.getLogger(f"airbyte.{name}"),
        cursor=cursor,
    )
