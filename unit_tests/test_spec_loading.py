"""SourceAvidtrak.spec serves spec.yaml parsed by libyaml (spec_schema.py, for start-up): it must
give exactly what the CDK's own pure-Python spec() gives."""

import logging

import yaml
from airbyte_cdk.sources import AbstractSource

from source_avidtrak import spec_schema
from source_avidtrak.source import SourceAvidtrak

LOGGER = logging.getLogger("airbyte")


def test_spec_is_the_cdks_own() -> None:
    source = SourceAvidtrak()

    assert source.spec(LOGGER) == AbstractSource.spec(source, LOGGER)


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert spec_schema._LOADER is expected
