"""failures.py: an account's first failure stops it, and a failed sync ends with exactly one error."""

from __future__ import annotations

from typing import Iterator

import pytest
from airbyte_cdk.models import AirbyteMessage, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak.config import Account
from source_avidtrak.failures import LISTED_FAILURES, STOPPED_MESSAGE, AccountStopped, Failures

MAIN, CLIENT = Account("main", "pin-main"), Account("client-7", "pin-7")
ADVICE = "Gave up after 2 retries."


def trace(message: str) -> AirbyteMessage:
    return AirbyteTracedException(message=message, failure_type=FailureType.transient_error).as_airbyte_message()


def cdk_closing_error() -> AirbyteTracedException:
    return AirbyteTracedException(message="During the sync...", failure_type=FailureType.config_error)


def test_given_a_window_fails_then_its_account_stops_and_only_its_account():
    failures = Failures()

    failures.window_failed(MAIN, AirbyteTracedException(message="HTTP 503"), ADVICE)

    assert failures.stopped("main") and not failures.stopped("client-7")
    with pytest.raises(AccountStopped):
        failures.raise_if_stopped("main")
    failures.raise_if_stopped("client-7")


def test_given_several_accounts_when_a_window_fails_then_the_message_names_the_account():
    failures = Failures(names_accounts=True)

    error = failures.window_failed(CLIENT, AirbyteTracedException(message="AvidTrak answered HTTP 503."), ADVICE)

    assert error.message == "Account 'client-7': AvidTrak answered HTTP 503."


def test_given_a_bug_in_a_window_then_it_becomes_a_system_error_naming_it():
    error = Failures().window_failed(MAIN, KeyError("call_id"), ADVICE)

    assert error.failure_type == FailureType.system_error
    assert "KeyError" in (error.message or "") and "call_id" in (error.message or "")


def test_given_per_window_errors_and_cdk_summary_when_filtered_then_one_error_the_first():
    failures = Failures()
    first = AirbyteTracedException(
        message="AvidTrak answered HTTP 503 for window 1", failure_type=FailureType.transient_error
    )

    def sync() -> Iterator[AirbyteMessage]:
        failures.window_failed(MAIN, first, ADVICE)
        yield first.as_airbyte_message()
        yield trace(STOPPED_MESSAGE)
        later = failures.window_failed(MAIN, AirbyteTracedException(message="HTTP 502 for window 2"), ADVICE)
        yield later.as_airbyte_message()
        raise cdk_closing_error()

    passed: list = []
    with pytest.raises(AirbyteTracedException) as raised:
        passed.extend(failures.single_failure(sync()))

    assert passed == []
    assert raised.value.message == "AvidTrak answered HTTP 503 for window 1"
    assert raised.value.failure_type == FailureType.transient_error  # not the CDK's config_error


def test_given_two_accounts_failed_when_filtered_then_one_error_listing_both_config_error_first():
    failures = Failures(names_accounts=True)
    errors = [
        (MAIN, AirbyteTracedException(message="AvidTrak answered HTTP 503.", failure_type=FailureType.transient_error)),
        (
            CLIENT,
            AirbyteTracedException(
                message="AvidTrak rejected the pin code of account 'client-7'.", failure_type=FailureType.config_error
            ),
        ),
    ]

    def sync() -> Iterator[AirbyteMessage]:
        for account, error in errors:
            yield failures.window_failed(account, error, ADVICE).as_airbyte_message()
        raise cdk_closing_error()

    with pytest.raises(AirbyteTracedException) as raised:
        list(failures.single_failure(sync()))

    message = raised.value.message or ""
    assert message.startswith("2 failures in this sync; everything else synced.")
    assert "(1) Account 'main': AvidTrak answered HTTP 503." in message
    assert "(2) AvidTrak rejected the pin code of account 'client-7'." in message
    assert raised.value.failure_type == FailureType.config_error


def test_given_more_failed_accounts_than_listed_then_the_error_lists_some_and_the_log_every_other(caplog):
    failures = Failures(names_accounts=True)
    count = LISTED_FAILURES + 5

    def sync() -> Iterator[AirbyteMessage]:
        for number in range(count):
            account = Account(f"c-{number}", f"pin-{number}")
            yield failures.window_failed(
                account, AirbyteTracedException(message="rejected"), ADVICE
            ).as_airbyte_message()
        raise cdk_closing_error()

    with pytest.raises(AirbyteTracedException) as raised:
        list(failures.single_failure(sync()))

    message = raised.value.message or ""
    assert message.startswith(f"{count} failures") and "and 5 more" in message
    assert f"({LISTED_FAILURES + 1})" not in message
    logged = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert logged == [f"Account 'c-{number}': rejected" for number in range(LISTED_FAILURES, count)]


def test_given_an_error_no_window_recorded_when_filtered_then_it_is_raised_not_lost():
    def sync() -> Iterator[AirbyteMessage]:
        yield trace("An unexpected error occurred in stream x: KeyError")
        raise cdk_closing_error()

    with pytest.raises(AirbyteTracedException) as raised:
        list(Failures().single_failure(sync()))

    assert raised.value.message == "An unexpected error occurred in stream x: KeyError"


def test_given_no_failure_when_filtered_then_messages_pass_and_nothing_is_raised():
    def sync() -> Iterator[AirbyteMessage]:
        yield trace("not an error").__class__(type=trace("x").type, trace=None)

    assert len(list(Failures().single_failure(sync()))) == 1
