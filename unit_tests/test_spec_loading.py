"""SourceAvidtrak.spec parses spec.yaml with libyaml (start-up): it must give what the CDK's own spec() gives."""

import logging

import pytest
import yaml
from airbyte_cdk.sources import AbstractSource

from source_avidtrak import source as source_module
from source_avidtrak.source import SourceAvidtrak

LOGGER = logging.getLogger("airbyte")


@pytest.mark.parametrize("loader", [source_module.SPEC_YAML_LOADER, yaml.SafeLoader], ids=["libyaml", "pure-python"])
def test_spec_is_the_cdks_own(monkeypatch: pytest.MonkeyPatch, loader: type) -> None:
    monkeypatch.setattr(source_module, "SPEC_YAML_LOADER", loader)
    source = SourceAvidtrak()
    assert source.spec(LOGGER) == AbstractSource.spec(source, LOGGER), f"spec.yaml read with {loader.__name__}"


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    if yaml.__with_libyaml__:
        assert source_module.SPEC_YAML_LOADER is yaml.CSafeLoader
    else:
        assert source_module.SPEC_YAML_LOADER is yaml.SafeLoader
