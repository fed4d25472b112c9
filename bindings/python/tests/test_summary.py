"""Purpose accounting over the bindings (Vault.audit_summary): a month's
entries by department and purpose, the residents counted without the
canaries, text and CSV, bad keys and months refused."""

import datetime
import os
import tempfile
import unittest

import libvault

STREET = "hangzhou/gongshu/xiaohe"
POLICY = """version: 1
name: summary-test
grades: [personal]
fields:
  phone: {grade: personal}
departments: [street_office, health]
roles: [data_officer, nurse]
purposes: [resident_service, public_health]
rules:
  - {id: officer, subjects: {role: data_officer}, actions: [create, read, write], purposes: [resident_service], scope: within, effect: allow}
  - {id: nurse, subjects: {role: nurse}, actions: [read], purposes: [public_health], scope: within, effect: allow}
data_officers: [data_officer]
"""


class SummaryTest(unittest.TestCase):
    def test_summary(self):
        month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
        with tempfile.TemporaryDirectory(prefix="libvault-py-") as tmp:
            pol, key = os.path.join(tmp, "p.yaml"), os.path.join(tmp, "k.key")
            with open(pol, "w", encoding="utf-8") as f:
                f.write(POLICY)
            libvault.generate_key_file(key)
            with libvault.Vault.create(os.path.join(tmp, "a.vault"), pol, key_file=key) as v:
                with v.session(user="li", role="data_officer", department="street_office",
                               jurisdiction=STREET, purpose="resident_service") as s:
                    ids = [s.create(STREET, {"phone": "1390000000%d" % i}) for i in range(3)]
                    decoy = s.canary_add(STREET, {"phone": "13911112222"})
                with v.session(user="sun", role="nurse", department="health",
                               jurisdiction=STREET, purpose="public_health") as n:
                    n.get(ids[0], ["phone"])
                    n.get(decoy, ["phone"])
                got = v.audit_summary(month)
                assert isinstance(got, dict)
                self.assertEqual(got["by"], ["department", "purpose"])
                self.assertEqual(got["residents"], 3)  # the decoy is no resident
                self.assertEqual(got["canary_entries"], 1)
                health = [g for g in got["groups"] if g["department"] == "health"]
                self.assertEqual(len(health), 1)
                self.assertEqual((health[0]["purpose"], health[0]["entries"],
                                  health[0]["residents"]), ("public_health", 2, 1))
                by_outcome = v.audit_summary(month, ["role", "outcome"])
                assert isinstance(by_outcome, dict)
                self.assertIn({"role": "nurse", "outcome": "allowed", "entries": 2,
                               "residents": 1, "canary_entries": 1}, by_outcome["groups"])
                text = v.audit_summary(month, "department", format="text")
                assert isinstance(text, str)
                self.assertIn("3 residents (canaries not counted)", text)
                csv = v.audit_summary(month, "department", format="csv")
                assert isinstance(csv, str)
                self.assertTrue(csv.startswith('"department","entries","residents",'
                                               '"canary_entries"\r\n'))
                self.assertIn('\r\n"health","2","1","1"\r\n', csv)
                with self.assertRaises(libvault.InvalidInput):
                    v.audit_summary("2026-13")
                with self.assertRaises(libvault.InvalidInput):
                    v.audit_summary(month, "department,dept")
                with self.assertRaises(ValueError):
                    v.audit_summary(month, format="xml")


if __name__ == "__main__":
    unittest.main()
