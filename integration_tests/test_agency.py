"""An agency and two client accounts through the connector's `read` (in this process, as the
console script runs it), against the simulator serving each pin code its own calls (with
the same call ids in each account).

One config syncs all three accounts into the same two streams, every record tagged with its
account; incremental syncs advance each account's cursor on its own; a client whose pin
AvidTrak rejects fails alone, by name, and the others complete.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, Dict, List, Optional, Tuple

import pytest

from integration_tests.connector_runner import ConnectorRun
from integration_tests.fault_support import GEO, OFFLINE, PIN, catalog, config, connector
from integration_tests.simulator import AvidTrakSimulator

CLIENTS = {"client-7": "client-7-pin/+", "client-8": "client-8-pin"}
ACCOUNTS = ("agency", *CLIENTS)
SIM_LABELS = {"agency": "main", **{name: name for name in CLIENTS}}  # the simulator calls the main pin's account "main"
FIRST, MIDDLE, LAST = "2026-10-01", "2026-10-05", "2026-10-10"


@pytest.fixture(scope="module")
def sim():
    with AvidTrakSimulator(pins=(PIN,), clients=CLIENTS, empty_day_ratio=0.0) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh_log(sim):
    sim.clear_requests()


def agency_config(sim, clients: Dict[str, str], **overrides: Any) -> Dict[str, Any]:
    accounts = [{"name": name, "pin_code": pin} for name, pin in clients.items()]
    settings = {"reports": (GEO, OFFLINE), "num_workers": 3, "page_size": 7, **overrides}
    return config(sim.base_url, account_name="agency", client_accounts=accounts, **settings)


def read(sim, tmp_path, settings, states: Optional[List[Dict[str, Any]]] = None) -> ConnectorRun:
    return connector(tmp_path).run("read", settings, catalog(GEO, OFFLINE), states)


def expected(sim, stream: str, account: str, first: str, last: str) -> List[Tuple[str, str]]:
    client = None if account == "agency" else account
    rows = sim.rows(stream, date.fromisoformat(first), date.fromisoformat(last), client=client)
    return sorted((account, row["call_id"]) for row in rows)


def keys(completed: ConnectorRun, stream: str) -> List[Tuple[str, str]]:
    return sorted((m["data"]["account"], m["data"]["call_id"]) for m in completed.records if m["stream"] == stream)


def cursors(completed: ConnectorRun, stream: str) -> Dict[str, str]:
    [state] = [s for s in completed.final_states if s["stream"]["stream_descriptor"]["name"] == stream]
    return {e["partition"]["account"]: e["cursor"]["call_date"] for e in state["stream"]["stream_state"]["states"]}


def test_given_an_agency_and_two_clients_when_read_then_all_three_in_the_same_two_streams(sim, tmp_path):
    completed = read(sim, tmp_path, agency_config(sim, CLIENTS, first=FIRST, last=MIDDLE))

    assert completed.returncode == 0 and completed.errors == [], completed.describe()
    for stream in (GEO, OFFLINE):
        got = keys(completed, stream)
        assert got == sorted(k for account in ACCOUNTS for k in expected(sim, stream, account, FIRST, MIDDLE))
        assert len(got) == len(set(got))  # the key (account, call_id) is unique though call ids repeat
        assert len({call_id for _, call_id in got}) < len(got), "the accounts share call ids"
        assert cursors(completed, stream) == dict.fromkeys(ACCOUNTS, f"{MIDDLE}T23:59:59")
    pins_used = Counter(entry["account"] for entry in sim.requests)
    assert set(pins_used) == set(SIM_LABELS.values())  # every account asked with its own pin, none rejected


def test_given_the_first_sync_state_when_a_client_is_added_and_the_range_grows_then_each_account_resumes_on_its_own(
    sim, tmp_path
):
    first = read(
        sim, tmp_path / "first", agency_config(sim, {"client-7": CLIENTS["client-7"]}, first=FIRST, last=MIDDLE)
    )
    assert first.returncode == 0 and first.errors == []
    sim.clear_requests()

    second = read(
        sim,
        tmp_path / "second",
        agency_config(sim, CLIENTS, first=FIRST, last=LAST, lookback_days=1),
        first.final_states,
    )

    assert second.returncode == 0 and second.errors == [], second.describe()
    first_days = {
        account: sorted({e["startdate"][:10] for e in sim.requests if e["account"] == SIM_LABELS[account]})
        for account in ACCOUNTS
    }
    # agency and client-7 resume at their cursor's day minus the lookback; client-8 is new: the whole range.
    assert first_days["agency"][0] == first_days["client-7"][0] == "2026-10-04"
    assert first_days["client-8"][0] == FIRST and first_days["client-8"][-1] == LAST
    for stream in (GEO, OFFLINE):
        assert cursors(second, stream) == dict.fromkeys(ACCOUNTS, f"{LAST}T23:59:59")
        union = set(keys(first, stream)) | set(keys(second, stream))
        assert union == {k for account in ACCOUNTS for k in expected(sim, stream, account, FIRST, LAST)}


def test_given_a_rejected_client_pin_when_read_then_that_client_fails_alone_by_name_and_the_others_complete(
    sim, tmp_path
):
    clients = {"client-7": CLIENTS["client-7"], "client-8": "a-pin-avidtrak-does-not-know"}

    completed = read(sim, tmp_path, agency_config(sim, clients, first=FIRST, last=MIDDLE, num_workers=2))

    assert completed.returncode == 1
    [error] = completed.errors
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith("AvidTrak rejected the pin code of account 'client-8' (code 4:")
    assert "a-pin-avidtrak-does-not-know" not in completed.output
    rejected = [entry for entry in sim.requests if not entry["pin_valid"]]
    assert 1 <= len(rejected) <= 2 * 2, "client-8 stops at its first rejection (a window per worker and report)"
    for stream in (GEO, OFFLINE):
        complete = {k for account in ("agency", "client-7") for k in expected(sim, stream, account, FIRST, MIDDLE)}
        assert set(keys(completed, stream)) == complete
        assert cursors(completed, stream) == {"agency": f"{MIDDLE}T23:59:59", "client-7": f"{MIDDLE}T23:59:59"}
