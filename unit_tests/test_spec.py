"""The connection specification: Airbyte's UI rules for every property, and no drift from config.py.

"No drift" is checked by reading a config through a recording mapping: the keys
parse_settings actually reads, at every level and in every oneOf branch, must be
exactly the spec's keys (Twilio shipped `num_worker` in its spec while the code read
`num_workers`).
"""

import logging
from typing import Any, Dict, Iterator, Set, Tuple

import jsonschema
import pytest

from source_avidtrak import SourceAvidtrak, api, spec_schema
from source_avidtrak.config import ConfigError, parse_settings
from source_avidtrak.reports import REPORT_NAMES
from unit_tests.integration.config_builder import ConfigBuilder

Path = Tuple[str, ...]


@pytest.fixture(scope="module")
def spec() -> Dict[str, Any]:
    return SourceAvidtrak().spec(logging.getLogger("test")).connectionSpecification


def walk(properties: Dict[str, Any], path: Path = ()) -> Iterator[Tuple[Path, Dict[str, Any]]]:
    """Every property, with its key path; oneOf options' properties share their parent's path."""
    for name, schema in properties.items():
        yield path + (name,), schema
        yield from walk(schema.get("properties", {}), path + (name,))
        for option in schema.get("oneOf", []):
            yield from walk(option.get("properties", {}), path + (name,))


def options(spec: Dict[str, Any]) -> Iterator[Tuple[Path, Dict[str, Any]]]:
    for path, schema in walk(spec["properties"]):
        for option in schema.get("oneOf", []):
            yield path, option


def is_mode_const(schema: Dict[str, Any]) -> bool:
    return "const" in schema


def test_given_spec_when_checked_then_valid_draft7_schema(spec):
    jsonschema.Draft7Validator.check_schema(spec)


def test_given_every_property_when_checked_then_title_description_order_examples(spec):
    missing = [
        (".".join(path), key)
        for path, schema in walk(spec["properties"])
        if not is_mode_const(schema)
        for key in ("title", "description", "order", "examples")
        if key not in schema
    ]
    assert missing == []


def test_given_every_example_when_validated_then_matches_its_property(spec):
    for path, schema in walk(spec["properties"]):
        for example in schema.get("examples", []):
            errors = list(jsonschema.Draft7Validator(schema).iter_errors(example))
            assert errors == [], (path, example)


def test_given_each_level_when_checked_then_orders_unique(spec):
    levels = [spec["properties"]] + [option["properties"] for _, option in options(spec)]
    for properties in levels:
        orders = [schema["order"] for schema in properties.values()]
        assert len(orders) == len(set(orders)), properties.keys()


def test_given_oneof_options_when_checked_then_each_has_required_mode_const_with_order_0(spec):
    checked = 0
    for path, option in options(spec):
        mode = option["properties"]["mode"]
        assert "mode" in option["required"], path
        assert mode["type"] == "string" and mode["order"] == 0 and isinstance(mode["const"], str), path
        assert option.get("title"), path
        checked += 1
    assert checked == 9  # Duration: 3 options; Report Date, Date From, Date To: 2 each


def test_given_oneof_when_checked_then_mode_consts_distinct(spec):
    for path, schema in walk(spec["properties"]):
        consts = [option["properties"]["mode"]["const"] for option in schema.get("oneOf", [])]
        assert len(consts) == len(set(consts)), path


def test_given_pin_code_when_checked_then_only_secret(spec):
    secrets = [path for path, schema in walk(spec["properties"]) if schema.get("airbyte_secret")]
    assert secrets == [("pin_code",)]


def test_given_groups_when_checked_then_credentials_and_details_hold_domo_panes(spec):
    groups = {group["id"]: group["title"] for group in spec["groups"]}
    assert {"credentials", "details"} <= set(groups)
    by_property = {name: schema.get("group") for name, schema in spec["properties"].items()}
    assert set(by_property.values()) <= set(groups)
    assert by_property["pin_code"] == by_property["base_url"] == "credentials"
    assert by_property["reports"] == by_property["duration"] == "details"


def option_value_paths(spec: Dict[str, Any]) -> Set[Path]:
    """Paths of the values inside Duration's oneOf options (dates and offsets)."""
    return {path for path, schema in walk(spec["properties"]) if path[0] == "duration" and len(path) == 3}


def test_given_date_and_integer_properties_when_checked_then_format_and_bounds_where_the_cdk_checks_them(spec):
    inside_options = option_value_paths(spec)
    for path, schema in walk(spec["properties"]):
        if path[-1].startswith("specific_date"):
            assert schema["format"] == "date" and schema["pattern_descriptor"] == "YYYY-MM-DD", path
        if schema.get("type") == "integer" and path not in inside_options:
            assert "minimum" in schema and "maximum" in schema, path
        if path in inside_options:
            # spec.yaml says why: the CDK's oneOf message would pre-empt the connector's.
            assert not {"pattern", "minimum", "maximum"} & set(schema), path


@pytest.mark.parametrize(
    "duration, message",
    [
        (
            {"mode": "single_date", "report_date": {"mode": "specific", "specific_date": "11/01/2026"}},
            "Report Date '11/01/2026' is not a real date: use YYYY-MM-DD",
        ),
        (
            {"mode": "single_date", "report_date": {"mode": "relative", "date_offset": -1}},
            "Report Date offset must be a whole number of days back from 0 to 3650; got -1",
        ),
        (
            {
                "mode": "date_range",
                "date_from": {"mode": "relative", "date_from_offset": 3651},
                "date_to": {"mode": "relative", "date_to_offset": 0},
            },
            "Date From offset must be a whole number of days back from 0 to 3650; got 3651",
        ),
        (
            {
                "mode": "date_range",
                "date_from": {"mode": "relative", "date_from_offset": 1},
                "date_to": {"mode": "specific", "specific_date_to": "2026-1-5"},
            },
            "Date To '2026-1-5' is not a real date: use YYYY-MM-DD",
        ),
    ],
)
def test_given_value_the_spec_leaves_unchecked_inside_an_option_when_parsed_then_config_error_naming_it(
    spec, duration, message
):
    config = {"pin_code": "abc", "duration": duration}
    jsonschema.validate(config, spec, cls=jsonschema.Draft7Validator)  # the CDK lets it through...

    with pytest.raises(ConfigError) as raised:  # ...and the connector names the field
        parse_settings(config)

    assert message in raised.value.message


class Recorder(dict):
    """A dict that records every key read from it (and from dicts nested in it)."""

    def __init__(self, data: Dict[str, Any], reads: Set[Path], path: Path = ()) -> None:
        super().__init__(
            {
                key: Recorder(value, reads, path + (key,)) if isinstance(value, dict) else value
                for key, value in data.items()
            }
        )
        self._reads, self._path = reads, path

    def get(self, key, default=None):
        self._reads.add(self._path + (key,))
        return super().get(key, default)

    def __getitem__(self, key):
        self._reads.add(self._path + (key,))
        return super().__getitem__(key)


EVERY_BRANCH = [
    ConfigBuilder().with_yesterday(),
    ConfigBuilder().with_single_date("2026-11-01"),
    ConfigBuilder().with_single_date(2),
    ConfigBuilder().with_date_range("2026-11-01", "2026-11-02"),
    ConfigBuilder().with_date_range(10, 5),
]


def test_given_configs_for_every_branch_when_parsed_then_keys_read_equal_spec_keys(spec):
    reads: Set[Path] = set()
    for builder in EVERY_BRANCH:
        config = builder.with_reports("geographical_data").with_timezone("UTC").with_lookback_days(1)
        config = config.with_window_days(1).with_page_size(10).with_num_workers(2).build()
        config["report_methods"] = {"geographical_data": "geo", "offline_portal_calls": "opc"}
        parse_settings(Recorder(config, reads))

    assert reads == {path for path, _ in walk(spec["properties"])}


@pytest.mark.parametrize("builder", EVERY_BRANCH)
def test_given_builder_config_when_validated_against_spec_then_valid(spec, builder):
    jsonschema.validate(builder.build(), spec, cls=jsonschema.Draft7Validator)


def test_given_spec_when_compared_with_the_code_then_reports_page_size_and_offsets_agree(spec):
    """Where the code, not the spec, states a value: the report registry, the API's page limit."""
    properties = spec["properties"]
    assert properties["reports"]["default"] == list(REPORT_NAMES)
    assert properties["reports"]["items"]["enum"] == list(REPORT_NAMES)
    assert properties["duration"]["default"] == {"mode": "yesterday"}
    assert properties["page_size"]["maximum"] == api.MAX_PAGE_SIZE
    offsets = [schema for path, schema in walk(properties) if path[-1].endswith("offset")]
    assert len(offsets) == 3 and all(schema["type"] == "integer" for schema in offsets)
    assert "pin_code" in spec["required"] and "base_url" not in spec["required"]


def test_given_the_packaged_spec_when_loaded_once_then_it_is_the_spec_the_cdk_serves(spec):
    assert spec_schema.connection_specification() == spec
    assert spec_schema.connector_specification().connectionSpecification == spec
    assert spec_schema.config_keys() == set(spec["properties"])


def test_given_a_path_when_looked_up_then_oneof_options_count_as_their_parent(spec):
    assert spec_schema.field("duration", "date_from", "date_from_offset")["title"] == "Date From Offset"
    assert spec_schema.field("lookback_days") is spec_schema.connection_specification()["properties"]["lookback_days"]
    with pytest.raises(KeyError, match=r"duration\.date_from\.offset"):
        spec_schema.field("duration", "date_from", "offset")


def test_given_each_top_level_title_when_a_value_is_wrong_then_the_message_uses_the_specs_title(spec):
    wrong = {
        "base_url": "ftp://x",
        "account_name": " ",
        "client_accounts": "x",
        "reports": [],
        "duration": "x",
        "timezone": "Mars/Base",
        "lookback_days": -1,
        "window_days": 0,
        "page_size": 0,
        "num_workers": 0,
        "report_methods": "x",
        "requests_per_second": 0,
    }
    assert set(wrong) | {"pin_code"} == set(spec["properties"])  # a new key needs a case here
    for key, value in wrong.items():
        with pytest.raises(ConfigError) as raised:
            parse_settings({"pin_code": "abc", key: value})
        assert spec["properties"][key]["title"] in raised.value.message, key


def test_given_spec_defaults_filled_in_when_parsed_then_same_settings_as_omitting_them(spec):
    minimal = {"pin_code": "abc"}
    with_defaults = {name: schema["default"] for name, schema in spec["properties"].items() if "default" in schema}

    assert parse_settings({**with_defaults, **minimal}) == parse_settings(minimal)
