"""The simulator over real HTTP: the contract it serves, its faults, its CLI.

The connector's integration tests trust this server, so its behaviour is
pinned here against docs/avidtrak-api.md rather than assumed.
"""

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from integration_tests.simulator import AvidTrakSimulator, Fault, from_args
from integration_tests.simulator_data import (
    GEOGRAPHICAL_DATA,
    GEOGRAPHICAL_FIELDS,
    OFFLINE_PORTAL_CALLS,
    OFFLINE_PORTAL_FIELDS,
    DataSpec,
    generate_day,
)

PIN = "sim-pin-0001"
DAY = dt.date(2024, 2, 28)
NEXT_DAY = dt.date(2024, 2, 29)  # a leap day


@pytest.fixture
def sim():
    with AvidTrakSimulator(pins=(PIN,), empty_day_ratio=0.0) as simulator:
        yield simulator


def query(first=DAY, last=DAY, method=OFFLINE_PORTAL_CALLS, **overrides):
    params = {
        "pincode": PIN,
        "method": method,
        "format": "json",
        "startdate": f"{first} 00:00:00",
        "enddate": f"{last} 23:59:59",
    }
    return {key: value for key, value in {**params, **overrides}.items() if value is not None}


def fetch(url, params, timeout=5.0):
    """(HTTP status, headers, body) whatever the status."""
    try:
        with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(params)}", timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def api(sim, **overrides):
    status, _, body = fetch(sim.api_url, query(**overrides))
    assert status == 200
    return json.loads(body)


def control(sim, verb, path, payload=None):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(sim.base_url + path, data=data, method=verb)
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


# -- rows, windows and paging -------------------------------------------------
@pytest.mark.parametrize("method", [GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS])
def test_given_whole_days_when_get_then_rows_equal_sim_rows(sim, method):
    envelope = api(sim, method=method, last=NEXT_DAY)
    assert envelope["code"] == 1 and envelope["status"] == "Success"
    assert envelope["data"] == sim.rows(method, DAY, NEXT_DAY)
    assert {row["call_date"][:10] for row in envelope["data"]} == {"2024-02-28", "2024-02-29"}


def test_given_exact_call_dates_as_bounds_when_get_then_both_bounds_included(sim):
    rows = sim.rows(OFFLINE_PORTAL_CALLS, DAY, NEXT_DAY)
    low, high = rows[3]["call_date"], rows[-4]["call_date"]
    envelope = api(sim, last=NEXT_DAY, startdate=low, enddate=high)
    assert envelope["data"] == [row for row in rows if low <= row["call_date"] <= high]
    assert envelope["data"][0]["call_date"] == low and envelope["data"][-1]["call_date"] == high


def test_given_window_across_midnight_when_get_then_only_rows_inside(sim):
    envelope = api(sim, startdate=f"{DAY} 12:00:00", enddate=f"{NEXT_DAY} 11:59:59")
    expected = [
        r
        for r in sim.rows(OFFLINE_PORTAL_CALLS, DAY, NEXT_DAY)
        if f"{DAY} 12:00:00" <= r["call_date"] <= f"{NEXT_DAY} 11:59:59"
    ]
    assert envelope["data"] == expected and len(expected) > 0


def test_given_paging_when_pages_walked_then_last_is_short_and_next_is_code_0(sim):
    rows = sim.rows(OFFLINE_PORTAL_CALLS, DAY, NEXT_DAY)
    perpage = next(size for size in range(7, 20) if len(rows) % size)
    pages = [
        api(sim, last=NEXT_DAY, use_paging="TRUE", perpage=perpage, page=page)
        for page in range(1, len(rows) // perpage + 3)
    ]
    full_pages, rest = divmod(len(rows), perpage)
    assert [len(p["data"] or []) for p in pages[:-1]] == [perpage] * full_pages + [rest]
    assert [row for p in pages[:-1] for row in p["data"]] == rows
    assert pages[-1] == {"code": 0, "status": "Unknown Error", "data": None}


def test_given_perpage_over_500_when_get_then_capped_and_unpaged_returns_all(sim):
    last = DAY + dt.timedelta(days=39)  # about 800 rows
    assert len(api(sim, last=last, use_paging="TRUE", perpage=1000, page=1)["data"]) == 500
    assert api(sim, last=last)["data"] == sim.rows(OFFLINE_PORTAL_CALLS, DAY, last)


def test_given_same_seed_then_same_rows_and_other_seed_differs():
    days = (DAY, DAY + dt.timedelta(days=9))
    first, second = AvidTrakSimulator(seed=7), AvidTrakSimulator(seed=7)
    assert first.rows(GEOGRAPHICAL_DATA, *days) == second.rows(GEOGRAPHICAL_DATA, *days)
    assert AvidTrakSimulator(seed=8).rows(GEOGRAPHICAL_DATA, *days) != first.rows(GEOGRAPHICAL_DATA, *days)


def test_rows_follow_the_contract(sim):
    last = DAY + dt.timedelta(days=29)
    geo, offline = sim.rows(GEOGRAPHICAL_DATA, DAY, last), sim.rows(OFFLINE_PORTAL_CALLS, DAY, last)
    ids = [row["call_id"] for row in geo + offline]
    assert len(ids) == len(set(ids)) and all(i.isdigit() for i in ids)
    assert all(isinstance(v, str) for row in geo + offline for v in row.values())
    assert all(tuple(row)[: len(GEOGRAPHICAL_FIELDS)] == GEOGRAPHICAL_FIELDS for row in geo)
    assert all(tuple(row)[: len(OFFLINE_PORTAL_FIELDS)] == OFFLINE_PORTAL_FIELDS for row in offline)
    assert [r["call_date"] for r in offline] == sorted(r["call_date"] for r in offline)
    silent = [r for r in offline if r["call_status"] in ("missed", "busy")]
    assert silent and all(r["duration"] == "0" and r["recording_url"] == "" for r in silent)
    assert {r["zip"] for r in geo if r["city"] == "Boston"} <= {"02108", ""}
    assert any(r["latitude"] == "" for r in geo) and any(r["caller_name"] == "" for r in offline)


def test_calls_per_day_vary_within_30_percent_and_empty_days_follow_the_ratio():
    spec = DataSpec(seed=1, calls_per_day=100, empty_day_ratio=0.3)
    counts = [len(generate_day(spec, GEOGRAPHICAL_DATA, DAY + dt.timedelta(days=n))) for n in range(400)]
    busy = [c for c in counts if c]
    assert 0.2 < counts.count(0) / len(counts) < 0.4
    assert min(busy) >= 70 and max(busy) <= 130 and len(set(busy)) > 20


def test_extra_field_ratio_controls_undocumented_fields():
    days = (DAY, DAY + dt.timedelta(days=9))
    rows = AvidTrakSimulator(extra_field_ratio=0.5, empty_day_ratio=0).rows(OFFLINE_PORTAL_CALLS, *days)
    assert 0.3 < sum("keyword" in row for row in rows) / len(rows) < 0.7
    plain = AvidTrakSimulator(extra_field_ratio=0).rows(GEOGRAPHICAL_DATA, *days)
    assert not any("keyword" in row for row in plain)


# -- envelope, encoding and formats ---------------------------------------------
@pytest.mark.parametrize(
    "overrides, code, status",
    [
        ({"pincode": None}, 3, "Authentication Required"),
        ({"pincode": ""}, 3, "Authentication Required"),
        ({"pincode": "wrong-pin"}, 4, "Authentication Failed"),
        ({"format": "csv"}, 6, "Invalid Response Format"),
        ({"method": "call_logs"}, 404, "Invalid Request Method"),
        ({"startdate": None}, 0, "Unknown Error"),
        ({"enddate": "2024-02-28"}, 0, "Unknown Error"),
        ({"startdate": f"{NEXT_DAY} 00:00:00"}, 0, "Unknown Error"),  # end before start
        ({"startdate": "2000-01-01 00:00:00"}, 0, "Unknown Error"),  # over MAX_WINDOW_DAYS
        ({"use_paging": "TRUE", "page": "0"}, 0, "Unknown Error"),
        ({"use_paging": "TRUE", "perpage": "many"}, 0, "Unknown Error"),
    ],
)
def test_given_bad_request_then_documented_code_with_http_200(sim, overrides, code, status):
    assert api(sim, **overrides) == {"code": code, "status": status, "data": None}


def test_given_empty_window_then_code_0():
    with AvidTrakSimulator(empty_day_ratio=1.0) as sim:
        assert api(sim) == {"code": 0, "status": "Unknown Error", "data": None}


def test_given_alternative_codes_then_200_success_and_401_auth_failed():
    with AvidTrakSimulator(success_code=200, auth_failed_code=401, empty_day_ratio=0) as sim:
        assert api(sim)["code"] == 200
        assert api(sim, pincode="wrong-pin")["code"] == 401


def test_given_xml_format_then_same_rows_as_xml(sim):
    status, headers, body = fetch(sim.api_url, query(format="xml"))
    root = ElementTree.fromstring(body)
    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    assert (root.findtext("code"), root.findtext("status")) == ("1", "Success")
    rows = [{field.tag: field.text or "" for field in row} for row in root.find("data")]
    assert rows == sim.rows(OFFLINE_PORTAL_CALLS, DAY, DAY)
    error = ElementTree.fromstring(fetch(sim.api_url, query(format="xml", pincode="wrong-pin"))[2])
    assert error.findtext("code") == "4" and len(error.find("data")) == 0


def test_json_escapes_slashes_and_unicode_like_php(sim):
    last = DAY + dt.timedelta(days=9)
    _, headers, body = fetch(sim.api_url, query(last=last))
    assert body.isascii() and b"https:\\/\\/avidtrak.com\\/recordings\\/" in body and b"https://" not in body
    names = {row["caller_name"] for row in json.loads(body)["data"]}
    assert {'José "Pepe" Núñez', "Seán O'Brien", "Bob's Movers 🚚"} <= names
    assert int(headers["Content-Length"]) == len(body)


# -- faults ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault, status, content_type, body_start",
    [
        (Fault("http_status", status=503), 503, "text/plain", b"Server Error"),
        (Fault("http_status", status=408, body="slow"), 408, "text/plain", b"slow"),
        (Fault("html"), 200, "text/html", b"<html>"),
        (Fault("html", status=502), 502, "text/html", b"<html>"),
        (Fault("non_object_json"), 200, "application/json", b"[1,2]"),
        (Fault("data_not_list"), 200, "application/json", b'{"code":1,"status":"Success","data":"oops"}'),
        (
            Fault("envelope", code=9, status="Maintenance"),
            200,
            "application/json",
            b'{"code":9,"status":"Maintenance","data":null}',
        ),
    ],
)
def test_given_fault_then_served_once_then_normal(sim, fault, status, content_type, body_start):
    sim.add_fault(fault)
    got_status, headers, body = fetch(sim.api_url, query())
    assert (got_status, headers["Content-Type"].split(";")[0]) == (status, content_type)
    assert body.startswith(body_start)
    assert api(sim)["code"] == 1
    assert [r["fault"] for r in sim.requests] == [fault.kind, None]


def test_given_rate_limit_then_429_with_retry_after(sim):
    sim.add_fault(Fault("rate_limit", retry_after="7"))
    status, headers, _ = fetch(sim.api_url, query())
    assert (status, headers["Retry-After"]) == (429, "7")


def test_given_truncated_json_then_half_of_the_real_body(sim):
    sim.add_fault(Fault("truncated_json"))
    _, _, broken = fetch(sim.api_url, query())
    _, _, whole = fetch(sim.api_url, query())
    assert whole.startswith(broken) and len(broken) == len(whole) // 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)


def test_given_reset_then_client_sees_connection_reset(sim):
    sim.add_fault(Fault("reset"))
    connection = http.client.HTTPConnection("127.0.0.1", int(sim.base_url.rsplit(":", 1)[1]), timeout=5)
    connection.request("GET", "/webservice/api.php?" + urllib.parse.urlencode(query()))
    with pytest.raises(ConnectionResetError):
        connection.getresponse()
    assert sim.requests[-1]["fault"] == "reset"


def test_given_timeout_then_client_times_out_others_served_and_stop_is_quick():
    sim = AvidTrakSimulator(empty_day_ratio=0).start()
    sim.add_fault(Fault("timeout", seconds=30, method=GEOGRAPHICAL_DATA))
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        fetch(sim.api_url, query(method=GEOGRAPHICAL_DATA), timeout=0.2)
    assert api(sim)["code"] == 1
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2


def test_given_short_timeout_then_answers_late_with_real_body(sim):
    sim.add_fault(Fault("timeout", seconds=0.2))
    started = time.monotonic()
    assert api(sim)["code"] == 1 and time.monotonic() - started >= 0.2


def test_fault_matches_method_and_page_and_times(sim):
    sim.add_fault(Fault("http_status", times=2, method=GEOGRAPHICAL_DATA, page=2, status=500))
    paged = {"use_paging": "TRUE", "perpage": 5}
    assert fetch(sim.api_url, query(page=2, **paged))[0] == 200  # other method
    assert fetch(sim.api_url, query(method=GEOGRAPHICAL_DATA, page=1, **paged))[0] == 200
    statuses = [fetch(sim.api_url, query(method=GEOGRAPHICAL_DATA, page=2, **paged))[0] for _ in range(3)]
    assert statuses == [500, 500, 200]
    sim.add_fault(Fault("non_object_json", times=None))
    assert [fetch(sim.api_url, query())[2] for _ in range(3)] == [b"[1,2]"] * 3
    sim.clear_faults()
    assert api(sim)["code"] == 1


def test_unknown_fault_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("gremlins")


# -- request log, control API, serving ---------------------------------------------
def test_request_log_masks_the_pin_and_records_parameters(sim):
    api(sim, use_paging="TRUE", perpage=50, page=2)
    api(sim, pincode="wrong-pin")
    api(sim, pincode=None)
    first, wrong, missing = sim.requests
    assert first == {
        "path": "/webservice/api.php",
        "method": OFFLINE_PORTAL_CALLS,
        "format": "json",
        "use_paging": "TRUE",
        "page": 2,
        "perpage": 50,
        "startdate": f"{DAY} 00:00:00",
        "enddate": f"{DAY} 23:59:59",
        "pincode": "***",
        "pin_valid": True,
        "account": "main",
        "fault": None,
        "code": 0,
    }
    assert (wrong["pincode"], wrong["pin_valid"], wrong["code"]) == ("***", False, 4)
    assert (missing["pincode"], missing["pin_valid"], missing["code"]) == ("", False, 3)
    assert "wrong-pin" not in repr(sim.requests) and PIN not in repr(sim.requests)
    sim.clear_requests()
    assert sim.requests == []


def test_given_client_accounts_then_each_pin_opens_its_own_rows_with_the_same_call_ids_and_the_log_names_it():
    clients = {"client-7": "pin-7", "client-8": "pin-8"}
    with AvidTrakSimulator(pins=(PIN,), clients=clients, empty_day_ratio=0.0) as sim:
        main, seven, eight = (api(sim, pincode=pin)["data"] for pin in (PIN, "pin-7", "pin-8"))
        assert api(sim, pincode="pin-9")["code"] == 4
        labels = [entry["account"] for entry in sim.requests]

        assert seven == sim.rows(OFFLINE_PORTAL_CALLS, DAY, DAY, client="client-7")
        assert main == sim.rows(OFFLINE_PORTAL_CALLS, DAY, DAY)
    assert main != seven != eight and main != eight
    assert seven[0]["call_id"] == main[0]["call_id"]  # ids are unique within an account only
    assert labels == ["main", "client-7", "client-8", None]
    assert "pin-7" not in repr(sim.requests)


def test_control_api_queues_faults_and_serves_the_log(sim):
    added = control(sim, "POST", "/__sim__/faults", [{"kind": "rate_limit", "retry_after": "3"}])
    assert added == {"added": 1}
    assert fetch(sim.api_url, query())[0] == 429
    log = control(sim, "GET", "/__sim__/requests")
    assert [entry["fault"] for entry in log] == ["rate_limit"] and PIN not in json.dumps(log)
    control(sim, "POST", "/__sim__/faults", [{"kind": "html", "times": None}])
    control(sim, "DELETE", "/__sim__/faults")
    control(sim, "DELETE", "/__sim__/requests")
    assert api(sim)["code"] == 1 and len(control(sim, "GET", "/__sim__/requests")) == 1
    with pytest.raises(urllib.error.HTTPError):
        control(sim, "POST", "/__sim__/faults", [{"kind": "gremlins"}])


@pytest.mark.parametrize(
    "path, status",
    [
        ("/webservice/api.php", 200),
        ("/webservice/webservice/api.php", 404),  # a Base URL ending in /webservice, doubled
        ("/portal/webservice/api.php", 404),
        ("/api.php", 404),
        ("/webservice/other.php", 404),
    ],
)
def test_api_served_at_webservice_api_php_only(sim, path, status):
    assert fetch(sim.base_url + path, query())[0] == status


def test_keep_alive_serves_many_requests_on_one_connection_quietly(sim, capfd):
    connection = http.client.HTTPConnection("127.0.0.1", int(sim.base_url.rsplit(":", 1)[1]), timeout=5)
    for _ in range(3):
        connection.request("GET", "/webservice/api.php?" + urllib.parse.urlencode(query()))
        response = connection.getresponse()
        assert json.loads(response.read())["code"] == 1 and not response.will_close
    connection.close()
    assert capfd.readouterr() == ("", "")


def test_latency_applies_to_api_requests_only():
    with AvidTrakSimulator(latency_s=0.3, empty_day_ratio=0) as sim:
        started = time.monotonic()
        control(sim, "GET", "/__sim__/requests")
        assert time.monotonic() - started < 0.25
        api(sim)
        assert time.monotonic() - started >= 0.3


def test_cli_prints_the_url_serves_and_exits_0_on_sigterm():
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "integration_tests.simulator",
            "--port",
            "0",
            "--pin",
            "cli-pin",
            "--client",
            "client-7=cli-client-pin",
            "--calls-per-day",
            "5",
            "--empty-day-ratio",
            "0",
            "--success-code",
            "200",
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("AVIDTRAK_SIMULATOR_URL=http://127.0.0.1:")
        url = line.split("=", 1)[1] + "/webservice/api.php"
        status, _, body = fetch(url, query(pincode="cli-pin"))
        assert status == 200 and json.loads(body)["code"] == 200
        status, _, client_body = fetch(url, query(pincode="cli-client-pin"))
        assert status == 200 and json.loads(client_body)["code"] == 200 and client_body != body
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert process.stdout.read() == ""
    finally:
        process.kill()


def test_cli_clients_count_numbers_labels_and_pins_next_to_named_clients():
    with from_args(["--clients", "3", "--client", "client-7=pin-7", "--empty-day-ratio", "0"]) as sim:
        second, seventh = (api(sim, pincode=pin)["data"] for pin in ("sim-client-pin-0002", "pin-7"))
        assert api(sim, pincode="sim-client-pin-0004")["code"] == 4, "--clients 3 opens pins 0001..0003 only"
        assert second == sim.rows(OFFLINE_PORTAL_CALLS, DAY, DAY, client="client-0002")
        assert second != seventh
        assert sorted(sim.clients) == ["client-0001", "client-0002", "client-0003", "client-7"]
        assert [entry["account"] for entry in sim.requests] == ["client-0002", "client-7", None]
