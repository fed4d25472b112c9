#!/usr/bin/env python3
"""Purpose accounting and the anomaly ranking through a real vaultd
(issue 19): POST /v1/audit/summary and /v1/audit/anomalies answer an
auditor (the policy's auditors: a data officer here) with what the
embedded calls give, the summary's residents leave the canaries out, CSV
and text come as {text}, bad months and keys are 400, an officer who is
not among the auditors is refused (403, logged), and vaultctl --server runs both."""

import datetime
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

OFFICER = ["--user", "li", "--role", "data_officer", "--dept", "street_office",
           "--jurisdiction", H.STREET, "--purpose", "resident_service"]


class SummaryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.month = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m")
        cls.d = d = H.Vaultd()
        # two decoys, made on the vault itself (canary add is not a vaultd route)
        _, out, _ = d.embedded(*OFFICER, "canary", "add", "--in", H.GRID, "--count", "2")
        cls.decoys = out.split()
        assert len(cls.decoys) == 2, out
        d.start()
        cls.officer = d.token("officer-li", "data_officer", "street_office")
        # an officer of the street office at its desk, but not among the auditors:
        cls.clerk = d.token("clerk-he", "street_officer", "street_office")
        cls.tokfile = os.path.join(d.tmp, "officer.jwt")
        with open(cls.tokfile, "w") as f:
            f.write(cls.officer)
        cls.ids = []
        for i in range(3):
            r = d.post("/v1/records/add", {
                "purpose": "resident_service", "jurisdiction": H.GRID,
                "fields": {"name": "张%d" % i, "phone": "1381234567%d" % i}}, token=cls.officer)
            assert r.status == 201, r
            cls.ids.append(r.json["id"])
        for rid in (cls.ids[0], cls.decoys[0]):
            r = d.post("/v1/records/get", {"purpose": "resident_service", "id": rid,
                                           "fields": ["name"]}, token=cls.officer)
            assert r.status == 200, r

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def summary(self, token=None, **body):
        body.setdefault("purpose", "resident_service")
        body.setdefault("month", self.month)
        return self.d.post("/v1/audit/summary", body, token=token or self.officer)

    def test_summary_leaves_the_canaries_out(self):
        r = self.summary(by="department,purpose,role")
        self.assertEqual(r.status, 200, r)
        s = r.json["summary"]
        self.assertEqual((s["month"], s["zone"], s["by"]), (self.month, "UTC",
                                                            ["department", "purpose", "role"]))
        self.assertEqual(s["residents"], 3)  # 3 real residents, 2 decoys: 3
        self.assertEqual(s["canary_entries"], 1)
        g = [x for x in s["groups"] if x["department"] == "street_office"
             and x["purpose"] == "resident_service" and x["role"] == "data_officer"]
        self.assertEqual(len(g), 1, s["groups"])
        # 2 canary_add, 3 adds, 2 reads (one of a decoy)
        self.assertEqual((g[0]["entries"], g[0]["residents"], g[0]["canary_entries"]),
                         (7, 3, 1))

    def test_text_and_csv(self):
        r = self.summary(by="action,outcome", format="csv")
        self.assertEqual(r.status, 200, r)
        csv = r.json["text"]
        self.assertTrue(csv.startswith('"action","outcome","entries","residents",'
                                       '"canary_entries"\r\n'), csv)
        self.assertIn('\r\n"create","allowed","3","3","0"\r\n', csv)
        r = self.summary(format="text")
        self.assertEqual(r.status, 200, r)
        self.assertIn("3 residents (canaries not counted)", r.json["text"])
        r = self.summary(format="xml")
        self.assertEqual(r.status, 400, r)

    def test_bad_months_and_keys(self):
        for month in ("2026-13", "26-11", "2026-11-01", ""):
            r = self.summary(month=month)
            self.assertEqual(r.status, 400, (month, r))
            self.assertIn("YYYY-MM", r.error()["message"])
        r = self.summary(by="department,dept")
        self.assertEqual(r.status, 400, r)
        self.assertIn("unknown key 'dept'", r.error()["message"])
        r = self.d.post("/v1/audit/summary", {"purpose": "resident_service"}, token=self.officer)
        self.assertEqual(r.status, 400, r)

    def test_anomalies(self):
        r = self.d.post("/v1/audit/anomalies", {"purpose": "resident_service", "window": 86400},
                        token=self.officer)
        self.assertEqual(r.status, 200, r)
        users = r.json["users"]
        self.assertIn("officer-li", [u["user"] for u in users])
        self.assertTrue(all(not u["flagged"] for u in users))
        r = self.d.post("/v1/audit/anomalies", {"purpose": "resident_service",
                                                "format": "text"}, token=self.officer)
        self.assertEqual(r.status, 200, r)
        self.assertIn("users far above the others of their role", r.json["text"])
        for bad in (1, "7d", 400 * 86400):
            r = self.d.post("/v1/audit/anomalies", {"purpose": "resident_service",
                                                    "window": bad}, token=self.officer)
            self.assertEqual(r.status, 400, (bad, r))

    def test_only_auditors(self):
        for path, body in (("/v1/audit/summary", {"month": self.month}),
                           ("/v1/audit/anomalies", {})):
            body["purpose"] = "resident_service"
            r = self.d.post(path, body, token=self.clerk)
            self.assertEqual(r.status, 403, (path, r))
            self.assertIn("auditors", r.error()["message"])
            r = self.d.post(path, body)  # no token
            self.assertEqual(r.status, 401, (path, r))
        _, out, _ = self.d.embedded("audit", "report", "--user", "clerk-he")
        self.assertEqual(out.count("session_open"), 2, out)

    def test_vaultctl_server_and_logged(self):
        cli = [H.VAULTCTL, "--server", "unix://" + self.d.sock, "--token-file", self.tokfile,
               "--purpose", "resident_service"]
        _, out, _ = H.run(*cli, "audit", "summary", "--month", self.month)
        self.assertIn("3 residents (canaries not counted)", out)
        # bytes: the CSV's CRLF line ends come through client mode as they are
        p = subprocess.run(cli + ["audit", "summary", "--month", self.month, "--by", "role",
                                  "--csv"], capture_output=True, check=True)
        self.assertTrue(p.stdout.startswith(b'"role","entries","residents","canary_entries"\r\n'),
                        p.stdout)
        self.assertIn(b'\r\n"data_officer","7","3","1"\r\n', p.stdout)
        rc, out, err = H.run(*cli, "audit", "summary", "--month", "2026-00", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("YYYY-MM", err)
        _, out, _ = H.run(*cli, "audit", "anomalies", "--since", "1d")
        self.assertIn("users far above", out)
        _, out, _ = self.d.embedded("audit", "report", "--user", "officer-li")
        self.assertIn("audit_summary", out)
        self.assertIn("month %s by department,purpose" % self.month, out)
        self.assertIn("audit_anomalies", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
