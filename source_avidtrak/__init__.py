"""Airbyte source for AvidTrak call-tracking reports."""

from source_avidtrak.source import SourceAvidtrak

__all__ = ["SourceAvidtrak"]
