"""spec.yaml, loaded once from the package data: the one statement of the config's keys,
defaults, bounds and titles.

config.py reads each field's default, bounds and title from here instead of restating
them, so a new optional field is spec.yaml plus the code that uses it.
"""

from __future__ import annotations

import copy
import pkgutil
from functools import cache
from typing import Any, FrozenSet, Mapping

import yaml
from airbyte_cdk.models import ConnectorSpecification, ConnectorSpecificationSerializer

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses it in a sixth of the time


@cache
def _spec() -> Mapping[str, Any]:
    data = pkgutil.get_data(__package__, "spec.yaml")
    if data is None:
        raise FileNotFoundError("spec.yaml is missing from the source_avidtrak package")
    loaded: Mapping[str, Any] = yaml.load(data, Loader=_LOADER)
    return loaded


@cache
def connector_specification() -> ConnectorSpecification:
    """What the CDK's `spec()` returns, for validating a config against the schema."""
    return ConnectorSpecificationSerializer.load(copy.deepcopy(dict(_spec())))


def connection_specification() -> Mapping[str, Any]:
    return _spec()["connectionSpecification"]  # type: ignore[no-any-return]


def config_keys() -> FrozenSet[str]:
    """Every top-level key of the config."""
    return frozenset(connection_specification()["properties"])


def field(*path: str) -> Mapping[str, Any]:
    """The property at `path`, e.g. `field("duration", "date_from", "date_from_offset")`:
    the properties of a oneOf option count as its parent's."""
    schema = connection_specification()
    for key in path:
        schema = _child(schema, key, path)
    return schema


def _child(schema: Mapping[str, Any], key: str, path: tuple[str, ...]) -> Mapping[str, Any]:
    for holder in (schema, *schema.get("oneOf", ())):
        properties = holder.get("properties", {})
        if key in properties:
            return properties[key]  # type: ignore[no-any-return]
    raise KeyError(f"spec.yaml has no property {'.'.join(path)}")
