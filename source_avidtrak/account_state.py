"""State per account: a cursor for each AvidTrak account, in Airbyte's per-partition shape.

    {"states": [{"partition": {"account": "main"}, "cursor": {"call_date": "2026-11-25T23:59:59"}}, ...]}

A 0.1.0 state (`{"call_date": ...}`) is the cursor of the `pin_code` account; an account
without a cursor starts at the configured range; an account no longer configured is
dropped (and named); a state of another shape is ignored with a warning, never silently.
The cursor that moves these values is cursor.AccountCursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from airbyte_cdk.sources.streams import NO_CURSOR_STATE_KEY

from source_avidtrak import api
from source_avidtrak.components import normalized_state
from source_avidtrak.config import ConfigError, Settings
from source_avidtrak.records import ACCOUNT_FIELD

STATES_KEY = "states"
PARTITION_KEY = "partition"
CURSOR_KEY = "cursor"

CursorState = Dict[str, str]  # {"call_date": "2026-11-25T23:59:59"}, or {} for none yet


@dataclass(frozen=True)
class SavedState:
    cursors: Dict[str, CursorState]  # every configured account, {} when it has no cursor
    dropped: List[str]  # accounts in the state that are no longer configured
    ignored: List[str]  # keys of a state (or an account's cursor) without call_date: ignored


def read_cursors(stream_state: Optional[Mapping[str, Any]], settings: Settings) -> SavedState:
    """The configured accounts' cursors from any state form the connector has written."""
    cursors: Dict[str, CursorState] = {account.name: {} for account in settings.accounts}
    state = {key: value for key, value in (stream_state or {}).items() if key != NO_CURSOR_STATE_KEY}
    if STATES_KEY not in state:  # the single-account form, or no state at all
        cursors[settings.accounts[0].name] = normalized_state(state)
        return SavedState(cursors, [], _ignored(state))
    entries = state[STATES_KEY]
    if not isinstance(entries, list):
        raise ConfigError(_form_error(f"{STATES_KEY!r} is not a list"))
    dropped, ignored = [], [key for key in state if key != STATES_KEY]
    for entry in entries:
        account, cursor = _entry(entry)
        if account in cursors:
            cursors[account] = normalized_state(cursor)
            ignored += _ignored(cursor)
        else:
            dropped.append(account)
    return SavedState(cursors, dropped, ignored)


def _ignored(cursor: Mapping[str, Any]) -> List[str]:
    return [] if api.CURSOR_FIELD in cursor else sorted(map(str, cursor))


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
