"""The accounts of one connection: the Pin Code's, and an agency's Client Accounts.

Names are unique (ignoring case) and pin codes all different; messages name the account and
its position, never a pin code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Tuple

from source_avidtrak.config_error import ConfigError, missing_key_message, spec_default, spec_title

CLIENT_ACCOUNT_KEYS = frozenset({"name", "pin_code"})


@dataclass(frozen=True)
class Account:
    """One AvidTrak login: its label in records and state, and its pin code."""

    name: str
    pin_code: str = field(repr=False)  # never in a repr, a log line or an error

    def describe(self) -> str:
        return f"account {self.name!r}"


def parse_accounts(config: Mapping[str, Any], pin: str) -> Tuple[Account, ...]:
    """The pin_code account and the client accounts: names unique, pin codes unique.

    Messages name the account and its position, never a pin code.
    """
    main_name = config.get("account_name")
    main_name = spec_default("account_name") if main_name is None else main_name
    if not isinstance(main_name, str) or not main_name.strip():
        default = spec_default("account_name")
        raise ConfigError(
            f"{spec_title('account_name')} must be a non-empty label, e.g. {default!r}; leave it out to use {default!r}."
        )
    accounts = [Account(main_name.strip(), pin)]
    raw = config.get("client_accounts")
    raw = spec_default("client_accounts") if raw is None else raw
    if not isinstance(raw, list):
        raise ConfigError(
            f'{spec_title("client_accounts")} must be a list of {{"name": ..., "pin_code": ...}} objects.'
        )
    for position, entry in enumerate(raw, start=1):
        accounts.append(_parse_client_account(entry, position))
    seen_names: dict[str, Account] = {}
    seen_pins: dict[str, Account] = {}
    title = spec_title("client_accounts")
    for account in accounts:
        other = seen_names.setdefault(account.name.casefold(), account)
        if other is not account:
            raise ConfigError(
                f"{title}: the name {account.name!r} is used twice (names are compared ignoring case, "
                f"{other.name!r} is the other). Give every account its own name."
            )
        other = seen_pins.setdefault(account.pin_code, account)
        if other is not account:
            raise ConfigError(
                f"{title}: {account.describe()} has the same pin code as {other.describe()}. "
                "Each AvidTrak account has a pin code of its own: enter that client's pin code."
            )
    return tuple(accounts)


def _parse_client_account(entry: Any, position: int) -> Account:
    subject = f"Client account {position}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f'{subject} must be an object {{"name": ..., "pin_code": ...}}.')
    name = entry.get("name")
    if "name" not in entry:
        raise ConfigError(missing_key_message(subject, "name", entry, CLIENT_ACCOUNT_KEYS))
    if not isinstance(name, str):
        raise ConfigError(f"{subject} has a name that is not text (a JSON string in quotes).")
    if not name.strip():
        raise ConfigError(f"{subject} has an empty name. Give it a label, e.g. the client's name.")
    subject = f"Client account {position} ({name.strip()!r})"
    if "pin_code" not in entry:
        raise ConfigError(missing_key_message(subject, "pin_code", entry, CLIENT_ACCOUNT_KEYS))
    pin = entry.get("pin_code")
    if not isinstance(pin, str):  # never echo the value: it is the credential
        raise ConfigError(f"{subject}: the pin code must be text (a JSON string in quotes).")
    if not pin.strip():
        raise ConfigError(f"{subject} has an empty pin code. Enter the pin code AvidTrak gave that client.")
    return Account(name.strip(), pin.strip())
