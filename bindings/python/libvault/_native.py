"""Low-level ctypes declarations for libvault (``include/vault.h``).

This module finds and loads the shared library, declares ``argtypes`` and
``restype`` for every public function, mirrors the public structs and reads
every constant through the library's ``vault_const_*()`` and size functions.
It is private: use the classes in :mod:`libvault` instead.

Library search order (the first that exists wins):

1. the file named by the ``LIBVAULT_PATH`` environment variable (if it is
   set, it must load: no silent fallback to another copy);
2. the build tree relative to this package when it sits in a checkout
   (``<repo>/include/vault.h`` exists): ``<repo>/build/libvault.so``
   (what ``make`` builds), i.e. ``bindings/python/../../build/libvault.so``;
3. the installed library through the dynamic loader (``LD_LIBRARY_PATH``,
   ``ld.so.cache``): ``ctypes.util.find_library("vault")``, then
   ``libvault.so.0``.

``library_path`` is the absolute path of the file the loader opened (from
glibc's ``dlinfo``, else ``/proc/self/maps``), never a bare soname.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_int, c_int64,
                    c_size_t, c_uint, c_uint64, c_void_p)
from typing import TYPE_CHECKING, Any, Callable, List, Optional

if TYPE_CHECKING:
    from ctypes import _FuncPointer  # the stubs' name of a CFUNCTYPE instance

__all__ = ["lib", "library_path"]

# --------------------------------------------------------------------------
# Finding the library
# --------------------------------------------------------------------------

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
# bindings/python/libvault -> bindings/python -> bindings -> <repo>
_REPO_DIR = os.path.normpath(os.path.join(_PKG_DIR, "..", "..", ".."))
SONAME = "libvault.so.0"


class _LinkMap(Structure):
    """The first fields of glibc's ``struct link_map`` (<link.h>)."""
    _fields_ = [("l_addr", c_size_t), ("l_name", c_char_p)]


_RTLD_DI_LINKMAP = 2  # <dlfcn.h>


def _path_from_dlinfo(dll: ctypes.CDLL) -> Optional[str]:
    """The file the dynamic loader opened for ``dll`` (glibc's dlinfo)."""
    dlinfo = getattr(ctypes.CDLL(None), "dlinfo", None)
    if dlinfo is None:
        return None
    dlinfo.restype = c_int
    dlinfo.argtypes = [c_void_p, c_int, c_void_p]
    lm = POINTER(_LinkMap)()
    if dlinfo(dll._handle, _RTLD_DI_LINKMAP, ctypes.byref(lm)) != 0 or not lm:
        return None
    name: Optional[bytes] = lm.contents.l_name
    return os.fsdecode(name) if name else None


def _path_from_maps(address: int, maps: str = "/proc/self/maps") -> Optional[str]:
    """The file mapped at ``address`` in this process (Linux /proc/self/maps)."""
    try:
        with open(maps, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) < 6 or not parts[5].startswith("/"):
                    continue
                lo, _, hi = parts[0].partition("-")
                if int(lo, 16) <= address < int(hi, 16):
                    return parts[5].rstrip("\n")
    except OSError:
        return None
    return None


def _loaded_path(dll: ctypes.CDLL) -> Optional[str]:
    """The absolute path of the file behind ``dll``, as the loader found it."""
    path = _path_from_dlinfo(dll)
    if not path:
        address = ctypes.cast(dll.vault_init, c_void_p).value
        path = _path_from_maps(address) if address else None
    return os.path.abspath(path) if path else None


def _load() -> "tuple[ctypes.CDLL, str]":
    """Load the library (see the module docstring); ImportError lists what was tried."""
    tried: List[str] = []
    env = os.environ.get("LIBVAULT_PATH")
    if env:
        try:
            dll = ctypes.CDLL(env)
        except OSError as e:
            raise ImportError(
                "libvault: LIBVAULT_PATH=%r could not be loaded: %s" % (env, e)) from e
        return dll, _loaded_path(dll) or os.path.abspath(env)
    tried.append("LIBVAULT_PATH (not set)")
    candidates: List[str] = []
    build = os.path.join(_REPO_DIR, "build", "libvault.so")
    if not os.path.isfile(os.path.join(_REPO_DIR, "include", "vault.h")):
        tried.append("the build tree (the package is not in a libvault checkout)")
    elif not os.path.exists(build):
        tried.append("the build tree %s (no such file: run make)" % build)
    else:
        candidates.append(build)
    found = ctypes.util.find_library("vault")
    if found:
        candidates.append(found)
    else:
        tried.append("ctypes.util.find_library('vault') (found nothing)")
    if SONAME not in candidates:
        candidates.append(SONAME)
    for cand in candidates:
        try:
            dll = ctypes.CDLL(cand)
        except OSError as e:
            tried.append("%s (%s)" % (cand, e))
            continue
        path = _loaded_path(dll)
        if path is None:
            if os.sep not in cand:
                raise ImportError("libvault: loaded %s but cannot tell which file it is"
                                  % cand)
            path = os.path.abspath(cand)
        return dll, path
    raise ImportError(
        "libvault: the shared library was not found.  Tried: " + "; ".join(tried) +
        ".  Install it (make install), put its directory on "
        "LD_LIBRARY_PATH, or set LIBVAULT_PATH to the file (e.g. build/libvault.so).")


lib, library_path = _load()

# --------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------


# ctypes' stubs type restype and argtypes with their private _CData class.
_CType = Any


def _fn(name: str, restype: Optional[_CType], *argtypes: _CType) -> None:
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


# Versions and errors
_fn("vault_version_string", c_char_p)
_fn("vault_version_major", c_int)
_fn("vault_version_minor", c_int)
_fn("vault_version_patch", c_int)
_fn("vault_error_last", c_char_p)
_fn("vault_error_code", c_int)
_fn("vault_error_name", c_char_p, c_int)

_CONST_NAMES = [
    "ok", "error", "einvalid", "enomem", "eio", "eauth", "eintegrity", "edenied", "enotfound",
    "eexists", "ebusy", "epolicy", "elimit", "estate", "unlock_passphrase", "unlock_keyfile",
    "effect_deny", "effect_mask", "effect_allow", "action_read", "action_write",
    "action_create", "action_search", "action_erase", "action_export",
    "kdf_interactive", "kdf_moderate", "kdf_sensitive",
    "audit_ok", "audit_modified", "audit_missing", "audit_reordered", "audit_truncated",
    "audit_bad_signature", "audit_malformed", "audit_rolled_back", "audit_unwitnessed",
    "report_record", "report_user", "report_denied", "report_break_glass", "export_compact",
    "summary_text", "summary_json", "summary_csv",
]
for _n in _CONST_NAMES:
    _fn("vault_const_" + _n, c_int)

_SIZE_NAMES = ["id_bytes", "id_hex_size", "key_bytes", "field_overhead", "value_max",
               "jurisdiction_max", "name_max", "db_key_size", "hash_hex_size", "pubkey_size",
               "reason_text_size", "audit_name_size", "audit_message_size", "principal_max"]
for _n in _SIZE_NAMES:
    _fn("vault_" + _n, c_size_t)

_fn("vault_init", c_int)
_fn("vault_keyfile_generate", c_int, c_char_p)


# Progress callback: void (*)(uint64_t done, uint64_t total, void *arg)
PROGRESS_FN = CFUNCTYPE(None, c_uint64, c_uint64, c_void_p)


def _const(name: str) -> int:
    return int(getattr(lib, "vault_const_" + name)())


# Error codes
OK = _const("ok")
EXPORT_COMPACT = _const("export_compact")
E_ERROR = _const("error")
E_INVALID = _const("einvalid")
E_NOMEM = _const("enomem")
E_IO = _const("eio")
E_AUTH = _const("eauth")
E_INTEGRITY = _const("eintegrity")
E_DENIED = _const("edenied")
E_NOTFOUND = _const("enotfound")
E_EXISTS = _const("eexists")
E_BUSY = _const("ebusy")
E_POLICY = _const("epolicy")
E_LIMIT = _const("elimit")
E_STATE = _const("estate")

UNLOCK_PASSPHRASE = _const("unlock_passphrase")
UNLOCK_KEYFILE = _const("unlock_keyfile")

EFFECT_DENY = _const("effect_deny")
EFFECT_MASK = _const("effect_mask")
EFFECT_ALLOW = _const("effect_allow")

ACTION_READ = _const("action_read")
ACTION_WRITE = _const("action_write")
ACTION_CREATE = _const("action_create")
ACTION_SEARCH = _const("action_search")
ACTION_ERASE = _const("action_erase")
ACTION_EXPORT = _const("action_export")

# Sizes
ID_BYTES = int(lib.vault_id_bytes())
ID_HEX_SIZE = int(lib.vault_id_hex_size())
KEY_BYTES = int(lib.vault_key_bytes())
FIELD_OVERHEAD = int(lib.vault_field_overhead())
VALUE_MAX = int(lib.vault_value_max())
JURISDICTION_MAX = int(lib.vault_jurisdiction_max())
NAME_MAX = int(lib.vault_name_max())

# Every constant comes from the library's vault_const_*() functions.
# "kdf_default" is the documented 0 of vault_secret.kdf_profile ("0 = the
# default profile"), a convention of the field rather than a constant.
CONST = {name: _const(name) for name in (
    "kdf_interactive", "kdf_moderate", "kdf_sensitive",
    "audit_ok", "audit_modified", "audit_missing", "audit_reordered", "audit_truncated",
    "audit_bad_signature", "audit_malformed", "audit_rolled_back", "audit_unwitnessed",
    "report_record", "report_user", "report_denied", "report_break_glass")}
CONST["kdf_default"] = 0

# Array sizes inside the public structs and output buffer sizes, read from
# the library.  Name-sized arrays use VAULT_NAME_MAX, checked below against
# the layout these bindings mirror.
_ABI_NAME_MAX = 128        # VAULT_NAME_MAX as the struct layout below uses it
_REASON_TEXT = int(lib.vault_reason_text_size())
_AUDIT_NAME = int(lib.vault_audit_name_size())
_AUDIT_MESSAGE = int(lib.vault_audit_message_size())
DB_KEY_SIZE = int(lib.vault_db_key_size())
POLICY_HASH_SIZE = int(lib.vault_hash_hex_size())
PUBKEY_SIZE = int(lib.vault_pubkey_size())

if NAME_MAX != _ABI_NAME_MAX:
    raise ImportError(
        "libvault: %s reports vault_name_max() = %d but these bindings mirror structs "
        "built with VAULT_NAME_MAX = %d (vault_keyslot_info, vault_reason): the library "
        "and the bindings come from different versions; rebuild or update the bindings"
        % (library_path, NAME_MAX, _ABI_NAME_MAX))

# --------------------------------------------------------------------------
# Structs (field order and array sizes exactly as in vault.h)
# --------------------------------------------------------------------------


class _OptionStruct(Structure):
    """A struct the caller fills in (vault.h "Option structs"): its first
    member is `size`, set here to this mirror's sizeof like VAULT_*_INIT;
    positional arguments start at the member after it."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(ctypes.sizeof(type(self)), *args, **kw)


class vault_secret(_OptionStruct):
    _fields_ = [
        ("size", c_size_t),
        ("kind", c_int),
        ("data", c_void_p),
        ("len", c_size_t),
        ("kdf_profile", c_int),
    ]


class vault_keyslot_info(Structure):
    _fields_ = [
        ("slot", c_int),
        ("kind", c_int),
        ("label", c_char * _ABI_NAME_MAX),
        ("created", c_int64),
    ]


class vault_subject(_OptionStruct):
    _fields_ = [
        ("size", c_size_t),
        ("user", c_char_p),
        ("role", c_char_p),
        ("department", c_char_p),
        ("jurisdiction", c_char_p),
        ("purpose", c_char_p),
    ]


class vault_principal(_OptionStruct):
    _fields_ = [
        ("size", c_size_t),
        ("issuer", c_char_p),
        ("subject", c_char_p),
        ("token_id", c_char_p),
        ("app", c_char_p),
        ("peer", c_char_p),
        ("flags", c_uint),
        ("not_after", c_int64),
    ]


class vault_reason(Structure):
    _fields_ = [
        ("effect", c_int),
        ("rule", c_char * _ABI_NAME_MAX),
        ("where", c_char * (_ABI_NAME_MAX + 32)),
        ("grant", c_char * _ABI_NAME_MAX),
        ("text", c_char * _REASON_TEXT),
    ]


class vault_audit_result(Structure):
    _fields_ = [
        ("failure", c_int),
        ("failure_name", c_char * _AUDIT_NAME),
        ("bad_seq", c_uint64),
        ("entries", c_uint64),
        ("checkpoints", c_uint64),
        ("message", c_char * _AUDIT_MESSAGE),
        ("newest_size", c_uint64),
        ("newest_time", c_int64),
    ]


_PROOF_HASHES = int(lib.vault_proof_hashes_max())


class vault_proof(Structure):
    _fields_ = [
        ("kind", c_int),
        ("seq", c_uint64),
        ("from", c_uint64),
        ("size", c_uint64),
        ("leaf", ctypes.c_uint8 * 32),
        ("from_root", ctypes.c_uint8 * 32),
        ("root", ctypes.c_uint8 * 32),
        ("nhashes", c_size_t),
        ("hashes", (ctypes.c_uint8 * 32) * _PROOF_HASHES),
        ("checkpoint", c_void_p),
        ("from_checkpoint", c_void_p),
        ("log", c_void_p),
        ("via_seq", c_uint64),
        ("via_entry", c_void_p),
        ("via_len", c_size_t),
        ("via_size", c_uint64),
        ("via_root", ctypes.c_uint8 * 32),
        ("via_nhashes", c_size_t),
        ("via_hashes", (ctypes.c_uint8 * 32) * _PROOF_HASHES),
    ]


class vault_grant_spec(_OptionStruct):
    _fields_ = [
        ("size", c_size_t),
        ("user", c_char_p),
        ("role", c_char_p),
        ("department", c_char_p),
        ("effect", c_int),
        ("fields", POINTER(c_char_p)),
        ("nfields", c_size_t),
        ("grade_min", c_char_p),
        ("grade_max", c_char_p),
        ("records", POINTER(c_char_p)),
        ("nrecords", c_size_t),
        ("jurisdiction", c_char_p),
        ("purposes", POINTER(c_char_p)),
        ("npurposes", c_size_t),
        ("not_before", c_int64),
        ("not_after", c_int64),
        ("reason", c_char_p),
        ("actions", ctypes.c_uint),
    ]


class vault_credentials(_OptionStruct):
    _fields_ = [
        ("size", c_size_t),
        ("token", c_char_p),
        ("token_file", c_char_p),
        ("ca_file", c_char_p),
        ("cert_file", c_char_p),
        ("key_file", c_char_p),
        ("purpose", c_char_p),
        ("timeout_ms", ctypes.c_long),
    ]


# Opaque handles are plain c_void_p.
_vp = c_void_p
_pvp = POINTER(c_void_p)
_ps = POINTER(c_size_t)
_pi = POINTER(c_int)
_cpp = POINTER(c_char_p)   # const char *const *

# Handles
_fn("vault_create", c_int, _pvp, c_char_p, c_char_p, POINTER(vault_secret))
_fn("vault_open", c_int, _pvp, c_char_p, POINTER(vault_secret))
_fn("vault_open_progress", c_int, _pvp, c_char_p, POINTER(vault_secret), PROGRESS_FN, c_void_p)
_fn("vault_reopen", c_int, _pvp, _vp)
_fn("vault_connection_lost", c_int, _vp)
_fn("vault_close", None, _vp)
_fn("vault_id", c_int, c_void_p, c_size_t, _vp)
_fn("vault_location_shown", c_int, c_void_p, c_size_t, c_char_p)
_fn("vault_db_key", c_int, c_void_p, c_size_t, _vp)

# Client mode
_fn("vault_connect", c_int, _pvp, c_char_p, POINTER(vault_credentials))
_fn("vault_set_token", c_int, _vp, c_char_p)
_fn("vault_is_remote", c_int, _vp)

# Keyslots
_fn("vault_keyslot_add", c_int, _pi, _vp, POINTER(vault_secret), c_char_p)
_fn("vault_keyslot_remove", c_int, _vp, c_int)
_fn("vault_keyslot_list", c_int, POINTER(POINTER(vault_keyslot_info)), _ps, _vp)
_fn("vault_free", None, c_void_p)

# Policy
_fn("vault_policy_check", c_int, _pvp, c_char_p)
_fn("vault_policy_apply", c_int, _pvp, _vp, c_char_p)
_fn("vault_policy_source", c_int, _pvp, c_void_p, c_size_t, _vp)

# Sessions and decisions
_fn("vault_session_open", c_int, _pvp, _vp, POINTER(vault_subject))
_fn("vault_session_open_as", c_int, _pvp, _vp, POINTER(vault_subject), POINTER(vault_principal))
_fn("vault_session_close", None, _vp)
_fn("vault_decide", c_int, POINTER(vault_reason), _vp, c_int, c_char_p, c_char_p)
_fn("vault_explain", c_int, _pvp, _vp, c_int, c_char_p, c_char_p)
_fn("vault_who_can", c_int, _pvp, _vp, c_char_p, c_char_p, c_int)

# Records
_fn("vault_record_create", c_int, c_void_p, c_size_t, _vp, c_char_p)
_fn("vault_record_put", c_int, _vp, c_char_p, c_char_p, c_void_p, c_size_t)
_fn("vault_record_update", c_int, _vp, c_char_p, c_size_t, _cpp, POINTER(c_void_p), _ps)
_fn("vault_record_add", c_int, c_void_p, c_size_t, _vp, c_char_p, c_size_t, _cpp,
    POINTER(c_void_p), _ps)
_fn("vault_canary_add", c_int, c_void_p, c_size_t, _vp, c_char_p, c_size_t, _cpp,
    POINTER(c_void_p), _ps)
_fn("vault_record_get", c_int, _pvp, _vp, c_char_p, _cpp, c_size_t)
_fn("vault_record_get_batch", c_int, _pvp, _vp, _cpp, c_size_t, _cpp, c_size_t)
_fn("vault_result_count", c_size_t, _vp)
_fn("vault_result_field", c_char_p, _vp, c_size_t)
_fn("vault_result_effect", c_int, _vp, c_size_t)
_fn("vault_result_present", c_int, _vp, c_size_t)
_fn("vault_result_value", c_void_p, _vp, c_size_t, _ps)
_fn("vault_result_reason", POINTER(vault_reason), _vp, c_size_t)
_fn("vault_result_free", None, _vp)
_fn("vault_record_find", c_int, _pvp, _ps, _vp, c_char_p, c_void_p, c_size_t)
_fn("vault_record_jurisdiction", c_int, c_void_p, c_size_t, _vp, c_char_p)
_fn("vault_record_erase", c_int, _vp, c_char_p)

# Audit
_fn("vault_set_actor", c_int, _vp, c_char_p)
_fn("vault_set_actor_as", c_int, _vp, c_char_p, POINTER(vault_principal))
_fn("vault_log_refusal", c_int, _vp, POINTER(vault_principal), c_char_p, c_char_p)
_fn("vault_audit_checkpoint", c_int, _pvp, _vp)
_fn("vault_audit_pubkey", c_int, c_void_p, c_size_t, _vp)
_fn("vault_audit_pin", c_int, _vp, c_char_p)
_fn("vault_audit_require_recent", c_int, POINTER(vault_audit_result), c_int64)
_fn("vault_audit_verify", c_int, POINTER(vault_audit_result), _vp, c_char_p, PROGRESS_FN,
    c_void_p)
_fn("vault_audit_export", c_int, _vp, c_char_p, PROGRESS_FN, c_void_p)
_fn("vault_audit_verify_export", c_int, POINTER(vault_audit_result), c_char_p, c_char_p,
    c_char_p, PROGRESS_FN, c_void_p)
_fn("vault_audit_verify_notes", c_int, POINTER(vault_audit_result), _vp, POINTER(c_char_p),
    c_size_t, PROGRESS_FN, c_void_p)
_fn("vault_audit_verify_since", c_int, POINTER(vault_audit_result), _vp, c_char_p,
    POINTER(c_char_p), c_size_t, PROGRESS_FN, c_void_p)
_fn("vault_audit_export_as", c_int, _vp, c_char_p, c_int, PROGRESS_FN, c_void_p)
_fn("vault_audit_verify_export_notes", c_int, POINTER(vault_audit_result), c_char_p, c_char_p,
    POINTER(c_char_p), c_size_t, PROGRESS_FN, c_void_p)
_fn("vault_audit_verify_export_witnessed", c_int, POINTER(vault_audit_result), c_char_p,
    c_char_p, POINTER(c_char_p), c_size_t, POINTER(c_char_p), c_size_t, c_size_t, PROGRESS_FN,
    c_void_p)
_fn("vault_audit_notes_max", c_size_t)
_fn("vault_audit_report", c_int, _pvp, _vp, c_int, c_char_p, c_int)
_fn("vault_audit_anomalies", c_int, _pvp, _vp, ctypes.c_int64, c_int)
_fn("vault_audit_summary", c_int, _pvp, _vp, c_char_p, c_char_p, c_int)
# RFC 6962 proofs (the bindings read a proof through vault_proof_json).
_pproof = POINTER(vault_proof)
_fn("vault_proof_struct_size", c_size_t)
_fn("vault_proof_hashes_max", c_size_t)
_fn("vault_const_proof_inclusion", c_int)
_fn("vault_const_proof_consistency", c_int)
_fn("vault_audit_prove", c_int, _pproof, _vp, c_uint64, c_uint64)
_fn("vault_audit_prove_in", c_int, _pproof, _vp, c_char_p, c_uint64, c_uint64)
_fn("vault_audit_consistency", c_int, _pproof, _vp, c_uint64, c_uint64)
_fn("vault_proof_clear", None, _pproof)
_fn("vault_proof_json", c_int, _pvp, _pproof)
_fn("vault_proof_parse", c_int, _pproof, c_char_p, c_size_t)
_fn("vault_proof_check", c_int, _pproof, c_char_p, POINTER(c_char_p), c_size_t)
# Resident proof bundles (docs/audit-format.md section 11).
_fn("vault_audit_bundle", c_int, _pvp, _vp, c_char_p)
_fn("vault_audit_verify_bundle", c_int, POINTER(vault_audit_result), c_char_p, c_size_t, c_char_p,
    POINTER(c_char_p), c_size_t, c_size_t)
if ctypes.sizeof(vault_proof) != int(lib.vault_proof_struct_size()):
    raise ImportError("libvault: vault_proof is %d bytes in the library, %d here"
                      % (lib.vault_proof_struct_size(), ctypes.sizeof(vault_proof)))

# Witnesses (docs/witness.md "Submitting from a vault")
class vault_witness_target(_OptionStruct):
    _fields_ = [("size", c_size_t), ("key", c_char_p), ("url", c_char_p)]


class vault_alarm(Structure):
    _fields_ = [
        ("kind", c_char_p),
        ("name", c_char_p),
        ("user", c_char_p),
        ("role", c_char_p),
        ("department", c_char_p),
        ("purpose", c_char_p),
        ("record", c_char_p),
        ("count", ctypes.c_int64),
        ("limit", ctypes.c_int64),
        ("per", ctypes.c_int64),
        ("time", ctypes.c_int64),
    ]


ALARM_FN = CFUNCTYPE(None, POINTER(vault_alarm), c_void_p)

_fn("vault_set_alarm", c_int, _vp, ALARM_FN, c_void_p)


class vault_witness_status(Structure):
    _fields_ = [
        ("name", c_char * 256),
        ("size", c_uint64),
        ("already", c_int),
        ("result", c_int),
        ("message", c_char * 256),
    ]


_fn("vault_witness_status_size", c_size_t)
_fn("vault_audit_witness", c_int, POINTER(vault_witness_status), c_size_t, POINTER(c_size_t),
    _vp, POINTER(vault_witness_target), c_size_t, ctypes.c_long)
_fn("vault_set_witness_auto", c_int, _vp, c_int)
_fn("vault_witness_pinned", c_int, _vp, c_char_p)
_fn("vault_witness_take_due", c_int, _vp)
if ctypes.sizeof(vault_witness_status) != int(lib.vault_witness_status_size()):
    raise ImportError("libvault: vault_witness_status is %d bytes in the library, %d here"
                      % (lib.vault_witness_status_size(), ctypes.sizeof(vault_witness_status)))

# Grants and break-glass
_fn("vault_grant_issue", c_int, c_void_p, c_size_t, _pi, _vp, POINTER(vault_grant_spec))
_fn("vault_grant_approve", c_int, _vp, c_char_p)
_fn("vault_grant_revoke", c_int, _vp, c_char_p, c_char_p)
_fn("vault_grant_list", c_int, _pvp, _vp, c_int, c_int)
_fn("vault_grant_warnings", c_int, _pvp, _vp, c_char_p)
_fn("vault_break_glass", c_int, c_void_p, c_size_t, _vp, c_char_p, c_char_p, c_int64)

# Import, export, rotation
_fn("vault_import_csv", c_int, _ps, _vp, c_char_p, PROGRESS_FN, c_void_p)
_fn("vault_record_export", c_int, _pvp, _vp, c_char_p)
_fn("vault_key_rotate", c_int, _vp, c_char_p, PROGRESS_FN, c_void_p)
# Retention (docs/policy-format.md "Retention"): text or JSON into *out.
_fn("vault_retention_plan", c_int, _pvp, _vp, c_int)
_fn("vault_retention_run", c_int, _pvp, _vp, c_int)


# Backup (declared only: no Python API yet; docs/backup.md)
class vault_restore_info(Structure):
    _fields_ = [
        ("from_size", c_uint64),
        ("to_size", c_uint64),
        ("entries", c_uint64),
        ("kept_old", c_int),
    ]


_fn("vault_backup", c_int, _vp, c_char_p, PROGRESS_FN, c_void_p)
_fn("vault_backup_record_keys", c_int, _vp, c_char_p, PROGRESS_FN, c_void_p)
_fn("vault_const_restore_force", c_uint)
_fn("vault_restore", c_int, POINTER(vault_restore_info), c_char_p, c_char_p,
    POINTER(vault_secret), c_uint)


# Master-key rotation (declared only: no Python API yet; docs/keyslots.md 11)
class vault_master_rotation(Structure):
    _fields_ = [
        ("records", c_uint64),
        ("digests", c_uint64),
        ("record_keys", c_uint64),
        ("erased", c_uint64),
        ("grade_keys", c_uint64),
        ("entries", c_uint64),
        ("slot_kept", c_int),
        ("slot_added", c_int),
        ("slots_dropped", c_size_t),
        ("dropped", c_int * 32),
        ("cleaned", c_int),
    ]


_fn("vault_const_rotate_master_drop_current", c_uint)
_fn("vault_key_rotate_master", c_int, POINTER(vault_master_rotation), c_char_p,
    POINTER(vault_secret), POINTER(vault_secret), c_char_p, c_uint, PROGRESS_FN, c_void_p)


# Migration (declared only: no Python API yet; docs/postgresql.md)
class vault_migrate_info(Structure):
    _fields_ = [
        ("entries", c_uint64),
        ("records", c_uint64),
        ("rows", c_uint64),
    ]


_fn("vault_migrate", c_int, POINTER(vault_migrate_info), c_char_p, c_char_p,
    POINTER(vault_secret), PROGRESS_FN, c_void_p)


# --------------------------------------------------------------------------
# Helpers shared by the public modules
# --------------------------------------------------------------------------


def error_last() -> str:
    """The calling thread's last libvault error message."""
    raw: Optional[bytes] = lib.vault_error_last()
    return raw.decode("utf-8", "replace") if raw else ""


def error_name(code: int) -> str:
    """The constant name of an error code ("VAULT_EDENIED", ...)."""
    raw: Optional[bytes] = lib.vault_error_name(code)
    return raw.decode("utf-8", "replace") if raw else ""


def take_string(p: c_void_p, encoding_errors: str = "strict") -> str:
    """Copy a NUL-terminated string returned by libvault, then vault_free it.

    The library wipes the memory when freeing it.
    """
    if not p.value:
        return ""
    try:
        return ctypes.string_at(p.value).decode("utf-8", encoding_errors)
    finally:
        lib.vault_free(p)
        p.value = None


def progress_thunk(progress: Optional[Callable[[int, int], None]]) -> "_FuncPointer":
    """Wrap a Python ``progress(done, total)`` callable as a C callback.

    Returns the CFUNCTYPE object (or a NULL callback for ``None``).  The
    caller must keep the returned object referenced until the C call that
    uses it has returned.
    """
    if progress is None:
        return PROGRESS_FN(0)  # the NULL callback

    fn = progress

    def _cb(done: int, total: int, _arg: Optional[int]) -> None:
        fn(int(done), int(total))

    return PROGRESS_FN(_cb)


if lib.vault_init() != OK:
    raise ImportError("libvault: vault_init() failed: %s" % error_last())
