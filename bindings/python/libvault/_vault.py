"""The Pythonic surface of libvault: :class:`Vault`, :class:`Session` and results.

See ``bindings/python/README.md`` for a complete example and
``include/vault.h`` for the reference of every operation.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _dt
import enum
import json
import os
import threading
import time
import weakref
from ctypes import byref, c_char_p, c_int, c_size_t, c_void_p
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple,
                    Optional, Sequence, Tuple, TypedDict, Union)

from . import _native as _n
from .errors import IntegrityError, PolicyError, StateError, VaultError, check, error_for_code

__all__ = [
    "Effect", "Action", "Kdf", "UnlockKind", "AuditFailure", "ReportKind", "Reason",
    "FieldResult", "RecordResult", "KeySlot", "AuditResult", "Grant", "PolicySource",
    "Principal", "RecordExport",
    "Vault", "Session", "generate_key_file", "policy_check", "verify_export", "check_proof",
]

PathLike = Union[str, os.PathLike[str]]
Secret = Union[str, bytes, bytearray, memoryview]
Progress = Optional[Callable[[int, int], None]]
TextOrJson = Union[str, List[Dict[str, Any]]]
"""A progress callback ``progress(done, total)``; ``total`` is 0 when unknown.

It is called on the thread running the operation, while the vault's lock is
held: it must not call into the same vault.  It cannot cancel the operation;
an exception it raises is printed by ctypes and otherwise ignored.
"""

# --------------------------------------------------------------------------
# Enumerations: every value read from the library at import time
# --------------------------------------------------------------------------


class Effect(enum.IntEnum):
    """A decision's effect (``VAULT_EFFECT_*``)."""
    DENY = _n.EFFECT_DENY    #: no value
    MASK = _n.EFFECT_MASK    #: masked value, e.g. ``138****5678``
    ALLOW = _n.EFFECT_ALLOW  #: plaintext


class Action(enum.IntEnum):
    """An action a policy rule decides (``VAULT_ACTION_*``)."""
    READ = _n.ACTION_READ
    WRITE = _n.ACTION_WRITE
    CREATE = _n.ACTION_CREATE
    SEARCH = _n.ACTION_SEARCH
    ERASE = _n.ACTION_ERASE
    EXPORT = _n.ACTION_EXPORT


class Kdf(enum.IntEnum):
    """Argon2id cost profile of a passphrase keyslot (``VAULT_KDF_*``)."""
    DEFAULT = _n.CONST["kdf_default"]          #: the library's default (moderate)
    INTERACTIVE = _n.CONST["kdf_interactive"]  #: ~64 MiB, for tests and small machines
    MODERATE = _n.CONST["kdf_moderate"]        #: ~256 MiB
    SENSITIVE = _n.CONST["kdf_sensitive"]      #: ~1 GiB


class UnlockKind(enum.IntEnum):
    """How a keyslot is unlocked (``VAULT_UNLOCK_*``)."""
    PASSPHRASE = _n.UNLOCK_PASSPHRASE
    KEYFILE = _n.UNLOCK_KEYFILE


class AuditFailure(enum.IntEnum):
    """Failure class of an audit verification (``VAULT_AUDIT_*``)."""
    OK = _n.CONST["audit_ok"]
    MODIFIED = _n.CONST["audit_modified"]
    MISSING = _n.CONST["audit_missing"]
    REORDERED = _n.CONST["audit_reordered"]
    TRUNCATED = _n.CONST["audit_truncated"]
    BAD_SIGNATURE = _n.CONST["audit_bad_signature"]
    MALFORMED = _n.CONST["audit_malformed"]
    ROLLED_BACK = _n.CONST["audit_rolled_back"]
    UNWITNESSED = _n.CONST["audit_unwitnessed"]


class ReportKind(enum.IntEnum):
    """Kinds of audit reports (``VAULT_REPORT_*``)."""
    RECORD = _n.CONST["report_record"]            #: who accessed this resident (arg: record id)
    USER = _n.CONST["report_user"]                #: what this user accessed (arg: user)
    DENIED = _n.CONST["report_denied"]            #: all denials
    BREAK_GLASS = _n.CONST["report_break_glass"]  #: all break-glass accesses


# --------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------


def _s(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class Reason:
    """Why a decision came out as it did.

    ``rule`` is the deciding rule's id and ``where`` its ``file:line``;
    ``grant`` the deciding grant's id.  Unused ones are ``""``: a default
    deny names neither a rule nor a grant.
    """
    effect: Effect
    rule: str
    where: str
    grant: str
    text: str

    @classmethod
    def _from_c(cls, r: "_n.vault_reason") -> "Reason":
        return cls(Effect(r.effect), _s(r.rule), _s(r.where), _s(r.grant), _s(r.text))


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the service that authenticated the caller saw it.

    Every audit entry records it (report rows carry ``issuer``,
    ``subject``, ``token_id``, ``app`` and ``peer``; ``None`` in entries
    written before the principal was recorded).  Sessions opened without
    one are embedded: empty issuer and app, peer ``local:uid=U,pid=P``.

    ``not_after`` is the last second (unix time, the vault's clock) the
    credential is good, 0 for no limit: a session past it is refused, and
    so is the commit of any call it makes after it (``AuthError``,
    nothing written or returned).  Ignored in client mode.
    """
    peer: str
    app: str = ""
    issuer: str = ""
    subject: str = ""
    token_id: str = ""
    not_after: int = 0

    def _c(self) -> "_n.vault_principal":
        return _n.vault_principal(_b(self.issuer, "issuer"), _b(self.subject, "subject"),
                                  _b(self.token_id, "token_id"), _b(self.app, "app"),
                                  _b(self.peer, "peer"), 0, int(self.not_after))


@dataclass(frozen=True)
class FieldResult:
    """One field of a read: the value together with its decision.

    ``value`` is the plaintext (effect ALLOW), the masked text (MASK), or
    ``None`` when the field is denied or has no stored value.
    """
    field: str
    effect: Effect
    present: bool
    value: Optional[str]
    reason: Reason

    @property
    def allowed(self) -> bool:
        """True when the value is plaintext."""
        return self.effect == Effect.ALLOW

    @property
    def masked(self) -> bool:
        """True when the value is masked."""
        return self.effect == Effect.MASK

    @property
    def denied(self) -> bool:
        """True when the field is denied (no value)."""
        return self.effect == Effect.DENY

    def __repr__(self) -> str:  # never show values in reprs (logs, tracebacks)
        return "FieldResult(field=%r, effect=%s, present=%r, reason=%r)" % (
            self.field, self.effect.name, self.present, self.reason.text)


class RecordResult(Mapping[str, FieldResult]):
    """The per-field results of reading one record, in the order read.

    A read mapping ``field -> FieldResult``; ``result["phone"].value``.
    """

    def __init__(self, record_id: str, fields: Sequence[FieldResult]) -> None:
        self.record_id: str = record_id
        self._fields: Dict[str, FieldResult] = {f.field: f for f in fields}

    def __getitem__(self, field: str) -> FieldResult:
        return self._fields[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def value(self, field: str) -> Optional[str]:
        """The value of ``field`` (``None`` if denied or absent)."""
        return self._fields[field].value

    def visible(self) -> Dict[str, str]:
        """``{field: value}`` for every field with a plaintext or masked value."""
        return {k: f.value for k, f in self._fields.items() if f.value is not None}

    def denied(self) -> List[str]:
        """The names of the denied fields."""
        return [k for k, f in self._fields.items() if f.denied]

    def __repr__(self) -> str:
        return "RecordResult(%r, %r)" % (self.record_id, list(self._fields.values()))


@dataclass(frozen=True)
class Alarm:
    """An access over a policy quota whose ``over:`` is alert (``vault_alarm``)."""
    kind: str        #: "quota"
    name: str        #: the quota's id
    user: str
    role: str
    department: str
    purpose: str
    record: str      #: the record read (32 hex digits) or ""
    count: int       #: uses in the quota's window, this one included
    limit: int
    per: int         #: the window, seconds
    time: int        #: unix seconds


@dataclass(frozen=True)
class KeySlot:
    """One keyslot of the vault's ``.keys`` sidecar."""
    slot: int
    kind: UnlockKind
    label: str
    created: int  #: unix seconds

    @property
    def created_at(self) -> _dt.datetime:
        """``created`` as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.created, _dt.timezone.utc)


@dataclass(frozen=True)
class AuditResult:
    """The outcome of an audit verification (``vault_audit_result``)."""
    failure: AuditFailure
    failure_name: str  #: "modified", "missing", ... ("" when intact)
    bad_seq: int       #: first bad entry (or checkpoint size)
    entries: int       #: entries checked
    checkpoints: int   #: signed checkpoints checked
    message: str
    newest_size: int = 0  #: the largest checkpoint checked (0: none)
    newest_time: int = 0  #: its signed time, Unix seconds (0: none)

    @property
    def ok(self) -> bool:
        """True when the log is intact."""
        return self.failure == AuditFailure.OK

    @classmethod
    def _from_c(cls, r: "_n.vault_audit_result") -> "AuditResult":
        try:
            failure = AuditFailure(r.failure)
        except ValueError:
            failure = AuditFailure.MALFORMED
        return cls(failure, _s(r.failure_name), int(r.bad_seq), int(r.entries),
                   int(r.checkpoints), _s(r.message), int(r.newest_size), int(r.newest_time))


@dataclass(frozen=True)
class Grant:
    """An issued grant: its id, and whether it waits for a second officer."""
    id: str
    pending: bool


class RecordExport(TypedDict):
    """A resident's copy (:meth:`Session.export`): the record's id, its
    jurisdiction, and ``{field: value}`` for every field the session may see
    (plaintext or masked; denied and empty fields left out)."""
    record: str
    jurisdiction: str
    fields: Dict[str, str]


class PolicySource(NamedTuple):
    """The active policy's YAML text and its SHA-256 (hex)."""
    text: str
    sha256: str


# --------------------------------------------------------------------------
# Marshalling helpers
# --------------------------------------------------------------------------


def _b(s: object, what: str) -> bytes:
    """Encode a required name, id, text or path for a ``const char *`` argument.

    ``None`` or anything but ``str``, ``bytes`` or a path raises
    ``TypeError`` naming the argument (never NULL to the library).
    """
    if isinstance(s, os.PathLike):
        s = os.fspath(s)
    if isinstance(s, bytes):
        raw = s
    elif isinstance(s, str):
        raw = s.encode("utf-8")
    else:
        raise TypeError("%s must be str, not %s" % (what, type(s).__name__))
    if b"\0" in raw:
        raise ValueError("%s contains a NUL character" % what)
    return raw


def _ob(s: object, what: str) -> Optional[bytes]:
    """Like :func:`_b` for an optional argument: ``None`` is NULL."""
    return None if s is None else _b(s, what)


def _mapping(m: object, what: str) -> Mapping[str, Any]:
    """A required ``{field: value}`` argument."""
    if not isinstance(m, Mapping):
        raise TypeError("%s must be a mapping of field names to values, not %s"
                        % (what, type(m).__name__))
    return m


def _strv(items: Optional[Iterable[str]],
          what: str) -> "Tuple[Optional[ctypes.Array[c_char_p]], int, List[bytes]]":
    """A ``const char *const *`` array (or NULL) with its count and keep-alive list."""
    if items is None:
        return None, 0, []
    if isinstance(items, (str, bytes)):
        items = [items]  # a single name is a list of one
    elif not isinstance(items, Iterable):
        raise TypeError("%s must be a list of str, not %s" % (what, type(items).__name__))
    raw = [_b(x, what) for x in items]
    if not raw:
        return None, 0, raw
    return (c_char_p * len(raw))(*raw), len(raw), raw


class _Plain:
    """ctypes buffers holding plaintext values, wiped after the call.

    (The ``str``/``bytes`` objects the caller passed can't be wiped by us.)
    """

    def __init__(self) -> None:
        self._bufs: List["ctypes.Array[ctypes.c_char]"] = []

    def add(self, value: Secret) -> Tuple[int, int]:
        if isinstance(value, str):
            data = value.encode("utf-8")
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value) if isinstance(value, memoryview) else value
        else:
            raise TypeError("a value must be str or bytes, not %s" % type(value).__name__)
        n = len(data)
        buf = ctypes.create_string_buffer(n + 1)
        if n:
            if isinstance(data, bytearray):
                ctypes.memmove(buf, (ctypes.c_char * n).from_buffer(data), n)
            else:
                ctypes.memmove(buf, data, n)
        self._bufs.append(buf)
        return ctypes.addressof(buf), n

    def wipe(self) -> None:
        for buf in self._bufs:
            ctypes.memset(buf, 0, ctypes.sizeof(buf))
        self._bufs.clear()

    def __enter__(self) -> "_Plain":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wipe()


def _kdf_value(kdf: Union[None, str, int, Kdf]) -> int:
    if kdf is None:
        return int(Kdf.DEFAULT)
    if isinstance(kdf, str):
        try:
            return int(Kdf[kdf.upper()])
        except KeyError:
            raise ValueError("kdf must be one of %s, not %r"
                             % (", ".join(k.name.lower() for k in Kdf), kdf)) from None
    return int(Kdf(kdf))


@contextlib.contextmanager
def _secret(passphrase: Optional[Secret], key_file: Optional[PathLike],
            kdf: Union[None, str, int, Kdf] = None) -> Iterator["_n.vault_secret"]:
    """Build a vault_secret; the passphrase buffer is zeroed when the block ends."""
    if (passphrase is None) == (key_file is None):
        raise TypeError("give exactly one of passphrase= or key_file=")
    sec = _n.vault_secret()
    sec.kdf_profile = _kdf_value(kdf)
    if key_file is not None:
        buf = ctypes.create_string_buffer(_b(key_file, "key_file"))
        sec.kind = _n.UNLOCK_KEYFILE
        sec.data = ctypes.addressof(buf)
        sec.len = 0
        yield sec
        return
    if isinstance(passphrase, str):
        pw = passphrase.encode("utf-8")
    elif isinstance(passphrase, memoryview):
        pw = passphrase.tobytes()
    elif isinstance(passphrase, (bytes, bytearray)):
        pw = passphrase
    else:
        raise TypeError("passphrase must be str or bytes, not %s" % type(passphrase).__name__)
    n = len(pw)
    buf = ctypes.create_string_buffer(n + 1)
    try:
        if n:
            if isinstance(pw, bytearray):
                view = (ctypes.c_char * n).from_buffer(pw)
                ctypes.memmove(buf, view, n)
                del view
            else:
                ctypes.memmove(buf, pw, n)
        sec.kind = _n.UNLOCK_PASSPHRASE
        sec.data = ctypes.addressof(buf)
        sec.len = n
        yield sec
    finally:
        ctypes.memset(buf, 0, ctypes.sizeof(buf))
        sec.data = None


def _read_result(r: c_void_p, record_id: str) -> RecordResult:
    """Copy every field out of a vault_result (the caller frees it)."""
    out: List[FieldResult] = []
    count = _n.lib.vault_result_count(r)
    for i in range(count):
        name = _s(_n.lib.vault_result_field(r, i) or b"")
        effect = Effect(_n.lib.vault_result_effect(r, i))
        present = bool(_n.lib.vault_result_present(r, i))
        length = c_size_t(0)
        ptr = _n.lib.vault_result_value(r, i, byref(length))
        value: Optional[str] = None
        if ptr is not None:
            n = length.value
            tmp = bytearray(n)
            if n:
                view = (ctypes.c_char * n).from_buffer(tmp)
                ctypes.memmove(view, ptr, n)
            try:
                value = tmp.decode("utf-8")
            finally:
                if n:
                    ctypes.memset(view, 0, n)
                    del view
        reason_p = _n.lib.vault_result_reason(r, i)
        reason = Reason._from_c(reason_p.contents) if reason_p else \
            Reason(effect, "", "", "", "")
        out.append(FieldResult(name, effect, present, value, reason))
    return RecordResult(record_id, out)


def _parse_json(text: str) -> Any:
    return json.loads(text) if text.strip() else []


def _json_arg(doc: object, what: str) -> bytes:
    """A JSON document given as text, bytes or a mapping, as UTF-8 bytes."""
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, str):
        return doc.encode("utf-8")
    if isinstance(doc, Mapping):
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    raise TypeError("%s must be a dict or its JSON text, not %s" % (what, type(doc).__name__))


def _json_object(text: str, what: str) -> Dict[str, Any]:
    """The JSON object the library returned (anything else is a library bug)."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise VaultError("%s: the library returned JSON that is not an object" % what)
    return doc


def _to_unix(t: Union[None, int, float, _dt.datetime]) -> int:
    if t is None:
        return 0
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            raise ValueError("use an aware datetime (with tzinfo) for grant times")
        return int(t.timestamp())
    return int(t)


# --------------------------------------------------------------------------
# Handle bookkeeping (closing a handle waits for calls still running on it)
# --------------------------------------------------------------------------


class _Handle:
    """A C pointer that may be closed once no call is using it."""

    def __init__(self, ptr: c_void_p, closer: Callable[[c_void_p], None], what: str) -> None:
        self._ptr: Optional[c_void_p] = ptr
        self._closer = closer
        self._what = what
        self._busy = 0
        self._cond = threading.Condition(threading.Lock())

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @contextlib.contextmanager
    def use(self) -> Iterator[c_void_p]:
        with self._cond:
            if self._ptr is None:
                raise StateError("the %s is closed" % self._what)
            self._busy += 1
            ptr = self._ptr
        try:
            yield ptr
        finally:
            with self._cond:
                self._busy -= 1
                if not self._busy:
                    self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            ptr, self._ptr = self._ptr, None
            while self._busy:
                self._cond.wait()
        if ptr is not None:
            self._closer(ptr)


# --------------------------------------------------------------------------
# Module-level functions that need no vault
# --------------------------------------------------------------------------


def generate_key_file(path: PathLike) -> None:
    """Write a new key file (32 random bytes, mode 0600).

    Raises :class:`~libvault.AlreadyExists` rather than overwrite a file.
    """
    check(_n.lib.vault_keyfile_generate(_b(path, "path")))


def policy_check(policy_file: PathLike) -> str:
    """Check a policy file without a vault.

    Returns the report (warnings, one ``FILE:LINE:COL: warning: ...`` per
    line; ``""`` when clean).  Raises :class:`~libvault.PolicyError` when the
    policy is invalid: its message names the first ``FILE:LINE:COL`` and its
    ``report`` attribute holds every error and warning.
    """
    out = c_void_p()
    rc = _n.lib.vault_policy_check(byref(out), _b(policy_file, "policy_file"))
    message = _n.error_last() if rc < 0 else ""
    report = _n.take_string(out, "replace")
    if rc == _n.E_POLICY:
        if not message:  # the report's first error names FILE:LINE:COL too
            message = next((ln for ln in report.splitlines() if ": error:" in ln),
                           report.strip() or "invalid policy")
        raise PolicyError(message, rc, report=report)
    if rc < 0:
        raise error_for_code(rc)(message or _n.error_name(rc), rc)
    return report


def _verify_call(fn: Callable[..., int], args: Tuple[Any, ...], progress: Progress,
                 check_result: bool, max_age: Optional[int] = None) -> AuditResult:
    if max_age is not None and max_age <= 0:
        raise ValueError("max_age must be a positive number of seconds")
    res = _n.vault_audit_result()
    thunk = _n.progress_thunk(progress)
    rc = fn(byref(res), *args, thunk, None)
    if rc >= 0 and max_age is not None:
        rc = min(rc, _n.lib.vault_audit_require_recent(byref(res), max_age))
    message = _n.error_last() if rc < 0 else ""
    del thunk
    result = AuditResult._from_c(res)
    if rc == _n.E_INTEGRITY:
        if check_result:
            raise IntegrityError(message or result.message, rc, result=result)
        return result
    if rc < 0:
        raise error_for_code(rc)(message or _n.error_name(rc), rc)
    return result


Checkpoints = Union[None, str, Sequence[str]]


def _notes(checkpoint: Checkpoints) -> Tuple[Any, int]:
    """A ``const char *const *`` array and its length for one note or several."""
    if checkpoint is None:
        return None, 0
    notes = [checkpoint] if isinstance(checkpoint, (str, bytes)) else list(checkpoint)
    if len(notes) > int(_n.lib.vault_audit_notes_max()):
        raise ValueError("at most %d checkpoints" % int(_n.lib.vault_audit_notes_max()))
    arr = (c_char_p * max(len(notes), 1))(*[_b(x, "checkpoint") for x in notes])
    return arr, len(notes)


def verify_export(export_path: PathLike, pubkey: str, checkpoint: Checkpoints = None, *,
                  progress: Progress = None, check: bool = True,
                  max_age: Optional[int] = None, witness_keys: Sequence[str] = (),
                  witness_quorum: int = 0) -> AuditResult:
    """Verify an audit export offline, with the public key text alone (no vault).

    ``pubkey`` is the text from :meth:`Vault.audit_pubkey`; ``checkpoint``
    optionally a signed note from :meth:`Vault.audit_checkpoint`, or a list
    of them (every one is checked).  Raises
    :class:`~libvault.IntegrityError` (with ``.result``) when the export was
    tampered with, unless ``check=False``, which returns the failing
    :class:`AuditResult` instead.

    ``witness_keys`` (verifier key texts, as ``vaultctl witness pubkey``
    prints them) require the export's newest checkpoint to carry valid
    cosignatures from ``witness_quorum`` of them (0: all), else the class
    is :attr:`AuditFailure.UNWITNESSED`.
    """
    arr, n = _notes(checkpoint)
    keys = [_b(k, "witness_keys").strip() for k in witness_keys]
    if witness_quorum < 0 or witness_quorum > len(keys):
        raise ValueError("witness_quorum must be from 0 (all) to the number of witness keys")
    karr = (c_char_p * max(len(keys), 1))(*keys)
    return _verify_call(_n.lib.vault_audit_verify_export_witnessed,
                        (_b(export_path, "export_path"), _b(pubkey, "pubkey").strip(), arr, n,
                         karr, len(keys), witness_quorum),
                        progress, check, max_age)


def _proof_dict(proof_c: Any) -> Dict[str, Any]:
    """The proof object (docs/audit-format.md, "Proofs") of a filled vault_proof."""
    out = c_void_p()
    check(_n.lib.vault_proof_json(byref(out), byref(proof_c)))
    return _json_object(_n.take_string(out), "vault_proof_json")


def check_proof(proof: Union[str, Mapping[str, Any]], pubkey: str,
                checkpoint: Checkpoints = None) -> None:
    """Check an inclusion or consistency proof offline, with the public key alone.

    ``proof`` is the dict from :meth:`Vault.audit_prove` or
    :meth:`Vault.audit_consistency` (or its JSON text); ``pubkey`` the text
    from :meth:`Vault.audit_pubkey`; ``checkpoint`` optionally signed notes
    kept outside (one or a list), each of the proof's size or from-size.
    The hashes must lead to the root(s) and a note signed by the key must
    vouch for each root.  Raises :class:`~libvault.IntegrityError` when the
    proof fails, :class:`~libvault.NotFound` when no signed note vouches
    for a root, :class:`~libvault.InvalidInput` for a malformed proof,
    key or note.
    """
    raw = _json_arg(proof, "proof")
    key = _b(pubkey, "pubkey").strip()
    arr, n = _notes(checkpoint)
    proof_c = _n.vault_proof()
    try:
        check(_n.lib.vault_proof_parse(byref(proof_c), raw, len(raw)))
        check(_n.lib.vault_proof_check(byref(proof_c), key, arr, n))
    finally:
        _n.lib.vault_proof_clear(byref(proof_c))


def verify_bundle(bundle: Union[str, bytes, Mapping[str, Any]], pubkey: str,
                  witness_keys: Optional[Sequence[str]] = None, quorum: int = 0, *,
                  check: bool = True) -> AuditResult:
    """Verify a resident's proof bundle offline, with the public key alone.

    ``bundle`` is the dict from :meth:`Vault.audit_bundle` (or its JSON
    text, as ``vaultctl audit report --record ID --bundle FILE`` writes
    it); ``pubkey`` the text from :meth:`Vault.audit_pubkey`;
    ``witness_keys`` optionally witnesses' verifier keys, of which at least
    ``quorum`` (0: all) must have cosigned the bundle's checkpoint.  Raises
    :class:`~libvault.IntegrityError` (with ``.result``: modified, missing,
    reordered, bad signature, malformed or unwitnessed) when the bundle
    fails, unless ``check=False``, which returns the failing
    :class:`AuditResult`; :class:`~libvault.InvalidInput` for a malformed
    key or a quorum above the number of keys.
    """
    raw = _json_arg(bundle, "bundle")
    if quorum < 0:
        raise ValueError("quorum is not negative")
    keys = list(witness_keys or [])
    arr = (c_char_p * max(len(keys), 1))(*[_b(k, "witness_keys").strip() for k in keys])
    res = _n.vault_audit_result()
    rc = _n.lib.vault_audit_verify_bundle(byref(res), raw, len(raw), _b(pubkey, "pubkey").strip(),
                                          arr if keys else None, len(keys), quorum)
    message = _n.error_last() if rc < 0 else ""
    result = AuditResult._from_c(res)
    if rc == _n.E_INTEGRITY:
        if check:
            raise IntegrityError(message or result.message, rc, result=result)
        return result
    if rc < 0:
        raise error_for_code(rc)(message or _n.error_name(rc), rc)
    return result


# --------------------------------------------------------------------------
# Vault
# --------------------------------------------------------------------------


class Vault:
    """An open vault: a handle on ``path`` and its ``path.keys`` sidecar.

    Create one with :meth:`create` or :meth:`open`; use it as a context
    manager (``with Vault.open(...) as v:``) or call :meth:`close`.

    Threads: a handle may be shared between threads; the library serialises
    the calls on it (and on its sessions) with the handle's mutex.  For
    parallel reads open one handle per thread (docs/threading.md).
    :meth:`close` waits for calls still running on the handle, closes the
    sessions still open on it, then closes the handle.
    """

    def __init__(self, _ptr: c_void_p, path: str) -> None:
        """Private: use :meth:`create` or :meth:`open`."""
        self._h = _Handle(_ptr, _n.lib.vault_close, "vault")
        self.path: str = path
        self._sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()
        self._slock = threading.Lock()

    # ---- lifecycle -------------------------------------------------------

    @classmethod
    def create(cls, path: PathLike, policy: PathLike, *, passphrase: Optional[Secret] = None,
               key_file: Optional[PathLike] = None,
               kdf: Union[None, str, int, Kdf] = None) -> "Vault":
        """Create a new vault at ``path`` governed by the policy file ``policy``.

        Unlock it with ``passphrase`` (str or bytes; ``kdf`` picks the
        Argon2id profile: ``"interactive"``, ``"moderate"`` (default) or
        ``"sensitive"``) or with an existing ``key_file`` (see
        :func:`generate_key_file`).  Raises :class:`~libvault.AlreadyExists`
        if the vault or its sidecar exists, :class:`~libvault.PolicyError`
        if the policy is invalid.
        """
        out = c_void_p()
        p = _b(path, "path")
        pol = _b(policy, "policy")
        with _secret(passphrase, key_file, kdf) as sec:
            rc = _n.lib.vault_create(byref(out), p, pol, byref(sec))
            check(rc)
        return cls(out, os.fspath(path))

    @classmethod
    def open(cls, path: PathLike, *, passphrase: Optional[Secret] = None,
             key_file: Optional[PathLike] = None, progress: Progress = None) -> "Vault":
        """Open an existing vault with a passphrase or a key file.

        A vault of an older release migrates as it opens; ``progress(done,
        total)`` then gets the records copied of the records there are.

        Raises :class:`~libvault.AuthError` for a wrong passphrase or key,
        :class:`~libvault.IntegrityError` for a damaged ``.keys`` sidecar,
        :class:`~libvault.NotFound` when there is no vault.
        """
        out = c_void_p()
        p = _b(path, "path")
        thunk = _n.progress_thunk(progress)
        with _secret(passphrase, key_file) as sec:
            rc = _n.lib.vault_open_progress(byref(out), p, byref(sec), thunk, None)
            check(rc)
        del thunk
        return cls(out, os.fspath(path))

    @classmethod
    def connect(cls, url: str, *, token: Optional[str] = None,
                token_file: Optional[PathLike] = None, ca_file: Optional[PathLike] = None,
                cert: Optional[PathLike] = None, key: Optional[PathLike] = None,
                purpose: Optional[str] = None, timeout: Optional[float] = None) -> "Vault":
        """Client mode: a handle on the vault vaultd serves at ``url``.

        ``url`` is ``unix:///run/vaultd/vaultd.sock`` or ``https://host:port``
        (TLS 1.3; ``ca_file`` is the CA to trust, ``cert`` and ``key`` the
        app's client certificate).  Give the identity token as ``token``
        (text) or ``token_file``; replace it later with :meth:`set_token`.
        ``purpose`` is sent with the calls that take no session (audit,
        policy, grant lists, who-can, key rotation); ``timeout`` is per
        request, in seconds (default 30).

        The process holds no key: every method is a request to vaultd, and
        the token names who is acting (the user, role, department and
        jurisdiction given to :meth:`session` are ignored; only the purpose
        is sent).  A lost connection raises :class:`~libvault.VaultIOError`
        (``VAULT_EIO``) and returns no value; a refused token
        :class:`~libvault.AuthError`.  Keyslots and :meth:`set_actor` raise
        :class:`~libvault.StateError`.
        """
        cred = _n.vault_credentials(
            _ob(token, "token"), _ob(token_file, "token_file"), _ob(ca_file, "ca_file"),
            _ob(cert, "cert"), _ob(key, "key"), _ob(purpose, "purpose"),
            0 if timeout is None else max(1, int(timeout * 1000)))
        out = c_void_p()
        check(_n.lib.vault_connect(byref(out), _b(url, "url"), byref(cred)))
        return cls(out, url)

    @property
    def remote(self) -> bool:
        """True for a client-mode handle (:meth:`connect`)."""
        with self._use() as v:
            return bool(_n.lib.vault_is_remote(v))

    def set_token(self, token: str) -> None:
        """Client mode: use this identity token from the next request on."""
        with self._use() as v:
            check(_n.lib.vault_set_token(v, _b(token, "token")))

    def close(self) -> None:
        """Close the sessions still open on this vault, then the handle (wiping its keys).

        Safe to call more than once.
        """
        with self._slock:
            sessions = list(self._sessions)
        for s in sessions:
            s.close()
        self._h.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._h.closed

    def __enter__(self) -> "Vault":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None and not h.closed:
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return "<libvault.Vault %r%s>" % (self.path, " closed" if self.closed else "")

    @contextlib.contextmanager
    def _use(self) -> Iterator[c_void_p]:
        with self._h.use() as ptr:
            yield ptr

    # ---- identity ----------------------------------------------------------

    @property
    def id(self) -> str:
        """The vault's random id as 32 hex characters."""
        buf = ctypes.create_string_buffer(_n.ID_HEX_SIZE)
        with self._use() as v:
            check(_n.lib.vault_id(buf, _n.ID_HEX_SIZE, v))
        return _s(buf.value)

    def db_key(self) -> str:
        """The raw SQLCipher key ``x'<64 hex>'`` for the stock sqlcipher shell.

        This is a secret, and asking for it is logged in the audit trail.
        """
        size = _n.DB_KEY_SIZE
        buf = ctypes.create_string_buffer(size)
        try:
            with self._use() as v:
                check(_n.lib.vault_db_key(buf, size, v))
            return _s(buf.value)
        finally:
            ctypes.memset(buf, 0, size)

    def set_actor(self, user: str, principal: Optional[Principal] = None) -> None:
        """Name the actor logged for operations that take no session.

        (Keyslot changes, policy apply, db-key, checkpoints, reports; the
        default is ``os:<login name>``.)  With ``principal``, the officer
        as a service authenticated them (``vault_set_actor_as``; a bad
        principal raises :class:`~libvault.InvalidInput` and is logged);
        without, the embedded caller.
        """
        with self._use() as v:
            if principal is None:
                check(_n.lib.vault_set_actor(v, _b(user, "user")))
            else:
                who = principal._c()
                check(_n.lib.vault_set_actor_as(v, _b(user, "user"), byref(who)))

    # ---- sessions ------------------------------------------------------------

    def session(self, *, purpose: str, user: Optional[str] = None, role: Optional[str] = None,
                department: Optional[str] = None, jurisdiction: Optional[str] = None,
                principal: Optional[Principal] = None) -> "Session":
        """Open a session: who is acting, and for what.

        Unknown role, department or purpose raise
        :class:`~libvault.InvalidInput`.  Use it as a context manager or close
        it; :meth:`close` closes the sessions still open.  ``principal``
        (``vault_session_open_as``) is the caller as a service authenticated
        it; without one the session is embedded (see :class:`Principal`).
        In client mode (:meth:`connect`) only ``purpose`` is needed: the
        token names the subject, and the other arguments are ignored.
        """
        subject = (("user", user), ("role", role), ("department", department),
                   ("jurisdiction", jurisdiction))
        if not self.remote:
            for name, val in subject:
                if val is None:
                    raise TypeError("session() needs %s= (only a client-mode vault takes the "
                                    "subject from its token)" % name)
        sub = _n.vault_subject(*[_ob(val, name) for name, val in subject],
                               _b(purpose, "purpose"))
        out = c_void_p()
        with self._use() as v:
            if principal is None:
                check(_n.lib.vault_session_open(byref(out), v, byref(sub)))
            else:
                who = principal._c()
                check(_n.lib.vault_session_open_as(byref(out), v, byref(sub), byref(who)))
        s = Session(self, out, user, role, department, jurisdiction, purpose)
        with self._slock:
            self._sessions.add(s)
        return s

    # ---- keyslots ------------------------------------------------------------

    def keyslot_add(self, *, passphrase: Optional[Secret] = None,
                    key_file: Optional[PathLike] = None, label: str = "",
                    kdf: Union[None, str, int, Kdf] = None) -> int:
        """Add a keyslot holding the master key under a passphrase or key file.

        Returns the new slot's number.  Data is not re-encrypted.
        """
        slot = c_int(-1)
        with self._use() as v, _secret(passphrase, key_file, kdf) as sec:
            check(_n.lib.vault_keyslot_add(byref(slot), v, byref(sec), _b(label, "label")))
        return slot.value

    def keyslot_list(self) -> List[KeySlot]:
        """The vault's keyslots."""
        out = ctypes.POINTER(_n.vault_keyslot_info)()
        count = c_size_t(0)
        with self._use() as v:
            check(_n.lib.vault_keyslot_list(byref(out), byref(count), v))
        try:
            return [KeySlot(int(out[i].slot), UnlockKind(out[i].kind), _s(out[i].label),
                            int(out[i].created)) for i in range(count.value)]
        finally:
            _n.lib.vault_free(out)

    def keyslot_remove(self, slot: int) -> None:
        """Remove a keyslot.  Removing the last one raises :class:`~libvault.StateError`."""
        with self._use() as v:
            check(_n.lib.vault_keyslot_remove(v, int(slot)))

    # ---- policy ------------------------------------------------------------------

    policy_check = staticmethod(policy_check)

    def policy_apply(self, policy_file: PathLike) -> List[str]:
        """Replace the vault's policy (logged).

        Returns the access changes, one ``"+|- role department field effect"``
        line per cell that gains (+) or loses (-) access, then one
        ``"+|- app NAME ..."`` line per ``apps:`` bound gained or lost.  Raises
        :class:`~libvault.PolicyError` for an invalid file.
        """
        out = c_void_p()
        with self._use() as v:
            rc = _n.lib.vault_policy_apply(byref(out), v, _b(policy_file, "policy_file"))
            message = _n.error_last() if rc < 0 else ""
        report = _n.take_string(out, "replace")
        if rc == _n.E_POLICY:
            raise PolicyError(message, rc, report=report)
        if rc < 0:
            raise error_for_code(rc)(message, rc)
        return [ln for ln in report.splitlines() if ln.strip()]

    def policy_source(self) -> PolicySource:
        """The active policy's YAML text and its SHA-256 as hex."""
        out = c_void_p()
        size = _n.POLICY_HASH_SIZE
        hbuf = ctypes.create_string_buffer(size)
        with self._use() as v:
            check(_n.lib.vault_policy_source(byref(out), hbuf, size, v))
        return PolicySource(_n.take_string(out), _s(hbuf.value))

    def who_can(self, field: str, record_id: Optional[str] = None, *,
                as_json: bool = False) -> TextOrJson:
        """Who may read ``field`` (of ``record_id``, or of any record).

        Text, one line per (role, department, purpose) with effect, scope and
        rule or grant; with ``as_json`` the parsed JSON array.
        """
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_who_can(byref(out), v, _b(field, "field"),
                                       _ob(record_id, "record_id"), int(bool(as_json))))
        text = _n.take_string(out)
        return _parse_json(text) if as_json else text

    # ---- grants ----------------------------------------------------------------

    def grant_list(self, *, active_only: bool = False,
                   as_json: bool = False) -> TextOrJson:
        """List grants as text (one per line) or, with ``as_json``, parsed JSON.

        ``active_only`` skips expired, revoked and pending grants.
        """
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_grant_list(byref(out), v, int(bool(active_only)),
                                          int(bool(as_json))))
        text = _n.take_string(out)
        return _parse_json(text) if as_json else text

    def grant_warnings(self, grant_id: str) -> str:
        """Warning lines about a grant ("" when none): fields a deny rule of the
        policy keeps from all its recipients, so the grant can't open them."""
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_grant_warnings(byref(out), v, _b(grant_id, "grant_id")))
        return _n.take_string(out)

    # ---- key rotation --------------------------------------------------------

    def on_alarm(self, fn: Optional[Callable[[Alarm], None]]) -> None:
        """Call ``fn(alarm)`` for every access over an alert quota, after the
        read that logged it committed; ``None`` clears it.  ``fn`` must not
        use this vault (the handle is locked while it runs); an exception in
        it is printed and ignored."""
        if fn is None:
            thunk = _n.ALARM_FN(0)
        else:
            cb = fn

            def _cb(a: Any, _arg: Optional[int]) -> None:
                x = a.contents
                try:
                    text = [v.decode("utf-8") for v in (x.kind, x.name, x.user, x.role,
                                                           x.department, x.purpose, x.record)]
                    cb(Alarm(text[0], text[1], text[2], text[3], text[4], text[5], text[6],
                             int(x.count), int(x.limit), int(x.per), int(x.time)))
                except Exception:  # noqa: BLE001 - a callback must not unwind through C
                    import traceback
                    traceback.print_exc()

            thunk = _n.ALARM_FN(_cb)
        with self._use() as v:
            check(_n.lib.vault_set_alarm(v, thunk, None))
        self._alarm_thunk = thunk  # referenced while the library may call it

    def key_rotate(self, grade: str, *, progress: Progress = None) -> None:
        """Rotate a grade's data key and re-encrypt that grade's fields (logged).

        Resumable: run it again after an interruption.  Reads keep working.
        """
        thunk = _n.progress_thunk(progress)
        with self._use() as v:
            check(_n.lib.vault_key_rotate(v, _b(grade, "grade"), thunk, None))
        del thunk

    # ---- audit ---------------------------------------------------------------

    def audit_verify(self, checkpoint: Checkpoints = None, *, progress: Progress = None,
                     check: bool = True, max_age: Optional[int] = None,
                     since: Optional[str] = None) -> AuditResult:
        """Verify the whole audit log, and the external checkpoint note(s) if given.

        ``checkpoint`` is one signed note or a list of them; every one is
        checked.  Returns the :class:`AuditResult` when intact.  Raises
        :class:`~libvault.IntegrityError` (with ``.result`` naming the first
        bad entry and the class) when not, unless ``check=False``.  With
        ``max_age`` (seconds) the newest checkpoint must also have been
        signed within that time, else the result is a "missing" failure
        (``vault_audit_require_recent``).  With ``since`` (a signed
        checkpoint note you trust, kept from an earlier verification) only
        the entries after it are checked (``vault_audit_verify_since``);
        ``result.entries`` counts those.  The verification is logged
        (action ``audit_verify``) after it ran.
        """
        arr, n = _notes(checkpoint)
        with self._use() as v:
            if since is not None:
                return _verify_call(_n.lib.vault_audit_verify_since,
                                    (v, _b(since, "since"), arr, n), progress, check, max_age)
            return _verify_call(_n.lib.vault_audit_verify_notes, (v, arr, n), progress, check,
                                max_age)

    audit_verify_export = staticmethod(verify_export)

    def audit_export(self, path: PathLike, *, progress: Progress = None,
                     compact: bool = False) -> None:
        """Write the log as JSON Lines to ``path`` (never overwrites a file).

        ``compact=True`` leaves the decoded keys out of entry lines (seq,
        entry and head only: smaller, and verified faster).
        """
        thunk = _n.progress_thunk(progress)
        with self._use() as v:
            check(_n.lib.vault_audit_export_as(v, _b(path, "path"),
                                               _n.EXPORT_COMPACT if compact else 0, thunk, None))
        del thunk

    def audit_checkpoint(self) -> str:
        """Write a signed checkpoint now; returns the C2SP signed note to keep outside."""
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_audit_checkpoint(byref(out), v))
        return _n.take_string(out)

    def audit_witness(self, targets: Optional[Sequence[Tuple[str, str]]] = None,
                      timeout: float = 0) -> List[Dict[str, Any]]:
        """Submit the newest checkpoint to witnesses and store their cosignatures.

        ``targets``: ``(verifier key, url)`` pairs (one whose key the
        policy's ``witnesses:`` doesn't pin is reported as not cosigned,
        "not pinned", and not submitted to); ``None``: the policy's
        witnesses that give a url.  ``timeout`` in seconds per request (0: 10 s).  Returns one dict
        per witness (``name``, ``size``, ``already``, ``ok``, ``message``);
        a witness that did not cosign is reported there, not raised (other
        errors raise).
        """
        tl = list(targets or [])
        arr = (_n.vault_witness_target * max(len(tl), 1))(
            *[_n.vault_witness_target(_b(k, "key"), _b(u, "url")) for k, u in tl])
        st = (_n.vault_witness_status * 32)()
        n = c_size_t(0)
        with self._use() as v:
            rc = _n.lib.vault_audit_witness(st, 32, byref(n), v, arr if targets is not None
                                            else None, len(tl), int(timeout * 1000))
            if rc < 0 and n.value == 0:
                check(rc)
        return [{"name": s.name.decode(), "size": s.size, "already": bool(s.already),
                 "ok": s.result == 0, "message": s.message.decode()}
                for s in st[:n.value]]

    def audit_pubkey(self) -> str:
        """The checkpoint verifier key (C2SP note verifier text)."""
        size = _n.PUBKEY_SIZE
        buf = ctypes.create_string_buffer(size)
        with self._use() as v:
            check(_n.lib.vault_audit_pubkey(buf, size, v))
        return _s(buf.value)

    def audit_pin(self, pubkey: str) -> None:
        """Pin the auditor's own copy of the checkpoint key (the text of
        :meth:`audit_pubkey`): from then on, on this handle, a vault whose
        key is another one verifies as a bad signature, and
        :meth:`audit_pubkey` and :meth:`audit_checkpoint` raise
        :class:`~libvault.IntegrityError`.  In client mode this is the only
        check of the service's key."""
        with self._use() as v:
            check(_n.lib.vault_audit_pin(v, _b(pubkey, "pubkey").strip()))

    def _proof(self, fn: Callable[..., int], a: int, b: int, *pre: Any) -> Dict[str, Any]:
        if a < 0 or b < 0:
            raise ValueError("sequence numbers and sizes are not negative")
        proof_c = _n.vault_proof()
        try:
            with self._use() as v:
                check(fn(byref(proof_c), v, *pre, a, b))
            return _proof_dict(proof_c)
        finally:
            _n.lib.vault_proof_clear(byref(proof_c))

    def audit_prove(self, seq: int, size: int = 0, log: Optional[str] = None) -> Dict[str, Any]:
        """RFC 6962 inclusion proof of entry ``seq`` (numbered from 1) in the tree
        of the first ``size`` entries (0: the newest signed checkpoint's).

        Returns the proof object of docs/audit-format.md as a dict:
        ``{"seq", "size", "leaf", "hashes", "root", "checkpoint"}`` (hashes
        in base64, ``checkpoint`` the signed note of that size or None).
        Every entry up to ``size`` is checked first: a damaged one raises
        :class:`~libvault.IntegrityError`.  ``seq`` 0 or beyond ``size``
        raises :class:`~libvault.InvalidInput`, a size beyond the log
        :class:`~libvault.NotFound`.  Logged (action ``audit_prove``).

        ``log`` names a shard log of a PostgreSQL vault (as reports show
        it): the proof then has two levels, ``log`` and ``via`` keys
        (docs/audit-format.md, "Proofs across logs"); ``size`` is a size
        the city log claims for that log (0: the earliest claim covering
        ``seq``), and :class:`~libvault.NotFound` until a signed checkpoint
        covers such a claim.
        """
        if log is not None:
            return self._proof(_n.lib.vault_audit_prove_in, seq, size, _b(log, "log"))
        return self._proof(_n.lib.vault_audit_prove, seq, size)

    def audit_consistency(self, from_size: int, to_size: int = 0) -> Dict[str, Any]:
        """RFC 6962 consistency proof that the tree of ``to_size`` entries (0: the
        newest signed checkpoint's) extends the tree of ``from_size``.

        Returns ``{"from", "size", "from_root", "root", "hashes",
        "from_checkpoint", "checkpoint"}``; errors as :meth:`audit_prove`.
        Logged (action ``audit_consistency``).
        """
        return self._proof(_n.lib.vault_audit_consistency, from_size, to_size)

    def audit_report(self, kind: Union[ReportKind, int], arg: Optional[str] = None, *,
                     as_json: bool = False) -> TextOrJson:
        """A report over the log (itself logged as an access).

        ``kind`` is a :class:`ReportKind`; ``arg`` the record id (RECORD) or
        the user (USER).  Text, one line per entry, or parsed JSON.
        """
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_audit_report(byref(out), v, int(kind), _ob(arg, "arg"),
                                             int(bool(as_json))))
        text = _n.take_string(out)
        return _parse_json(text) if as_json else text

    def audit_anomalies(self, window: int = 7 * 86400) -> List[Dict[str, Any]]:
        """Who accessed residents' data far more than the others of their
        role in the last ``window`` seconds (60 ... 366 days): every user
        counted, as dicts {user, role, department, count, role_median,
        score, peers, flagged}, flagged first (logged)."""
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_audit_anomalies(byref(out), v, int(window), 1))
        got = _parse_json(_n.take_string(out))
        return [dict(x) for x in got]

    def retention_plan(self, *, format: str = "json") -> Union[Dict[str, Any], str]:
        """What the policy's retention schedules make due now
        (docs/policy-format.md "Retention"): the dict {now, schedules,
        records_read, records_to_erase, records_with_fields, remains,
        due: [{record, schedule, erase, fields}], problems: [...]}, or
        the text with ``format="text"``.  Logged (``retention_plan``)."""
        return self._retention(_n.lib.vault_retention_plan, "vault_retention_plan", format)

    def retention_run(self, *, format: str = "json") -> Union[Dict[str, Any], str]:
        """Erase what is due now, exactly as a plan computed in the same
        run lists, in batches that each commit: the dict {now, complete,
        planned, records_erased, records_with_fields_removed,
        fields_removed, remains_removed, canaries_erased, batches, done,
        skipped, problems}, or the text.  Each erasure is an ``erase``
        entry of the user ``retention`` naming its schedule."""
        return self._retention(_n.lib.vault_retention_run, "vault_retention_run", format)

    def _retention(self, fn: Any, name: str, format: str) -> Union[Dict[str, Any], str]:
        if format not in ("json", "text"):
            raise ValueError("format must be json or text")
        out = c_void_p()
        with self._use() as v:
            check(fn(byref(out), v, 1 if format == "json" else 0))
        text = _n.take_string(out)
        return _json_object(text, name) if format == "json" else text

    def audit_summary(self, month: str, by: Union[str, Sequence[str], None] = None, *,
                      format: str = "json") -> Union[Dict[str, Any], str]:
        """Purpose accounting: the audit entries of ``month`` ("YYYY-MM", a
        UTC calendar month) counted by ``by`` (keys among department,
        purpose, role, action, outcome, as a list or a comma string;
        default department and purpose).  Per group the entries, the
        distinct residents they name (canaries left out) and the entries
        that touched a canary.  ``format`` "json" (the default) gives the
        dict {month, zone, from, to, by, entries, residents,
        canary_entries, groups}; "text" the table, "csv" RFC 4180 text.
        Every entry counted is checked against the hash chain
        (:class:`~libvault.IntegrityError` otherwise); bad keys or months
        raise :class:`~libvault.InvalidInput`.  Logged (action
        ``audit_summary``)."""
        formats = {"text": _n._const("summary_text"), "json": _n._const("summary_json"),
                   "csv": _n._const("summary_csv")}
        if format not in formats:
            raise ValueError("format must be json, text or csv")
        keys = by if by is None or isinstance(by, str) else ",".join(by)
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_audit_summary(byref(out), v, _ob(keys, "by"), _b(month, "month"),
                                              formats[format]))
        text = _n.take_string(out)
        return _json_object(text, "vault_audit_summary") if format == "json" else text

    def audit_bundle(self, record_id: str) -> Dict[str, Any]:
        """The resident's proof bundle of record ``record_id`` as a dict
        (docs/audit-format.md section 11): every entry filed under it up to
        the newest signed checkpoint, each with its inclusion proof, the
        checkpoint as stored and the log key's signed list of the record's
        entries in it.  Check it with :func:`libvault.verify_bundle`.
        Raises :class:`~libvault.NotFound` when no checkpoint is stored yet,
        :class:`~libvault.IntegrityError` when the log fails its checks.
        Logged (action ``audit_bundle``, filed under the record).
        """
        rid = _b(record_id, "record_id")
        out = c_void_p()
        with self._use() as v:
            check(_n.lib.vault_audit_bundle(byref(out), v, rid))
        return _json_object(_n.take_string(out), "vault_audit_bundle")

    def report_record(self, record_id: str, *, as_json: bool = False) -> TextOrJson:
        """Who accessed this resident (a resident's access request)."""
        _b(record_id, "record_id")  # required here: TypeError for None
        return self.audit_report(ReportKind.RECORD, record_id, as_json=as_json)

    def report_user(self, user: str, *, as_json: bool = False) -> TextOrJson:
        """What this user accessed."""
        _b(user, "user")  # required here: TypeError for None
        return self.audit_report(ReportKind.USER, user, as_json=as_json)

    def report_denied(self, *, as_json: bool = False) -> TextOrJson:
        """All denials."""
        return self.audit_report(ReportKind.DENIED, None, as_json=as_json)

    def report_break_glass(self, *, as_json: bool = False) -> TextOrJson:
        """All break-glass accesses, for review."""
        return self.audit_report(ReportKind.BREAK_GLASS, None, as_json=as_json)


# --------------------------------------------------------------------------
# Session
# --------------------------------------------------------------------------


class Session:
    """Who is acting, for what: every data call goes through a session.

    Open with :meth:`Vault.session`.  A session may be used from any thread;
    calls on it are serialised by its vault's mutex.  Give each thread its
    own session (and for parallel reads its own :class:`Vault`).
    """

    def __init__(self, vault: Vault, ptr: c_void_p, user: Optional[str], role: Optional[str],
                 department: Optional[str], jurisdiction: Optional[str], purpose: str) -> None:
        """Private: use :meth:`Vault.session`."""
        self.vault: Vault = vault
        #: The subject as given to :meth:`Vault.session` (``None`` where a
        #: client-mode session left it to the token).
        self.user: Optional[str] = user
        self.role: Optional[str] = role
        self.department: Optional[str] = department
        self.jurisdiction: Optional[str] = jurisdiction
        self.purpose: str = purpose
        self._h = _Handle(ptr, _n.lib.vault_session_close, "session")

    def close(self) -> None:
        """Close the session (safe to call more than once)."""
        self._h.close()

    @property
    def closed(self) -> bool:
        """True once the session (or its vault) was closed."""
        return self._h.closed

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None and not h.closed:
            try:
                h.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return "<libvault.Session %s (%s/%s) %s for %s%s>" % (
            self.user, self.role, self.department, self.jurisdiction, self.purpose,
            " closed" if self.closed else "")

    @contextlib.contextmanager
    def _use(self) -> Iterator[c_void_p]:
        with self.vault._use(), self._h.use() as s:
            yield s

    # ---- records ---------------------------------------------------------------

    def create(self, jurisdiction: str, fields: Optional[Mapping[str, Secret]] = None) -> str:
        """Create a record in ``jurisdiction``; returns its 32-hex id.

        With ``fields``, the record and its first values are written in one
        all-or-nothing transaction (create and write must both be allowed).
        """
        out = ctypes.create_string_buffer(_n.ID_HEX_SIZE)
        jur = _b(jurisdiction, "jurisdiction")
        if not fields:
            with self._use() as s:
                check(_n.lib.vault_record_create(out, _n.ID_HEX_SIZE, s, jur))
            return _s(out.value)
        return self._add(_n.lib.vault_record_add, out, jur, fields)

    def _add(self, fn: Callable[..., int], out: Any, jur: bytes,
             fields: Mapping[str, Secret]) -> str:
        """vault_record_add or vault_canary_add with these fields."""
        fields = _mapping(fields, "fields")
        names, n, _keep = _strv(list(fields.keys()), "field")
        with _Plain() as plain:
            ptrs = (c_void_p * n)()
            lens = (c_size_t * n)()
            for i, val in enumerate(fields.values()):
                ptrs[i], lens[i] = plain.add(val)
            with self._use() as s:
                check(fn(out, _n.ID_HEX_SIZE, s, jur, n, names, ptrs, lens))
        return _s(out.value)

    def canary_add(self, jurisdiction: str, fields: Mapping[str, Secret]) -> str:
        """Create a decoy resident (a canary) in ``jurisdiction`` with these
        plausible values; returns its id.  Readers can't tell it from a real
        record; every access that touches it is flagged ([CANARY]) and raises
        an alarm (:meth:`Vault.on_alarm`).  Data officers only."""
        out = ctypes.create_string_buffer(_n.ID_HEX_SIZE)
        return self._add(_n.lib.vault_canary_add, out, _b(jurisdiction, "jurisdiction"), fields)

    def put(self, record_id: str, field: str, value: Secret) -> None:
        """Write one field.

        Raises :class:`~libvault.AccessDenied` unless the policy allows the
        write, :class:`~libvault.InvalidInput` for an undeclared field.
        """
        with _Plain() as plain:
            ptr, n = plain.add(value)
            with self._use() as s:
                check(_n.lib.vault_record_put(s, _b(record_id, "record_id"), _b(field, "field"),
                                              ptr, n))

    def update(self, record_id: str, fields: Mapping[str, Secret]) -> None:
        """Write several fields at once, all or nothing."""
        rid = _b(record_id, "record_id")
        fields = _mapping(fields, "fields")
        names, n, _keep = _strv(list(fields.keys()), "field")
        with _Plain() as plain:
            ptrs = (c_void_p * max(n, 1))()
            lens = (c_size_t * max(n, 1))()
            for i, val in enumerate(fields.values()):
                ptrs[i], lens[i] = plain.add(val)
            with self._use() as s:
                check(_n.lib.vault_record_update(s, rid, n, names,
                                                 ptrs, lens))

    def get(self, record_id: str, fields: Optional[Iterable[str]] = None) -> RecordResult:
        """Read fields of a record (all declared fields when ``fields`` is None).

        Each :class:`FieldResult` carries its value with its own decision:
        denied fields have ``value None`` and effect DENY (the read itself
        succeeds).  Raises :class:`~libvault.NotFound` for no such record,
        :class:`~libvault.IntegrityError` if a requested field fails its
        integrity check (no values are returned then).
        """
        arr, n, _keep = _strv(fields, "field")
        out = c_void_p()
        with self._use() as s:
            check(_n.lib.vault_record_get(byref(out), s, _b(record_id, "record_id"), arr, n))
        try:
            return _read_result(out, record_id)
        finally:
            _n.lib.vault_result_free(out)

    def get_batch(self, record_ids: Sequence[str],
                  fields: Optional[Iterable[str]] = None) -> List[RecordResult]:
        """Read the same fields of several records in one transaction.

        One audit entry per record, one durable commit for all; all or
        nothing (:class:`~libvault.NotFound` if any record is missing).
        """
        ids, n, _keep_ids = _strv(list(record_ids), "record_id")
        if n == 0:
            return []
        arr, nf, _keep = _strv(fields, "field")
        outs = (c_void_p * n)()
        with self._use() as s:
            check(_n.lib.vault_record_get_batch(outs, s, ids, n, arr, nf))
        results: List[RecordResult] = []
        try:
            for i in range(n):
                results.append(_read_result(c_void_p(outs[i]), _s(_keep_ids[i])))
            return results
        finally:
            for i in range(n):
                _n.lib.vault_result_free(outs[i])

    def find(self, field: str, value: Secret) -> List[str]:
        """Ids of the records whose ``field`` (declared ``index: exact``) equals ``value``.

        The value is normalised as the policy says (trim, upper-case X of an
        ID number).  Decided as action search and logged.
        """
        out = c_void_p()
        count = c_size_t(0)
        with _Plain() as plain:
            ptr, n = plain.add(value)
            with self._use() as s:
                check(_n.lib.vault_record_find(byref(out), byref(count), s, _b(field, "field"),
                                               ptr, n))
        try:
            size = _n.ID_HEX_SIZE
            raw = b""
            if count.value and out.value is not None:
                raw = ctypes.string_at(out.value, size * count.value)
            return [_s(raw[i * size:(i + 1) * size].split(b"\0", 1)[0])
                    for i in range(count.value)]
        finally:
            _n.lib.vault_free(out)

    def jurisdiction_of(self, record_id: str) -> str:
        """The record's jurisdiction path."""
        size = _n.JURISDICTION_MAX + 1
        buf = ctypes.create_string_buffer(size)
        with self._use() as s:
            check(_n.lib.vault_record_jurisdiction(buf, size, s, _b(record_id, "record_id")))
        return _s(buf.value)

    def erase(self, record_id: str) -> None:
        """Erase the record (secure delete; the audit trail stays)."""
        with self._use() as s:
            check(_n.lib.vault_record_erase(s, _b(record_id, "record_id")))

    def export(self, record_id: str) -> RecordExport:
        """A resident's copy (logged): ``{"record": id, "jurisdiction": path,
        "fields": {field: value}}`` with every field the session may see.

        Plaintext or masked values; denied and empty fields are left out.
        """
        doc = _json_object(self.export_json(record_id), "vault_record_export")
        rec, jur, fields = doc.get("record"), doc.get("jurisdiction"), doc.get("fields")
        if not (isinstance(rec, str) and isinstance(jur, str) and isinstance(fields, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())):
            raise VaultError("vault_record_export: the library returned an unexpected document")
        return RecordExport(record=rec, jurisdiction=jur, fields=fields)

    def export_json(self, record_id: str) -> str:
        """Like :meth:`export`, as the library's JSON text."""
        out = c_void_p()
        with self._use() as s:
            check(_n.lib.vault_record_export(byref(out), s, _b(record_id, "record_id")))
        return _n.take_string(out)

    # ---- decisions -------------------------------------------------------------

    def decide(self, action: Union[Action, int], record_id: Optional[str] = None,
               field: Optional[str] = None) -> Reason:
        """What this session may do (no data touched, nothing logged)."""
        r = _n.vault_reason()
        with self._use() as s:
            check(_n.lib.vault_decide(byref(r), s, int(action), _ob(record_id, "record_id"),
                                      _ob(field, "field")))
        return Reason._from_c(r)

    def explain(self, action: Union[Action, int], record_id: Optional[str] = None,
                field: Optional[str] = None) -> str:
        """Every rule considered for a decision and why it matched or not."""
        out = c_void_p()
        with self._use() as s:
            check(_n.lib.vault_explain(byref(out), s, int(action), _ob(record_id, "record_id"),
                                       _ob(field, "field")))
        return _n.take_string(out)

    # ---- grants and break-glass ----------------------------------------------

    def grant_issue(self, *, reason: str, effect: Union[Effect, int] = Effect.ALLOW,
                    user: Optional[str] = None, role: Optional[str] = None,
                    department: Optional[str] = None, fields: Optional[Iterable[str]] = None,
                    grade_min: Optional[str] = None, grade_max: Optional[str] = None,
                    records: Optional[Iterable[str]] = None, jurisdiction: Optional[str] = None,
                    purposes: Optional[Iterable[str]] = None,
                    actions: Optional[Iterable[Union[Action, int]]] = None,
                    not_before: Union[None, int, _dt.datetime] = None,
                    not_after: Union[None, int, _dt.datetime] = None,
                    duration: Union[None, int, float, _dt.timedelta] = None) -> Grant:
        """Issue a grant as this session's officer.

        The recipient is a pattern (``user`` and/or ``role``/``department``);
        ``fields`` or a grade range select the fields; ``records`` or a
        ``jurisdiction`` subtree the scope; ``purposes`` restrict it (None:
        any); ``actions`` are among READ, SEARCH, EXPORT (None: READ only).
        It ends at ``not_after`` (unix seconds or an aware datetime) or
        ``duration`` (seconds or timedelta) from now.  Raises
        :class:`~libvault.AccessDenied` naming the broken limit.  A grant
        reaching the policy's approval grade comes back ``pending`` until
        another officer calls :meth:`grant_approve`.
        """
        if not_after is None:
            if duration is None:
                raise TypeError("give not_after= or duration=")
            secs = duration.total_seconds() if isinstance(duration, _dt.timedelta) else duration
            not_after = int(time.time() + secs)
        spec = _n.vault_grant_spec()
        spec.user = _ob(user, "user")
        spec.role = _ob(role, "role")
        spec.department = _ob(department, "department")
        spec.effect = int(effect)
        farr, spec.nfields, k1 = _strv(fields, "field")
        rarr, spec.nrecords, k2 = _strv(records, "record_id")
        parr, spec.npurposes, k3 = _strv(purposes, "purpose")
        if farr is not None:
            spec.fields = ctypes.cast(farr, ctypes.POINTER(c_char_p))
        if rarr is not None:
            spec.records = ctypes.cast(rarr, ctypes.POINTER(c_char_p))
        if parr is not None:
            spec.purposes = ctypes.cast(parr, ctypes.POINTER(c_char_p))
        spec.grade_min = _ob(grade_min, "grade_min")
        spec.grade_max = _ob(grade_max, "grade_max")
        spec.jurisdiction = _ob(jurisdiction, "jurisdiction")
        spec.not_before = _to_unix(not_before)
        spec.not_after = _to_unix(not_after)
        spec.reason = _b(reason, "reason")
        bits = 0
        for a in (actions if actions is not None else ()):
            if not isinstance(a, int) or isinstance(a, bool):
                raise TypeError("actions must be libvault.Action values")
            bits |= 1 << int(a)
        spec.actions = bits
        keep = (farr, rarr, parr, k1, k2, k3)  # alive until the call returns
        gid = ctypes.create_string_buffer(_n.NAME_MAX)
        pending = c_int(0)
        with self._use() as s:
            check(_n.lib.vault_grant_issue(gid, _n.NAME_MAX, byref(pending), s, byref(spec)))
        del keep
        return Grant(_s(gid.value), bool(pending.value))

    def grant_approve(self, grant_id: str) -> None:
        """Approve a pending grant (a second officer, not the issuer or recipient)."""
        with self._use() as s:
            check(_n.lib.vault_grant_approve(s, _b(grant_id, "grant_id")))

    def grant_revoke(self, grant_id: str, reason: str) -> None:
        """Revoke a grant at once (a written reason is required)."""
        with self._use() as s:
            check(_n.lib.vault_grant_revoke(s, _b(grant_id, "grant_id"), _b(reason, "reason")))

    def break_glass(self, record_id: str, reason: str, seconds: int = 0) -> str:
        """Emergency access to one record for ``seconds`` (0: the policy's maximum).

        Only roles the policy names may; the reason is mandatory and every
        access under it is flagged in the audit log.  Returns the
        break-glass grant id.
        """
        out = ctypes.create_string_buffer(_n.NAME_MAX)
        with self._use() as s:
            check(_n.lib.vault_break_glass(out, _n.NAME_MAX, s, _b(record_id, "record_id"),
                                           _b(reason, "reason"), int(seconds)))
        return _s(out.value)

    # ---- import --------------------------------------------------------------

    def import_csv(self, path: PathLike, *, progress: Progress = None) -> int:
        """Import residents from a CSV file, all or nothing; returns the count.

        Errors about the file's content raise :class:`~libvault.InvalidInput`
        (or :class:`~libvault.LimitExceeded`, :class:`~libvault.AccessDenied`)
        with ``FILE:ROW:COL: message``; nothing is imported then.
        """
        count = c_size_t(0)
        thunk = _n.progress_thunk(progress)
        with self._use() as s:
            check(_n.lib.vault_import_csv(byref(count), s, _b(path, "path"), thunk, None))
        del thunk
        return count.value
