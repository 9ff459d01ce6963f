"""The shared rate budget (rate_budget.py), on a fake clock.

`simulate` plays a read in virtual time: `workers` workers, each sending its requests
through the budget, waiting as it says, and retrying a 429 the way the CDK's HttpClient
does (Retry-After within the policy's bounds, plus the CDK's extra second, at most
`max_retries` times). Nothing sleeps; each case takes milliseconds.
"""

from __future__ import annotations

import email.utils
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import pytest
import requests

from integration_tests.token_bucket import TokenBucket
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.rate_budget import PROBE_SECONDS, RAMP_SECONDS, SAFETY, START_RATE, AvidTrakBudget

POLICY = RetryPolicy()
CDK_EXTRA_SLEEP_SECONDS = 1.0  # the CDK's user-defined backoff sleeps backoff_time + 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def no_sleep(seconds: float) -> None:
    raise AssertionError("the simulation never calls the blocking acquire")


def response(status: int, retry_after: Optional[str] = None) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    if retry_after is not None:
        answer.headers["Retry-After"] = retry_after
    return answer


Server = Callable[[], Optional[float]]  # None: answered; else a 429 with that Retry-After


@dataclass
class Outcome:
    wall_s: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    failed: List[int] = field(default_factory=list)

    @property
    def limited_share(self) -> float:
        return self.rate_limited / self.requests


def simulate(
    server_for: Callable[[FakeClock], Server],
    calls: int,
    requests_per_second: Optional[float] = None,
    workers: int = 10,
    latency_s: float = 0.02,
) -> Outcome:
    clock = FakeClock()
    server = server_for(clock)
    budget = AvidTrakBudget(requests_per_second, POLICY, clock=clock, sleep=no_sleep)
    start, outcome = clock.now, Outcome()
    todo = iter(range(calls))
    attempts = [0] * calls
    order = itertools.count()
    # (when, tiebreak, worker's call, kind, retry_after)
    events: List[Tuple[float, int, int, str, Optional[float]]] = []
    for _ in range(workers):
        call = next(todo, None)
        if call is not None:
            heapq.heappush(events, (clock.now, next(order), call, "acquire", None))
    while events:
        clock.now, _, call, kind, retry_after = heapq.heappop(events)
        if kind == "acquire":
            wait = budget.wait_before_send()
            if wait > 0:
                heapq.heappush(events, (clock.now + wait, next(order), call, "acquire", None))
                continue
            outcome.requests += 1
            answer = server()
            heapq.heappush(events, (clock.now + latency_s, next(order), call, "answer", answer))
            continue
        if retry_after is None:
            budget.update_from_response(None, response(200))
            nxt = next(todo, None)
            if nxt is not None:
                heapq.heappush(events, (clock.now, next(order), nxt, "acquire", None))
            continue
        outcome.rate_limited += 1
        budget.update_from_response(None, response(429, f"{retry_after:g}"))
        attempts[call] += 1
        if attempts[call] > POLICY.max_retries:
            outcome.failed.append(call)
            continue
        backoff = min(max(retry_after, POLICY.retry_after_floor_seconds), POLICY.cap_seconds)
        heapq.heappush(events, (clock.now + backoff + CDK_EXTRA_SLEEP_SECONDS, next(order), call, "acquire", None))
    outcome.wall_s = clock.now - start
    return outcome


def token_bucket(rate: float, burst: float) -> Callable[[FakeClock], Server]:
    def server_for(clock: FakeClock) -> Server:
        bucket = TokenBucket(rate, burst, clock=clock)
        return lambda: bucket.take()

    return server_for


def storm(refused: int, retry_after: float) -> Callable[[FakeClock], Server]:
    """The first `refused` requests answered 429, everything after them answered."""

    def server_for(clock: FakeClock) -> Server:
        count = itertools.count()
        return lambda: retry_after if next(count) < refused else None

    return server_for


def always_open(clock: FakeClock) -> Server:
    return lambda: None


def test_given_a_storm_of_429s_at_the_start_when_ten_workers_read_then_every_call_within_30_s_of_no_storm():
    quiet = simulate(always_open, calls=200)
    stormy = simulate(storm(refused=30, retry_after=1), calls=200)

    assert stormy.failed == [] and quiet.failed == []
    assert stormy.rate_limited == 30
    assert stormy.wall_s - quiet.wall_s <= 30, (stormy, quiet)
    # Not just within the bound: the pause rides out a burst in a few rounds of the workers.
    assert stormy.wall_s - quiet.wall_s <= 10, (stormy, quiet)


def test_given_a_token_bucket_and_no_known_limit_when_ten_workers_read_then_few_429s_and_wall_near_the_rate():
    outcome = simulate(token_bucket(5, 5), calls=120)

    answered = outcome.requests - outcome.rate_limited
    assert outcome.failed == []
    assert outcome.limited_share <= 0.05, outcome
    assert outcome.wall_s <= 1.25 * answered / 5, outcome


def test_given_a_token_bucket_and_its_rate_as_known_limit_when_ten_workers_read_then_no_429():
    outcome = simulate(token_bucket(5, 5), calls=120, requests_per_second=5)

    assert outcome.rate_limited == 0
    assert outcome.wall_s <= 1.05 * 120 / 5, outcome


@pytest.mark.parametrize("rate, burst", [(2, 1), (5, 5), (20, 10), (50, 100)])
def test_given_buckets_of_other_sizes_when_ten_workers_read_then_the_share_of_429s_stays_small(rate, burst):
    outcome = simulate(token_bucket(rate, burst), calls=400)

    assert outcome.failed == []
    assert outcome.limited_share <= 0.05, outcome


def test_given_no_429_when_reading_then_the_slow_start_ends_unpaced_within_a_second_and_a_half():
    clock = FakeClock()
    budget = AvidTrakBudget(None, POLICY, clock=clock, sleep=no_sleep)
    assert budget.requests_per_second == START_RATE

    while clock.now < 1001.5:
        clock.now += RAMP_SECONDS
        assert budget.wait_before_send() == 0.0

    assert budget.requests_per_second is None


def test_given_nobody_limits_when_three_workers_read_then_the_slow_start_costs_a_tenth_of_a_second():
    unpaced = 400 * 0.04 / 3  # 400 calls of 40 ms on 3 workers

    outcome = simulate(always_open, calls=400, workers=3, latency_s=0.04)

    assert outcome.wall_s - unpaced <= 0.15, outcome


def test_given_a_429_when_a_worker_asks_then_it_waits_for_the_retry_after_and_everyone_with_it():
    clock = FakeClock()
    budget = AvidTrakBudget(None, POLICY, clock=clock, sleep=no_sleep)

    budget.update_from_response(None, response(429, "7"))

    assert budget.wait_before_send() == pytest.approx(7.0)
    assert budget.wait_before_send() == pytest.approx(7.0)
    clock.now += 7.0
    assert budget.wait_before_send() == 0.0


def test_given_a_429_without_retry_after_when_a_worker_asks_then_it_waits_the_floor():
    clock = FakeClock()
    budget = AvidTrakBudget(None, POLICY, clock=clock, sleep=no_sleep)

    budget.update_from_response(None, response(429))

    assert budget.wait_before_send() == pytest.approx(POLICY.retry_after_floor_seconds)


def test_given_retry_after_as_an_http_date_when_budget_reads_it_then_it_waits_until_then():
    clock = FakeClock()
    budget = AvidTrakBudget(None, POLICY, clock=clock, sleep=no_sleep)
    later = email.utils.formatdate(time.time() + 30, usegmt=True)

    budget.update_from_response(None, response(429, later))

    assert 28 <= budget.wait_before_send() <= 31


def test_given_retry_after_beyond_the_cap_when_a_worker_asks_then_nobody_waits():
    clock = FakeClock()
    budget = AvidTrakBudget(None, POLICY, clock=clock, sleep=no_sleep)

    budget.update_from_response(None, response(429, "86400"))

    assert budget.wait_before_send() == 0.0


def test_given_answers_between_two_429s_when_the_second_arrives_then_the_pace_is_what_got_through():
    clock = FakeClock()
    budget = AvidTrakBudget(None, POLICY, clock=clock, sleep=no_sleep)
    budget.update_from_response(None, response(429, "1"))
    clock.now += 1.0  # the pause is over: the measured interval starts
    for _ in range(40):
        clock.now += 0.1
        budget.update_from_response(None, response(200))

    budget.update_from_response(None, response(429, "1"))

    assert budget.requests_per_second == pytest.approx(SAFETY * 40 / 4.0)


def test_given_a_measured_pace_when_no_429_follows_then_it_rises_but_never_past_a_known_limit():
    clock = FakeClock()
    budget = AvidTrakBudget(6.0, POLICY, clock=clock, sleep=no_sleep)
    for _ in range(5):
        clock.now += 0.2
        budget.update_from_response(None, response(200))
    budget.update_from_response(None, response(429, "1"))
    measured = budget.requests_per_second
    assert measured is not None and measured < 6.0

    for _ in range(int(60 / PROBE_SECONDS)):
        clock.now += PROBE_SECONDS
        budget.wait_before_send()

    assert budget.requests_per_second == 6.0


def test_given_requests_per_second_when_workers_ask_at_once_then_requests_leave_evenly_spaced():
    clock = FakeClock()
    budget = AvidTrakBudget(4.0, POLICY, clock=clock, sleep=no_sleep)

    assert budget.wait_before_send() == 0.0
    assert budget.wait_before_send() == pytest.approx(0.25)
    clock.now += 0.25
    assert budget.wait_before_send() == 0.0


def test_given_the_blocking_acquire_when_the_pace_says_wait_then_it_sleeps_through_the_injected_sleeper():
    clock = FakeClock()
    slept: List[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    budget = AvidTrakBudget(2.0, POLICY, clock=clock, sleep=sleep)
    budget.acquire_call(None)
    budget.acquire_call(None)

    assert slept == [pytest.approx(0.5)]
