"""Access quotas over the bindings: an alert quota raises Vault.on_alarm
after the read, a deny quota raises AccessDenied (docs/policy-format.md
"Access quotas")."""

import os
import tempfile
import unittest

import libvault

STREET = "hangzhou/gongshu/xiaohe"
POLICY = """version: 1
name: alarm-test
grades: [personal]
fields:
  phone: {grade: personal}
departments: [street_office, health]
roles: [data_officer, nurse, clerk]
purposes: [resident_service, public_health]
rules:
  - {id: officer, subjects: {role: data_officer}, actions: [create, read, write], purposes: [resident_service], scope: within, effect: allow}
  - {id: nurse, subjects: {role: nurse}, actions: [read], purposes: [public_health], scope: within, effect: allow}
  - {id: clerk, subjects: {role: clerk}, actions: [read], purposes: [public_health], scope: within, effect: allow}
quotas:
  - {id: nurse-daily, role: nurse, reads: 1, per: 1d, over: alert}
  - {id: clerk-daily, role: clerk, reads: 1, per: 1d}
"""


class AlarmTest(unittest.TestCase):
    def test_alert_and_deny(self):
        with tempfile.TemporaryDirectory(prefix="libvault-py-") as tmp:
            pol, key = os.path.join(tmp, "p.yaml"), os.path.join(tmp, "k.key")
            with open(pol, "w", encoding="utf-8") as f:
                f.write(POLICY)
            libvault.generate_key_file(key)
            with libvault.Vault.create(os.path.join(tmp, "a.vault"), pol, key_file=key) as v:
                with v.session(user="li", role="data_officer", department="street_office",
                               jurisdiction=STREET, purpose="resident_service") as s:
                    rid = s.create(STREET, {"phone": "13900000000"})
                seen = []
                v.on_alarm(seen.append)
                with v.session(user="sun", role="nurse", department="health",
                               jurisdiction=STREET, purpose="public_health") as n:
                    n.get(rid, ["phone"])
                    self.assertEqual(seen, [])
                    got = n.get(rid, ["phone"])["phone"]
                    self.assertEqual(got.value, "13900000000")  # alert: the read goes on
                self.assertEqual(len(seen), 1)
                a = seen[0]
                self.assertEqual((a.kind, a.name, a.user, a.record, a.count, a.limit, a.per),
                                 ("quota", "nurse-daily", "sun", rid, 2, 1, 86400))
                with v.session(user="zhou", role="clerk", department="health",
                               jurisdiction=STREET, purpose="public_health") as c:
                    c.get(rid, ["phone"])
                    with self.assertRaises(libvault.AccessDenied):
                        c.get(rid, ["phone"])
                self.assertEqual(len(seen), 1)
                v.on_alarm(None)
                self.assertTrue(v.audit_verify().ok)
                # everyone counted, none flagged: one user per role
                got = v.audit_anomalies(86400)
                self.assertEqual(sorted(x["user"] for x in got), ["sun", "zhou"])
                self.assertFalse(any(x["flagged"] for x in got))
                with self.assertRaises(libvault.InvalidInput):
                    v.audit_anomalies(1)


if __name__ == "__main__":
    unittest.main()
