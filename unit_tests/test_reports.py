"""One registry of reports (reports.py): spec.yaml, schemas/, the stream classes and discover agree."""

from __future__ import annotations

import logging
from importlib import resources

from source_avidtrak import SourceAvidtrak
from source_avidtrak.reports import REPORT_NAMES, REPORTS
from source_avidtrak.streams import STREAM_CLASSES

SPEC = SourceAvidtrak().spec(logging.getLogger("test")).connectionSpecification


def test_given_registry_when_compared_with_spec_then_enum_titles_and_default_match():
    reports = SPEC["properties"]["reports"]

    assert reports["items"]["enum"] == list(REPORT_NAMES)
    assert reports["items"]["x-enum-titles"] == [report.title for report in REPORTS]
    assert reports["default"] == list(REPORT_NAMES)


def test_given_registry_when_compared_with_schema_files_then_one_file_per_report_and_no_other():
    package = resources.files("source_avidtrak")
    on_disk = sorted(
        f"schemas/{entry.name}" for entry in (package / "schemas").iterdir() if entry.name.endswith(".json")
    )

    assert on_disk == sorted(report.schema_file for report in REPORTS)


def test_given_registry_when_compared_with_stream_classes_then_each_report_has_its_class():
    assert list(STREAM_CLASSES) == list(REPORT_NAMES)
    assert all(STREAM_CLASSES[report.name].report is report for report in REPORTS)


def test_given_default_config_when_discovered_then_streams_are_the_registry_in_order():
    catalog = SourceAvidtrak().discover(logging.getLogger("test"), {"pin_code": "abc"})

    assert [stream.name for stream in catalog.streams] == list(REPORT_NAMES)
