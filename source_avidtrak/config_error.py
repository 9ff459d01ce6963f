"""The config error, and the words it is made of: the spec's titles and defaults, the key misspelled.

A ConfigError is raised before any request is sent, with a sentence that names the field
and the fix; every config module raises it, so it sits below them all.
"""

from __future__ import annotations

from typing import Any, Mapping

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak import spec_schema


class ConfigError(AirbyteTracedException):
    """A config the user must fix; raised before any request is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)


def spec_title(*path: str) -> str:
    return str(spec_schema.field(*path)["title"])


def spec_default(*path: str) -> Any:
    """The spec's default; None for a key without one (window_days)."""
    return spec_schema.field(*path).get("default")


def missing_key_message(subject: str, key: str, found: Mapping[str, Any], known: Any) -> str:
    """Names the missing key, and the keys found instead: usually the same key misspelled."""
    others = sorted(str(name) for name in found if name not in known)
    if not others:
        return f"{subject} has no {key!r}. Add it."
    return f"{subject} has no {key!r}; it has {', '.join(map(repr, others))} instead. Rename the key to {key!r}."
