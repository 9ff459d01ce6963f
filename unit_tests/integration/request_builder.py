"""HttpMocker requests for the AvidTrak endpoint.

Parameter names and formats are written out here, not imported from source_avidtrak.api,
so these tests pin the wire contract (avidtrak-api.md) instead of echoing the code.
HttpMocker compares the whole parsed query string, so a request built here matches only
a request with exactly these parameters and values.
"""

from __future__ import annotations

from typing import Dict, Optional

from airbyte_cdk.test.mock_http import HttpRequest

from unit_tests.integration.config_builder import API_URL, PIN_CODE


class AvidTrakRequestBuilder:
    def __init__(self, method: str) -> None:
        self._url = API_URL
        self._pin_code = PIN_CODE
        self._method = method
        self._first_day: Optional[str] = None
        self._last_day: Optional[str] = None
        self._per_page = 500
        self._page = 1

    @classmethod
    def report(cls, method: str) -> AvidTrakRequestBuilder:
        return cls(method)

    def with_url(self, url: str) -> AvidTrakRequestBuilder:
        self._url = url
        return self

    def with_pin_code(self, pin_code: str) -> AvidTrakRequestBuilder:
        self._pin_code = pin_code
        return self

    def with_day(self, day: str) -> AvidTrakRequestBuilder:
        return self.with_window(day, day)

    def with_window(self, first_day: str, last_day: str) -> AvidTrakRequestBuilder:
        """Days `first_day..last_day`, both included (`YYYY-MM-DD`)."""
        self._first_day, self._last_day = first_day, last_day
        return self

    def with_per_page(self, rows: int) -> AvidTrakRequestBuilder:
        self._per_page = rows
        return self

    def with_page(self, page: int) -> AvidTrakRequestBuilder:
        self._page = page
        return self

    def query_params(self) -> Dict[str, str]:
        if self._first_day is None or self._last_day is None:
            raise ValueError("Give the request a day or a window: every AvidTrak report request has one.")
        return {
            "pincode": self._pin_code,
            "method": self._method,
            "format": "json",
            "startdate": f"{self._first_day} 00:00:00",
            "enddate": f"{self._last_day} 23:59:59",
            "use_paging": "TRUE",
            "perpage": str(self._per_page),
            "page": str(self._page),
        }

    def build(self) -> HttpRequest:
        return HttpRequest(self._url, query_params=self.query_params())
