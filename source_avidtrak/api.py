"""The AvidTrak API contract, in one place.

Every name here mirrors docs/avidtrak-api.md. Names marked *assumed* could not be
confirmed from AvidTrak's public REST page (the report sections were unreachable): they
are modelled on the documented SOAP API and listed in the README so a user with a live
account can check them. Change them here and nowhere else.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any, List, Mapping, Union

import requests

# Endpoint (documented).
API_PATH = "/webservice/api.php"
API_SCRIPT = "api.php"
PARAM_PIN = "pincode"
PARAM_METHOD = "method"
PARAM_FORMAT = "format"
FORMAT_JSON = "json"

# Report methods (assumed).
METHOD_GEOGRAPHICAL_DATA = "geographical_data"
METHOD_OFFLINE_PORTAL_CALLS = "offline_portal_calls"

# Date window and paging (assumed, from the SOAP API).
PARAM_START = "startdate"
PARAM_END = "enddate"
REQUEST_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DAY_START_TIME = "00:00:00"
DAY_END_TIME = "23:59:59"
PARAM_USE_PAGING = "use_paging"
USE_PAGING_ON = "TRUE"
PARAM_PER_PAGE = "perpage"
PARAM_PAGE = "page"
FIRST_PAGE = 1
MAX_PAGE_SIZE = 500

# Rows (assumed): primary key and cursor of both reports.
PRIMARY_KEY = "call_id"
CURSOR_FIELD = "call_date"

# Envelope codes (documented). The docs use both numbers for success and for a bad pin.
SUCCESS_CODES = frozenset({1, 200})
NO_DATA_CODE = 0
AUTH_REQUIRED_CODE = 3
AUTH_FAILED_CODES = frozenset({4, 401})
BAD_FORMAT_CODE = 6
BAD_METHOD_CODE = 404


class MalformedResponse(ValueError):
    """The body is not an AvidTrak JSON envelope (a proxy page, a cut-off body): transient."""


class UnexpectedShape(MalformedResponse):
    """The body is valid JSON but not shaped like an envelope: a retry rarely changes that."""


@dataclass(frozen=True)
class Envelope:
    """One parsed response: `rows` is empty for code 0 and for every non-success code."""

    code: int
    status: str
    rows: List[Mapping[str, Any]]

    @property
    def is_success(self) -> bool:
        return self.code in SUCCESS_CODES

    @property
    def is_no_data(self) -> bool:
        return self.code == NO_DATA_CODE


def parse_envelope(body: bytes) -> Envelope:
    """Parses `{"code", "status", "data"}`; raises MalformedResponse for anything else.

    `data` may be a list of row objects or null (code 0 sends null). A body whose code is
    not an integer, or whose data is neither, is malformed, never guessed at.
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise MalformedResponse(f"the body is not JSON ({_preview(body)})") from error
    if not isinstance(document, dict):
        raise UnexpectedShape(f"the body is JSON {_json_kind(document)} {_preview_json(document)}, not an object")
    code = _parse_code(document.get("code"))
    status = document.get("status")
    status = status if isinstance(status, str) else ""
    data = document.get("data")
    if data is None or (data == "" and code not in SUCCESS_CODES):
        return Envelope(code, status, [])
    if isinstance(data, dict) and data and all(isinstance(key, str) and key.isdecimal() for key in data):
        # PHP's json_encode turns an array whose keys are not 0..n-1 into {"0": ..., "1": ...}.
        data = [data[key] for key in sorted(data, key=int)]
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise UnexpectedShape(f"'data' is {_json_kind(data)} {_preview_json(data)}, not a list of rows")
    return Envelope(code, status, data if code in SUCCESS_CODES else [])


def _parse_code(raw: Any) -> int:
    if isinstance(raw, bool):
        raise MalformedResponse("'code' is a boolean, not an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw)
        except ValueError:  # "--5", "²", or more digits than int() converts
            pass
    raise MalformedResponse(f"'code' is {raw!r:.40}, not an integer")


def _json_kind(value: Any) -> str:
    kinds = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    return kinds.get(type(value), "null")


def _preview_json(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _preview(body: bytes, limit: int = 80) -> str:
    text = body[:limit].decode("utf-8", errors="replace").strip()
    return repr(text) if text else "empty body"


class ResponseEnvelopes:
    """Parses each response body once: the error handler decides on it, the stream reads it.

    Keyed weakly by the response, so an entry lives exactly as long as the CDK holds the
    response; a malformed body is remembered as its error.
    """

    def __init__(self) -> None:
        self._parsed: weakref.WeakKeyDictionary[requests.Response, Union[Envelope, MalformedResponse]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, response: requests.Response) -> Envelope:
        parsed = self._parsed.get(response)
        if parsed is None:
            try:
                parsed = parse_envelope(response.content)
            except MalformedResponse as error:
                parsed = error
            self._parsed[response] = parsed
        if isinstance(parsed, MalformedResponse):
            raise parsed
        return parsed


def is_last_page(envelope: Envelope, page_size: int) -> bool:
    """The last page is short, empty, or code 0 (the contract's three end markers)."""
    return envelope.is_no_data or len(envelope.rows) < page_size
