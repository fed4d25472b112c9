"""Exceptions: one class per libvault error code (docs/errors.md).

Every exception raised for a failed libvault call is a :class:`VaultError`
carrying the library's numeric ``code`` (a negative ``VAULT_E*`` value read
through ``vault_const_*()``), its constant ``name`` and the one-line
``message`` from ``vault_error_last()``.  Messages never contain field
values, passphrases or key bytes.

Each class also derives from the built-in exception that Python code would
catch for the same failure, so ``except ValueError`` catches
:class:`InvalidInput` (README.md, "Errors"):

======================  ==================  =====================  ==========================
class                   code                also a                 raised when
======================  ==================  =====================  ==========================
:class:`VaultError`     ``VAULT_ERROR``     ``Exception``          no more specific code
:class:`InvalidInput`   ``VAULT_EINVALID``  ``ValueError``         undeclared field, bad id or
                                                                   path, CSV
:class:`OutOfMemory`    ``VAULT_ENOMEM``    ``MemoryError``        out of memory (also Argon2id)
:class:`VaultIOError`   ``VAULT_EIO``       ``OSError``            file or database I/O failed
:class:`AuthError`      ``VAULT_EAUTH``     ``PermissionError``    wrong passphrase or key file;
                                                                   a refused token
:class:`IntegrityError` ``VAULT_EINTEGRITY`` (none)                tampering or corruption
:class:`AccessDenied`   ``VAULT_EDENIED``   ``PermissionError``    the policy denies the access
:class:`NotFound`       ``VAULT_ENOTFOUND`` ``LookupError``        no such record, vault, slot,
                                                                   file
:class:`AlreadyExists`  ``VAULT_EEXISTS``   ``FileExistsError``    vault, key or export file
                                                                   exists
:class:`Busy`           ``VAULT_EBUSY``     ``TimeoutError``       another writer held the lock
                                                                   > 10 s
:class:`PolicyError`    ``VAULT_EPOLICY``   ``ValueError``         invalid policy
                                                                   (``FILE:LINE:COL``)
:class:`LimitExceeded`  ``VAULT_ELIMIT``    (none)                 a size or count limit
:class:`StateError`     ``VAULT_ESTATE``    ``RuntimeError``       not allowed now (last
                                                                   keyslot, closed handle, ...)
======================  ==================  =====================  ==========================

``PermissionError``, ``FileExistsError`` and ``TimeoutError`` are
``OSError`` subclasses, so ``except OSError`` also catches
:class:`AuthError`, :class:`AccessDenied`, :class:`AlreadyExists` and
:class:`Busy`; catch :class:`VaultIOError` for I/O failures alone.
The ``OSError`` attributes ``errno``, ``strerror`` and ``filename`` are
``None``: the library's code is ``code``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional, Tuple, Type

from . import _native as _n

if TYPE_CHECKING:
    from ._vault import AuditResult

__all__ = [
    "VaultError", "InvalidInput", "OutOfMemory", "VaultIOError", "AuthError", "IntegrityError",
    "AccessDenied", "NotFound", "AlreadyExists", "Busy", "PolicyError", "LimitExceeded",
    "StateError", "error_for_code",
]


class VaultError(Exception):
    """Base class of every libvault failure.

    Attributes:
        code: the library's negative error code (``VAULT_E*``).
        name: the code's constant name, e.g. ``"VAULT_EDENIED"``.
        message: the library's one-line message (``vault_error_last()``).
    """

    #: The error code this class stands for (set on each subclass).
    CODE: int = _n.E_ERROR

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        self.code: int = self.CODE if code is None else code
        self.name: str = _n.error_name(self.code)
        self.message: str = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return "%s(%r, code=%d)" % (type(self).__name__, self.message, self.code)


class InvalidInput(VaultError, ValueError):
    """Invalid argument or input data (``VAULT_EINVALID``)."""
    CODE = _n.E_INVALID


class OutOfMemory(VaultError, MemoryError):
    """Out of memory, including Argon2id's memory (``VAULT_ENOMEM``)."""
    CODE = _n.E_NOMEM


class VaultIOError(VaultError, OSError):
    """File or database I/O failed (``VAULT_EIO``)."""
    CODE = _n.E_IO


class AuthError(VaultError, PermissionError):
    """Wrong passphrase or key file, or in client mode credentials vaultd
    refused: a token that is expired, not yet valid, badly signed or for
    another audience, an unknown app (``VAULT_EAUTH``)."""
    CODE = _n.E_AUTH


class IntegrityError(VaultError):
    """Tampering or corruption detected (``VAULT_EINTEGRITY``).

    Raised by audit verification with :attr:`result` set to the
    :class:`libvault.AuditResult` that names the first bad entry.
    """
    CODE = _n.E_INTEGRITY

    def __init__(self, message: str, code: Optional[int] = None,
                 result: "Optional[AuditResult]" = None) -> None:
        super().__init__(message, code)
        #: The verification result, for audit verification failures.
        self.result: "Optional[AuditResult]" = result


class AccessDenied(VaultError, PermissionError):
    """The policy denies the access (``VAULT_EDENIED``)."""
    CODE = _n.E_DENIED


class NotFound(VaultError, LookupError):
    """No such record, vault, field, slot, grant or file (``VAULT_ENOTFOUND``)."""
    CODE = _n.E_NOTFOUND


class AlreadyExists(VaultError, FileExistsError):
    """The vault, key file or export file already exists (``VAULT_EEXISTS``)."""
    CODE = _n.E_EXISTS


class Busy(VaultError, TimeoutError):
    """Another writer held the vault longer than the busy timeout (``VAULT_EBUSY``)."""
    CODE = _n.E_BUSY


class PolicyError(VaultError, ValueError):
    """The policy file is invalid (``VAULT_EPOLICY``).

    The message names ``FILE:LINE:COL``; :attr:`report` holds every error
    and warning of the check when the library produced a report.
    """
    CODE = _n.E_POLICY

    def __init__(self, message: str, code: Optional[int] = None, report: str = "") -> None:
        super().__init__(message, code)
        #: Every ``FILE:LINE:COL: error|warning: message`` line, or "".
        self.report: str = report


class LimitExceeded(VaultError):
    """A size or count limit was exceeded (``VAULT_ELIMIT``)."""
    CODE = _n.E_LIMIT


class StateError(VaultError, RuntimeError):
    """Not allowed in the current state (``VAULT_ESTATE``).

    Also raised by the bindings for calls on a closed vault or session.
    """
    CODE = _n.E_STATE


_CLASSES: Tuple[Type[VaultError], ...] = (
    InvalidInput, OutOfMemory, VaultIOError, AuthError, IntegrityError, AccessDenied, NotFound,
    AlreadyExists, Busy, PolicyError, LimitExceeded, StateError)
_BY_CODE: Dict[int, Type[VaultError]] = {cls.CODE: cls for cls in _CLASSES}


def error_for_code(code: int) -> Type[VaultError]:
    """The exception class for a libvault error code (:class:`VaultError` if unknown)."""
    return _BY_CODE.get(code, VaultError)


def check(rc: int) -> int:
    """Raise the matching exception for a negative return code.

    Must be called right after the failing libvault call, on the same
    thread, before any other libvault call (the message is thread-local and
    valid until the next call).
    """
    if rc >= 0:
        return rc
    message = _n.error_last() or _n.error_name(rc) or "libvault error %d" % rc
    raise error_for_code(rc)(message, rc)
