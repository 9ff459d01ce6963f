"""A small builder for connector configs, in the shape of the spec's public keys.

Dates are ISO strings (`"2026-11-20"`) for a specific day and ints for a relative day
(a number of days back from today), so a test reads like the Duration pane in the UI.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Union

PIN_CODE = "0042-pin/ab+c"  # "/" and "+" make the URL-encoded pin differ from the raw one
BASE_URL = "https://avidtrak.com"
API_URL = "https://avidtrak.com/webservice/api.php"
GEOGRAPHICAL_DATA = "geographical_data"
OFFLINE_PORTAL_CALLS = "offline_portal_calls"

DayRef = Union[str, int]


def report_date(day: DayRef) -> Dict[str, Any]:
    if isinstance(day, int):
        return {"mode": "relative", "date_offset": day}
    return {"mode": "specific", "specific_date": day}


def date_from(day: DayRef) -> Dict[str, Any]:
    if isinstance(day, int):
        return {"mode": "relative", "date_from_offset": day}
    return {"mode": "specific", "specific_date_from": day}


def date_to(day: DayRef) -> Dict[str, Any]:
    if isinstance(day, int):
        return {"mode": "relative", "date_to_offset": day}
    return {"mode": "specific", "specific_date_to": day}


class ConfigBuilder:
    """Starts from the required keys only, so every default is the connector's own."""

    def __init__(self) -> None:
        self._config: Dict[str, Any] = {"pin_code": PIN_CODE, "base_url": BASE_URL}

    def with_pin_code(self, pin_code: Any) -> ConfigBuilder:
        return self.with_value("pin_code", pin_code)

    def with_base_url(self, base_url: Any) -> ConfigBuilder:
        return self.with_value("base_url", base_url)

    def with_reports(self, *reports: str) -> ConfigBuilder:
        return self.with_value("reports", list(reports))

    def with_yesterday(self) -> ConfigBuilder:
        return self.with_value("duration", {"mode": "yesterday"})

    def with_single_date(self, day: DayRef) -> ConfigBuilder:
        return self.with_value("duration", {"mode": "single_date", "report_date": report_date(day)})

    def with_date_range(self, first: DayRef, last: DayRef) -> ConfigBuilder:
        duration = {"mode": "date_range", "date_from": date_from(first), "date_to": date_to(last)}
        return self.with_value("duration", duration)

    def with_timezone(self, name: str) -> ConfigBuilder:
        return self.with_value("timezone", name)

    def with_lookback_days(self, days: int) -> ConfigBuilder:
        return self.with_value("lookback_days", days)

    def with_window_days(self, days: int) -> ConfigBuilder:
        return self.with_value("window_days", days)

    def with_page_size(self, rows: int) -> ConfigBuilder:
        return self.with_value("page_size", rows)

    def with_num_workers(self, workers: int) -> ConfigBuilder:
        return self.with_value("num_workers", workers)

    def with_account_name(self, name: Any) -> ConfigBuilder:
        return self.with_value("account_name", name)

    def with_client_account(self, name: Any, pin_code: Any) -> ConfigBuilder:
        self._config.setdefault("client_accounts", []).append({"name": name, "pin_code": pin_code})
        return self

    def with_value(self, key: str, value: Any) -> ConfigBuilder:
        self._config[key] = value
        return self

    def without(self, key: str) -> ConfigBuilder:
        self._config.pop(key, None)
        return self

    def build(self) -> Dict[str, Any]:
        return copy.deepcopy(self._config)
