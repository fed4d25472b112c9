"""Policy check, apply, source, explain and who-can."""

import hashlib
import os
import re
import unittest

import libvault
from libvault import Effect

from . import COMMUNITY, HOTLINE, LIMITS, VaultCase


class PolicyCheckTest(unittest.TestCase):
    def test_shipped_policies_are_valid(self):
        for p in (COMMUNITY, HOTLINE, LIMITS):
            self.assertIsInstance(libvault.policy_check(p), str)
        self.assertIs(libvault.Vault.policy_check, libvault.policy_check)


class PolicyTest(VaultCase):
    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_bad_policy_names_file_line_col(self):
        bad = self.write("bad.yaml", "version: 1\nname: [unclosed\n")
        with self.assertRaises(libvault.PolicyError) as cm:
            libvault.policy_check(bad)
        self.assertRegex(cm.exception.message, re.escape(bad) + r":\d+:\d+: ")
        self.assertIn("error", cm.exception.report)
        # a well-formed file with an unknown name: the error points at it
        with open(LIMITS, encoding="utf-8") as f:
            text = f.read()
        lines = text.splitlines()
        lineno = next(i for i, ln in enumerate(lines, 1) if "subjects: {department: office}" in ln)
        broken = self.write("unknown.yaml", text.replace(
            "subjects: {department: office}", "subjects: {department: nowhere}", 1))
        with self.assertRaises(libvault.PolicyError) as cm:
            libvault.policy_check(broken)
        self.assertRegex(cm.exception.message, re.escape(broken) + r":%d:\d+: " % lineno)
        self.assertIn("nowhere", cm.exception.message)
        with self.assertRaises(libvault.NotFound):
            libvault.policy_check(os.path.join(self.dir, "none.yaml"))

    def test_source(self):
        src = self.v.policy_source()
        with open(COMMUNITY, "rb") as f:
            raw = f.read()
        self.assertEqual(src.text, raw.decode("utf-8"))
        self.assertEqual(src.sha256, hashlib.sha256(raw).hexdigest())

    def test_apply(self):
        rid = self.add_resident(self.officer())
        g = self.grid()
        self.assertEqual(g.get(rid, ["phone"])["phone"].effect, Effect.MASK)
        with open(COMMUNITY, encoding="utf-8") as f:
            text = f.read()
        old = "    fields: [name, phone, id_number, address]\n    effect: mask\n"
        self.assertIn(old, text)
        path = self.write("community-open.yaml", text.replace(old, old.replace("mask", "allow")))
        changes = self.v.policy_apply(path)
        self.assertTrue(any(ln.startswith("+") and "grid_worker" in ln and "phone" in ln
                            for ln in changes), changes)
        r = g.get(rid, ["phone"])
        self.assertEqual(r["phone"].effect, Effect.ALLOW)
        self.assertEqual(r["phone"].value, "13812345678")
        self.assertIn("community-open.yaml", r["phone"].reason.where)
        # an invalid file changes nothing
        bad = self.write("bad.yaml", "version: 1\nname: [unclosed\n")
        with self.assertRaises(libvault.PolicyError):
            self.v.policy_apply(bad)
        self.assertEqual(g.get(rid, ["phone"])["phone"].effect, Effect.ALLOW)
        with open(path, "rb") as f:
            self.assertEqual(self.v.policy_source().sha256, hashlib.sha256(f.read()).hexdigest())

    def test_who_can(self):
        text = self.v.who_can("phone")
        self.assertIn("grid_worker community_committee grid_management: mask", text)
        rows = self.v.who_can("complainant_identity", as_json=True)
        self.assertIsInstance(rows, list)
        self.assertFalse(any(r.get("role") == "hotline_agent" and r.get("effect") != "deny"
                             for r in rows))
        rid = self.add_resident(self.officer())
        self.assertIsInstance(self.v.who_can("phone", rid, as_json=True), list)


if __name__ == "__main__":
    unittest.main()
