"""CHAP: the ``[[account]]`` tables, and the references to them from ``[discovery]`` and targets."""

from __future__ import annotations

from hpt.daemon.config.tables import Table
from hpt.daemon.config.validators import chap_secret_error

ACCOUNT_KEYS = ("name", "secret")


def read_accounts(root: Table) -> dict[str, str]:
    """CHAP name -> secret."""
    accounts: dict[str, str] = {}
    for table in root.array("account", ACCOUNT_KEYS):
        table.required("name")
        table.required("secret")
        name, secret = table.text("name"), table.text("secret")
        if not name or len(name.encode()) > 255:
            raise table.fail("name", "must be 1..255 bytes")
        if name in accounts:
            raise table.fail("name", f'account "{name}" is defined twice')
        if problem := chap_secret_error(secret):
            raise table.fail("secret", problem)
        accounts[name] = secret
    return accounts


class Auth:
    """CHAP account references, and the RFC 7143 12.1.3 rule that an initiator-authentication secret
    is never also used to authenticate a target."""

    def __init__(self, accounts: dict[str, str]) -> None:
        self.accounts = accounts
        self.incoming: set[str] = set()
        self.outgoing: list[tuple[Table, str]] = []

    def check(self, table: Table, incoming: list[str], outgoing: str) -> None:
        """The accounts ``table`` names exist, and mutual CHAP comes with incoming accounts."""
        known = ", ".join(self.accounts) or "none defined"
        for name in incoming:
            if name not in self.accounts:
                raise table.fail("incoming", f'unknown account "{name}" (accounts: {known})')
        if outgoing and outgoing not in self.accounts:
            raise table.fail("outgoing", f'unknown account "{outgoing}" (accounts: {known})')
        if outgoing and not incoming:
            raise table.fail("outgoing", "mutual CHAP needs incoming accounts too")
        self.incoming.update(incoming)
        if outgoing:
            self.outgoing.append((table, outgoing))

    def check_secrets(self) -> None:
        """No outgoing account shares its secret with any incoming one, across the whole file."""
        for table, name in self.outgoing:
            secret = self.accounts[name]
            clash = sorted(n for n in self.incoming if self.accounts[n] == secret)
            if clash:
                raise table.fail(
                    "outgoing",
                    f'account "{name}" has the same secret as incoming account "{clash[0]}": '
                    "a target's secret must differ from every initiator's (RFC 7143 12.1.3)",
                )
