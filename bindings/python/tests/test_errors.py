"""One exception class per error code, carrying the library's message."""

import unittest

import libvault
from libvault import _native

from . import GRID7, VaultCase


class ErrorClassesTest(unittest.TestCase):
    def test_codes_match_the_library(self):
        lib = _native.lib
        pairs = [
            (libvault.InvalidInput, lib.vault_const_einvalid()),
            (libvault.OutOfMemory, lib.vault_const_enomem()),
            (libvault.VaultIOError, lib.vault_const_eio()),
            (libvault.AuthError, lib.vault_const_eauth()),
            (libvault.IntegrityError, lib.vault_const_eintegrity()),
            (libvault.AccessDenied, lib.vault_const_edenied()),
            (libvault.NotFound, lib.vault_const_enotfound()),
            (libvault.AlreadyExists, lib.vault_const_eexists()),
            (libvault.Busy, lib.vault_const_ebusy()),
            (libvault.PolicyError, lib.vault_const_epolicy()),
            (libvault.LimitExceeded, lib.vault_const_elimit()),
            (libvault.StateError, lib.vault_const_estate()),
        ]
        for cls, code in pairs:
            self.assertTrue(issubclass(cls, libvault.VaultError))
            self.assertEqual(cls.CODE, code)
            self.assertIs(libvault.error_for_code(code), cls)
            e = cls("boom")
            self.assertEqual(e.code, code)
            self.assertEqual(e.message, "boom")
            self.assertEqual(str(e), "boom")
            self.assertTrue(e.name.startswith("VAULT_E"), e.name)
        self.assertIs(libvault.error_for_code(lib.vault_const_error()), libvault.VaultError)
        self.assertEqual(len({c for _, c in pairs}), len(pairs))


class BuiltinBasesTest(unittest.TestCase):
    """Each class is also the built-in exception Python code catches (README "Errors")."""

    BASES = {
        "InvalidInput": ValueError, "PolicyError": ValueError, "OutOfMemory": MemoryError,
        "VaultIOError": OSError, "AuthError": PermissionError, "AccessDenied": PermissionError,
        "NotFound": LookupError, "AlreadyExists": FileExistsError, "Busy": TimeoutError,
        "StateError": RuntimeError, "IntegrityError": None, "LimitExceeded": None,
    }

    def test_bases(self):
        for name, base in self.BASES.items():
            cls = getattr(libvault, name)
            self.assertTrue(issubclass(cls, libvault.VaultError), name)
            if base is not None:
                self.assertTrue(issubclass(cls, base), name)
                e = cls("boom")
                self.assertEqual((str(e), e.message, e.code), ("boom", "boom", cls.CODE))
            else:  # its own: not caught by a handler for some built-in failure
                self.assertEqual(cls.__bases__, (libvault.VaultError,), name)
        self.assertEqual(len(self.BASES), len(libvault.errors._CLASSES))

    def test_oserror_subclasses_keep_the_librarys_message(self):
        e = libvault.VaultIOError("vault.db: disk I/O error", libvault.VaultIOError.CODE)
        self.assertIsInstance(e, OSError)
        self.assertIsNone(e.errno)
        self.assertEqual(str(e), "vault.db: disk I/O error")
        self.assertEqual(e.args, ("vault.db: disk I/O error",))


class CaughtAsBuiltinTest(VaultCase):
    def test_except_value_error_catches_invalid_input(self):
        s = self.officer()
        rid = self.add_resident(s)
        try:
            s.put(rid, "no_such_field", "x")
        except ValueError as e:
            self.assertIsInstance(e, libvault.InvalidInput)
            self.assertIn("no_such_field", str(e))
        else:
            self.fail("no exception")

    def test_builtin_handlers_catch_library_failures(self):
        s = self.officer()
        with self.assertRaises(LookupError) as cm:
            s.get("0123456789abcdef0123456789abcdef", ["name"])
        self.assertIsInstance(cm.exception, libvault.NotFound)
        rid = self.add_resident(s)
        with self.assertRaises(PermissionError) as cm2:
            self.grid().put(rid, "phone", "13000000000")
        self.assertIsInstance(cm2.exception, libvault.AccessDenied)
        with self.assertRaises(FileExistsError) as cm3:
            libvault.generate_key_file(self.key)
        self.assertIsInstance(cm3.exception, libvault.AlreadyExists)
        self.v.close()
        with self.assertRaises(RuntimeError) as cm4:
            s.get(rid)
        self.assertIsInstance(cm4.exception, libvault.StateError)


class LibraryMessagesTest(VaultCase):
    def test_message_is_the_librarys(self):
        with self.assertRaises(libvault.InvalidInput) as cm:
            self.v.session(user="x", role="janitor", department="street_office",
                           jurisdiction=GRID7, purpose="resident_service")
        self.assertIn("janitor", cm.exception.message)
        self.assertEqual(cm.exception.name, "VAULT_EINVALID")
        self.assertEqual(cm.exception.code, libvault.InvalidInput.CODE)

    def test_messages_never_carry_values(self):
        s = self.officer()
        rid = self.add_resident(s)
        with self.assertRaises(libvault.InvalidInput) as cm:
            s.put(rid, "name", b"\xff\xfe secret-bytes")
        self.assertNotIn("secret-bytes", cm.exception.message)


if __name__ == "__main__":
    unittest.main()
