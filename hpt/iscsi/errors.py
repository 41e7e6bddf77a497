"""Errors that end an iSCSI login, with the Login Response status they carry (RFC 7143 11.13.5)."""

from __future__ import annotations

from typing import NamedTuple


class LoginStatus(NamedTuple):
    """Status-Class and Status-Detail of a Login Response (RFC 7143 11.13.5)."""

    status_class: int
    status_detail: int


SUCCESS = LoginStatus(0, 0)
# Status-Class 1: redirection (the response carries TargetAddress)
TARGET_MOVED_TEMPORARILY = LoginStatus(1, 1)
TARGET_MOVED_PERMANENTLY = LoginStatus(1, 2)
# Status-Class 2: initiator error
INITIATOR_ERROR = LoginStatus(2, 0)
AUTH_FAILED = LoginStatus(2, 1)
FORBIDDEN = LoginStatus(2, 2)  # authorization failure
NOT_FOUND = LoginStatus(2, 3)
TARGET_REMOVED = LoginStatus(2, 4)
UNSUPPORTED_VERSION = LoginStatus(2, 5)
TOO_MANY_CONNECTIONS = LoginStatus(2, 6)
MISSING_PARAMETER = LoginStatus(2, 7)
CANT_INCLUDE_IN_SESSION = LoginStatus(2, 8)
SESSION_TYPE_UNSUPPORTED = LoginStatus(2, 9)
SESSION_DOES_NOT_EXIST = LoginStatus(2, 10)
INVALID_DURING_LOGIN = LoginStatus(2, 11)
# Status-Class 3: target error
TARGET_ERROR = LoginStatus(3, 0)
SERVICE_UNAVAILABLE = LoginStatus(3, 1)
OUT_OF_RESOURCES = LoginStatus(3, 2)

REDIRECT_TEMPORARY = TARGET_MOVED_TEMPORARILY
REDIRECT_PERMANENT = TARGET_MOVED_PERMANENTLY


class LoginError(Exception):
    """Ends a login with a Login Response of this status (RFC 7143 11.13.5).

    Raise it as ``LoginError(*AUTH_FAILED, "why")``.
    """

    def __init__(self, status_class: int, status_detail: int, message: str) -> None:
        super().__init__(message)
        self.status_class = status_class
        self.status_detail = status_detail
        self.message = message

    @property
    def status(self) -> LoginStatus:
        return LoginStatus(self.status_class, self.status_detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_class}, {self.status_detail:#04x}, {self.message!r})"


class TextError(LoginError, ValueError):
    """Malformed key=value text (RFC 7143 6.1): bad UTF-8, no '=', a key or value too long,
    a key given twice, a bad binary or numerical encoding. During login it is an initiator error."""

    def __init__(self, message: str) -> None:
        super().__init__(*INITIATOR_ERROR, message)
