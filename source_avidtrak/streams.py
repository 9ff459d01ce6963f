"""The AvidTrak report streams.

`AvidTrakStream` owns everything the reports share: the envelope (each body parsed once,
shared with the error handler in errors.py), paging, the date window and record typing.
Each report is a small subclass naming its `Report` (reports.py); its JSON schema lives in
schemas/<report name>.json.
"""

from __future__ import annotations

import threading
from abc import ABC
from datetime import date
from types import MappingProxyType
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, MutableMapping, Optional

import requests
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.sources.streams.call_rate import APIBudget
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.streams.http import HttpStream
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy, ErrorHandler
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak import api
from source_avidtrak.account_state import CursorState, read_cursors
from source_avidtrak.cdk_contract import backoff_cause
from source_avidtrak.components import DatetimeWindow, Window
from source_avidtrak.config import Account, Settings
from source_avidtrak.errors import AvidTrakBackoffStrategy, AvidTrakErrorHandler, RetryPolicy, envelope_error
from source_avidtrak.records import ACCOUNT_FIELD, PRIMARY_KEY, RecordTyper
from source_avidtrak.reports import GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS, Report
from source_avidtrak.stopping import SyncStop, SyncStopped


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
        today: date,
        retry_policy: RetryPolicy,
        page_size: Optional[int] = None,
        stop: Optional[SyncStop] = None,
        for_check: bool = False,
        api_budget: Optional[APIBudget] = None,  # rate_budget.py: one per read, shared by its streams
    ):
        self._settings = settings
        self._accounts: Mapping[str, Account] = {account.name: account for account in settings.accounts}
        self._for_check = for_check
        self._stop = stop or SyncStop()
        self._today = today
        self._retry_policy = retry_policy
        self._page_size = page_size or settings.page_size
        self._window = DatetimeWindow(settings)
        self._envelopes = api.ResponseEnvelopes()
        self._page = _CurrentPage()
        super().__init__(api_budget=api_budget)
        self._typer = RecordTyper(self.get_json_schema())

    @property
    def name(self) -> str:
        return self.report.name

    @property
    def settings(self) -> Settings:
        return self._settings

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

    def windows(self, sync_mode: SyncMode, cursors: Mapping[str, CursorState]) -> Dict[str, List[Window]]:
        """Each account's windows, from its own saved cursor (account_state.py) when incremental."""
        if sync_mode != SyncMode.incremental:
            return {account.name: self._window.windows(self._today) for account in self._settings.accounts}
        return {name: self._window.windows(self._today, cursor) for name, cursor in cursors.items()}

    def stream_slices(
        self,
        *,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Optional[Mapping[str, Any]]]:
        cursors, dropped = read_cursors(stream_state, self._settings)
        if dropped:  # logged here, once per stream and sync
            names = ", ".join(map(repr, dropped))
            self.logger.info(f"{self.name}: the saved state has accounts no longer configured, dropped: {names}.")
        by_account = self.windows(sync_mode, cursors)
        for name, windows in by_account.items():
            who = self._who(self._accounts[name])
            if windows:
                first, last = windows[0].first_day, windows[-1].last_day
                self.logger.info(f"{who}: reading {first}..{last} in {len(windows)} window(s)")
            else:
                self.logger.info(f"{who}: nothing to read, the saved state is past the configured Date To")
        # Round robin over the accounts, so that the workers serve all of them at once and
        # no account waits for another to finish.
        queues = [(name, list(reversed(windows))) for name, windows in by_account.items()]
        while queues:
            for name, pending in queues:
                if pending and not self._stop.tripped(name):  # a window of this account failed: start no other
                    yield pending.pop().as_slice(name)
            queues = [(name, pending) for name, pending in queues if pending and not self._stop.tripped(name)]

    def read_records(
        self,
        sync_mode: SyncMode,
        cursor_field: Optional[List[str]] = None,
        stream_slice: Optional[Mapping[str, Any]] = None,
        stream_state: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[StreamData]:
        """Trips the sync's stop on any failure of this window, before the CDK sees it.

        When the CDK gives up retrying, its message says "API rate limit exceeded." or
        "Exhausted available request attempts"; ours names the report, window and page.
        """
        account = self._account_of(stream_slice)
        try:
            yield from super().read_records(sync_mode, cursor_field, stream_slice, stream_state)
        except SyncStopped:
            raise
        except AirbyteTracedException as failure:
            cause = backoff_cause(failure)
            if cause is not None:
                failure.message = f"{cause} {self._give_up_advice()}"
            self._fail(account, failure)
            raise
        except Exception as failure:  # a bug: still this account's failure, with the account named
            traced = AirbyteTracedException.from_exception(
                failure,
                message=f"An unexpected error occurred in stream {self.name}: {type(failure).__name__}: {failure}",
                failure_type=FailureType.system_error,
            )
            self._fail(account, traced)
            raise traced from failure

    def _fail(self, account: Account, failure: AirbyteTracedException) -> None:
        """Names the account when there are several, and stops that account's windows."""
        if self._settings.names_accounts and account.describe() not in (failure.message or ""):
            failure.message = f"{account.describe().capitalize()}: {failure.message}"
        if not self._stop.trip(account.name, failure):
            self.logger.warning(f"Also failed while {account.describe()} was stopping: {failure.message}")

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
        self._stop.raise_if_tripped(account.name)  # before every page: a stopping account sends no more requests
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
        window = Window.from_slice(stream_slice or {})
        account = self._account_of(stream_slice)
        where = f"report {self.name}, {window.describe_request()}, page {self._page.number}"
        try:
            envelope = self._envelopes.of(response)
        except api.UnexpectedShape as shape:  # the error handler allowed its one retry
            raise AirbyteTracedException(
                message=f"AvidTrak sent a response of an unexpected shape for {where}: {shape}. Please report it.",
                failure_type=FailureType.system_error,
            ) from None
        named = account if self._settings.names_accounts else None
        error = envelope_error(envelope, where, self.report, self.method, named)
        if error is not None:
            raise error
        if envelope.is_no_data and self._page.number == api.FIRST_PAGE:
            no_data = envelope.status or "no data"
            self.logger.info(f"{self._who(account)}: no calls for {window.describe()} (AvidTrak code 0: {no_data})")
        records, problems = self._typer.type_rows(envelope.rows, account.name)
        if problems:
            self._warn(problems, account, window)
        return records

    def _warn(self, problems: Mapping[str, int], account: Account, window: Window) -> None:
        details = ", ".join(f"{count} without a valid {field}" for field, count in sorted(problems.items()))
        self.logger.warning(
            f"{self._who(account)} {window.describe()} page {self._page.number}: {details}. These rows are emitted anyway; values that "
            "could not be typed are null, with their raw text under _avidtrak_unparsed."
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
