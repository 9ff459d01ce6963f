"""The files a command is given (--config, --catalog, --state), read with errors a user can act on.

The CDK's readers end in "Something went wrong in the connector" for a file that is not
JSON or not readable (the image runs as uid 1000, so a mounted file owned by another
user often is not), and drop a LEGACY state without a word: the next sync would re-read
the whole configured range. Every problem here is a ConfigError naming the file. The
config's content is checked next, by SourceAvidtrak.configure.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from typing import Any, List, Mapping, MutableMapping

from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
)

from source_avidtrak.config import ConfigError
from source_avidtrak.reports import REPORT_NAMES

logger = logging.getLogger("airbyte")
LEGACY, GLOBAL = "LEGACY", "GLOBAL"
IMAGE_UID = 1000  # the airbyte user of Airbyte's Python connector base image


def read_json_file(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise ConfigError(f"The {what} file {path} does not exist.") from None
    except PermissionError:
        raise ConfigError(
            f"The {what} file {path} cannot be read: permission denied. The connector runs as {_who()}. "
            "Make the file readable by that user, e.g. chmod a+r."
        ) from None
    except (IsADirectoryError, UnicodeDecodeError, OSError) as error:
        raise ConfigError(f"The {what} file {path} cannot be read: {error}.") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"The {what} file {path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None


def read_config_file(path: str) -> MutableMapping[str, Any]:
    config = read_json_file(path, "config")
    if not isinstance(config, dict):
        raise ConfigError(f"The config file {path} holds a JSON {_kind(config)}; it must be an object ({{...}}).")
    return config


def read_catalog_file(path: str) -> ConfiguredAirbyteCatalog:
    raw = read_json_file(path, "catalog")
    try:
        return ConfiguredAirbyteCatalogSerializer.load(raw)
    except Exception as error:  # serpyco's errors name the missing field
        raise ConfigError(
            f"The catalog file {path} is not a configured catalog ({error}). Make one from discover's output: "
            "`source-avidtrak discover --config config.json | python scripts/catalog.py > catalog.json`."
        ) from None


def read_state_file(path: str) -> List[AirbyteStateMessage]:
    """Per-stream STATE messages from every form Airbyte has sent: a list of STATE messages
    (STREAM, or LEGACY with `data`), or a bare `{"stream name": {...}}` object."""
    raw = read_json_file(path, "state")
    if not raw:
        return []
    if isinstance(raw, dict):
        logger.info(f"The state file {path} is a bare object (the legacy form): applying it per stream.")
        return _per_stream(raw, path)
    if not isinstance(raw, list):
        raise ConfigError(_state_form_error(path, f"a JSON {_kind(raw)}"))
    messages: List[AirbyteStateMessage] = []
    for entry in raw:
        if isinstance(entry, dict) and (entry.get("type") == LEGACY or ("data" in entry and "type" not in entry)):
            logger.info(f"The state file {path} holds a LEGACY state: applying it per stream.")
            messages.extend(_per_stream(entry.get("data"), path))
        elif isinstance(entry, dict) and entry.get("type") == GLOBAL:
            messages.extend(_from_global(entry.get("global"), path))
        else:
            messages.append(_state_message(entry, path))
    return _of_this_connector(messages, path)


def _from_global(global_state: Any, path: str) -> List[AirbyteStateMessage]:
    """The connector never writes a GLOBAL state; its per-stream states are still usable."""
    if not isinstance(global_state, Mapping) or not isinstance(global_state.get("stream_states"), list):
        raise ConfigError(_state_form_error(path, "a GLOBAL state without a list of stream_states"))
    shared = ", its shared_state ignored" if global_state.get("shared_state") else ""
    logger.warning(
        f"The state file {path} holds a GLOBAL state, which this connector never writes (it keeps a STREAM state "
        f"per stream): its stream_states are applied per stream{shared}."
    )
    return [_state_message({"type": "STREAM", "stream": entry}, path) for entry in global_state["stream_states"]]


def _of_this_connector(messages: List[AirbyteStateMessage], path: str) -> List[AirbyteStateMessage]:
    """Drops, with a warning, the states of streams this connector does not have."""
    foreign = sorted(
        {
            m.stream.stream_descriptor.name
            for m in messages
            if m.stream and m.stream.stream_descriptor.name not in REPORT_NAMES
        }
    )
    if not foreign:
        return messages
    logger.warning(
        f"The state file {path} has state for streams this connector does not have: {', '.join(map(repr, foreign))}. "
        f"It is ignored (was it saved by another connector?); this connector's streams are {', '.join(REPORT_NAMES)}."
    )
    return [m for m in messages if not (m.stream and m.stream.stream_descriptor.name in foreign)]


def _per_stream(data: Any, path: str) -> List[AirbyteStateMessage]:
    if not isinstance(data, Mapping) or not all(isinstance(state, Mapping) for state in data.values()):
        raise ConfigError(_state_form_error(path, "a legacy state whose streams are not objects"))
    return [
        _state_message(
            {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": dict(state)}}, path
        )
        for name, state in data.items()
    ]


def _state_message(entry: Any, path: str) -> AirbyteStateMessage:
    try:
        message = AirbyteStateMessageSerializer.load(entry)
    except Exception as error:
        raise ConfigError(_state_form_error(path, f"an entry that is not a STATE message ({error})")) from None
    if not (message.stream or message.global_ or message.data):
        raise ConfigError(_state_form_error(path, "a STATE message with no stream, global or data"))
    return message


def _state_form_error(path: str, found: str) -> str:
    return (
        f"The state file {path} holds {found}. Expected a list of STATE messages as the connector emits them "
        '([{"type": "STREAM", "stream": {...}}]). To start over, reset the connection\'s state in Airbyte '
        "(or run read without --state)."
    )


def _kind(value: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")


def _who() -> str:
    """The user named once; the image's user is said to be the image's (its uid is always 1000)."""
    uid = os.getuid()
    if uid == IMAGE_UID:
        return f"user {_user()} (uid {uid}), as in the Docker image"
    return f"user {_user()} (uid {uid}); in the Docker image it runs as uid {IMAGE_UID}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid (a container run with --user)
        return "?"
