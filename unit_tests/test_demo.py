"""scripts/demo.py without PyAirbyte: its arguments, the config it builds, and the per-account summary."""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

from source_avidtrak import SourceAvidtrak
from source_avidtrak.config import parse_settings

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.py"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--clients", "2", "--pin", "p"], "--clients is for the simulator"),
        (["--client", "client-7=p7"], "--client needs your agency's pin code too"),
        (["--pin", "p", "--client", "client-7"], "--client takes NAME=PIN"),
        (["--clients", "10"], "--clients must be from 0 to 9"),
    ],
)
def test_given_bad_account_arguments_when_parsed_then_usage_error_naming_the_fix(demo, capsys, argv, message):
    with pytest.raises(SystemExit) as raised:
        demo.parse_args(argv)

    assert raised.value.code == 2 and message in capsys.readouterr().err


def test_given_client_arguments_when_config_built_then_the_connector_reads_an_agency(demo):
    args = demo.parse_args(["--pin", "agency-pin", "--client", "client-7=p=7", "--client", "client-8=p8"])

    config = demo.connector_config(args.pin, "https://avidtrak.com", 30, "UTC", demo.client_accounts(args.client))

    accounts = parse_settings(config).accounts
    assert [(a.name, a.pin_code) for a in accounts] == [
        ("agency", "agency-pin"),
        ("client-7", "p=7"),
        ("client-8", "p8"),
    ]


def test_given_clients_when_the_demo_starts_the_simulator_then_every_account_passes_the_check(demo):
    with ExitStack() as stack:
        base_url, pin, clients = demo.start_simulator(stack, 2)
        config = demo.connector_config(pin, base_url, 3, "UTC", clients)

        succeeded, failure = SourceAvidtrak().check_connection(logging.getLogger("test"), config)

    assert [client["name"] for client in clients] == ["client-1", "client-2"]
    assert (succeeded, failure) == (True, None)


class Result:
    """The part of PyAirbyte's ReadResult that summarize reads."""

    def __init__(self, frames):
        self.streams = list(frames)
        self._frames = frames

    def __getitem__(self, name):
        frame = self._frames[name]
        return type("Dataset", (), {"to_pandas": lambda _self: frame})()


def test_given_records_of_several_accounts_when_summarized_then_a_line_per_account_and_stream(demo, capsys):
    calls = pd.DataFrame(
        {
            "account": ["agency", "agency", "client-1"],
            "call_date": ["2026-11-01T08:00:00", "2026-11-03T08:00:00", "2026-11-02T09:00:00"],
            "call_status": ["answered", "missed", "answered"],
            "duration": [60, 0, 120],
        }
    )

    demo.summarize(Result({"offline_portal_calls": calls}))

    out = capsys.readouterr().out
    assert "By account (2 accounts, the `account` column):" in out
    assert "agency       offline_portal_calls         2 rows   calls 2026-11-01 .. 2026-11-03" in out
    assert "client-1     offline_portal_calls         1 rows   calls 2026-11-02 .. 2026-11-02" in out


def test_given_one_account_when_summarized_then_no_per_account_lines(demo, capsys):
    calls = pd.DataFrame({"account": ["main"], "call_date": ["2026-11-01T08:00:00"], "call_status": ["answered"]})

    demo.summarize(Result({"offline_portal_calls": calls}))

    assert "By account" not in capsys.readouterr().out


def test_given_the_demo_when_it_makes_its_cache_then_a_duckdb_file_of_its_own_in_an_ignored_folder(demo, monkeypatch):
    made = {}

    class DuckDBCache:  # PyAirbyte's, as far as demo_cache calls it (PyAirbyte is the demo venv's only)
        def __init__(self, **kwargs):
            made.update(kwargs)

    monkeypatch.setitem(sys.modules, "airbyte", types.ModuleType("airbyte"))
    monkeypatch.setitem(sys.modules, "airbyte.caches", types.SimpleNamespace(DuckDBCache=DuckDBCache))

    demo.demo_cache()

    root = DEMO.parent.parent
    assert made == {"db_path": root / ".demo" / "avidtrak.duckdb", "cache_dir": root / ".demo"}
    ignored = (root / ".gitignore").read_text().splitlines()
    assert ".demo/" in ignored, "the demo's DuckDB file must stay out of git"


def test_given_a_source_when_the_demo_syncs_then_it_replaces_the_tables_of_the_cache_it_is_given(demo):
    calls = []
    source = types.SimpleNamespace(read=lambda **kwargs: calls.append(kwargs) or "result")
    cache = object()

    assert demo.sync(source, cache) == "result"
    assert calls == [{"cache": cache, "force_full_refresh": True, "write_strategy": "replace"}]
