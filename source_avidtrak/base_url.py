"""The Base URL the user typed -> the API URL the connector calls (never with the pin)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from source_avidtrak import api
from source_avidtrak.config_error import ConfigError, spec_default, spec_title

LOOPBACK_HOSTS = {"localhost"}
API_DIRECTORY = api.API_PATH.rpartition("/")[0]  # /webservice


def api_url_from_base_url(base_url: Any) -> str:
    """The API URL for a Base URL: a host URL (appends /webservice/api.php), a URL ending in
    /webservice (appends /api.php), or a full URL ending in api.php (kept).

    https is required; plain http only for loopback hosts (a local simulator or tunnel),
    because the pin code travels in the query string.
    """
    title, example = spec_title("base_url"), spec_default("base_url")
    hint = f"Enter the URL of your AvidTrak instance as https://host, e.g. {example}."
    if not isinstance(base_url, str):
        raise ConfigError(f"The {title} must be text (a JSON string in quotes), e.g. {example}.")
    if not base_url.strip():
        raise ConfigError(f"The {title} is empty. Enter the URL of your AvidTrak instance, e.g. {example}.")
    try:
        parts = urlsplit(base_url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number up to 65535
        (parts.hostname or "").encode("idna")  # UnicodeError, a ValueError, for an empty or over-long label
    except ValueError as error:
        raise ConfigError(f"The {title} is not a valid URL ({error}). {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The {title} must start with https:// and name a host. {hint}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"The {title} must use https://: the pin code would travel unencrypted over http. {hint}")
    if parts.username or parts.password:
        raise ConfigError(
            f"The {title} must not contain a user name or password: the pin code is the only credential. {hint}"
        )
    if parts.query or parts.fragment or base_url.strip().endswith(("?", "#")):
        raise ConfigError(f"The {title} must not contain a query string or fragment (?... or #...). {hint}")
    path = parts.path.rstrip("/")
    if path.endswith(API_DIRECTORY):
        path += "/" + api.API_SCRIPT
    elif not path.endswith("/" + api.API_SCRIPT):
        path += api.API_PATH
    api_url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    try:  # what requests would refuse later, mid-sync (e.g. a space in the host)
        requests.PreparedRequest().prepare_url(api_url, None)
    except (requests.RequestException, ValueError) as error:
        raise ConfigError(f"The {title} is not a valid URL ({error}). {hint}") from None
    return api_url


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
