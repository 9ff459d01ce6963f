"""RecordTyper: wire rows (all strings) -> records typed per the stream schema.

The connector replaces the CDK's TypeTransformer with RecordTyper for speed; the
equivalence tests pin the promise that, for valid values, both give the same records.
"""

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from airbyte_cdk.sources.utils.transform import TransformConfig, TypeTransformer
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import source_avidtrak
from source_avidtrak import api
from source_avidtrak.records import ACCOUNT_FIELD, UNPARSED_FIELD, RecordTyper
from unit_tests.integration.response_builder import row

SCHEMAS = Path(source_avidtrak.__file__).parent / "schemas"


def schema(report: str) -> dict:
    return json.loads((SCHEMAS / f"{report}.json").read_text(encoding="utf-8"))


def typed(report: str, raw: dict):
    problems = Counter()
    return RecordTyper(schema(report)).type_row(raw, problems), problems


def test_given_offline_portal_call_when_typed_then_duration_int_and_iso_call_date():
    record, problems = typed("offline_portal_calls", row("offline_portal_calls", recording_url=""))

    assert record["duration"] == 187 and isinstance(record["duration"], int)
    assert record["call_date"] == "2026-11-25T09:15:42"
    assert record["recording_url"] is None
    assert record["caller_name"] == "Zoë O'Brien"
    assert record["campaign"] == "Radio – WXYZ"
    assert UNPARSED_FIELD not in record and not problems


def test_given_geographical_row_when_typed_then_coordinates_float_and_zip_keeps_leading_zero():
    record, problems = typed("geographical_data", row("geographical_data"))

    assert (record["latitude"], record["longitude"]) == (42.3601, -71.0589)
    assert all(isinstance(record[name], float) for name in ("latitude", "longitude"))
    assert record["zip"] == "02108"
    assert record["caller_number"] == "6175550100" and record["call_id"] == "GD-1001"
    assert record["campaign"] == 'Boston "Spring" mailer'
    assert not problems


def test_given_empty_strings_when_typed_then_null_in_every_field():
    raw = dict.fromkeys(row("offline_portal_calls"), "")

    record, problems = typed("offline_portal_calls", {**raw, "call_id": "X1"})

    assert {name: value for name, value in record.items() if name != "call_id"} == dict.fromkeys(
        [name for name in raw if name != "call_id"], None
    )
    assert UNPARSED_FIELD not in record and not problems


def test_given_extra_fields_when_typed_then_passed_through_untouched():
    record, _ = typed("geographical_data", row("geographical_data", keyword="plumber \\/ 24h", score="07"))

    assert record["keyword"] == "plumber \\/ 24h"
    assert record["score"] == "07"


def test_given_escaped_slashes_in_body_when_parsed_and_typed_then_plain_slashes():
    body = b'{"code":1,"status":"Success","data":[{"call_id":"1","recording_url":"https:\\/\\/a.example\\/r.mp3"}]}'

    record, _ = typed("offline_portal_calls", api.parse_envelope(body).rows[0])

    assert record["recording_url"] == "https://a.example/r.mp3"


@pytest.mark.parametrize(
    "report, field, raw",
    [
        ("offline_portal_calls", "duration", "12s"),
        ("offline_portal_calls", "duration", "12.5"),
        ("offline_portal_calls", "call_date", "yesterday"),
        ("offline_portal_calls", "call_date", "2026-02-30 10:00:00"),
        ("geographical_data", "latitude", "north"),
        ("geographical_data", "latitude", "NaN"),
        ("geographical_data", "longitude", "inf"),
        ("geographical_data", "longitude", "1e400"),
    ],
)
def test_given_unparseable_value_when_typed_then_null_raw_kept_and_counted(report, field, raw):
    record, problems = typed(report, row(report, **{field: raw}))

    assert record[field] is None
    assert record[UNPARSED_FIELD] == {field: raw}
    assert problems == Counter({field: 1})


def test_given_two_unparseable_fields_when_typed_then_both_kept():
    record, problems = typed("geographical_data", row("geographical_data", latitude="?", longitude="!"))

    assert record[UNPARSED_FIELD] == {"latitude": "?", "longitude": "!"}
    assert problems == Counter({"latitude": 1, "longitude": 1})


def test_given_whole_number_with_decimal_point_when_typed_then_integer():
    record, problems = typed("offline_portal_calls", row("offline_portal_calls", duration="60.0"))

    assert record["duration"] == 60 and not problems


@pytest.mark.parametrize(
    "raw", [{"call_date": "2026-11-25 10:00:00"}, {"call_id": "", "call_date": "2026-11-25 10:00:00"}]
)
def test_given_row_without_call_id_when_typed_then_emitted_and_counted(raw):
    records, problems = RecordTyper(schema("geographical_data")).type_rows([raw, row("geographical_data")], "main")

    assert records[0].get("call_id") is None
    assert records[0]["call_date"] == "2026-11-25T10:00:00"
    assert problems == Counter({"call_id": 1})


def _cdk_typed(report: str, raw: dict) -> dict:
    """What the CDK's default normalisation gives for the same row, after "" -> null."""
    record = {key: (None if value == "" else value) for key, value in raw.items()}
    TypeTransformer(TransformConfig.DefaultSchemaNormalization).transform(record, schema(report))
    return record


def _same_instant(ours: dict, cdk: dict, report: str) -> None:
    """The CDK keeps date-times as sent; RecordTyper writes the ISO form of the same instant."""
    for name, field_schema in schema(report)["properties"].items():
        if field_schema.get("format") == "date-time" and cdk.get(name) is not None:
            assert ours[name] == datetime.fromisoformat(cdk[name]).isoformat()
            cdk[name] = ours[name]


def _valid_rows(report: str):
    fields = {}
    for name, field_schema in schema(report)["properties"].items():
        types = field_schema["type"]
        if name in (UNPARSED_FIELD, ACCOUNT_FIELD):  # the connector's own fields, not AvidTrak's
            continue
        if "integer" in types:
            fields[name] = st.integers(min_value=-(10**30), max_value=10**30).map(str)
        elif "number" in types:
            fields[name] = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.integers().map(str))
        elif field_schema.get("format") == "date-time":
            moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
            fields[name] = moments.map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S"))
        else:
            fields[name] = st.text(max_size=12)
        fields[name] = st.one_of(st.just(""), fields[name])
    extra = st.dictionaries(st.sampled_from(["keyword", "source", "notes"]), st.text(max_size=8), max_size=2)
    return st.tuples(st.fixed_dictionaries(fields), extra).map(lambda pair: {**pair[0], **pair[1]})


@pytest.mark.parametrize("report", ["geographical_data", "offline_portal_calls"])
def test_given_valid_rows_when_typed_then_same_values_as_cdk_type_transformer(report):
    @hypothesis_settings(max_examples=150, deadline=None)
    @given(raw=_valid_rows(report))
    def check(raw):
        ours, _ = typed(report, raw)
        cdk = _cdk_typed(report, raw)
        _same_instant(ours, cdk, report)
        assert ours == cdk
        assert {key: type(value) for key, value in ours.items()} == {key: type(value) for key, value in cdk.items()}

    check()


@pytest.mark.parametrize("report", ["geographical_data", "offline_portal_calls"])
def test_given_template_row_when_typed_then_same_values_as_cdk_type_transformer(report):
    raw = row(report)
    ours, _ = typed(report, raw)
    cdk = _cdk_typed(report, raw)

    _same_instant(ours, cdk, report)

    assert ours == cdk


def test_given_integer_beyond_float_precision_when_typed_then_exact():
    record, _ = typed("offline_portal_calls", row("offline_portal_calls", duration="9007199254740993"))

    assert record["duration"] == 9007199254740993


@pytest.mark.parametrize(
    "field, value, expected, unparsed",
    [("duration", 60, 60, None), ("duration", 12.5, None, "12.5"), ("duration", True, None, "True")],
)
def test_given_json_number_instead_of_string_when_typed_then_same_rules(field, value, expected, unparsed):
    record, _ = typed("offline_portal_calls", row("offline_portal_calls", **{field: value}))

    assert record[field] == expected
    assert record.get(UNPARSED_FIELD, {}).get(field) == unparsed


@pytest.mark.parametrize("recording_url", ["", "https://calls.example/1.mp3"], ids=["with-empty-value", "without"])
def test_given_a_row_when_typed_then_the_row_itself_is_unchanged(recording_url):
    raw = row("offline_portal_calls", recording_url=recording_url)
    before = dict(raw)

    records, _ = RecordTyper(schema("offline_portal_calls")).type_rows([raw], "main")

    assert raw == before, "typing must copy the row, not convert it in place"
    assert records[0]["duration"] == 187 and records[0][ACCOUNT_FIELD] == "main"
