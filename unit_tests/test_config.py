"""parse_settings: defaults, every Duration mode, Base URL normalisation, and each rejection.

Every rejection must be a ConfigError (failure_type config_error) raised before any request,
whose message names the field the user has to fix.
"""

from datetime import date

import pytest
from airbyte_cdk.models import FailureType

from source_avidtrak import spec_schema
from source_avidtrak.config import ConfigError, RelativeDay, SpecificDay, parse_settings, unknown_key_warnings
from unit_tests.integration.config_builder import PIN_CODE, ConfigBuilder

TODAY = date(2026, 11, 26)


def test_given_only_required_keys_when_parse_then_every_default_applies():
    settings = parse_settings({"pin_code": "abc", "base_url": "https://avidtrak.com"})

    assert settings.accounts[0].pin_code == "abc"
    assert settings.api_url == "https://avidtrak.com/webservice/api.php"
    assert settings.reports == ("geographical_data", "offline_portal_calls")
    assert (settings.start, settings.end) == (RelativeDay(1), RelativeDay(1))
    assert settings.timezone.key == "UTC"
    assert (settings.lookback_days, settings.window_days) == (1, None)  # None: windows sized by the data
    assert (settings.page_size, settings.num_workers) == (500, 3)
    assert settings.requests_per_second is None


def test_given_no_base_url_when_parse_then_avidtrak_com_is_used():
    assert parse_settings({"pin_code": "abc"}).api_url == "https://avidtrak.com/webservice/api.php"


def test_given_pin_with_surrounding_spaces_when_parse_then_stripped():
    assert parse_settings(ConfigBuilder().with_pin_code("  abc \n").build()).accounts[0].pin_code == "abc"


def test_given_reports_in_any_order_when_parse_then_canonical_order():
    config = ConfigBuilder().with_reports("offline_portal_calls", "geographical_data").build()
    assert parse_settings(config).reports == ("geographical_data", "offline_portal_calls")


@pytest.mark.parametrize(
    "builder, expected_start, expected_end, expected_days",
    [
        (ConfigBuilder().with_yesterday(), RelativeDay(1), RelativeDay(1), ("2026-11-25", "2026-11-25")),
        (
            ConfigBuilder().with_single_date("2026-11-01"),
            SpecificDay(date(2026, 11, 1)),
            SpecificDay(date(2026, 11, 1)),
            ("2026-11-01", "2026-11-01"),
        ),
        (ConfigBuilder().with_single_date(0), RelativeDay(0), RelativeDay(0), ("2026-11-26", "2026-11-26")),
        (ConfigBuilder().with_single_date(3), RelativeDay(3), RelativeDay(3), ("2026-11-23", "2026-11-23")),
        (
            ConfigBuilder().with_date_range("2026-10-01", "2026-10-31"),
            SpecificDay(date(2026, 10, 1)),
            SpecificDay(date(2026, 10, 31)),
            ("2026-10-01", "2026-10-31"),
        ),
        (ConfigBuilder().with_date_range(10, 5), RelativeDay(10), RelativeDay(5), ("2026-11-16", "2026-11-21")),
        (
            ConfigBuilder().with_date_range("2026-11-01", 1),
            SpecificDay(date(2026, 11, 1)),
            RelativeDay(1),
            ("2026-11-01", "2026-11-25"),
        ),
        (
            ConfigBuilder().with_date_range(30, "2026-11-20"),
            RelativeDay(30),
            SpecificDay(date(2026, 11, 20)),
            ("2026-10-27", "2026-11-20"),
        ),
    ],
    ids=[
        "yesterday",
        "single-specific",
        "single-offset-0",
        "single-offset-3",
        "range-specific",
        "range-relative",
        "range-specific-to-relative",
        "range-relative-to-specific",
    ],
)
def test_given_duration_mode_when_parse_then_day_refs_and_range(builder, expected_start, expected_end, expected_days):
    settings = parse_settings(builder.build(), today=TODAY)

    assert (settings.start, settings.end) == (expected_start, expected_end)
    first, last = settings.resolve_range(TODAY)
    assert (first.isoformat(), last.isoformat()) == expected_days


@pytest.mark.parametrize(
    "base_url, expected_api_url",
    [
        ("https://avidtrak.com", "https://avidtrak.com/webservice/api.php"),
        ("https://avidtrak.com/", "https://avidtrak.com/webservice/api.php"),
        ("  https://avidtrak.com  ", "https://avidtrak.com/webservice/api.php"),
        ("https://avidtrak.com/webservice/api.php", "https://avidtrak.com/webservice/api.php"),
        ("https://avidtrak.com/webservice/api.php/", "https://avidtrak.com/webservice/api.php"),
        ("https://avidtrak.com/webservice", "https://avidtrak.com/webservice/api.php"),
        ("https://avidtrak.com/webservice/", "https://avidtrak.com/webservice/api.php"),
        ("https://agency.example/tracking/webservice", "https://agency.example/tracking/webservice/api.php"),
        ("https://calls.agency.example", "https://calls.agency.example/webservice/api.php"),
        ("https://calls.agency.example:8443/", "https://calls.agency.example:8443/webservice/api.php"),
        ("https://agency.example/avidtrak", "https://agency.example/avidtrak/webservice/api.php"),
        ("https://agency.example/avidtrak/", "https://agency.example/avidtrak/webservice/api.php"),
        ("https://agency.example/tracking/webservice/api.php", "https://agency.example/tracking/webservice/api.php"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/webservice/api.php"),
        ("http://localhost:9000/", "http://localhost:9000/webservice/api.php"),
        ("http://[::1]:9000", "http://[::1]:9000/webservice/api.php"),
    ],
)
def test_given_base_url_when_parse_then_normalised_to_api_url(base_url, expected_api_url):
    assert parse_settings(ConfigBuilder().with_base_url(base_url).build()).api_url == expected_api_url


REJECTED = [
    ("empty-pin", ConfigBuilder().with_pin_code(""), "Pin Code"),
    ("blank-pin", ConfigBuilder().with_pin_code("   "), "Pin Code"),
    ("missing-pin", ConfigBuilder().without("pin_code"), "Pin Code"),
    ("empty-base-url", ConfigBuilder().with_base_url(" "), "Base URL"),
    ("base-url-number", ConfigBuilder().with_base_url(443), "Base URL must be text"),
    ("http-public-host", ConfigBuilder().with_base_url("http://avidtrak.com"), "Base URL must use https"),
    ("http-private-ip", ConfigBuilder().with_base_url("http://10.0.0.5"), "Base URL must use https"),
    ("ftp-scheme", ConfigBuilder().with_base_url("ftp://avidtrak.com"), "Base URL"),
    ("no-scheme", ConfigBuilder().with_base_url("avidtrak.com"), "Base URL"),
    ("credentials", ConfigBuilder().with_base_url("https://user:secret@avidtrak.com"), "Base URL"),
    ("query-string", ConfigBuilder().with_base_url("https://avidtrak.com/webservice/api.php?pincode=1"), "Base URL"),
    ("empty-query", ConfigBuilder().with_base_url("https://avidtrak.com?"), "Base URL"),
    ("fragment", ConfigBuilder().with_base_url("https://avidtrak.com/#login"), "Base URL"),
    ("no-reports", ConfigBuilder().with_reports(), "Report"),
    ("unknown-report", ConfigBuilder().with_reports("call_log"), "Report"),
    ("report-twice", ConfigBuilder().with_reports("geographical_data", "geographical_data"), "Report lists"),
    ("reports-a-string", ConfigBuilder().with_value("reports", "geographical_data"), "Report must be a list"),
    ("unknown-timezone", ConfigBuilder().with_timezone("Mars/Olympus_Mons"), "Time Zone"),
    ("timezone-path", ConfigBuilder().with_timezone("../etc/passwd"), "Time Zone"),
    ("unknown-duration-mode", ConfigBuilder().with_value("duration", {"mode": "last_week"}), "Duration"),
    ("duration-not-object", ConfigBuilder().with_value("duration", "yesterday"), "Duration"),
    ("impossible-date", ConfigBuilder().with_single_date("2026-02-30"), "Report Date"),
    ("not-a-date", ConfigBuilder().with_date_range("01/02/2026", "2026-02-03"), "Date From"),
    (
        "missing-date-to",
        ConfigBuilder().with_value(
            "duration", {"mode": "date_range", "date_from": {"mode": "relative", "date_from_offset": 3}}
        ),
        "Date To",
    ),
    ("negative-offset", ConfigBuilder().with_single_date(-1), "Report Date"),
    ("huge-offset", ConfigBuilder().with_date_range(3651, 1), "Date From"),
    ("bool-offset", ConfigBuilder().with_date_range(5, True), "Date To"),
    ("from-after-to-specific", ConfigBuilder().with_date_range("2026-11-20", "2026-11-10"), "Date From"),
    ("from-after-to-relative", ConfigBuilder().with_date_range(5, 10), "Date From"),
    ("from-after-to-mixed", ConfigBuilder().with_date_range("2026-11-25", 3), "Date From"),
    ("date-to-future-specific", ConfigBuilder().with_date_range("2026-11-20", "2026-11-27"), "Date To"),
    ("single-date-future", ConfigBuilder().with_single_date("2026-12-01"), "Date To"),
    ("lookback-too-large", ConfigBuilder().with_lookback_days(31), "Lookback Days"),
    ("window-zero", ConfigBuilder().with_window_days(0), "Window Days"),
    ("page-size-over-500", ConfigBuilder().with_page_size(501), "Page Size"),
    ("workers-zero", ConfigBuilder().with_num_workers(0), "Number of Workers"),
    ("workers-bool", ConfigBuilder().with_num_workers(True), "Number of Workers"),
    ("workers-string", ConfigBuilder().with_num_workers("3"), "Number of Workers"),
    ("rps-zero", ConfigBuilder().with_value("requests_per_second", 0), "Requests Per Second"),
    ("rps-negative", ConfigBuilder().with_value("requests_per_second", -2.5), "Requests Per Second"),
    ("rps-string", ConfigBuilder().with_value("requests_per_second", "5"), "Requests Per Second"),
    ("rps-bool", ConfigBuilder().with_value("requests_per_second", True), "Requests Per Second"),
    ("rps-infinite", ConfigBuilder().with_value("requests_per_second", float("inf")), "Requests Per Second"),
]


@pytest.mark.parametrize("builder, field", [case[1:] for case in REJECTED], ids=[case[0] for case in REJECTED])
def test_given_invalid_config_when_parse_then_config_error_names_field(builder, field):
    with pytest.raises(ConfigError) as raised:
        parse_settings(builder.build(), today=TODAY)

    assert raised.value.failure_type == FailureType.config_error
    assert field in raised.value.message
    assert PIN_CODE not in raised.value.message


def test_given_date_to_in_future_when_parse_then_message_states_today_and_time_zone():
    config = ConfigBuilder().with_single_date("2026-11-27").with_timezone("America/New_York").build()

    with pytest.raises(ConfigError, match=r"2026-11-27.*today is 2026-11-26 in America/New_York"):
        parse_settings(config, today=TODAY)


def test_given_relative_range_when_parse_without_today_then_range_not_checked_yet():
    """Cross-day checks need today in the account's zone; parse_settings alone cannot know it."""
    settings = parse_settings(ConfigBuilder().with_date_range(5, 10).build())

    with pytest.raises(ConfigError, match="Date From"):
        settings.resolve_range(TODAY)


def test_given_offset_at_maximum_when_parse_then_accepted():
    settings = parse_settings(ConfigBuilder().with_date_range(3650, 0).build(), today=TODAY)

    assert settings.resolve_range(TODAY) == (date(2016, 11, 28), TODAY)


def test_given_no_report_methods_when_parsed_then_the_assumed_method_names():
    settings = parse_settings({"pin_code": "abc"})

    assert dict(settings.methods) == {
        "geographical_data": "geographical_data",
        "offline_portal_calls": "offline_portal_calls",
    }


def test_given_one_report_method_overridden_when_parsed_then_it_and_the_other_default():
    settings = parse_settings({"pin_code": "abc", "report_methods": {"offline_portal_calls": "offline_calls_v2"}})

    assert dict(settings.methods) == {
        "geographical_data": "geographical_data",
        "offline_portal_calls": "offline_calls_v2",
    }


@pytest.mark.parametrize(
    "methods, message",
    [
        (
            {"geographical_data": "geo data"},
            "Report Method Names > Geographical Data must be a method name without spaces",
        ),
        ({"geographical_data": ""}, "Report Method Names > Geographical Data must be a method name without spaces"),
        ({"geographical_data": 7}, "got 7"),
        ({"calls": "x"}, "Report Method Names has no report 'calls'"),
        ("geographical_data", "Report Method Names must be an object"),
    ],
)
def test_given_bad_report_method_when_parsed_then_config_error_naming_the_setting(methods, message):
    with pytest.raises(ConfigError) as raised:
        parse_settings({"pin_code": "abc", "report_methods": methods})

    assert message in raised.value.message


def test_given_no_account_keys_when_parse_then_one_account_named_main_with_the_pin_code():
    settings = parse_settings(ConfigBuilder().build())

    assert [(account.name, account.pin_code) for account in settings.accounts] == [("main", PIN_CODE)]
    assert not settings.names_accounts


def test_given_client_accounts_when_parse_then_main_first_then_clients_in_order_names_stripped():
    config = (
        ConfigBuilder()
        .with_account_name(" agency ")
        .with_client_account(" client-7", " pin-7 ")
        .with_client_account("client-8", "pin-8")
        .build()
    )

    settings = parse_settings(config)

    assert [(a.name, a.pin_code) for a in settings.accounts] == [
        ("agency", PIN_CODE),
        ("client-7", "pin-7"),
        ("client-8", "pin-8"),
    ]
    assert settings.names_accounts


def test_given_an_account_when_repr_then_its_pin_code_is_not_in_it():
    settings = parse_settings(ConfigBuilder().with_client_account("client-7", "secret-pin-7").build())

    assert "secret-pin-7" not in repr(settings) and PIN_CODE not in repr(settings)


@pytest.mark.parametrize(
    "builder, expected",
    [
        (ConfigBuilder().with_value("client_accounts", "x"), 'Client Accounts must be a list of {"name": ...'),
        (ConfigBuilder().with_value("client_accounts", ["x"]), 'Client account 1 must be an object {"name": ...'),
        (ConfigBuilder().with_client_account("c", 7), "Client account 1 ('c'): the pin code must be text"),
        (ConfigBuilder().with_client_account("c", " "), "Client account 1 ('c') has an empty pin code."),
        (ConfigBuilder().with_client_account(5, "p"), "Client account 1 has a name that is not text"),
        (ConfigBuilder().with_client_account(" ", "p"), "Client account 1 has an empty name."),
        (ConfigBuilder().with_account_name(3), "Account Name must be a non-empty label"),
        (
            ConfigBuilder().with_client_account("A", "p1").with_client_account("a", "p2"),
            "Client Accounts: the name 'a' is used twice (names are compared ignoring case, 'A' is the other).",
        ),
    ],
)
def test_given_bad_accounts_when_parse_then_config_error_naming_the_account_never_the_pin(builder, expected):
    with pytest.raises(ConfigError) as raised:
        parse_settings(builder.build())

    assert raised.value.failure_type == FailureType.config_error
    assert expected in raised.value.message
    assert all(pin not in raised.value.message for pin in (PIN_CODE, "p1", "p2", "7"))


@pytest.mark.parametrize("value, expected", [(5, 5.0), (0.5, 0.5), (12.25, 12.25)])
def test_given_requests_per_second_when_parse_then_a_float_or_none(value, expected):
    settings = parse_settings(ConfigBuilder().with_value("requests_per_second", value).build(), today=TODAY)

    assert settings.requests_per_second == expected


def test_given_bad_requests_per_second_when_parse_then_message_says_what_is_allowed():
    with pytest.raises(ConfigError) as raised:
        parse_settings(ConfigBuilder().with_value("requests_per_second", 0).build(), today=TODAY)

    assert "a number greater than 0" in raised.value.message and "got 0" in raised.value.message


def test_given_reports_as_a_single_name_when_parse_then_says_a_list_is_expected_and_how_to_write_it():
    with pytest.raises(ConfigError) as raised:
        parse_settings(ConfigBuilder().with_value("reports", "geographical_data").build())

    message = raised.value.message
    assert "Report must be a list" in message and '["geographical_data"]' in message
    assert "Select at least one" not in message


@pytest.mark.parametrize("days_back, described", [(1, "1 day back"), (2, "2 days back"), (0, "0 days back")])
def test_given_relative_from_after_to_when_resolved_then_days_back_singular_or_plural(days_back, described):
    settings = parse_settings(ConfigBuilder().with_date_range(days_back, days_back + 1).build())

    with pytest.raises(ConfigError) as raised:
        settings.resolve_range(TODAY)

    assert f"Date From ({described}, " in raised.value.message


INTEGER_KEYS = [key for key in sorted(spec_schema.config_keys()) if spec_schema.field(key)["type"] == "integer"]


@pytest.mark.parametrize("key", INTEGER_KEYS)
def test_given_each_integer_setting_when_parsed_then_the_specs_default_bounds_and_title_apply(key):
    spec = spec_schema.field(key)
    low, high = spec["minimum"], spec["maximum"]

    assert getattr(parse_settings(ConfigBuilder().build()), key) == spec.get(
        "default"
    )  # window_days has none: sized by the data
    for accepted in (low, high):
        assert getattr(parse_settings(ConfigBuilder().with_value(key, accepted).build()), key) == accepted
    for rejected in (low - 1, high + 1):
        with pytest.raises(ConfigError) as raised:
            parse_settings(ConfigBuilder().with_value(key, rejected).build())
        assert raised.value.message.startswith(f"{spec['title']} must be a whole number from {low} to {high}")


def test_given_unknown_key_close_to_a_setting_when_checked_then_one_warning_naming_the_setting():
    [warning] = unknown_key_warnings({"pin_code": "p", "lookback_day": 5})

    assert "'lookback_day'" in warning and "ignored" in warning
    assert "Did you mean 'lookback_days' (Lookback Days)?" in warning


def test_given_unknown_key_like_no_setting_when_checked_then_a_warning_without_a_guess():
    [warning] = unknown_key_warnings({"pin_code": "p", "color": "blue"})

    assert "'color'" in warning and "ignored" in warning and "Did you mean" not in warning


def test_given_only_known_keys_when_checked_then_no_warning():
    assert unknown_key_warnings(ConfigBuilder().with_lookback_days(2).with_num_workers(3).build()) == []


@pytest.mark.parametrize("key", sorted(spec_schema.config_keys() - {"pin_code"}))
def test_given_a_setting_set_to_null_when_parse_then_config_error_naming_it_and_how_to_use_the_default(key):
    """The spec's types allow no null: the CDK's schema check would reject it without naming the field."""
    with pytest.raises(ConfigError) as raised:
        parse_settings(ConfigBuilder().with_value(key, None).build())

    assert raised.value.message.startswith(f"{spec_schema.field(key)['title']} is null.")
    assert f"Leave the key {key!r} out to use its default" in raised.value.message


@pytest.mark.parametrize(
    "duration, expected",
    [({}, "Duration has no 'mode'. Add one of: yesterday, single_date, date_range."), ({"mode": "week"}, "'week'")],
)
def test_given_duration_without_a_known_mode_when_parse_then_the_modes_are_listed(duration, expected):
    with pytest.raises(ConfigError) as raised:
        parse_settings(ConfigBuilder().with_value("duration", duration).build())

    assert expected in raised.value.message and "yesterday, single_date, date_range" in raised.value.message
