"""read over the real entrypoint: each AvidTrak response code and transient failure.

Errors may arrive with HTTP 200 (AvidTrak's HTTP status is not documented to mirror `code`).
Retries never sleep for real: conftest's `fake_time` records the CDK's sleeps.
"""

from urllib.parse import quote, quote_plus

import pytest
from airbyte_cdk.models import AirbyteStreamStatus, Type

from unit_tests.integration.config_builder import OFFLINE_PORTAL_CALLS, PIN_CODE, ConfigBuilder
from unit_tests.integration.harness import FAST_RETRY, error_traces, record_data, run_read, serialized
from unit_tests.integration.request_builder import AvidTrakRequestBuilder
from unit_tests.integration.response_builder import AvidTrakResponseBuilder, row

YESTERDAY_REQUEST = AvidTrakRequestBuilder.report(OFFLINE_PORTAL_CALLS).with_day("2026-11-25")


def config() -> ConfigBuilder:
    return ConfigBuilder().with_reports(OFFLINE_PORTAL_CALLS).with_num_workers(1)


def failure_types(output) -> list:
    return [error.failure_type.value for error in error_traces(output)]


@pytest.mark.parametrize("code", [1, 200, "1"])
def test_given_success_code_when_read_then_records(code, http_mocker):
    response = AvidTrakResponseBuilder.success(row(OFFLINE_PORTAL_CALLS)).with_code(code)
    http_mocker.get(YESTERDAY_REQUEST.build(), response.build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output)] == ["OPC-2001"]
    assert error_traces(output) == []


def test_given_code_0_when_read_then_no_records_info_log_and_stream_complete(http_mocker):
    http_mocker.get(YESTERDAY_REQUEST.build(), AvidTrakResponseBuilder.no_data().with_status("No data found").build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS)

    assert record_data(output) == [] and error_traces(output) == []
    lines = [log for log in output.logs if "no calls on 2026-11-25" in log.log.message]
    assert [log.log.level.value for log in lines] == ["INFO"] and "code 0" in lines[0].log.message
    assert output.get_stream_statuses(OFFLINE_PORTAL_CALLS)[-1] == AirbyteStreamStatus.COMPLETE


@pytest.mark.parametrize(
    "code, status, http_status",
    [
        (3, "Authentication Required", 200),
        (4, "Authentication Failed", 200),
        (401, "Authentication Failed", 200),
        (4, "Authentication Failed", 401),
    ],
)
def test_given_auth_code_when_read_then_config_error_rejected_pin(code, status, http_status, http_mocker):
    response = AvidTrakResponseBuilder.error(code, status).with_http_status(http_status).build()
    http_mocker.get(YESTERDAY_REQUEST.build(), response)

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert set(failure_types(output)) == {"config_error"}
    assert f"AvidTrak rejected the pin code (code {code}: {status})" in error_traces(output)[0].message
    assert output.get_stream_statuses(OFFLINE_PORTAL_CALLS)[-1] == AirbyteStreamStatus.INCOMPLETE


def test_given_code_404_when_read_then_system_error_naming_method(http_mocker):
    http_mocker.get(YESTERDAY_REQUEST.build(), AvidTrakResponseBuilder.error(404, "Invalid Request Method").build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert set(failure_types(output)) == {"system_error"}
    message = error_traces(output)[0].message
    assert "does not know the method 'offline_portal_calls'" in message
    assert "Advanced > Report Method Names > Offline Portal Calls (report_methods.offline_portal_calls)" in message
    assert "code 404: Invalid Request Method" in message


def test_given_code_6_when_read_then_system_error(http_mocker):
    http_mocker.get(YESTERDAY_REQUEST.build(), AvidTrakResponseBuilder.error(6, "Invalid Response Format").build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert set(failure_types(output)) == {"system_error"}
    assert "refused format=json" in error_traces(output)[0].message


def test_given_unknown_code_when_read_then_system_error_quotes_status(http_mocker):
    http_mocker.get(YESTERDAY_REQUEST.build(), AvidTrakResponseBuilder.error(99, "Daily quota exceeded").build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert set(failure_types(output)) == {"system_error"}
    assert "AvidTrak answered code 99 (Daily quota exceeded)" in error_traces(output)[0].message


def test_given_auth_failure_when_read_then_pin_in_no_message_raw_or_encoded(http_mocker):
    http_mocker.get(YESTERDAY_REQUEST.build(), AvidTrakResponseBuilder.error(4, "Authentication Failed").build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    everything = serialized(output.get_message_by_types(list(Type)))
    # The stream raises the envelope's error itself: no CDK "error message: 'None'" text, no URL.
    assert len(error_traces(output)) == 1 and "'None'" not in everything
    for form in {PIN_CODE, quote(PIN_CODE, safe=""), quote_plus(PIN_CODE)}:
        assert form not in everything


def test_given_http_429_with_retry_after_when_read_then_retried_within_cap(fake_time, http_mocker):
    http_mocker.get(
        YESTERDAY_REQUEST.build(),
        [
            AvidTrakResponseBuilder.raw("Too Many Requests", 429).with_header("Retry-After", "7").build(),
            AvidTrakResponseBuilder.success(row(OFFLINE_PORTAL_CALLS)).build(),
        ],
    )

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS)

    assert len(record_data(output)) == 1 and error_traces(output) == []
    assert fake_time.sleeps == [pytest.approx(8.0)]  # Retry-After 7 s, and the CDK adds 1 s


def test_given_http_429_with_retry_after_beyond_the_cap_when_read_then_one_transient_error_at_once(
    fake_time, http_mocker
):
    day = AvidTrakResponseBuilder.raw("Too Many Requests", 429).with_header("Retry-After", "86400").build()
    http_mocker.get(YESTERDAY_REQUEST.build(), day)

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert failure_types(output) == ["transient_error"]
    message = error_traces(output)[0].message
    assert "86400 s (24 hours)" in message and f"({FAST_RETRY.cap_seconds:g} s)" in message
    assert "next sync resumes from the saved state" in message
    assert fake_time.sleeps == []


def test_given_http_429_on_every_attempt_when_read_then_each_counts_toward_the_retry_budget(fake_time, http_mocker):
    """rate_budget.py: the shared pause does not make a 429 free; FAST_RETRY allows 2 retries."""
    too_many = AvidTrakResponseBuilder.raw("Too Many Requests", 429).with_header("Retry-After", "1").build()
    http_mocker.get(YESTERDAY_REQUEST.build(), [too_many] * 3)

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert failure_types(output) == ["transient_error"]
    assert "Gave up after 2 retries" in error_traces(output)[0].message
    assert len(fake_time.sleeps) == 2


@pytest.mark.parametrize(
    "body, http_status", [("<html><body>Bad Gateway</body></html>", 502), ("<html>maintenance</html>", 200), ("", 500)]
)
def test_given_transient_failures_exhaust_retries_when_read_then_transient_error(
    body, http_status, fake_time, http_mocker
):
    http_mocker.get(YESTERDAY_REQUEST.build(), [AvidTrakResponseBuilder.raw(body, http_status).build()] * 3)

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS, expect_failure=True)

    assert set(failure_types(output)) == {"transient_error"}
    where = "report offline_portal_calls, window 2026-11-25 00:00:00..2026-11-25 23:59:59, page 1"
    assert where in error_traces(output)[0].message
    assert len(fake_time.sleeps) == 2  # FAST_RETRY: two retries after the first attempt
