"""The command's files: every problem is a ConfigError naming the file (inputs.py)."""

from __future__ import annotations

import builtins
import json

import pytest

from source_avidtrak import SourceAvidtrak
from source_avidtrak.config import ConfigError


def test_given_config_file_the_user_cannot_read_when_read_then_says_permission_denied_and_uid_1000(
    tmp_path, monkeypatch
):
    path = tmp_path / "config.json"
    path.write_text("{}")
    real_open = builtins.open

    def denied(file, *args, **kwargs):  # root reads any file: stand in for uid 1000 and a 0600 file
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)

    with pytest.raises(ConfigError) as raised:
        SourceAvidtrak.read_config(str(path))

    message = raised.value.message or ""
    assert str(path) in message and "permission denied" in message and "chmod a+r" in message
    assert message.count("uid") == 2 and "uid 1000" in message  # as root: this user, then the image's


def test_given_the_images_uid_when_permission_denied_then_the_user_is_named_once(monkeypatch, tmp_path):
    from source_avidtrak import inputs

    monkeypatch.setattr(inputs.os, "getuid", lambda: inputs.IMAGE_UID)

    assert inputs._who().count("uid") == 1


def test_given_missing_config_file_when_read_then_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError) as raised:
        SourceAvidtrak.read_config(str(tmp_path / "nope.json"))

    assert raised.value.message == f"The config file {tmp_path / 'nope.json'} does not exist."


def test_given_hand_written_catalog_without_json_schema_when_read_then_config_error_with_the_way_to_make_one(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"streams": [{"stream": {"name": "geographical_data"}, "sync_mode": "full_refresh"}]}))

    with pytest.raises(ConfigError) as raised:
        SourceAvidtrak.read_catalog(str(path))

    assert raised.value.message.startswith(f"The catalog file {path} is not a configured catalog (")
    assert "discover" in raised.value.message


def test_given_legacy_state_message_when_read_then_per_stream_messages(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps([{"type": "LEGACY", "data": {"geographical_data": {"call_date": "2026-11-03T23:59:59"}}}])
    )

    [message] = SourceAvidtrak.read_state(str(path))

    assert message.stream.stream_descriptor.name == "geographical_data"
    assert message.stream.stream_state.__dict__ == {"call_date": "2026-11-03T23:59:59"}


def test_given_stream_state_messages_when_read_then_unchanged(tmp_path):
    path = tmp_path / "state.json"
    state = {
        "type": "STREAM",
        "stream": {"stream_descriptor": {"name": "geographical_data"}, "stream_state": {"call_date": "x"}},
    }
    path.write_text(json.dumps([state]))

    [message] = SourceAvidtrak.read_state(str(path))

    assert message.stream.stream_descriptor.name == "geographical_data" and message.stream.stream_state.__dict__ == {
        "call_date": "x"
    }


def stream_state(name: str, state: dict) -> dict:
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": state}}


def test_given_a_global_state_when_read_then_its_stream_states_apply_with_a_warning(tmp_path, caplog):
    path = tmp_path / "state.json"
    streams = [stream_state("geographical_data", {"call_date": "2026-11-20T23:59:59"})["stream"]]
    path.write_text(json.dumps([{"type": "GLOBAL", "global": {"shared_state": {"x": 1}, "stream_states": streams}}]))

    messages = SourceAvidtrak.read_state(str(path))

    assert [(m.stream.stream_descriptor.name, m.stream.stream_state.call_date) for m in messages] == [
        ("geographical_data", "2026-11-20T23:59:59")
    ]
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "GLOBAL" in warnings[0] and "shared_state ignored" in warnings[0]


def test_given_a_global_state_without_stream_states_when_read_then_config_error_saying_what_is_expected(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps([{"type": "GLOBAL", "global": {"shared_state": {}}}]))

    with pytest.raises(ConfigError) as raised:
        SourceAvidtrak.read_state(str(path))

    assert "GLOBAL" in (raised.value.message or "") and '"type": "STREAM"' in (raised.value.message or "")


def test_given_another_connectors_streams_in_the_state_when_read_then_dropped_with_a_warning_naming_them(
    tmp_path, caplog
):
    path = tmp_path / "state.json"
    ours = stream_state("offline_portal_calls", {"call_date": "2026-11-20T23:59:59"})
    path.write_text(json.dumps([stream_state("users", {"updated_at": "2026-11-20"}), ours]))

    messages = SourceAvidtrak.read_state(str(path))

    assert [m.stream.stream_descriptor.name for m in messages] == ["offline_portal_calls"]
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1 and "'users'" in warnings[0] and "geographical_data" in warnings[0]
