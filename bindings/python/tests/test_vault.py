"""Creating, opening and unlocking vaults; keyslots; handle lifecycle."""

import os
import re
import shutil
import tempfile
import unittest

import libvault

from . import COMMUNITY, GRID7, PASS, SOURCE_DIR, STREET, VaultCase


def officer(v):
    return v.session(user="li", role="data_officer", department="street_office",
                     jurisdiction=STREET, purpose="resident_service")


class PassphraseTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="libvault-py-")
        self.addCleanup(self._tmp.cleanup)
        self.path = os.path.join(self._tmp.name, "p.vault")

    def test_create_and_open_with_passphrase(self):
        with libvault.Vault.create(self.path, COMMUNITY, passphrase=PASS, kdf="interactive") as v:
            self.assertRegex(v.id, r"^[0-9a-f]{32}$")
            vid = v.id
            with officer(v) as s:
                rid = s.create(GRID7, {"name": "李四"})
        self.assertTrue(v.closed)
        self.assertTrue(os.path.exists(self.path + ".keys"))
        # str, bytes and bytearray passphrases all unlock
        for secret in (PASS, PASS.encode(), bytearray(PASS.encode())):
            with libvault.Vault.open(self.path, passphrase=secret) as v:
                self.assertEqual(v.id, vid)
                with officer(v) as s:
                    self.assertEqual(s.get(rid, ["name"]).value("name"), "李四")
        slots = None
        with libvault.Vault.open(self.path, passphrase=PASS) as v:
            slots = v.keyslot_list()
        self.assertEqual(len(slots), 1)
        self.assertEqual(slots[0].kind, libvault.UnlockKind.PASSPHRASE)

    def test_wrong_passphrase_is_auth_error(self):
        libvault.Vault.create(self.path, COMMUNITY, passphrase=PASS, kdf="interactive").close()
        with self.assertRaises(libvault.AuthError) as cm:
            libvault.Vault.open(self.path, passphrase="hunter2-not-it")
        self.assertNotIn("hunter2", cm.exception.message)
        self.assertEqual(cm.exception.code, libvault.AuthError.CODE)

    def test_damaged_keys_file_is_integrity_error(self):
        libvault.Vault.create(self.path, COMMUNITY, passphrase=PASS, kdf="interactive").close()
        keys = self.path + ".keys"
        with open(keys, "rb") as f:
            data = f.read()
        with open(keys, "wb") as f:
            f.write(data[:len(data) // 2])
        with self.assertRaises(libvault.IntegrityError):
            libvault.Vault.open(self.path, passphrase=PASS)
        with open(keys, "wb") as f:
            f.write(data)
        libvault.Vault.open(self.path, passphrase=PASS).close()

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            libvault.Vault.create(self.path, COMMUNITY)
        with self.assertRaises(TypeError):
            libvault.Vault.create(self.path, COMMUNITY, passphrase=PASS, key_file="k")
        with self.assertRaises(ValueError):
            libvault.Vault.create(self.path, COMMUNITY, passphrase=PASS, kdf="extreme")
        self.assertFalse(os.path.exists(self.path))


class KeyFileTest(VaultCase):
    def test_open_with_key_file(self):
        s = self.officer()
        rid = self.add_resident(s)
        self.v.close()
        self.assertTrue(s.closed)  # closing the vault closed its sessions
        with self.assertRaises(libvault.StateError):
            s.get(rid)
        with libvault.Vault.open(self.path, key_file=self.key) as v:
            with officer(v) as s2:
                self.assertEqual(s2.get(rid, ["phone"]).value("phone"), "13812345678")

    def test_wrong_key_file_and_missing_vault(self):
        self.v.close()
        other = os.path.join(self.dir, "other.key")
        libvault.generate_key_file(other)
        with self.assertRaises(libvault.AuthError):
            libvault.Vault.open(self.path, key_file=other)
        with self.assertRaises(libvault.AlreadyExists):
            libvault.generate_key_file(other)
        with self.assertRaises(libvault.NotFound):
            libvault.Vault.open(os.path.join(self.dir, "missing.vault"), key_file=self.key)
        with self.assertRaises(libvault.AlreadyExists):
            libvault.Vault.create(self.path, COMMUNITY, key_file=self.key)

    def test_keyslots(self):
        s = self.officer()
        rid = self.add_resident(s)
        slot = self.v.keyslot_add(passphrase=PASS, label="备用口令", kdf=libvault.Kdf.INTERACTIVE)
        slots = self.v.keyslot_list()
        self.assertEqual([x.slot for x in slots], [0, slot])
        self.assertEqual(slots[0].kind, libvault.UnlockKind.KEYFILE)
        self.assertEqual(slots[1].kind, libvault.UnlockKind.PASSPHRASE)
        self.assertEqual(slots[1].label, "备用口令")
        self.assertGreater(slots[1].created, 1_600_000_000)
        self.assertEqual(slots[1].created_at.year >= 2020, True)
        # remove the key-file slot; the passphrase opens, the key file no longer does
        self.v.keyslot_remove(0)
        with self.assertRaises(libvault.StateError):
            self.v.keyslot_remove(slot)  # the last one
        with self.assertRaises(libvault.NotFound):
            self.v.keyslot_remove(99)
        self.v.close()
        with self.assertRaises(libvault.AuthError):
            libvault.Vault.open(self.path, key_file=self.key)
        with libvault.Vault.open(self.path, passphrase=PASS) as v, officer(v) as s2:
            self.assertEqual(s2.get(rid, ["name"]).value("name"), "张三丰")

    def test_closed_handle(self):
        self.v.close()
        self.v.close()  # twice is fine
        with self.assertRaises(libvault.StateError):
            self.v.id
        with self.assertRaises(libvault.StateError):
            officer(self.v)

    def test_db_key(self):
        key = self.v.db_key()
        self.assertRegex(key, r"^x'[0-9a-fA-F]{64}'$")

    def test_invalid_policy_leaves_nothing(self):
        bad = os.path.join(self.dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("version: 1\nname: [unclosed\n")
        p = os.path.join(self.dir, "new.vault")
        with self.assertRaises(libvault.PolicyError) as cm:
            libvault.Vault.create(p, bad, key_file=self.key)
        self.assertRegex(cm.exception.message, re.escape(bad) + r":\d+:\d+")
        self.assertFalse(os.path.exists(p))
        self.assertFalse(os.path.exists(p + ".keys"))


class MigrationProgressTest(unittest.TestCase):
    def test_open_reports_the_migration(self):
        # The checked-in vault of the previous release (store schema 2):
        # the first open copies its records and reports each; the second
        # open migrates nothing and reports nothing.
        fix = os.path.join(SOURCE_DIR, "tests", "fixtures", "v1")
        with open(os.path.join(fix, "expected.txt"), encoding="utf-8") as f:
            nrec = sum(1 for ln in f if ln.split()[:1] == ["record"])
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("v1.vault", "v1.vault.keys", "v1.key"):
                shutil.copy(os.path.join(fix, name), tmp)
                os.chmod(os.path.join(tmp, name), 0o600)
            calls = []
            with libvault.Vault.open(os.path.join(tmp, "v1.vault"),
                                     key_file=os.path.join(tmp, "v1.key"),
                                     progress=lambda d, t: calls.append((d, t))) as v:
                self.assertTrue(v.audit_verify().ok)
            self.assertEqual(calls, [(i, nrec) for i in range(nrec + 1)])
            calls.clear()
            with libvault.Vault.open(os.path.join(tmp, "v1.vault"),
                                     key_file=os.path.join(tmp, "v1.key"),
                                     progress=lambda d, t: calls.append((d, t))):
                pass
            self.assertEqual(calls, [])


if __name__ == "__main__":
    unittest.main()
