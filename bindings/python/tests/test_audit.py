"""Audit log: verification, checkpoints, export, offline verification, tampering, reports."""

import os
import unittest

import libvault
from libvault import AuditFailure

from . import VaultCase


def tamper(src, dst, line_no):
    """Copy an export, changing one character inside line `line_no`'s entry.

    (What someone editing a kept copy of the log would do: the line stays
    well-formed JSON with valid base64.)
    """
    with open(src, encoding="utf-8") as f:
        lines = f.read().splitlines(True)
    line = lines[line_no - 1]
    pos = line.index('"entry":"') + 30
    lines[line_no - 1] = line[:pos] + ("B" if line[pos] == "A" else "A") + line[pos + 1:]
    with open(dst, "w", encoding="utf-8") as f:
        f.writelines(lines)


class AuditTest(VaultCase):
    def setUp(self):
        super().setUp()
        self.o = self.officer()
        self.g = self.grid()
        self.rid = self.add_resident(self.o)

    def test_verify(self):
        self.g.get(self.rid, ["phone"])
        with self.assertRaises(libvault.AccessDenied):
            self.g.put(self.rid, "phone", "13000000000")
        calls = []
        res = self.v.audit_verify(progress=lambda d, t: calls.append((d, t)))
        self.assertTrue(res.ok)
        self.assertEqual(res.failure, AuditFailure.OK)
        self.assertEqual(res.failure_name, "")
        self.assertEqual(res.entries, 4)  # vault_create, create, read, denied write
        self.assertTrue(calls)

    def test_export_and_offline_verification(self):
        self.g.get(self.rid, ["phone", "name"])
        note = self.v.audit_checkpoint()
        self.assertIn("libvault/", note)
        self.assertTrue(self.v.audit_verify(note).ok)
        pub = self.v.audit_pubkey()
        self.assertTrue(pub.startswith("libvault/"))
        exp = os.path.join(self.dir, "audit.jsonl")
        calls = []
        self.v.audit_export(exp, progress=lambda d, t: calls.append((d, t)))
        self.assertTrue(calls)
        with self.assertRaises(libvault.AlreadyExists):
            self.v.audit_export(exp)  # never overwrites
        with open(exp, encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn("13812345678", text)
        self.v.close()  # offline: no vault needed
        res = libvault.verify_export(exp, pub, note)
        self.assertTrue(res.ok)
        self.assertGreaterEqual(res.checkpoints, 1)
        self.assertTrue(libvault.Vault.audit_verify_export(exp, pub).ok)
        # one character changed in an entry
        bad = os.path.join(self.dir, "tampered.jsonl")
        n_checkpoints = sum(1 for ln in text.splitlines() if '"entry"' not in ln)
        tamper(exp, bad, n_checkpoints + 3)
        with self.assertRaises(libvault.IntegrityError) as cm:
            libvault.verify_export(bad, pub, note)
        r = cm.exception.result
        self.assertIsNotNone(r)
        self.assertFalse(r.ok)
        self.assertEqual(r.failure, AuditFailure.MODIFIED)
        self.assertEqual(r.failure_name, "modified")
        self.assertEqual(r.bad_seq, 3)
        r2 = libvault.verify_export(bad, pub, note, check=False)
        self.assertEqual(r2.failure, AuditFailure.MODIFIED)
        with self.assertRaises(libvault.InvalidInput):
            libvault.verify_export(exp, "junk")

    def test_forged_checkpoint(self):
        note = self.v.audit_checkpoint()
        forged = note[:-3] + chr(ord(note[-3]) ^ 1) + note[-2:]
        with self.assertRaises(libvault.IntegrityError) as cm:
            self.v.audit_verify(forged)
        self.assertEqual(cm.exception.result.failure, AuditFailure.BAD_SIGNATURE)
        self.assertFalse(self.v.audit_verify(forged, check=False).ok)

    def test_reports(self):
        self.g.get(self.rid, ["phone"])
        with self.assertRaises(libvault.AccessDenied):
            self.g.put(self.rid, "phone", "13000000000")
        self.v.set_actor("qian.compliance")
        text = self.v.report_record(self.rid)
        self.assertIn("wang (grid_worker/community_committee", text)
        self.assertIn("li (data_officer/street_office", text)
        self.assertIn("phone:mask", text)
        self.assertNotIn("13812345678", text)
        rows = self.v.report_user("wang", as_json=True)
        self.assertTrue(rows)
        self.assertTrue(all(r["user"] == "wang" for r in rows))
        self.assertEqual(rows[0]["purpose"], "grid_management")
        denied = self.v.report_denied()
        self.assertIn("wang", denied)
        self.assertIn("write", denied)
        self.assertEqual(self.v.report_break_glass(), "")
        # reports are logged, under the named actor
        self.assertIn("qian.compliance", self.v.report_user("qian.compliance"))
        with self.assertRaises(libvault.InvalidInput):
            self.v.report_record("nope")
        with self.assertRaises(libvault.InvalidInput):
            self.v.audit_report(99)


if __name__ == "__main__":
    unittest.main()
