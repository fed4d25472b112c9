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
