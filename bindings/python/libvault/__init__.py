"""Python bindings of libvault, the resident-data vault (ctypes, standard library only).

Quick tour (see bindings/python/README.md for a complete example)::

    import libvault

    with libvault.Vault.create("street.vault", "policies/community.yaml",
                               passphrase="correct horse", kdf="interactive") as v:
        with v.session(user="li", role="data_officer", department="street_office",
                       jurisdiction="hangzhou/gongshu/xiaohe",
                       purpose="resident_service") as officer:
            rid = officer.create("hangzhou/gongshu/xiaohe/changzheng/grid-07",
                                 {"name": "张三", "phone": "13812345678"})
            r = officer.get(rid, ["name", "phone"])
            print(r["phone"].value, r["phone"].effect, r["phone"].reason.rule)

The shared library is found through ``LIBVAULT_PATH``, then the build tree
(``<repo>/build/libvault.so``), then the installed ``libvault.so.0``; the
path loaded is :data:`library_path`.

Every failure raises a :class:`VaultError` subclass carrying the library's
``code`` and ``message``.  Every constant (error codes, effects, actions,
sizes) is read from the library through its ``vault_const_*()`` and size
functions.

Threads (docs/threading.md): a :class:`Vault` may be shared between threads
(the library serialises calls on one handle); give each thread its own
:class:`Session`, and open one :class:`Vault` per thread for parallel reads.
The GIL is released during every library call.
"""

from typing import Tuple

from . import _native
from ._vault import (Alarm, Action, AuditFailure, AuditResult, Effect, FieldResult, Grant, Kdf,
                     KeySlot, PolicySource, Principal, Reason, RecordExport, RecordResult,
                     ReportKind, Session,
                     UnlockKind, Vault, check_proof, generate_key_file, policy_check,
                     verify_bundle, verify_export)
from .errors import (AccessDenied, AlreadyExists, AuthError, Busy, IntegrityError,
                     InvalidInput, LimitExceeded, NotFound, OutOfMemory, PolicyError,
                     StateError, VaultError, VaultIOError, error_for_code)

#: Path of the shared library that was loaded.
library_path: str = _native.library_path

#: The library's version string, e.g. "0.1.0".
library_version: str = _native.lib.vault_version_string().decode("ascii", "replace")

#: (major, minor, patch) of the loaded library.
library_version_info: Tuple[int, int, int] = (
    int(_native.lib.vault_version_major()), int(_native.lib.vault_version_minor()),
    int(_native.lib.vault_version_patch()))

#: Sizes and limits, read from the library.
ID_BYTES: int = _native.ID_BYTES
ID_HEX_SIZE: int = _native.ID_HEX_SIZE
KEY_BYTES: int = _native.KEY_BYTES
FIELD_OVERHEAD: int = _native.FIELD_OVERHEAD
VALUE_MAX: int = _native.VALUE_MAX
JURISDICTION_MAX: int = _native.JURISDICTION_MAX
NAME_MAX: int = _native.NAME_MAX

__version__ = library_version

__all__ = [
    # handles and results
    "Vault", "Session", "Alarm", "RecordResult", "FieldResult", "Reason", "KeySlot", "AuditResult",
    "Grant", "PolicySource", "Principal", "RecordExport",
    # enumerations
    "Effect", "Action", "Kdf", "UnlockKind", "AuditFailure", "ReportKind",
    # functions that need no vault
    "generate_key_file", "policy_check", "verify_export", "verify_bundle", "check_proof",
    # exceptions
    "VaultError", "AccessDenied", "IntegrityError", "PolicyError", "AuthError", "NotFound",
    "InvalidInput", "LimitExceeded", "AlreadyExists", "Busy", "StateError", "VaultIOError",
    "OutOfMemory", "error_for_code",
    # library facts
    "library_path", "library_version", "library_version_info", "ID_BYTES", "ID_HEX_SIZE",
    "KEY_BYTES", "FIELD_OVERHEAD", "VALUE_MAX", "JURISDICTION_MAX", "NAME_MAX",
]
