"""The README's and the manual's examples are true: each runs, and each matches what the connector emits.

A reader copies these blocks into config.json, catalog.json and state.json, so each one is
run, not just parsed: a ```json block, or a `cat > FILE <<'EOF'` block of a ```bash fence, is
a config (it has `pin_code`), a duration (`mode` at the top level), a configured catalog
(`streams`) or a state (a list of STATE messages), and each kind goes through the connector
command that reads it, against a real simulator on 127.0.0.1. A catalog example must also
say what discover says (stream names, primary key, cursor field, sync modes), and a state
example must have the shape of the state a read emits. The connector runs in-process, through
the CDK's entrypoint as the console script does; the quick start's helper scripts run as the
README runs them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import urlsplit, urlunsplit

import pytest

from integration_tests.conftest import (
    STREAMS,
    ConnectorRun,
    SimulatorPool,
    configured_catalog,
    make_config,
    specific_range,
    utc_today,
)
from integration_tests.connector_runner import Connector
from integration_tests.simulator import AvidTrakSimulator

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/integrations/sources/avidtrak.md")
# A fence may be indented (inside a list item); its closing fence then has the same indent.
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>json|bash)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
# A file written by a here-document in a bash block: `cat > config.json <<'EOF'` ... `EOF`.
HEREDOC = re.compile(r"^cat > (?P<file>\S+\.json) <<'?(?P<tag>\w+)'?\n(?P<body>.*?)^(?P=tag)$", re.M | re.S)
STATE_TYPES = {"STREAM", "GLOBAL", "LEGACY"}
KINDS = ("config", "duration", "catalog", "state")
# Catalogs and states are read with this many days through yesterday; the specific Date From
# is a floor for an incremental start, so an old state cannot make the read long.
READ_DAYS = 3
# The client accounts the examples name, with the pin codes the simulator serves them under.
CLIENTS = (("client-7", "sim-client-pin-7"), ("client-8", "sim-client-pin-8"))
MAIN_ACCOUNT = "main"  # Account Name's default
# What a cursor value looks like in a STATE the connector emits.
CURSOR_VALUE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    text: str
    file: Optional[str] = None  # the file a here-document writes

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}" + (f" ({self.file})" if self.file else "")

    def parsed(self) -> Any:
        return json.loads(self.text)


def json_blocks(document: str) -> List[Block]:
    """Every ```json block, and every JSON file a ```bash block writes with a here-document."""
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    blocks = []
    for fence in FENCE.finditer(text):
        body_line = text.count("\n", 0, fence.start("body")) + 1
        if fence.group("lang") == "json":
            blocks.append(Block(document, body_line, fence.group("body")))
            continue
        for heredoc in HEREDOC.finditer(fence.group("body")):
            line = body_line + fence.group("body").count("\n", 0, heredoc.start("body"))
            blocks.append(Block(document, line, heredoc.group("body"), heredoc.group("file")))
    return blocks


def kind_of(value: Any) -> Optional[str]:
    """Which of the connector's input files a block is, told by a key only that file has."""
    if isinstance(value, dict):
        for key, kind in (("pin_code", "config"), ("mode", "duration"), ("streams", "catalog")):
            if key in value:
                return kind
    if (
        isinstance(value, list)
        and value
        and all(isinstance(message, dict) and message.get("type") in STATE_TYPES for message in value)
    ):
        return "state"
    return None


def kind_of_block(block: Block) -> Optional[str]:
    try:
        return kind_of(block.parsed())
    except json.JSONDecodeError:
        return None  # the parse test reports it


ALL_BLOCKS = [block for document in DOCUMENTS for block in json_blocks(document)]


def blocks_of(kind: str, where: Optional[str] = None) -> List[Any]:
    """Test parameters: the blocks of a kind (whose text holds `where`), or a `None` that fails
    the test when there is none.

    An empty parameter list would make pytest skip the test instead, so that a broken (or
    deleted) last block of a kind would go unnoticed.
    """
    found = [
        pytest.param(block, id=block.name)
        for block in ALL_BLOCKS
        if kind_of_block(block) == kind and (where is None or where in block.text)
    ]
    return found or [pytest.param(None, id=f"no-{kind}-block")]


def parsed(block: Optional[Block], kind: str) -> Any:
    if block is None:
        pytest.fail(f"no ```json block (or here-document) of kind {kind} in {', '.join(DOCUMENTS)}")
    return block.parsed()


def on_simulator(config: Mapping[str, Any], simulator: AvidTrakSimulator) -> Dict[str, Any]:
    """The config aimed at the simulator: its scheme and host:port, everything else kept.

    A config without `base_url` gets the simulator's: the default (https://avidtrak.com)
    is a host the tests must not contact.
    """
    target = urlsplit(simulator.base_url)
    documented = urlsplit(config.get("base_url", simulator.base_url))
    return {**config, "base_url": urlunsplit((target.scheme, target.netloc, documented.path, "", ""))}


def read_config(simulator: AvidTrakSimulator, accounts: Sequence[str] = (MAIN_ACCOUNT,)) -> Dict[str, Any]:
    """A config for the last READ_DAYS days through yesterday, with these accounts (clients from CLIENTS)."""
    yesterday = utc_today() - timedelta(days=1)
    config = make_config(simulator.base_url, specific_range(yesterday - timedelta(days=READ_DAYS - 1), yesterday))
    pins = dict(CLIENTS)
    unknown = [name for name in accounts if name != MAIN_ACCOUNT and name not in pins]
    assert not unknown, f"the examples name accounts the simulator does not serve: {unknown}; serve them in CLIENTS"
    clients = [{"name": name, "pin_code": pins[name]} for name in accounts if name != MAIN_ACCOUNT]
    return {**config, "client_accounts": clients} if clients else config


def completed_streams(run: ConnectorRun) -> List[str]:
    return [
        trace["stream_status"]["stream_descriptor"]["name"]
        for trace in (message["trace"] for message in run.of_type("TRACE"))
        if trace["type"] == "STREAM_STATUS" and trace["stream_status"]["status"] == "COMPLETE"
    ]


def assert_read_completed(run: ConnectorRun, streams: Sequence[str]) -> None:
    assert run.returncode == 0 and not run.errors, run.describe()
    assert sorted(completed_streams(run)) == sorted(streams), run.describe()


def run_script(script: str, messages: Sequence[Mapping[str, Any]], *args: str) -> Any:
    """Runs scripts/<script> on protocol messages, one JSON object a line, as a shell pipe does."""
    stdin = "".join(json.dumps(message) + "\n" for message in messages)
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def shape(value: Any) -> Any:
    """A JSON value with its data taken out: keys and nesting stay; a cursor value becomes
    "<cursor>", any other string "<str>"; list items are shown once each, in a set."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    if isinstance(value, str):
        return "<cursor>" if CURSOR_VALUE.fullmatch(value) else "<str>"
    return type(value).__name__


def state_accounts(stream_state: Mapping[str, Any]) -> List[str]:
    return [entry["partition"]["account"] for entry in stream_state.get("states", [])]


@pytest.mark.parametrize("block", [pytest.param(block, id=block.name) for block in ALL_BLOCKS])
def test_given_a_json_block_when_parsed_then_it_is_json_of_a_known_kind(block: Block) -> None:
    try:
        value = block.parsed()
    except json.JSONDecodeError as error:
        pytest.fail(f"{block.name}: the block is not valid JSON: {error}")
    assert kind_of(value) in KINDS, (
        f"{block.name}: not a config (pin_code), duration (mode), catalog (streams) or state "
        "(a list of STATE messages), so nothing can check it"
    )


@pytest.mark.parametrize("block", blocks_of("config"))
def test_given_a_config_block_when_check_on_the_simulator_then_succeeded(
    block: Optional[Block], connector: Connector, simulators: SimulatorPool
) -> None:
    simulator = simulators.get(clients=CLIENTS)
    run = connector.run("check", config=on_simulator(parsed(block, "config"), simulator))
    assert run.connection_status["status"] == "SUCCEEDED", run.describe()


@pytest.mark.parametrize("block", blocks_of("config", where="client_accounts"))
def test_given_an_agency_block_when_read_on_its_simulator_then_every_account_syncs(
    block: Optional[Block], connector: Connector, simulators: SimulatorPool
) -> None:
    agency = parsed(block, "config")
    simulator = simulators.get(clients=CLIENTS)
    config = {**read_config(simulator), **on_simulator(agency, simulator)}

    run = connector.run("read", config=config, catalog=configured_catalog("full_refresh"))

    assert_read_completed(run, STREAMS)
    accounts = {message["record"]["data"]["account"] for message in run.of_type("RECORD")}
    assert accounts == {agency["account_name"], *(client["name"] for client in agency["client_accounts"])}


@pytest.mark.parametrize("block", blocks_of("duration"))
def test_given_a_duration_block_in_a_simulator_config_when_check_then_succeeded(
    block: Optional[Block], connector: Connector, simulator: AvidTrakSimulator
) -> None:
    run = connector.run("check", config=make_config(simulator.base_url, parsed(block, "duration")))
    assert run.connection_status["status"] == "SUCCEEDED", f"{run.connection_status}; {run.describe()}"


@pytest.mark.parametrize("block", blocks_of("catalog"))
def test_given_a_catalog_block_when_compared_with_discover_then_it_says_what_discover_says(
    block: Optional[Block], connector: Connector, simulator: AvidTrakSimulator
) -> None:
    catalog = parsed(block, "catalog")
    discovered = {
        stream["name"]: stream for stream in connector.run("discover", config=read_config(simulator)).catalog["streams"]
    }

    for configured in catalog["streams"]:
        stream = configured["stream"]
        assert stream["name"] in discovered, f"{block.name}: discover has no stream {stream['name']!r}"
        truth = discovered[stream["name"]]
        shown = {key: value for key, value in stream.items() if key != "json_schema"}  # cut short on purpose
        assert shown == {key: truth.get(key) for key in shown}, f"{block.name}: the stream differs from discover's"
        assert {"supported_sync_modes", "default_cursor_field", "source_defined_primary_key"} <= shown.keys()
        assert configured["primary_key"] == truth["source_defined_primary_key"], f"{block.name}: primary_key"
        assert configured["sync_mode"] in truth["supported_sync_modes"]
        if configured["sync_mode"] == "incremental":
            assert configured["cursor_field"] == truth["default_cursor_field"], f"{block.name}: cursor_field"


@pytest.mark.parametrize("block", blocks_of("catalog"))
def test_given_a_catalog_block_when_read_then_every_stream_of_it_completes(
    block: Optional[Block], connector: Connector, simulator: AvidTrakSimulator
) -> None:
    catalog = parsed(block, "catalog")
    run = connector.run("read", config=read_config(simulator), catalog=catalog)
    assert_read_completed(run, [entry["stream"]["name"] for entry in catalog["streams"]])


@pytest.mark.parametrize("block", blocks_of("state"))
def test_given_a_state_block_when_read_with_it_then_the_final_state_has_its_shape_and_accounts(
    block: Optional[Block], connector: Connector, simulators: SimulatorPool
) -> None:
    state = parsed(block, "state")
    streams = [message["stream"]["stream_descriptor"]["name"] for message in state]
    accounts = sorted({name for message in state for name in state_accounts(message["stream"]["stream_state"])})
    config = read_config(simulators.get(clients=CLIENTS), accounts or [MAIN_ACCOUNT])

    run = connector.run("read", config=config, catalog=configured_catalog("incremental", streams), state=state)

    assert_read_completed(run, streams)
    for example in state:
        name = example["stream"]["stream_descriptor"]["name"]
        final = run.final_state_of(name)
        assert final is not None, f"{name} emitted no state: {run.describe()}"
        assert example.keys() <= final.keys() and example["stream"].keys() == final["stream"].keys(), block.name
        emitted, shown = final["stream"]["stream_state"], example["stream"]["stream_state"]
        assert shape(shown) == shape(emitted), f"{block.name}: {name}'s state is not the form read emits: {emitted}"
        assert sorted(state_accounts(shown)) == sorted(state_accounts(emitted)), block.name


def test_given_discover_output_when_catalog_script_then_read_syncs_every_stream_incrementally(
    connector: Connector, simulator: AvidTrakSimulator
) -> None:
    config = read_config(simulator)
    discovered = connector.run("discover", config=config)
    catalog = run_script("catalog.py", discovered.messages)
    modes = {(s["stream"]["name"], s["sync_mode"], s["destination_sync_mode"]) for s in catalog["streams"]}
    assert modes == {(name, "incremental", "append_dedup") for name in STREAMS}
    assert {tuple(map(tuple, s["primary_key"])) for s in catalog["streams"]} == {(("account",), ("call_id",))}
    run = connector.run("read", config=config, catalog=catalog)
    assert_read_completed(run, STREAMS)
    assert {state["stream"]["stream_descriptor"]["name"] for state in run.states} == set(STREAMS)


def test_given_read_output_when_state_script_then_it_keeps_each_streams_last_state_and_read_resumes(
    connector: Connector, simulator: AvidTrakSimulator
) -> None:
    config = read_config(simulator)
    first = connector.run("read", config=config, catalog=configured_catalog("incremental"))
    assert_read_completed(first, STREAMS)
    state = run_script("state.py", first.messages)
    final_states = {name: first.final_state_of(name) for name in STREAMS}
    last = {name: final["stream"] for name, final in final_states.items() if final is not None}
    assert len(last) == len(STREAMS), f"a stream emitted no state: {final_states}"
    assert {message["stream"]["stream_descriptor"]["name"]: message["stream"] for message in state} == last
    resumed = connector.run("read", config=config, catalog=configured_catalog("incremental"), state=state)
    assert_read_completed(resumed, STREAMS)
