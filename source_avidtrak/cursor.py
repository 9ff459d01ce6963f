"""The cursor is the slicer: one AccountCursor per stream hands out every account's windows,
learns from each finished window, closes it, and keeps the stream's state.

Windows are cut one at a time, when a worker slot is free (WorkerSlots: at most
`num_workers` windows of the sync handed out and not finished), so each is sized from what
the account's finished windows held (DatetimeWindow.next_window) and nothing is built up
front. Per account, the cursor is the end of the windows finished with every window before
them, never below the saved one (cdk_contract item 2: a failed window is never closed).
STATE leaves at most every STATE_INTERVAL_SECONDS per stream, and when the stream ends.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Deque, Dict, Iterator, List, Mapping, MutableMapping, Optional, Sequence

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record, StreamSlice

from source_avidtrak import api
from source_avidtrak.account_state import CursorState, SavedState, state_value
from source_avidtrak.components import SLICE_END, SLICE_START, DatetimeWindow, Seen, Window
from source_avidtrak.failures import Failures
from source_avidtrak.records import ACCOUNT_FIELD

# Airbyte asks for about one STATE a minute per stream; a kill loses at most this much progress
# (re-read, never skipped: no cursor passes a window that did not finish).
STATE_INTERVAL_SECONDS = 60.0


class WorkerSlots:
    """At most `workers` windows of a sync handed out and not finished; `close` frees every waiter.

    The CDK's pool has a thread for each partition generator on top of the workers, so
    this bound, not the pool, is what keeps the sync to Number of Workers requests at once.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._free = workers
        self._closed = False
        self._changed = threading.Condition()

    def take(self) -> bool:
        """Blocks until a slot is free; False once the sync is over."""
        with self._changed:
            while self._free == 0 and not self._closed:
                self._changed.wait()
            if self._closed:
                return False
            self._free -= 1
            return True

    def give(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


@dataclass
class _Account:
    """One account's progress in one stream."""

    name: str
    next_day: Optional[date]  # the first day not handed out yet; None when all are
    last_day: date
    cursor: CursorState
    issued: Deque[List[Any]] = field(default_factory=deque)  # [slice end, done], in order
    rows: Dict[str, int] = field(default_factory=dict)  # slice start -> rows so far, windows in flight
    seen: Optional[Seen] = None


class AccountCursor(Cursor):
    """The concurrent CDK's cursor for one stream, incremental or full refresh."""

    def __init__(
        self,
        stream_name: str,
        planner: DatetimeWindow,
        today: date,
        accounts: Sequence[str],
        saved: Optional[SavedState],  # None: full refresh
        slots: WorkerSlots,
        failures: Failures,
        state_manager: ConnectorStateManager,
        message_repository: MessageRepository,
        clock: Callable[[], float] = time.monotonic,
        state_interval_seconds: float = STATE_INTERVAL_SECONDS,
    ) -> None:
        self._stream_name = stream_name
        self._planner = planner
        self._slots = slots
        self._failures = failures
        self._state_manager = state_manager
        self._repository = message_repository
        self._clock = clock
        self._state_interval_s = state_interval_seconds
        self._final = None if saved is not None else FinalStateCursor(stream_name, None, message_repository)
        self._lock = threading.Lock()  # windows close on the worker threads
        self._accounts: Dict[str, _Account] = {}
        cursors = saved.cursors if saved is not None else {}
        for name in accounts:
            cursor = dict(cursors.get(name, {}))
            days = planner.day_range(today, cursor or None)
            first, last = days or (None, today)
            self._accounts[name] = _Account(name, first, last, cursor)
        self._emitted_at = clock()

    def describe(self) -> str:
        """What this stream will read: the log line at its start."""
        ranges = [(a.next_day, a.last_day) for a in self._accounts.values() if a.next_day is not None]
        if not ranges:
            return "nothing to read: the saved state is past the configured Date To"
        first, last = min(r[0] for r in ranges), max(r[1] for r in ranges)
        span = f"{first}..{last}" if first != last else str(first)
        size = self._planner.describe_sizing()
        if len(self._accounts) == 1:
            return f"reading {span}, {size}"
        return f"reading {len(ranges)} of {len(self._accounts)} accounts, {span}, {size}"

    @property
    def state(self) -> MutableMapping[str, Any]:
        if self._final is not None:
            return self._final.state
        return state_value({name: account.cursor for name, account in self._accounts.items()})

    def stream_slices(self) -> Iterator[StreamSlice]:
        """Round robin over the accounts, one window per free worker slot."""
        pending = deque(account for account in self._accounts.values() if account.next_day is not None)
        while pending:
            if not self._slots.take():
                return
            with self._lock:
                cut = self._cut_next(pending)
            if cut is None:
                self._slots.give()
                return
            yield cut

    def _cut_next(self, pending: Deque[_Account]) -> Optional[StreamSlice]:
        while pending:
            account = pending.popleft()
            if self._failures.stopped(account.name) or account.next_day is None:
                continue
            spread = math.ceil(self._slots.workers / (len(pending) + 1))
            window = self._planner.next_window(account.next_day, account.last_day, spread, account.seen)
            done = window.last_day >= account.last_day
            account.next_day = None if done else window.last_day + timedelta(days=1)
            if not done:
                pending.append(account)
            account.issued.append([window.slice_end(), False])
            account.rows[window.slice_start()] = 0
            return window.as_slice(account.name)
        return None

    def count_rows(self, stream_slice: Mapping[str, Any], rows: int) -> None:
        """A page of the window was read (the stream calls it for every page)."""
        with self._lock:
            self._accounts[stream_slice[ACCOUNT_FIELD]].rows[stream_slice[SLICE_START]] += rows

    def abandon(self, stream_slice: Mapping[str, Any]) -> None:
        """The window failed or its account stopped: it frees its slot and never moves the cursor."""
        with self._lock:
            self._accounts[stream_slice[ACCOUNT_FIELD]].rows.pop(stream_slice[SLICE_START], None)
        self._slots.give()

    def observe(self, record: Record) -> None:
        pass  # the cursor is the end of finished windows, not a record value

    def close_partition(self, partition: Partition) -> None:
        stream_slice = partition.to_slice() or {}
        window = Window.from_slice(stream_slice)
        with self._lock:
            account = self._accounts[stream_slice[ACCOUNT_FIELD]]
            rows = account.rows.pop(stream_slice[SLICE_START], 0)
            seen = account.seen or Seen(0, 0, 0)
            account.seen = Seen(seen.rows + rows, seen.days + window.days, window.days)
            moved = self._advance(account, stream_slice[SLICE_END])
            if moved and self._final is None and self._clock() - self._emitted_at >= self._state_interval_s:
                self._emit()
        self._slots.give()

    def _advance(self, account: _Account, window_end: str) -> bool:
        """Marks the window done; True when the account's cursor moved."""
        for entry in account.issued:
            if entry[0] == window_end:
                entry[1] = True
                break
        moved = False
        while account.issued and account.issued[0][1]:
            end = account.issued.popleft()[0]
            # ISO date-times in one format order as strings. Never below the saved cursor:
            # the lookback re-reads days the previous sync already covered.
            if end > account.cursor.get(api.CURSOR_FIELD, ""):
                account.cursor, moved = {api.CURSOR_FIELD: end}, True
        return moved

    def ensure_at_least_one_state_emitted(self) -> None:
        """The CDK calls it when the stream ends, failed windows or not: the last STATE goes out."""
        if self._final is not None:
            self._final.ensure_at_least_one_state_emitted()
            return
        with self._lock:
            self._emit()

    def should_be_synced(self, record: Record) -> bool:
        return True

    def _emit(self) -> None:
        # Through the sync's message repository (the record queue): a STATE follows the
        # records of the windows it covers.
        self._state_manager.update_state_for_stream(self._stream_name, None, self.state)
        self._repository.emit_message(self._state_manager.create_state_message(self._stream_name, None))
        self._emitted_at = self._clock()
