"""The AvidTrak report streams.

`AvidTrakStream` owns what the reports share: the envelope (each body parsed once, shared
with the error handler in errors.py), paging and record typing. Its windows come from the
stream's AccountCursor (cursor.py), and its failures go to failures.Failures. Each report
is a small subclass naming its `Report` (reports.py); its schema is schemas/<name>.json.
"""

from __future__ import annotations

import threading
from abc import ABC
from types import MappingProxyType
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak import api
from source_avidtrak.accounts import Account
from source_avidtrak.components import Window
from source_avidtrak.config import Settings
from source_avidtrak.cursor import AccountCursor
from source_avidtrak.errors import AvidTrakBackoffStrategy, AvidTrakErrorHandler, describe_response, envelope_error
from source_avidtrak.failures import Failures
from source_avidtrak.rate_budget import AvidTrakBudget
from source_avidtrak.records import ACCOUNT_FIELD, PRIMARY_KEY, RecordTyper
from source_avidtrak.reports import GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS, Report


class _CurrentPage(threading.local):
    """The page each thread is reading.

    HttpStream hands `next_page_token` only the response, and one stream object serves
    every window: the concurrent CDK reads a window's pages in order on one worker thread,
    so the page a thread last asked for is the page its response answers.
    """

    number: int = api.FIRST_PAGE


class AvidTrakStream(HttpStream, ABC):
    """One AvidTrak report, read window by window and page by page, for every account.

    A slice is one window of one account (`Window.as_slice`): the account's name is the
    slice's partition, and the pin code is looked up from it for each request.
    """

    report: ClassVar[Report]
    primary_key = PRIMARY_KEY
    cursor_field = api.CURSOR_FIELD
    state_checkpoint_interval = None

    def __init__(
        self,
        settings: Settings,
        budget: AvidTrakBudget,  # one per sync, shared by its streams (rate_budget.py)
        failures: Failures,  # one per sync too
        cursor: Optional[AccountCursor] = None,  # the slicer; check reads one slice without it
        page_size: Optional[int] = None,
        for_check: bool = False,
    ):
        self._settings = settings
        self._accounts: Mapping[str, Account] = {account.name: account for account in settings.accounts}
        self._retry_policy = budget.retry_policy
        self._failures = failures
        self._cursor = cursor
        self._page_size = page_size or settings.page_size
        self._for_check = for_check
        self._envelopes = api.ResponseEnvelopes()
        self._page = _CurrentPage()
        super().__init__(api_budget=budget)
        self._typer = RecordTyper(self.get_json_schema())

    @property
    def name(self) -> str:
        return self.report.name

    @property
    def method(self) -> str:
        """The AvidTrak method name: the assumed one (reports.py) unless the config overrides it."""
        return self._settings.methods[self.report.name]

    @property
    def url_base(self) -> str:
        return self._settings.api_url

    def path(self, **kwargs: Any) -> str:
        return ""

    def get_error_handler(self) -> ErrorHandler:
        return AvidTrakErrorHandler(self._retry_policy, self._envelopes)

    def get_backoff_strategy(self) -> BackoffStrategy:
        return AvidTrakBackoffStrategy(self._retry_policy)

    def request_kwargs(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        policy = self._retry_policy
        return {"timeout": (policy.connect_timeout_seconds, policy.read_timeout_seconds)}

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        if self._cursor is None:
            raise RuntimeError("a stream reads windows from its AccountCursor: build it through Sync.build")
        self.logger.info(f"{self.name}: {self._cursor.describe()}")
        yield from self._cursor.stream_slices()

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        """Any failure of this window goes to failures.py before the CDK sees it.

        A window that does not finish (a failure, or its reader gone) frees its worker slot
        here; one that finishes frees it when the CDK closes it (cursor.py).
        """
        finished = False
        try:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
            finished = True
        except Exception as failure:
            traced = self._failures.window_failed(self._account_of(stream_slice), failure, self._give_up_advice())
            if traced is failure:
                raise
            raise traced from failure
        finally:
            if not finished and self._cursor is not None:
                self._cursor.abandon(stream_slice or {})

    def _account_of(self, stream_slice: Optional[Mapping[str, Any]]) -> Account:
        return self._accounts[(stream_slice or {})[ACCOUNT_FIELD]]

    def _who(self, account: Account) -> str:
        """The stream, and the account when there are several: the subject of a log line."""
        return f"{self.name} ({account.describe()})" if self._settings.names_accounts else self.name

    def _give_up_advice(self) -> str:
        retries = self._retry_policy.max_retries
        tried = f"Gave up after {retries} {'retry' if retries == 1 else 'retries'}"
        if self._for_check:
            return f"{tried}: AvidTrak may be down or limiting requests."
        return (
            f"{tried} (within {self._retry_policy.max_time_seconds} s): AvidTrak may be down or limiting "
            "requests. The next sync resumes from the last saved state."
        )

    def request_params(
        self,
        stream_state: Optional[Mapping[str, Any]],
        stream_slice: Optional[Mapping[str, Any]] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> MutableMapping[str, Any]:
        account = self._account_of(stream_slice)
        self._failures.raise_if_stopped(account.name)  # before every page: a stopping account sends no more
        self._page.number = (next_page_token or {}).get(api.PARAM_PAGE, api.FIRST_PAGE)
        return {
            api.PARAM_PIN: account.pin_code,
            api.PARAM_METHOD: self.method,
            api.PARAM_FORMAT: api.FORMAT_JSON,
            **Window.from_slice(stream_slice or {}).request_params(),
            api.PARAM_USE_PAGING: api.USE_PAGING_ON,
            api.PARAM_PER_PAGE: self._page_size,
            api.PARAM_PAGE: self._page.number,
        }

    def next_page_token(self, response: requests.Response) -> Optional[Mapping[str, Any]]:
        if api.is_last_page(self._envelopes.of(response), self._page_size):
            return None
        return {api.PARAM_PAGE: self._page.number + 1}

    def parse_response(
        self, response: requests.Response, stream_slice: Optional[Mapping[str, Any]] = None, **kwargs: Any
    ) -> Iterable[Dict[str, Any]]:
        account = self._account_of(stream_slice)
        try:
            envelope = self._envelopes.of(response)
        except api.UnexpectedShape as shape:  # the error handler allowed its one retry
            raise AirbyteTracedException(
                message=f"AvidTrak sent a response of an unexpected shape for {describe_response(response)}: "
                f"{shape}. Please report it.",
                failure_type=FailureType.system_error,
            ) from None
        if not (envelope.is_success or envelope.is_no_data):
            named = account if self._settings.names_accounts else None
            raise envelope_error(envelope, describe_response(response), self.report, self.method, named)
        if envelope.is_no_data and self._page.number == api.FIRST_PAGE:
            window = Window.from_slice(stream_slice or {})
            self.logger.info(f"{self._who(account)}: no calls on {window.describe()} (AvidTrak's code 0, no data)")
        records, problems = self._typer.type_rows(envelope.rows, account.name)
        if problems:
            self._warn(problems, account, Window.from_slice(stream_slice or {}))
        if self._cursor is not None:
            self._cursor.count_rows(stream_slice or {}, len(records))
        return records

    def _warn(self, problems: Mapping[str, int], account: Account, window: Window) -> None:
        details = ", ".join(f"{count} without a valid {field}" for field, count in sorted(problems.items()))
        self.logger.warning(
            f"{self._who(account)} {window.describe()} page {self._page.number}: {details}. These rows are emitted "
            "anyway; values that could not be typed are null, with their raw text under _avidtrak_unparsed."
        )


class GeographicalData(AvidTrakStream):
    """Domo's "Geographical Data" report: one row per call with the caller's location.

    Method and fields are assumed (avidtrak-api.md, "Report methods" and "Rows").
    """

    report = GEOGRAPHICAL_DATA


class OfflinePortalCalls(AvidTrakStream):
    """Domo's "Offline Portal Calls" report: calls to offline (print, radio, TV) numbers.

    Method and fields are assumed (avidtrak-api.md, "Report methods" and "Rows").
    """

    report = OFFLINE_PORTAL_CALLS


StreamClasses = Mapping[str, type[AvidTrakStream]]
# Report name -> stream class; read-only, so nothing can swap a stream at run time.
STREAM_CLASSES: StreamClasses = MappingProxyType(
    {cls.report.name: cls for cls in (GeographicalData, OfflinePortalCalls)}
)
