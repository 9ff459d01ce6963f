"""Console entry point: `source-avidtrak spec|check|discover|read`, the CDK's own `launch`."""

import sys

from airbyte_cdk.entrypoint import launch

from source_avidtrak.source import SourceAvidtrak


def run() -> None:
    launch(SourceAvidtrak(), sys.argv[1:])
