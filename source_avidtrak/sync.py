"""One read, assembled once: (settings, today, catalog, state) -> the CDK's concurrent source.

`Sync.build` creates everything a read needs, in one place and in data-flow order: the
state manager, the record queue, the message repository on that queue, one cursor and one
concurrent stream per configured report, and the `ConcurrentSource` with `num_workers`
threads. Nothing is created or swapped later, and nothing here is shared between reads.

Why the pieces are wired this way:
- Cursors close windows on worker threads. Through the record queue a window's STATE
  follows its last record; through a plain in-memory repository it could overtake records
  still queued, and a crash right after it would lose them.
- The queue holds two full pages: enough to keep the workers busy. The CDK's default
  (10,000) let a large sync hold ~25 MB more than a small one (bench/README.md).
- Full refresh streams get the CDK's FinalStateCursor; incremental ones an
  AccountWindowCursor (account_state.py): a cursor per account over the windows
  DatetimeWindow computed from that account's saved cursor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from queue import Queue
from typing import Any, Iterator, List, Mapping, Optional, Sequence

from airbyte_cdk.models import AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository, MessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.streams.concurrent.adapters import StreamPartitionGenerator
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor, CursorField, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger

from source_avidtrak import api
from source_avidtrak.account_state import AccountWindowCursor, cursors_by_account
from source_avidtrak.cdk_contract import single_failure
from source_avidtrak.config import Settings
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.rate_budget import rate_budget
from source_avidtrak.records import PRIMARY_KEY
from source_avidtrak.stopping import SyncStop
from source_avidtrak.streams import AvidTrakStream, StreamClasses

READ_QUEUE_SIZE = 2 * api.MAX_PAGE_SIZE


@dataclass(frozen=True)
class Sync:
    concurrent_source: ConcurrentSource
    streams: Sequence[DefaultStream]
    stop: SyncStop

    @classmethod
    def build(
        cls,
        settings: Settings,
        today: date,
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]],
        retry_policy: RetryPolicy,
        stream_classes: StreamClasses,
    ) -> Sync:
        state_manager = ConnectorStateManager(state=state)
        stop = SyncStop()  # shared by every stream: an account's first failing window stops that account
        budget = rate_budget(settings.requests_per_second, retry_policy)  # shared too: one pace for all workers
        queue: Queue[Any] = Queue(maxsize=READ_QUEUE_SIZE)
        repository = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        sync_modes = {configured.stream.name: configured.sync_mode for configured in catalog.streams}
        streams = [
            _concurrent_stream(
                stream_classes[report](settings, today, retry_policy, stop=stop, api_budget=budget),
                sync_modes[report],
                state_manager,
                repository,
            )
            for report in settings.reports
            if report in sync_modes
        ]
        # One thread generates windows while the others read them; both reports' windows
        # are known up front, so more generators would only idle.
        generators = max(1, min(settings.num_workers - 1, len(streams)))
        concurrent_source = ConcurrentSource.create(
            settings.num_workers, generators, logging.getLogger("airbyte"), DebugSliceLogger(), repository, queue=queue
        )
        return cls(concurrent_source, streams, stop)

    def read(self) -> Iterator[AirbyteMessage]:
        yield from single_failure(self.concurrent_source.read(list(self.streams)), self.stop)


def _concurrent_stream(
    stream: AvidTrakStream, sync_mode: SyncMode, state_manager: ConnectorStateManager, repository: MessageRepository
) -> DefaultStream:
    state: Mapping[str, Any] = {}
    cursor: Cursor
    if sync_mode == SyncMode.incremental:
        state = state_manager.get_stream_state(stream.name, stream.namespace)
        cursors = cursors_by_account(state, stream.settings)
        cursor = AccountWindowCursor(
            stream.name, stream.namespace, stream.windows(sync_mode, cursors), cursors, state_manager, repository
        )
    else:
        cursor = FinalStateCursor(stream.name, stream.namespace, repository)
    return DefaultStream(
        partition_generator=StreamPartitionGenerator(
            stream,
            repository,
            sync_mode,
            [api.CURSOR_FIELD] if sync_mode == SyncMode.incremental else None,
            dict(state),
        ),
        name=stream.name,
        namespace=stream.namespace,
        json_schema=stream.get_json_schema(),
        primary_key=list(PRIMARY_KEY),
        cursor_field=CursorField(api.CURSOR_FIELD),
        logger=logging.getLogger(f"airbyte.{stream.name}"),
        cursor=cursor,
    )
