"""Retention over the bindings (Vault.retention_plan, Vault.retention_run):
the plan lists the resident past its schedule and not the others, the run
erases exactly that (the erased one is NotFound, the other reads back),
text output, and a bad format refused."""

import os
import tempfile
import unittest

import libvault

STREET = "hangzhou/gongshu/xiaohe"
POLICY = """version: 1
name: retention-py
grades: [personal]
fields:
  name: {grade: personal}
  moved_out: {grade: personal}
departments: [street_office]
roles: [data_officer]
purposes: [resident_service]
rules:
  - {id: officer, subjects: {role: data_officer}, actions: [create, read, write, erase], purposes: [resident_service], scope: within, effect: allow}
retention:
  - {id: moved-away, record: true, keep: 30d, after: moved_out}
"""


class RetentionTest(unittest.TestCase):
    def test_plan_then_run(self):
        with tempfile.TemporaryDirectory(prefix="libvault-py-") as tmp:
            pol, key = os.path.join(tmp, "p.yaml"), os.path.join(tmp, "k.key")
            with open(pol, "w", encoding="utf-8") as f:
                f.write(POLICY)
            libvault.generate_key_file(key)
            with libvault.Vault.create(os.path.join(tmp, "a.vault"), pol, key_file=key) as v:
                with v.session(user="li", role="data_officer", department="street_office",
                               jurisdiction=STREET, purpose="resident_service") as s:
                    gone = s.create(STREET, {"name": "张三", "moved_out": "2020-01-01"})
                    kept = s.create(STREET, {"name": "李四", "moved_out": "2099-01-01"})
                    plan = v.retention_plan()
                    assert isinstance(plan, dict)
                    self.assertEqual([(d["record"], d["schedule"], d["erase"]) for d in plan["due"]],
                                     [(gone, "moved-away", "record")])
                    self.assertIn("erase the record (schedule moved-away)",
                                  v.retention_plan(format="text"))
                    run = v.retention_run()
                    assert isinstance(run, dict)
                    self.assertTrue(run["complete"])
                    self.assertEqual([d["record"] for d in run["done"]], [gone])
                    with self.assertRaises(libvault.NotFound):
                        s.get(gone, ["name"])
                    self.assertEqual(s.get(kept, ["name"]).value("name"), "李四")
                    self.assertIn("0 records erased", v.retention_run(format="text"))
                    with self.assertRaises(ValueError):
                        v.retention_plan(format="csv")


if __name__ == "__main__":
    unittest.main()
