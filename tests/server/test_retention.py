#!/usr/bin/env python3
"""vaultd runs the policy's retention schedules on its own (docs/service.md
"Retention"): with retention.every 2s (a test interval) a resident past
its schedule is erased without anyone asking, the one outside the
schedule's jurisdiction stays, the journal gets the counts (never a
value), and the audit log has the erasure as an erase entry of the user
"retention".  The plan and run routes are a data officer's."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

RETENTION = """
retention:
  - id: grid-short
    record: true
    keep: 1s
    after: last_write
    jurisdiction: %s
""" % H.GRID

OTHER = H.STREET + "/changzheng/grid-08"


class RetentionTest(unittest.TestCase):
    def setUp(self):
        self.d = H.Vaultd()
        d = self.d
        with open(H.POLICY, encoding="utf-8") as f:
            text = f.read()
        pol = os.path.join(d.tmp, "retention.yaml")
        with open(pol, "w", encoding="utf-8") as f:
            f.write(text + RETENTION)
        d.embedded("policy", "apply", pol)
        with open(d.config, "a") as f:
            f.write("retention:\n  every: 2s\n")
        d.start()
        self.officer = d.token("officer-li", "data_officer", "street_office")

    def tearDown(self):
        self.d.cleanup()

    def add(self, where, phone):
        r = self.d.post("/v1/records/add", {
            "purpose": "resident_service", "jurisdiction": where,
            "fields": {"name": "张三", "phone": phone}}, token=self.officer)
        self.assertEqual(r.status, 201, r)
        return r.json["id"]

    def get(self, rid):
        return self.d.post("/v1/records/get", {"purpose": "resident_service", "id": rid,
                                               "fields": ["phone"]}, token=self.officer)

    def test_vaultd_erases_a_due_record(self):
        due = self.add(H.GRID, "13812345678")
        kept = self.add(OTHER, "13912345678")
        log = ""
        for _ in range(150):
            log = self.d.read_log()
            if "vaultd: retention: 1 records erased" in log:
                break
            time.sleep(0.1)
        self.assertIn("vaultd: retention: 1 records erased", log)
        self.assertNotIn("13812345678", log)
        self.assertEqual(self.get(due).status, 404)
        self.assertEqual(self.get(kept).status, 200)
        _, out, _ = self.d.embedded("audit", "report", "--user", "retention")
        self.assertIn("erase  record=" + due, out)
        self.assertIn("retention schedule grid-short", out)
        self.assertNotIn("13812345678", out)
        m = self.d.get("/v1/metrics")
        self.assertIn("vaultd_retention_records_erased_total 1", m.raw)

    def test_routes_are_a_data_officers(self):
        r = self.d.post("/v1/retention/plan", {"purpose": "resident_service"},
                        token=self.officer)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["retention"]["schedules"], 1)
        r = self.d.post("/v1/retention/plan", {"purpose": "resident_service", "format": "text"},
                        token=self.officer)
        self.assertEqual(r.status, 200, r)
        self.assertIn("retention plan: 1 schedules", r.json["text"])
        r = self.d.post("/v1/retention/run", {"purpose": "resident_service", "format": "yaml"},
                        token=self.officer)
        self.assertEqual(r.status, 400, r)
        # vaultctl in client mode: the same answer through vaultd
        tok = os.path.join(self.d.tmp, "officer.jwt")
        with open(tok, "w") as f:
            f.write(self.officer + "\n")
        _, out, _ = H.run(H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", tok,
                          "--purpose", "resident_service", "--json", "retention", "plan")
        self.assertEqual(json.loads(out)["schedules"], 1)
        _, out, _ = H.run(H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", tok,
                          "--purpose", "resident_service", "retention", "run")
        self.assertIn("retention run: ", out)
        grid = self.d.token("grid-zhang", "grid_worker", "community_committee",
                            jurisdiction=H.GRID)
        for route in ("/v1/retention/plan", "/v1/retention/run"):
            r = self.d.post(route, {"purpose": "grid_management"}, token=grid)
            self.assertEqual(r.status, 403, r)


if __name__ == "__main__":
    unittest.main()
