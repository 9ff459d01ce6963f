"""How each AvidTrak response maps to an action: the CDK's error handler and backoff hooks.

AvidTrak reports errors in the body (`code`) and the HTTP status is not documented to
mirror it, so the handler reads the envelope whatever the status, through the stream's
`ResponseEnvelopes` (each body is parsed once). The CDK's HttpClient owns the retry loop;
this module only decides (ErrorHandler) and says how long to wait (BackoffStrategy).
Messages name the report, the window and the page, never the URL: the pin code travels in
the query string.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Dict, Optional, Union
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from source_avidtrak import api
from source_avidtrak.accounts import Account
from source_avidtrak.reports import Report

TRANSIENT_HTTP_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
CONFIG_HTTP_STATUSES = frozenset({401, 403, 404})

ResponseOrException = Optional[Union[requests.Response, Exception]]


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget and backoff. Tests shrink it; production keeps the defaults.

    The CDK's HttpClient sleeps `backoff_time + 1` seconds for a user-defined backoff, so
    the first retry waits about `base_seconds + 1`, then doubles, never past `cap_seconds + 1`.
    `Retry-After` is honoured within [`retry_after_floor_seconds`, `cap_seconds`].
    """

    max_retries: int = 5
    # A host that cannot be reached (refused, unknown name, connect timeout) gets a budget of
    # its own: waiting ten minutes for a mistyped Base URL helps nobody.
    unreachable_retries: int = 2
    max_time_seconds: int = 600
    base_seconds: float = 2.0
    cap_seconds: float = 120.0
    retry_after_floor_seconds: float = 1.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 120.0

    def retry_after_wait(self, retry_after: Optional[float]) -> Optional[float]:
        """The wait a `Retry-After` asks for (none: the floor), or None when it is beyond the cap:
        a sync does not wait that long, the request fails instead (the handler and the budget)."""
        wait = max(retry_after or 0.0, self.retry_after_floor_seconds)
        return None if wait > self.cap_seconds else wait


def describe_request(request: Optional[requests.PreparedRequest]) -> str:
    """`geographical_data, 2026-11-01 00:00:00..2026-11-01 23:59:59, page 2` (no pin)."""
    if request is None or not request.url:
        return "an AvidTrak request"
    query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
    window = f"{query.get(api.PARAM_START, '?')}..{query.get(api.PARAM_END, '?')}"
    return f"report {query.get(api.PARAM_METHOD, '?')}, window {window}, page {query.get(api.PARAM_PAGE, '1')}"


def _api_url(request: Optional[requests.PreparedRequest]) -> str:
    """The URL built from the Base URL, without the query string that carries the pin."""
    if request is None or not request.url:
        return "the API URL"
    return urlunsplit(urlsplit(request.url)._replace(query="", fragment=""))


def _request_of(response_or_exception: ResponseOrException) -> Optional[requests.PreparedRequest]:
    """Duck-typed on `url`: a mocked transport (requests_mock) hands back a request proxy."""
    request = getattr(response_or_exception, "request", None)
    return request if isinstance(getattr(request, "url", None), str) else None


class _Attempts:
    """Counts failed attempts per request URL (the CDK retries one prepared request), for the
    failures that get a budget smaller than max_retries. Shared by the stream's threads."""

    def __init__(self) -> None:
        self._counts: Dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, request: Optional[requests.PreparedRequest]) -> int:
        key = request.url if request is not None and request.url else ""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def forget(self, request: Optional[requests.PreparedRequest]) -> None:
        with self._lock:
            self._counts.pop(request.url if request is not None and request.url else "", None)


class AvidTrakErrorHandler(ErrorHandler):
    def __init__(self, policy: RetryPolicy, envelopes: api.ResponseEnvelopes) -> None:
        self._policy = policy
        self._envelopes = envelopes
        self._attempts = _Attempts()

    @property
    def max_retries(self) -> Optional[int]:
        return self._policy.max_retries

    @property
    def max_time(self) -> Optional[int]:
        return self._policy.max_time_seconds

    def interpret_response(self, response_or_exception: ResponseOrException) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response):
            return self._interpret(response_or_exception)
        request = _request_of(response_or_exception)
        where = describe_request(request)
        if isinstance(response_or_exception, Exception) and _is_unreachable(response_or_exception):
            return self._unreachable(request, where)
        if isinstance(response_or_exception, Exception):
            kind = type(response_or_exception).__name__
            return _retry(f"Could not get a response from AvidTrak ({kind}) for {where}.")
        return _retry(f"No response from AvidTrak for {where}.")

    def _rate_limited(self, response: requests.Response) -> ErrorResolution:
        """A 429 is retried after its Retry-After; one beyond the cap ends the request now."""
        seconds = retry_after_seconds(response)
        where = describe_response(response)
        if seconds is None or self._policy.retry_after_wait(seconds) is not None:
            return _retry(f"AvidTrak limits requests (HTTP 429) for {where}.")
        return _fail(
            f"AvidTrak limits requests (HTTP 429) and asked to wait {_too_long(seconds, self._policy.cap_seconds)}, "
            f"for {where}. The sync stops now rather than wait; the next sync resumes from the saved state.",
            FailureType.transient_error,
        )

    def _unreachable(self, request: Optional[requests.PreparedRequest], where: str) -> ErrorResolution:
        url = _api_url(request)
        attempts = self._attempts.count(request)
        if attempts <= min(self._policy.unreachable_retries, self._policy.max_retries):
            return _retry(f"AvidTrak could not be reached at {url} for {where}; trying again.")
        self._attempts.forget(request)
        return _fail(
            f"AvidTrak could not be reached ({attempts} attempts: connection refused, unknown host or no answer). "
            f"Check the Base URL (the connector called {url}) and that this machine can reach it (DNS, firewall, "
            "proxy).",
            FailureType.transient_error,
        )

    def _interpret(self, response: requests.Response) -> ErrorResolution:
        status = response.status_code
        if status == requests.codes.too_many_requests:
            return self._rate_limited(response)
        if status in TRANSIENT_HTTP_STATUSES:
            return _retry(f"AvidTrak answered HTTP {status} for {describe_response(response)}.")
        try:
            self._envelopes.of(response)  # parsed once here; the stream reads the same envelope
        except api.UnexpectedShape as error:
            # Valid JSON of the wrong shape: one retry in case a proxy mangled it, then the
            # stream raises the shape as a system error (a minute of retries would not help).
            request = _request_of(response)
            if self._attempts.count(request) > 1:
                self._attempts.forget(request)
                return ErrorResolution(response_action=ResponseAction.SUCCESS)
            return _retry(
                f"AvidTrak sent a response that is not an API response for {describe_response(response)}: {error}."
            )
        except api.MalformedResponse as error:
            where = describe_response(response)
            if status in CONFIG_HTTP_STATUSES:
                return _fail(
                    f"AvidTrak answered HTTP {status} without an API response for {where}. Check the Base URL: "
                    f"it should be your AvidTrak instance, e.g. https://avidtrak.com; the connector called "
                    f"{_api_url(_request_of(response))}.",
                    FailureType.config_error,
                )
            return _retry(f"AvidTrak sent a response that is not an API response for {where}: {error}.")
        # An envelope is AvidTrak's definitive answer, whatever its code: retrying cannot
        # change it. The stream, which owns the envelope, raises the error an error code
        # carries (envelope_error), so the message is ours alone.
        return ErrorResolution(response_action=ResponseAction.SUCCESS)


def _too_long(seconds: float, cap: float) -> str:
    hours = f" ({seconds / 3600:.3g} hours)" if seconds >= 3600 else ""
    return f"{seconds:g} s{hours}, longer than a sync waits between two attempts ({cap:g} s)"


def envelope_error(
    envelope: api.Envelope, where: str, report: Report, method: str, account: Optional[Account] = None
) -> AirbyteTracedException:
    """The error an envelope's code means (not 1/200, rows, nor 0, no data).

    `account` is named when the config has several: only then is "the pin code" ambiguous.
    """
    code, status = envelope.code, envelope.status or "no status text"
    if code == api.AUTH_REQUIRED_CODE or code in api.AUTH_FAILED_CODES:
        if account is None:
            whose, fix = "the pin code", "Check the Pin Code in the connector's credentials"
        else:
            whose = f"the pin code of {account.describe()}"
            fix = (
                f"Check the pin code of {account.describe()} in the connector's credentials (Pin Code, or its "
                "entry under Client Accounts)"
            )
        return _error(
            f"AvidTrak rejected {whose} (code {code}: {status}). {fix}: an agency and each of its clients have "
            "separate pin codes.",
            FailureType.config_error,
        )
    if code == api.BAD_METHOD_CODE:
        return _error(
            f"AvidTrak does not know the method {method!r} for {where} (code {code}: {status}). The method "
            f"name is an assumption of this connector (see the README). If your AvidTrak account names the "
            f"report differently, set it under Advanced > Report Method Names > {report.title} "
            f"(report_methods.{report.name}); otherwise please report it.",
            FailureType.system_error,
        )
    if code == api.BAD_FORMAT_CODE:
        return _error(
            f"AvidTrak refused format={api.FORMAT_JSON} for {where} (code {code}: {status}). Please report it.",
            FailureType.system_error,
        )
    return _error(f"AvidTrak answered code {code} ({status}) for {where}.", FailureType.system_error)


def _error(message: str, failure_type: FailureType) -> AirbyteTracedException:
    return AirbyteTracedException(message=message, internal_message=message, failure_type=failure_type)


def describe_response(response: requests.Response) -> str:
    """describe_request of the request a response answers (a mocked one's too)."""
    return describe_request(_request_of(response))


def _is_unreachable(error: Exception) -> bool:
    """Refused, unknown host or connect timeout: the request never reached AvidTrak."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if not isinstance(error, requests.ConnectionError) or not error.args:
        return False
    reason = getattr(error.args[0], "reason", None)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _retry(message: str) -> ErrorResolution:
    return ErrorResolution(ResponseAction.RETRY, FailureType.transient_error, message)


def _fail(message: str, failure_type: FailureType) -> ErrorResolution:
    return ErrorResolution(ResponseAction.FAIL, failure_type, message)


class AvidTrakBackoffStrategy(BackoffStrategy):
    """Exponential backoff; `Retry-After` (seconds or an HTTP date) wins within the bounds."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def backoff_time(self, response_or_exception: ResponseOrException, attempt_count: int) -> Optional[float]:
        retry_after = retry_after_seconds(response_or_exception)
        if retry_after is not None:
            wait = self._policy.retry_after_wait(retry_after)
            return self._policy.cap_seconds if wait is None else wait
        exponential = self._policy.base_seconds * 2.0 ** max(attempt_count - 1, 0)
        return min(exponential, self._policy.cap_seconds)


def retry_after_seconds(response_or_exception: ResponseOrException) -> Optional[float]:
    """`Retry-After` in seconds (the header gives seconds or an HTTP date), or None."""
    if not isinstance(response_or_exception, requests.Response):
        return None
    header = response_or_exception.headers.get("Retry-After")
    if not header:
        return None
    try:
        seconds = float(header)
        return seconds if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()
