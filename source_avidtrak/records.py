"""Rows (all strings on the wire) -> typed records that match the stream's JSON schema.

Replaces the CDK's generic TypeTransformer, most of the per-record cost when profiled;
unit tests check both give the same records for schema fields. The rules (the manual's
Data type map): "" is null in every field; fields the schema does not list pass through;
a value that does not convert is null, its raw text kept under `_avidtrak_unparsed`, and
counted; a row without `call_id` is emitted and counted. Every record carries `account`
(over any field of that name): call ids are unique per account, so the primary key is
`["account", "call_id"]`.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from source_avidtrak import api

UNPARSED_FIELD = "_avidtrak_unparsed"
ACCOUNT_FIELD = "account"
PRIMARY_KEY = [ACCOUNT_FIELD, api.PRIMARY_KEY]
# value[4::3] of `YYYY-mm-dd HH:MM:SS`: the characters at 4, 7, 10, 13 and 16.
AVIDTRAK_DATETIME_SEPARATORS = "-- ::"

Converter = Callable[[Any], Any]


def to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)  # exact for any size; float() below would round past 2**53
        except ValueError:
            pass
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def to_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("boolean")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def to_iso_datetime(value: Any) -> str:
    """`2026-11-25 14:03:00` -> `2026-11-25T14:03:00` (local time, no zone added).

    AvidTrak's own shape (ASCII, `-` `-` ` ` `:` `:` where YYYY-MM-DD HH:MM:SS has them)
    skips isoformat(), a third of this function's time: once fromisoformat accepts such a
    value, isoformat() would give back the same digits with a `T`. Every other value takes
    the general path; unit_tests/test_properties.py checks both give the same answer.
    """
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date-time string")
    if len(value) == 19 and value.isascii() and value[4::3] == AVIDTRAK_DATETIME_SEPARATORS:
        datetime.fromisoformat(value)  # validates: a ValueError for 2026-02-30 or 25:00:00
        return value[:10] + "T" + value[11:]
    return datetime.fromisoformat(value.strip()).isoformat()


def _is_plain_string(field_schema: Mapping[str, Any]) -> bool:
    types = field_schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    return "string" in types and field_schema.get("format") is None


def _converter_for(field_schema: Mapping[str, Any]) -> Converter | None:
    types = field_schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "integer" in types:
        return to_integer
    if "number" in types:
        return to_number
    if "string" in types and field_schema.get("format") == "date-time":
        return to_iso_datetime
    return None


def to_string(value: Any) -> str:
    """A number where the schema says string (`"call_id": 12345`) becomes its digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{type(value).__name__} is not a string")
    return str(value)


class RecordTyper:
    """Types rows for one schema. Stateless after construction, so threads may share it."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        properties = schema.get("properties", {})
        # Plain string fields: only a value that is not already a string costs a call.
        self._string_fields: Tuple[str, ...] = tuple(
            name
            for name, field_schema in properties.items()
            if name != ACCOUNT_FIELD and _is_plain_string(field_schema)
        )
        self._converters: Tuple[Tuple[str, Converter], ...] = tuple(
            (name, converter)
            for name, field_schema in properties.items()
            if (converter := _converter_for(field_schema)) is not None
        )

    def type_rows(self, rows: List[Mapping[str, Any]], account: str) -> Tuple[List[Dict[str, Any]], Counter[str]]:
        """The typed records of `account`, and a count by field of the values that could not be typed."""
        problems: Counter[str] = Counter()
        type_row = self.type_row
        return [type_row(row, problems, account) for row in rows], problems

    def type_row(self, row: Mapping[str, Any], problems: Counter[str], account: Optional[str] = None) -> Dict[str, Any]:
        # Most rows have no "": a C-level scan and a copy cost a third of the comprehension.
        if "" in row.values():
            record = {key: (None if value == "" else value) for key, value in row.items()}
        else:
            record = dict(row)
        for name in self._string_fields:
            value = record.get(name)
            if value is not None and type(value) is not str:
                self._convert(record, name, to_string, problems)
        for name, convert in self._converters:
            value = record.get(name)
            if value is None:
                continue
            try:  # inline: a call less per converted field than _convert
                record[name] = convert(value)
            except (ValueError, TypeError, OverflowError):
                self._keep_unparsed(record, name, value, problems)
        if record.get(api.PRIMARY_KEY) is None:
            problems[api.PRIMARY_KEY] += 1
        if account is not None:  # set here, not in a second pass over the page's records
            record[ACCOUNT_FIELD] = account
        return record

    @classmethod
    def _convert(cls, record: Dict[str, Any], name: str, convert: Converter, problems: Counter[str]) -> None:
        value = record[name]
        try:
            record[name] = convert(value)
        except (ValueError, TypeError, OverflowError):
            cls._keep_unparsed(record, name, value, problems)

    @staticmethod
    def _keep_unparsed(record: Dict[str, Any], name: str, value: Any, problems: Counter[str]) -> None:
        record[name] = None
        unparsed = record.get(UNPARSED_FIELD)
        if not isinstance(unparsed, dict):  # the name is the connector's: a row's own value there yields
            unparsed = record[UNPARSED_FIELD] = {}
        unparsed[name] = value if isinstance(value, str) else str(value)
        problems[name] += 1
