"""HttpMocker responses for the AvidTrak endpoint, built from JSON templates.

Templates live in unit_tests/resource/http/response/: `success.json`, `no_data.json` and
`error.json` are envelopes; `<report>.json` is one row of that report as AvidTrak sends
it (every value a string). Tests override only the fields a case is about.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any, Dict, List, Optional

from airbyte_cdk.test.mock_http import HttpResponse

TEMPLATES = Path(__file__).resolve().parent.parent / "resource" / "http" / "response"


@cache
def _load(name: str) -> Any:
    return json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))


def template(name: str) -> Any:
    return copy.deepcopy(_load(name))


def row(report: str, **overrides: Any) -> Dict[str, Any]:
    """One row of `report` from its template, with `overrides` applied."""
    return {**template(report), **overrides}


def rows(report: str, count: int, day: str = "2026-11-25", first_id: int = 1) -> List[Dict[str, Any]]:
    """`count` distinct rows of one day, one minute apart."""
    return [
        row(report, call_id=f"C-{first_id + index}", call_date=f"{day} 10:{index:02d}:00") for index in range(count)
    ]


class AvidTrakResponseBuilder:
    def __init__(self, body: Dict[str, Any]) -> None:
        self._body = body
        self._http_status = 200
        self._escape_slashes = False
        self._raw: Optional[str] = None
        self._headers: Dict[str, str] = {}

    @classmethod
    def success(cls, *data: Dict[str, Any]) -> AvidTrakResponseBuilder:
        return cls(template("success")).with_rows(list(data))

    @classmethod
    def no_data(cls) -> AvidTrakResponseBuilder:
        return cls(template("no_data"))

    @classmethod
    def error(cls, code: Any, status: str) -> AvidTrakResponseBuilder:
        return cls(template("error")).with_code(code).with_status(status)

    @classmethod
    def raw(cls, text: str, http_status: int) -> AvidTrakResponseBuilder:
        """A body that is not an envelope (a proxy's HTML page)."""
        builder = cls({})
        builder._raw = text
        return builder.with_http_status(http_status)

    def with_code(self, code: Any) -> AvidTrakResponseBuilder:
        self._body["code"] = code
        return self

    def with_status(self, status: str) -> AvidTrakResponseBuilder:
        self._body["status"] = status
        return self

    def with_rows(self, data: List[Dict[str, Any]]) -> AvidTrakResponseBuilder:
        self._body["data"] = data
        return self

    def with_data(self, data: Any) -> AvidTrakResponseBuilder:
        """`data` exactly as given, whatever its shape."""
        self._body["data"] = data
        return self

    def with_http_status(self, status: int) -> AvidTrakResponseBuilder:
        self._http_status = status
        return self

    def with_header(self, name: str, value: str) -> AvidTrakResponseBuilder:
        self._headers[name] = value
        return self

    def with_escaped_slashes(self) -> AvidTrakResponseBuilder:
        """Serialise `/` as `\\/`, as PHP's json_encode does by default."""
        self._escape_slashes = True
        return self

    def build(self) -> HttpResponse:
        body = self._raw if self._raw is not None else json.dumps(self._body, ensure_ascii=False)
        if self._escape_slashes:
            body = body.replace("/", "\\/")
        return HttpResponse(body=body, status_code=self._http_status, headers=self._headers)
