"""The simulator's request limit: a token bucket, and its 429s over real HTTP."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from integration_tests.simulator import AvidTrakSimulator
from integration_tests.token_bucket import TokenBucket

PIN = "sim-pin-0001"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_given_full_bucket_when_burst_is_spent_then_refused_until_a_token_refills():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)

    assert [bucket.take() for _ in range(4)] == [None, None, None, 1]
    clock.now += 0.5  # one token at 2/s
    assert [bucket.take(), bucket.take()] == [None, 1]


def test_given_slow_rate_when_refused_then_retry_after_is_whole_seconds_until_a_token():
    clock = Clock()
    bucket = TokenBucket(rate=0.25, burst=1, clock=clock)
    bucket.take()

    assert bucket.take() == 4


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 1), (1, 0.5)])
def test_given_bad_rate_or_burst_when_built_then_value_error(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


def status_and_retry_after(url):
    params = urllib.parse.urlencode({"pincode": PIN, "method": "geographical_data", "format": "json"})
    try:
        with urllib.request.urlopen(f"{url}?{params}", timeout=5) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After")


def test_given_rate_limit_when_requests_exceed_the_burst_then_429_counted_in_stats_and_log():
    with AvidTrakSimulator(pins=(PIN,), rate_limit=0.5, burst=2) as sim:
        answers = [status_and_retry_after(sim.api_url) for _ in range(3)]
        with urllib.request.urlopen(sim.base_url + "/__sim__/stats", timeout=5) as response:
            served = json.load(response)

        assert answers == [(200, None), (200, None), (429, "2")]
        assert served == sim.stats == {"requests": 3, "rate_limited": 1}
        assert [entry["fault"] for entry in sim.requests] == [None, None, "token_bucket"]


def test_given_no_rate_limit_when_many_requests_then_none_refused():
    with AvidTrakSimulator(pins=(PIN,)) as sim:
        answers = {status_and_retry_after(sim.api_url)[0] for _ in range(20)}

        assert answers == {200}
        assert sim.stats == {"requests": 20, "rate_limited": 0}
