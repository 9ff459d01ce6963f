"""check over the real entrypoint: one one-row request for yesterday; failures are a FAILED status.

A config error fails before any request, as in read: a config_error TRACE, no status. Those
tests register no mock, so any request at all would fail them (`http_mocker` is strict).
"""

from urllib.parse import quote

import pytest
from airbyte_cdk.models import FailureType, Status, Type

from unit_tests.integration.config_builder import GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS, PIN_CODE, ConfigBuilder
from unit_tests.integration.harness import FAST_RETRY, error_traces, run_check, serialized
from unit_tests.integration.request_builder import AvidTrakRequestBuilder
from unit_tests.integration.response_builder import AvidTrakResponseBuilder, row


def check_request(report: str = GEOGRAPHICAL_DATA):
    return AvidTrakRequestBuilder.report(report).with_day("2026-11-25").with_per_page(1).build()


def connection_status(output):
    statuses = output.connection_status_messages
    assert len(statuses) == 1, output.get_formatted_error_message()
    return statuses[0].connectionStatus


@pytest.mark.parametrize(
    "response",
    [
        AvidTrakResponseBuilder.success(row(GEOGRAPHICAL_DATA)),
        AvidTrakResponseBuilder.success(),
        AvidTrakResponseBuilder.no_data(),
    ],
    ids=["code-1-with-a-row", "code-1-empty", "code-0"],
)
def test_given_success_or_no_data_when_check_then_succeeded(response, http_mocker):
    http_mocker.get(check_request(), response.build())

    status = connection_status(run_check(ConfigBuilder().build()))

    assert status.status == Status.SUCCEEDED


def test_given_only_offline_report_selected_when_check_then_asks_that_report(http_mocker):
    http_mocker.get(check_request(OFFLINE_PORTAL_CALLS), AvidTrakResponseBuilder.no_data().build())

    status = connection_status(run_check(ConfigBuilder().with_reports(OFFLINE_PORTAL_CALLS).build()))

    assert status.status == Status.SUCCEEDED


@pytest.mark.parametrize(
    "code, status_text", [(3, "Authentication Required"), (4, "Authentication Failed"), (401, "Authentication Failed")]
)
def test_given_bad_pin_when_check_then_failed_status_with_actionable_message(code, status_text, http_mocker):
    http_mocker.get(check_request(), AvidTrakResponseBuilder.error(code, status_text).build())

    output = run_check(ConfigBuilder().build())

    status = connection_status(output)
    assert status.status == Status.FAILED
    assert status.message.startswith(f"AvidTrak rejected the pin code (code {code}: {status_text}). Check the Pin Code")
    assert error_traces(output) == []
    everything = serialized(output.get_message_by_types(list(Type)))
    assert PIN_CODE not in everything and quote(PIN_CODE, safe="") not in everything


def test_given_unknown_method_when_check_then_failed_naming_method_and_base_url(http_mocker):
    http_mocker.get(check_request(), AvidTrakResponseBuilder.error(404, "Invalid Request Method").build())

    status = connection_status(run_check(ConfigBuilder().build()))

    assert status.status == Status.FAILED
    assert "report geographical_data" in status.message
    assert "Base URL (https://avidtrak.com/webservice/api.php)" in status.message


def test_given_server_errors_when_check_then_failed_after_the_unreachable_budget_of_retries(fake_time, http_mocker):
    retries = FAST_RETRY.unreachable_retries  # check retries as often as read retries an unreachable host
    http_mocker.get(check_request(), [AvidTrakResponseBuilder.raw("<html>oops</html>", 500).build()] * (retries + 1))

    status = connection_status(run_check(ConfigBuilder().build()))

    assert status.status == Status.FAILED
    assert "AvidTrak answered HTTP 500" in status.message
    assert len(fake_time.sleeps) == retries


@pytest.mark.parametrize(
    "builder, expected",
    [
        (ConfigBuilder().with_base_url("http://avidtrak.com"), "The Base URL must use https://"),
        (ConfigBuilder().with_base_url("https://avidtrak.com/?pincode=x"), "query string"),
        (ConfigBuilder().with_timezone("Mars/Olympus"), "Unknown Time Zone"),
        (ConfigBuilder().with_single_date("2026-11-27"), "Date To (2026-11-27) is in the future"),
        (ConfigBuilder().with_date_range(5, 10), "Date From"),
        (ConfigBuilder().with_page_size(501), "Page Size must be a whole number from 1 to 500; got 501"),
    ],
)
def test_given_config_error_when_check_then_config_error_trace_before_any_request(builder, expected, http_mocker):
    output = run_check(builder.build())

    assert output.connection_status_messages == []
    [error] = error_traces(output)
    assert error.failure_type == FailureType.config_error and expected in error.message
