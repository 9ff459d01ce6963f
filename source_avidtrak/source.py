"""SourceAvidtrak: check, discover and a concurrent read over the report streams.

The source holds only what its constructor is given (clock, retry policy, stream
classes), so every entrypoint (the console script, the CDK's `launch`, its test
`entrypoint_wrapper`) runs the same code. Each command validates the config into
`Settings` first (a ConfigError before any request); `read` then assembles one `Sync`
(sync.py) for that read alone.

Config checks: the connector's own (`parse_settings`, whose messages name the field and
the fix) run first, then the CDK's JSON-schema validation against spec.yaml for anything
left. `check_config_against_spec` is off so that discover and read do not run the
CDK's first; `check` always runs the CDK's first, which is why spec.yaml leaves the values
inside Duration's options to the connector.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from importlib import resources
from typing import Any, Iterator, List, Mapping, MutableMapping, Optional, Tuple
from urllib.parse import quote, quote_plus

import yaml
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    ConnectorSpecificationSerializer,
    FailureType,
    SyncMode,
)
from airbyte_cdk.sources import AbstractSource
from airbyte_cdk.sources.streams import Stream
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit, split_config
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak.cdk_contract import CheckFailure, install_retry_log_wording
from source_avidtrak.components import Window
from source_avidtrak.config import Account, Clock, ConfigError, Settings, parse_settings, utc_now
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.inputs import read_catalog_file, read_config_file, read_state_file
from source_avidtrak.rate_budget import rate_budget
from source_avidtrak.streams import STREAM_CLASSES, StreamClasses
from source_avidtrak.sync import Sync

SPEC_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same documents; libyaml is optional
# check makes one request: a quick answer matters more than riding out a long outage.
CHECK_RETRY_POLICY = RetryPolicy(max_retries=1, max_time_seconds=60, base_seconds=1.0, read_timeout_seconds=30.0)


class SourceAvidtrak(AbstractSource):
    check_config_against_spec = False  # settings() runs it after the connector's own checks

    def __init__(
        self,
        clock: Clock = utc_now,
        retry_policy: RetryPolicy = RetryPolicy(),
        stream_classes: StreamClasses = STREAM_CLASSES,
    ) -> None:
        super().__init__()
        install_retry_log_wording()
        self._clock = clock
        self._retry_policy = retry_policy
        self._stream_classes = stream_classes

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        """spec.yaml, parsed by libyaml when PyYAML has it: the CDK's pure-Python parse took 16 ms
        of each command, twice in check, discover and read (settings() asks for the spec again)."""
        text = resources.files("source_avidtrak").joinpath("spec.yaml").read_bytes()
        return ConnectorSpecificationSerializer.load(yaml.load(text, Loader=SPEC_YAML_LOADER))

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

    def settings(self, config: Mapping[str, Any]) -> Tuple[Settings, date]:
        """Validates the config (ConfigError before any request) and fixes today for this command."""
        settings = parse_settings(config)
        _register_pins(settings)
        check_config_against_spec_or_exit(split_config(config)[0], self.spec(logging.getLogger("airbyte")))
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
        stream = self._stream_classes[settings.reports[0]](
            settings,
            today,
            CHECK_RETRY_POLICY,
            page_size=1,
            for_check=True,
            api_budget=rate_budget(settings.requests_per_second, CHECK_RETRY_POLICY),
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

    def streams(self, config: Mapping[str, Any]) -> List[Stream]:
        settings, today = self.settings(config)
        return [self._stream_classes[report](settings, today, self._retry_policy) for report in settings.reports]

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        settings, today = self.settings(config)
        _check_catalog(catalog, settings)
        yield from Sync.build(settings, today, catalog, state, self._retry_policy, self._stream_classes).read()


def _register_pins(settings: Settings) -> None:
    """Every account's pin code, as typed and URL-encoded (as in request URLs), is masked.

    The CDK registers only the spec's top-level secrets: its secret paths do not reach into
    arrays, so the Client Accounts' pin codes would go unmasked. Longest first, because
    `filter_secrets` replaces in list order and a pin inside a longer one would leave the
    longer one's remainder visible.
    """
    forms = {form for account in settings.accounts for form in _pin_forms(account.pin_code)}
    update_secrets(sorted(forms, key=lambda form: (-len(form), form)))


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
