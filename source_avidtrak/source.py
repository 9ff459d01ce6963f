"""SourceAvidtrak: check, discover and a concurrent read over the report streams.

The source holds only what its constructor is given (clock, retry policy, timing, stream
classes), so every entrypoint (the console script, the CDK's `launch`, its test
`entrypoint_wrapper`) runs the same code. The config checks run first, in the CDK's
`configure` hook, for check, discover and read alike (a config_error TRACE, exit status 1),
then the CDK's JSON-schema validation for anything left; `read` builds one `Sync`.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import quote, quote_plus

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    FailureType,
    SyncMode,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit, split_config
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak import spec_schema
from source_avidtrak.cdk_contract import CheckFailure, install_retry_log_wording
from source_avidtrak.components import Window
from source_avidtrak.config import Account, Clock, ConfigError, Settings, parse_settings, unknown_key_warnings, utc_now
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.failures import Failures
from source_avidtrak.inputs import read_catalog_file, read_config_file, read_state_file
from source_avidtrak.rate_budget import AvidTrakBudget
from source_avidtrak.streams import STREAM_CLASSES, StreamClasses
from source_avidtrak.sync import Sync, Timing

logger = logging.getLogger("airbyte")
CHECK_MAX_TIME_S = 60


class SourceAvidtrak(AbstractSource):
    check_config_against_spec = False  # settings() runs it after the connector's own checks

    def __init__(
        self,
        clock: Clock = utc_now,
        retry_policy: RetryPolicy = RetryPolicy(),
        stream_classes: StreamClasses = STREAM_CLASSES,
        timing: Timing = Timing(),
    ) -> None:
        super().__init__()
        install_retry_log_wording()
        self._clock = clock
        self._retry_policy = retry_policy
        self._stream_classes = stream_classes
        self._timing = timing

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        """spec.yaml, parsed once by libyaml (spec_schema.py): the CDK's own pure-Python parse
        took 16 ms of every command."""
        return spec_schema.connector_specification()

    # The CDK's documented hooks for the command's files (inputs.py says why).
    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        return read_config_file(config_path)

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return read_catalog_file(catalog_path)

    @classmethod
    def read_state(cls, state_path: str) -> List[AirbyteStateMessage]:
        return read_state_file(state_path) if state_path else []

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        """The config checks, once per command and before the CDK's own: the entrypoint calls
        this right after `read_config` for check, discover and read alike."""
        settings, _ = self.settings(config)
        for warning in unknown_key_warnings(split_config(config)[0]):
            logger.warning(warning)
        logger.info(f"AvidTrak API URL: {settings.api_url}")
        return super().configure(config, temp_dir)

    def settings(self, config: Mapping[str, Any]) -> Tuple[Settings, date]:
        """Validates the config (ConfigError before any request) and fixes today for this command."""
        settings = parse_settings(config)
        _register_pins(settings)
        check_config_against_spec_or_exit(split_config(config)[0], spec_schema.connector_specification())
        today = settings.today(self._clock)
        settings.resolve_range(today)
        return settings, today

    def check_connection(self, logger: logging.Logger, config: Mapping[str, Any]) -> Tuple[bool, Optional[Any]]:
        """One cheap request per account: a one-row page of the first selected report for yesterday.

        Accounts are checked concurrently (up to Number of Workers at a time), and the answer
        names every account that failed, so an agency fixes all its pins in one round.
        """
        try:
            settings, today = self.settings(config)
        except AirbyteTracedException as error:  # ConfigError, or the CDK's schema validation
            return False, CheckFailure(error.message or "The config is not valid.")
        budget = AvidTrakBudget(
            settings.requests_per_second, self._check_retry_policy, self._timing.monotonic, self._timing.sleep
        )
        stream = self._stream_classes[settings.reports[0]](
            settings, budget, Failures(settings.names_accounts), page_size=1, for_check=True
        )
        yesterday = Window(today - timedelta(days=1), today - timedelta(days=1))

        def check(account: Account) -> Optional[str]:
            try:
                records = stream.read_records(SyncMode.full_refresh, stream_slice=yesterday.as_slice(account.name))
                next(iter(records), None)
            except AirbyteTracedException as error:
                message = error.message or "The connection check failed."
                if error.failure_type != FailureType.config_error and "Base URL" not in message:
                    message += f" Check that the Base URL ({settings.api_url}) is your AvidTrak instance and reachable."
                return filter_secrets(message)
            return None

        workers = min(settings.num_workers, len(settings.accounts))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            failures = [failure for failure in pool.map(check, settings.accounts) if failure is not None]
        if not failures:
            return True, None
        if len(failures) == 1:
            return False, CheckFailure(failures[0])
        listed = " ".join(f"({number}) {failure}" for number, failure in enumerate(failures, start=1))
        return False, CheckFailure(f"{len(failures)} of {len(settings.accounts)} accounts failed the check. {listed}")

    @property
    def _check_retry_policy(self) -> RetryPolicy:
        """check makes one request per account: a quick answer matters more than riding out an outage."""
        policy = self._retry_policy
        return replace(
            policy,
            max_retries=min(policy.max_retries, policy.unreachable_retries),
            max_time_seconds=min(policy.max_time_seconds, CHECK_MAX_TIME_S),
        )

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        """discover's streams (read builds its own, with a cursor each, in Sync.build)."""
        settings, _ = self.settings(config)
        budget = AvidTrakBudget(settings.requests_per_second, self._retry_policy)
        failures = Failures(settings.names_accounts)
        return [self._stream_classes[report](settings, budget, failures) for report in settings.reports]

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        settings, today = self.settings(config)
        _check_catalog(catalog, settings)
        sync = Sync.build(settings, today, catalog, state, self._retry_policy, self._stream_classes, self._timing)
        yield from sync.read()


def _register_pins(settings: Settings) -> None:
    """Every account's pin code, as typed and URL-encoded (as in request URLs), is masked.

    The CDK registers only the spec's top-level secrets: its secret paths do not reach into
    arrays, so the Client Accounts' pin codes would go unmasked. `add_to_secrets` adds to
    what the entrypoint registered from the spec. Longest first, because `filter_secrets`
    replaces in list order and a pin inside a longer one would leave its remainder visible.
    """
    forms = {form for account in settings.accounts for form in _pin_forms(account.pin_code)}
    for form in sorted(forms, key=lambda form: (-len(form), form)):
        add_to_secrets(form)


def _pin_forms(pin: str) -> Tuple[str, ...]:
    return (pin, quote(pin, safe=""), quote_plus(pin))


def _check_catalog(catalog: ConfiguredAirbyteCatalog, settings: Settings) -> None:
    """A stream the config does not offer would otherwise be skipped without a word."""
    unknown = [
        configured.stream.name for configured in catalog.streams if configured.stream.name not in settings.reports
    ]
    if unknown:
        raise ConfigError(
            f"The catalog asks for stream {unknown[0]!r}, which this config does not offer. "
            f"It offers: {', '.join(settings.reports)} (the reports selected under Report). "
            "Select the report in the config, or run discover and use its streams."
        )
