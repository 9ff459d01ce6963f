"""Console entry point: `source-avidtrak spec|check|discover|read`."""

import sys
from typing import Any, List, Mapping

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.logger import PRINT_BUFFER
from airbyte_cdk.models import ConnectorSpecification
from airbyte_cdk.sources.utils.schema_helpers import split_config

from source_avidtrak.config import parse_settings
from source_avidtrak.source import SourceAvidtrak


class AvidTrakEntrypoint(AirbyteEntrypoint):
    """The CDK's entrypoint, with the connector's own config checks first.

    The CDK validates the config against spec.yaml before `check` and `read`; for a bad
    value inside a `oneOf` option its message names the other option's const ("'relative'
    was expected") rather than the field. `parse_settings` names the field and the fix,
    and raises the same config error, so `check` still answers FAILED and `read` still
    ends with a config_error TRACE, before any request.
    """

    @staticmethod
    def validate_connection(source_spec: ConnectorSpecification, config: Mapping[str, Any]) -> None:
        connector_config, _ = split_config(config)
        parse_settings(connector_config)
        AirbyteEntrypoint.validate_connection(source_spec, config)


def launch(args: List[str]) -> None:
    """`airbyte_cdk.entrypoint.launch`, with AvidTrakEntrypoint."""
    entrypoint = AvidTrakEntrypoint(SourceAvidtrak())
    parsed_args = entrypoint.parse_args(args)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed_args):
            print(f"{message}\n", end="")


def run() -> None:
    launch(sys.argv[1:])
