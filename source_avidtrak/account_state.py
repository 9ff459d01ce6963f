"""State per account: a cursor for each AvidTrak account, in the shape of Airbyte's per-partition cursors.

A stream's state is

    {"states": [{"partition": {"account": "main"}, "cursor": {"call_date": "2026-11-25T23:59:59"}}, ...]}

Read rules (`cursors_by_account`):
- A single-account state from before client accounts (`{"call_date": ...}`) is the cursor
  of the `pin_code` account, so upgrading does not re-sync anything.
- An account without a cursor starts at the configured range, as a first sync does.
- An account no longer in the config is dropped from the state (`read_cursors` names it; the
  stream logs it once).

`AccountWindowCursor` is the concurrent CDK's `Cursor` for incremental streams. Each
account's cursor is the end of the windows that completed *with every window before them*
(nothing after it is skipped, nothing incomplete is covered), never below the cursor it
started from. A window that fails, or that a stopping account abandons, is never closed,
so no cursor passes it. It replaces the CDK's ConcurrentCursor, which keeps one interval
list per stream and so cannot advance accounts independently; it also tracks no record
values, so `observe` costs nothing per record.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, MutableMapping, Optional, Sequence, Tuple

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record

from source_avidtrak import api
from source_avidtrak.components import SLICE_END, Window, normalized_state
from source_avidtrak.config import ConfigError, Settings
from source_avidtrak.records import ACCOUNT_FIELD

STATES_KEY = "states"
PARTITION_KEY = "partition"
CURSOR_KEY = "cursor"

CursorState = Dict[str, str]  # {"call_date": "2026-11-25T23:59:59"}, or {} for none yet


def cursors_by_account(stream_state: Optional[Mapping[str, Any]], settings: Settings) -> Dict[str, CursorState]:
    """Each configured account's saved cursor ({} when it has none), by account name."""
    return read_cursors(stream_state, settings)[0]


def read_cursors(
    stream_state: Optional[Mapping[str, Any]], settings: Settings
) -> Tuple[Dict[str, CursorState], List[str]]:
    """The configured accounts' cursors, and the accounts the state has that are no longer configured."""
    cursors: Dict[str, CursorState] = {account.name: {} for account in settings.accounts}
    state = stream_state or {}
    if STATES_KEY not in state:
        # The single-account form, or no state at all.
        cursors[settings.accounts[0].name] = normalized_state(state)
        return cursors, []
    entries = state[STATES_KEY]
    if not isinstance(entries, list):
        raise ConfigError(_form_error(f"{STATES_KEY!r} is not a list"))
    dropped = []
    for entry in entries:
        account, cursor = _entry(entry)
        if account in cursors:
            cursors[account] = normalized_state(cursor)
        else:
            dropped.append(account)
    return cursors, dropped


def state_value(cursors: Mapping[str, CursorState]) -> Dict[str, Any]:
    """The state to save: every account that has a cursor, in config order."""
    return {
        STATES_KEY: [
            {PARTITION_KEY: {ACCOUNT_FIELD: account}, CURSOR_KEY: dict(cursor)}
            for account, cursor in cursors.items()
            if cursor
        ]
    }


def _entry(entry: Any) -> tuple[str, Mapping[str, Any]]:
    partition = entry.get(PARTITION_KEY) if isinstance(entry, Mapping) else None
    account = partition.get(ACCOUNT_FIELD) if isinstance(partition, Mapping) else None
    cursor = entry.get(CURSOR_KEY) if isinstance(entry, Mapping) else None
    if not isinstance(account, str) or not isinstance(cursor, Mapping):
        raise ConfigError(_form_error(f"an entry that is not {{{PARTITION_KEY!r}: {{{ACCOUNT_FIELD!r}: name}}, ...}}"))
    return account, cursor


def _form_error(found: str) -> str:
    example = f'{{"{STATES_KEY}": [{{"{PARTITION_KEY}": {{"{ACCOUNT_FIELD}": "main"}}, "{CURSOR_KEY}": '
    example += f'{{"{api.CURSOR_FIELD}": "2026-11-25T23:59:59"}}}}]}}'
    return (
        f"The saved state has {found}. Expected {example}. Reset the stream's state in Airbyte to sync the "
        "configured range again."
    )


@dataclass
class _AccountProgress:
    """One account's windows in order, which of them are done, and its cursor."""

    windows: Sequence[Window]
    cursor: CursorState
    done: set[str] = field(default_factory=set)  # slice ends of closed windows
    next_index: int = 0  # the first window not yet done with every window before it

    def close(self, window_end: str) -> bool:
        """Marks a window done; True when the cursor moved."""
        self.done.add(window_end)
        moved = False
        while self.next_index < len(self.windows):
            end = self.windows[self.next_index].slice_end()
            if end not in self.done:
                break
            self.done.discard(end)
            self.next_index += 1
            # ISO date-times in one format order as strings. Never below the saved cursor:
            # the lookback re-reads days the previous sync already covered.
            if end > self.cursor.get(api.CURSOR_FIELD, ""):
                self.cursor, moved = {api.CURSOR_FIELD: end}, True
        return moved


class AccountWindowCursor(Cursor):
    def __init__(
        self,
        stream_name: str,
        stream_namespace: Optional[str],
        windows: Mapping[str, Sequence[Window]],
        cursors: Mapping[str, CursorState],
        state_manager: ConnectorStateManager,
        message_repository: MessageRepository,
    ) -> None:
        self._stream_name = stream_name
        self._stream_namespace = stream_namespace
        self._progress = {
            account: _AccountProgress(windows[account], dict(cursors.get(account, {}))) for account in windows
        }
        self._state_manager = state_manager
        self._message_repository = message_repository
        self._lock = threading.Lock()  # partitions close on the worker threads

    @property
    def state(self) -> MutableMapping[str, Any]:
        return state_value({account: progress.cursor for account, progress in self._progress.items()})

    def observe(self, record: Record) -> None:
        pass  # the cursor is the end of completed windows, not a record value

    def close_partition(self, partition: Partition) -> None:
        window = partition.to_slice() or {}
        with self._lock:
            # A window that finishes ahead of an earlier one moves no cursor: no STATE for it.
            if self._progress[window[ACCOUNT_FIELD]].close(window[SLICE_END]):
                self._emit()

    def ensure_at_least_one_state_emitted(self) -> None:
        with self._lock:
            self._emit()

    def should_be_synced(self, record: Record) -> bool:
        return True

    def _emit(self) -> None:
        # Through the sync's message repository (the record queue), so the STATE follows
        # the window's records.
        self._state_manager.update_state_for_stream(self._stream_name, self._stream_namespace, self.state)
        self._message_repository.emit_message(
            self._state_manager.create_state_message(self._stream_name, self._stream_namespace)
        )
