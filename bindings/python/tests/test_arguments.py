"""Misused arguments: None or a non-string where a string is required is TypeError.

The walk covers every public method of Vault and Session and every module
function of the package: for each parameter typed as a required string
(``str``, a path or a value), it calls with valid stand-ins for the other
parameters and ``None`` (then ``42``) for that one, and expects TypeError
naming the parameter, raised before any library call.
"""

import inspect
import os
import typing
import unittest

import libvault
from libvault import _vault

from . import STREET, VaultCase

STRING_TYPES = (str, _vault.PathLike, _vault.Secret)

# Stand-ins for the other parameters where the type alone can't tell one
# that gets past the binding's own checks (it must reach the argument).
OVERRIDES = {
    "Vault.create": {"key_file": "KEY"},
    "Vault.open": {"key_file": "KEY"},
    "Session.grant_issue": {"duration": 60},
    # an embedded vault needs the whole subject (checked below on its own)
    "Vault.session": {"user": "li", "role": "data_officer", "department": "street_office",
                      "jurisdiction": STREET},
}


def _required_string(hint):
    return hint in STRING_TYPES


def _stand_in(hint, key):
    if hint in STRING_TYPES:
        return "x"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is int or (origin is typing.Union and int in args):
        return 0
    if hint is bool:
        return False
    if origin in (dict, typing.Mapping) or hint is dict:
        return {"name": "x"}
    if origin is not None and origin.__name__ in ("Mapping",):
        return {"name": "x"}
    if origin is typing.Union and type(None) in args:
        return None
    if origin is not None:  # Sequence, Iterable, List, Union[str, Mapping]
        if str in args:
            return "x"
        return ["x"]
    raise AssertionError("no stand-in for %r" % (hint,))


def _public_callables(vault, session):
    """(qualified name, bound callable) for every public method and function."""
    out = []
    for owner, obj in (("Vault", vault), ("Session", session)):
        for name, _ in inspect.getmembers(type(obj)):
            if name.startswith("_"):
                continue
            attr = inspect.getattr_static(type(obj), name)
            if isinstance(attr, property):
                continue
            fn = getattr(obj, name)
            if callable(fn):
                out.append(("%s.%s" % (owner, name), fn))
    for name in libvault.__all__:
        fn = getattr(libvault, name)
        if inspect.isfunction(fn):
            out.append((name, fn))
    return out


class NoneWhereAStringIsRequiredTest(VaultCase):
    def test_walk(self):
        session = self.officer()
        checked = []
        for qualname, fn in _public_callables(self.v, session):
            target = inspect.unwrap(fn)
            hints = typing.get_type_hints(target)
            sig = inspect.signature(fn)
            overrides = dict(OVERRIDES.get(qualname, {}))
            for key, val in overrides.items():
                if val == "KEY":
                    overrides[key] = self.key
            for pname, param in sig.parameters.items():
                if param.default is not inspect.Parameter.empty or pname in overrides:
                    continue
                if not _required_string(hints.get(pname)):
                    continue
                for bad in (None, 42):
                    args, kwargs = [], {}
                    for other, op in sig.parameters.items():
                        if other in overrides:
                            value = overrides[other]
                        elif other == pname:
                            value = bad
                        elif op.default is not inspect.Parameter.empty:
                            continue
                        else:
                            value = _stand_in(hints[other], other)
                        if op.kind is inspect.Parameter.KEYWORD_ONLY:
                            kwargs[other] = value
                        else:
                            args.append(value)
                    with self.subTest(call=qualname, argument=pname, value=bad):
                        with self.assertRaises(TypeError) as cm:
                            fn(*args, **kwargs)
                        self.assertIn(pname, str(cm.exception))
                checked.append("%s(%s)" % (qualname, pname))
        # the walk reached the methods it is about (it can't pass by checking nothing)
        for must in ("Session.put(record_id)", "Session.put(field)", "Session.put(value)",
                     "Session.get(record_id)", "Session.find(value)", "Vault.create(policy)",
                     "Vault.report_record(record_id)", "Vault.set_actor(user)",
                     "Session.grant_revoke(reason)", "verify_export(pubkey)",
                     "generate_key_file(path)", "Vault.audit_pin(pubkey)"):
            self.assertIn(must, checked)
        self.assertGreater(len(checked), 40)
        # nothing was written by the calls: the log holds only what setUp did
        self.assertTrue(self.v.audit_verify().ok)

    def test_optional_strings_still_take_none(self):
        s = self.officer()
        rid = self.add_resident(s)
        self.assertIsInstance(self.v.who_can("phone", None), str)
        self.assertIsInstance(self.v.audit_report(libvault.ReportKind.DENIED, None), str)
        self.assertEqual(s.jurisdiction_of(rid)[:len(STREET)], STREET)

    def test_embedded_session_needs_the_subject(self):
        subject = {"user": "li", "role": "data_officer", "department": "street_office",
                   "jurisdiction": STREET}
        for name in subject:
            with self.subTest(argument=name):
                with self.assertRaises(TypeError) as cm:
                    self.v.session(purpose="resident_service", **dict(subject, **{name: None}))
                self.assertIn(name, str(cm.exception))
                with self.assertRaises(TypeError) as cm:
                    self.v.session(purpose="resident_service", **dict(subject, **{name: 42}))
                self.assertIn(name, str(cm.exception))

    def test_mappings_and_lists(self):
        s = self.officer()
        rid = self.add_resident(s)
        with self.assertRaises(TypeError) as cm:
            s.update(rid, None)
        self.assertIn("fields", str(cm.exception))
        with self.assertRaises(TypeError):
            s.create(STREET + "/changzheng/grid-07", ["name"])
        with self.assertRaises(TypeError) as cm:
            s.get(rid, ["name", None])
        self.assertIn("field", str(cm.exception))
        with self.assertRaises(TypeError):
            s.get(rid, 42)
        with self.assertRaises(TypeError) as cm:
            libvault.check_proof(None, "key")
        self.assertIn("proof", str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            libvault.verify_bundle(42, "key")
        self.assertIn("bundle", str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            libvault.Principal(peer=None)._c()
        self.assertIn("peer", str(cm.exception))

    def test_nul_is_value_error(self):
        s = self.officer()
        rid = self.add_resident(s)
        with self.assertRaises(ValueError):
            s.get(rid + "\0", ["name"])
        with self.assertRaises(ValueError):
            self.v.set_actor("a\0b")


class ExportTypeTest(VaultCase):
    def test_export_matches_its_annotation(self):
        s = self.officer(purpose="resident_request")
        rid = self.add_resident(s)
        exp = s.export(rid)
        hints = typing.get_type_hints(libvault.RecordExport)
        self.assertEqual(set(exp), set(hints))
        self.assertEqual(exp["record"], rid)
        self.assertIsInstance(exp["jurisdiction"], str)
        self.assertTrue(all(isinstance(k, str) and isinstance(v, str)
                            for k, v in exp["fields"].items()))
        self.assertEqual(exp["fields"]["phone"], "13812345678")
        self.assertEqual(typing.get_type_hints(libvault.Session.export)["return"],
                         libvault.RecordExport)


if __name__ == "__main__":
    unittest.main()
