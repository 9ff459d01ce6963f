"""The AvidTrak reports this connector syncs: one registry, everything else derives from it.

Each report is a stream named like its spec value (`reports` enum in spec.yaml), with
Domo's title (the enum's `x-enum-titles`), an API method (assumed: api.py) and a schema
file `schemas/<name>.json`. Config parsing, discover and the stream classes read this
tuple; unit_tests/test_reports.py fails when spec.yaml, schemas/ or streams.py disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from source_avidtrak import api


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    method: str

    @property
    def schema_file(self) -> str:
        return f"schemas/{self.name}.json"


GEOGRAPHICAL_DATA = Report("geographical_data", "Geographical Data", api.METHOD_GEOGRAPHICAL_DATA)
OFFLINE_PORTAL_CALLS = Report("offline_portal_calls", "Offline Portal Calls", api.METHOD_OFFLINE_PORTAL_CALLS)

REPORTS: Tuple[Report, ...] = (GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS)
REPORT_NAMES: Tuple[str, ...] = tuple(report.name for report in REPORTS)
