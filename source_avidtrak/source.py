"""SourceAvidtrak: check, discover and a concurrent read over the report streams.

Reads run on the CDK's concurrent framework: each report stream is wrapped in a
StreamFacade, its windows are partitions fetched by `num_workers` threads, and the CDK's
ConcurrentCursor only advances state over windows that completed, in order.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from queue import Queue
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import quote, quote_plus

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
    TraceType,
    Type,
)
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.concurrent_source.concurrent_source_adapter import ConcurrentSourceAdapter
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository, MessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.streams.concurrent.adapters import StreamFacade
from airbyte_cdk.sources.streams.concurrent.cursor import ConcurrentCursor, CursorField, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
    CustomFormatConcurrentStreamStateConverter,
)
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak import api
from source_avidtrak.components import SLICE_DATETIME_FORMAT, SLICE_END, SLICE_START, Window, normalized_state
from source_avidtrak.config import Clock, Settings, parse_settings, utc_now
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.streams import STREAMS_BY_METHOD, AvidTrakStream

CHECK_RETRY_POLICY = RetryPolicy(max_retries=1, max_time_seconds=60, base_seconds=1.0, read_timeout_seconds=30.0)
# Most severe first: the end-of-sync error takes the most severe type its streams failed with,
# so it is a config error only when every failure was one.
FAILURE_SEVERITY = (FailureType.system_error, FailureType.transient_error, FailureType.config_error)
# Records waiting for the main thread: two full pages keep the workers busy. The CDK's
# default (10,000) let a large sync hold ~25 MB more than a small one (bench/README.md).
READ_QUEUE_SIZE = 2 * api.MAX_PAGE_SIZE
ISO_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")  # SLICE_DATETIME_FORMAT
UTC_SUFFIX = "+00:00"


class WindowEndStateConverter(CustomFormatConcurrentStreamStateConverter):
    """State is `{"call_date": "2026-11-25T23:59:59"}`: the end of the completed windows.

    The CDK's converter reports the newest *record* of the completed windows instead, and
    falls back to the range start when they hold none: on a report that gets no calls (an
    account without offline numbers) every nightly sync would re-read from the first day,
    a range growing forever. The end of the contiguous completed windows is the same
    guarantee (nothing after it is skipped, nothing incomplete is covered) and it moves on.
    """

    def parse_timestamp(self, timestamp: Any) -> datetime:
        """The CDK's strptime result, from fromisoformat when the value has the slice format exactly.

        The cursor parses every record's call_date; strptime was a sixth of a read's CPU.
        For `YYYY-MM-DDTHH:MM:SS` both parsers give the same datetime or both fail; any
        other shape goes to the CDK's parser unchanged.
        """
        if isinstance(timestamp, str) and ISO_SECONDS.fullmatch(timestamp):
            try:
                return datetime.fromisoformat(timestamp + UTC_SUFFIX)  # 6x faster than .replace(tzinfo=)
            except ValueError:
                pass
        return super().parse_timestamp(timestamp)

    def _get_latest_complete_time(self, slices: List[MutableMapping[str, Any]]) -> Any:
        if not slices:
            raise RuntimeError("The concurrent cursor holds no slice: this is a bug in the connector.")
        return self.merge_intervals(slices)[0][self.END_KEY]


def state_converter() -> WindowEndStateConverter:
    return WindowEndStateConverter(datetime_format=SLICE_DATETIME_FORMAT, cursor_granularity=timedelta(seconds=1))


@dataclass
class _ReadPlan:
    settings: Settings
    today: date
    sync_modes: Mapping[str, SyncMode]
    state_manager: ConnectorStateManager


class SourceAvidtrak(ConcurrentSourceAdapter):
    def __init__(self, clock: Clock = utc_now, retry_policy: RetryPolicy = RetryPolicy()) -> None:
        self._clock = clock
        self._retry_policy = retry_policy
        self._message_repository = InMemoryMessageRepository()
        self._plan: Optional[_ReadPlan] = None
        super().__init__(self._concurrent_source_for(1))

    @property
    def message_repository(self) -> MessageRepository:
        return self._message_repository

    def settings(self, config: Mapping[str, Any]) -> Tuple[Settings, date]:
        """Validates the config (ConfigError before any request) and fixes today for this run."""
        settings = parse_settings(config)
        _register_pin(settings.pin_code)
        today = settings.today(self._clock)
        settings.resolve_range(today)
        return settings, today

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One cheap request: a one-row page of the first selected report for yesterday."""
        try:
            settings, today = self.settings(config)
            stream = STREAMS_BY_METHOD[settings.reports[0]](settings, today, CHECK_RETRY_POLICY, page_size=1)
            window = Window(today - timedelta(days=1), today - timedelta(days=1))
            next(iter(stream.read_records(SyncMode.full_refresh, stream_slice=window.as_slice())), None)
        except AirbyteTracedException as error:
            message = error.message or "The connection check failed."
            if error.failure_type != FailureType.config_error:
                message += f" Check that the Base URL ({settings.api_url}) is your AvidTrak instance and reachable."
            return AirbyteConnectionStatus(status=Status.FAILED, message=filter_secrets(message))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        status = self.check(logger, config)
        return status.status == Status.SUCCEEDED, status.message

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        if self._plan is not None:
            settings, today = self._plan.settings, self._plan.today
        else:
            settings, today = self.settings(config)
        streams = [STREAMS_BY_METHOD[report](settings, today, self._retry_policy) for report in settings.reports]
        if self._plan is None:
            return streams
        return [self._to_concurrent(stream, self._plan) for stream in streams]

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        settings, today = self.settings(config)
        sync_modes = {configured.stream.name: configured.sync_mode for configured in catalog.streams}
        self._plan = _ReadPlan(settings, today, sync_modes, ConnectorStateManager(state=state))
        # Cursors close windows on worker threads. Through the record queue, a window's STATE
        # follows its last record; through a plain in-memory repository it could overtake the
        # records still queued, and a crash right after it would lose them.
        queue: Queue = Queue(maxsize=READ_QUEUE_SIZE)
        self._message_repository = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        self._concurrent_source = self._concurrent_source_for(settings.num_workers, queue)
        try:
            yield from _with_honest_failure_type(super().read(logger, config, catalog, state))
        finally:
            self._plan = None

    def _concurrent_source_for(self, num_workers: int, queue: Optional[Queue] = None) -> ConcurrentSource:
        generators = max(1, min(num_workers - 1, len(STREAMS_BY_METHOD)))
        logger = logging.getLogger("airbyte")
        return ConcurrentSource.create(
            num_workers, generators, logger, self._slice_logger, self.message_repository, queue=queue
        )

    def _to_concurrent(self, stream: AvidTrakStream, plan: _ReadPlan) -> Stream:
        logger = logging.getLogger(f"airbyte.{stream.name}")
        if plan.sync_modes.get(stream.name) != SyncMode.incremental:
            cursor = FinalStateCursor(stream.name, stream.namespace, self.message_repository)
            return StreamFacade.create_from_stream(stream, self, logger, {}, cursor)
        state = normalized_state(plan.state_manager.get_stream_state(stream.name, stream.namespace))
        windows = stream.windows(SyncMode.incremental, state)
        converter = state_converter()
        # No windows only when the state is past the configured end: the cursor starts (and ends) there.
        start = converter.parse_timestamp(windows[0].as_slice()[SLICE_START] if windows else state[api.CURSOR_FIELD])
        end = converter.parse_timestamp(windows[-1].as_slice()[SLICE_END]) if windows else start
        cursor = ConcurrentCursor(
            stream_name=stream.name,
            stream_namespace=stream.namespace,
            stream_state=state,
            message_repository=self.message_repository,
            connector_state_manager=plan.state_manager,
            connector_state_converter=converter,
            cursor_field=CursorField(api.CURSOR_FIELD),
            slice_boundary_fields=(SLICE_START, SLICE_END),
            start=start,
            end_provider=lambda: end,
        )
        return StreamFacade.create_from_stream(stream, self, logger, state, cursor)


def _register_pin(pin: str) -> None:
    """The CDK masks spec secrets; the pin also appears URL-encoded in request URLs."""
    update_secrets(sorted({pin, quote(pin, safe=""), quote_plus(pin)}))


def _with_honest_failure_type(messages: Iterator[AirbyteMessage]) -> Iterator[AirbyteMessage]:
    """Masks the pin in TRACE and LOG messages and labels the end-of-sync error honestly.

    The concurrent CDK puts request URLs (pin included) into TRACE `internal_message`
    unfiltered, and labels its closing summary `config_error` even when every stream failed
    transiently; the platform would then ask the user to fix a config that is fine.
    """
    seen: List[FailureType] = []
    try:
        for message in messages:
            if message.type == Type.TRACE and message.trace.type == TraceType.ERROR:
                seen.append(message.trace.error.failure_type)
            yield _masked(message)
    except AirbyteTracedException as error:
        if seen:
            error.failure_type = next((kind for kind in FAILURE_SEVERITY if kind in seen), error.failure_type)
        raise


def _masked(message: AirbyteMessage) -> AirbyteMessage:
    if message.type == Type.LOG and message.log is not None:
        message.log.message = filter_secrets(message.log.message)
    elif message.type == Type.TRACE and message.trace.error is not None:
        error = message.trace.error
        error.message = filter_secrets(error.message) if error.message else error.message
        error.internal_message = filter_secrets(error.internal_message) if error.internal_message else None
        error.stack_trace = filter_secrets(error.stack_trace) if error.stack_trace else None
    return message
