"""AvidTrak's request limit: the connector (in this process), 10 workers, a simulator with a token bucket.

Without a known limit the shared budget (rate_budget.py) pauses every worker on the first
429 and then sends at the pace AvidTrak let through, so only the requests in flight at
that first 429 are refused, not a stream of them. With `requests_per_second` set to the
bucket's rate, none are.
"""

from __future__ import annotations

import datetime as dt

import pytest

from integration_tests.conftest import STREAMS, configured_catalog, make_config, specific_range
from integration_tests.simulator import AvidTrakSimulator

FIRST, LAST = dt.date(2024, 5, 1), dt.date(2024, 5, 30)  # 30 one-day windows x 2 reports: 60 requests
RATE, BURST, WORKERS = 10, 10, 10


@pytest.fixture
def limited_sim():
    with AvidTrakSimulator(calls_per_day=30, empty_day_ratio=0, rate_limit=RATE, burst=BURST) as simulator:
        yield simulator


def expected_records(sim: AvidTrakSimulator) -> int:
    return sum(len(sim.rows(stream, FIRST, LAST)) for stream in STREAMS)


def test_given_token_bucket_when_ten_workers_read_then_few_429s_and_every_record(connector, limited_sim):
    config = make_config(limited_sim.base_url, specific_range(FIRST, LAST), num_workers=WORKERS, window_days=1)

    run = connector.run("read", config, configured_catalog())

    assert run.returncode == 0, run.describe()
    assert len(run.records) == expected_records(limited_sim)
    stats = limited_sim.stats
    # At most the requests in flight when the bucket first ran dry, not one 429 per worker per second.
    assert stats["rate_limited"] <= WORKERS, stats
    assert stats["rate_limited"] / stats["requests"] <= 0.15, stats


def test_given_requests_per_second_at_the_limit_when_ten_workers_read_then_no_429(connector, limited_sim):
    config = make_config(
        limited_sim.base_url, specific_range(FIRST, LAST), num_workers=WORKERS, window_days=1, requests_per_second=RATE
    )

    run = connector.run("read", config, configured_catalog())

    assert run.returncode == 0, run.describe()
    assert len(run.records) == expected_records(limited_sim)
    assert limited_sim.stats == {"requests": 2 * 30, "rate_limited": 0}
