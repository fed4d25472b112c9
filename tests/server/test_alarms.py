#!/usr/bin/env python3
"""vaultd's alarms (docs/service.md "Alarms"): a read over a policy quota
whose over: is alert goes on, and vaultd writes one line for it to its log
(the journal under systemd) and runs alarms.command with the alarm in its
environment: the quota, the user, the record, the count; never a value.
A deny quota refuses the read (403) and raises nothing."""

import os
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

QUOTAS = """quotas:
  - id: grid-alarm
    role: grid_worker
    purposes: [grid_management]
    reads: 1
    per: 1d
    over: alert
  - id: hotline-cap
    role: hotline_agent
    reads: 1
    per: 1d
"""


class AlarmTest(unittest.TestCase):
    def setUp(self):
        self.d = H.Vaultd(tls=True)
        d = self.d
        # The shipped policy with two access quotas in front of its own.
        with open(H.POLICY, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("\nquotas:\n", text)
        pol = os.path.join(d.tmp, "alarms.yaml")
        with open(pol, "w", encoding="utf-8") as f:
            f.write(text.replace("\nquotas:\n", "\n" + QUOTAS, 1))
        d.embedded("policy", "apply", pol)
        # alarms.command: writes its environment to a file, one per alarm
        self.seen = os.path.join(d.tmp, "alarms-seen")
        os.mkdir(self.seen)
        self.cmd = os.path.join(d.tmp, "on-alarm.sh")
        with open(self.cmd, "w") as f:
            f.write("#!/bin/sh\nenv | grep '^VAULT_ALARM_' | sort > %s/$$.env\n" % self.seen)
        os.chmod(self.cmd, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        with open(d.config, "a") as f:
            f.write("alarms:\n  command: %s\n  timeout: 5s\n" % self.cmd)
        d.start()
        self.officer = d.token("officer-li", "data_officer", "street_office")
        self.grid = d.token("grid-zhang", "grid_worker", "community_committee",
                            jurisdiction=H.GRID)
        self.hotline = d.token("agent-chen", "hotline_agent", "hotline_12345",
                               jurisdiction="hangzhou")
        r = d.post("/v1/records/add", {
            "purpose": "resident_service", "jurisdiction": H.GRID,
            "fields": {"name": "张三", "phone": "13812345678"}}, token=self.officer)
        self.assertEqual(r.status, 201, r)
        self.rid = r.json["id"]

    def tearDown(self):
        self.d.cleanup()

    def read(self, token, purpose, app):
        # over TLS, as the app its client certificate names (grid-app, hotline-app)
        c = self.d.tls(app)
        try:
            return H.http_request(c, "POST", "/v1/records/get",
                                  {"purpose": purpose, "id": self.rid, "fields": ["phone"]},
                                  token=token)
        finally:
            c.close()

    def envs(self):
        for _ in range(100):
            names = os.listdir(self.seen)
            if names:
                break
            time.sleep(0.1)
        out = []
        for n in sorted(os.listdir(self.seen)):
            with open(os.path.join(self.seen, n)) as f:
                out.append(dict(ln.rstrip("\n").split("=", 1) for ln in f if "=" in ln))
        return out

    def test_alert_quota_raises_an_alarm(self):
        self.assertEqual(self.read(self.grid, "grid_management", "grid-app").status, 200)
        self.assertEqual(self.envs() if os.listdir(self.seen) else [], [])
        r = self.read(self.grid, "grid_management", "grid-app")
        self.assertEqual(r.status, 200, r)  # alert: the read goes on
        envs = self.envs()
        self.assertEqual(len(envs), 1, envs)
        e = envs[0]
        self.assertEqual(e["VAULT_ALARM_KIND"], "quota")
        self.assertEqual(e["VAULT_ALARM_NAME"], "grid-alarm")
        self.assertEqual(e["VAULT_ALARM_USER"], "grid-zhang")
        self.assertEqual(e["VAULT_ALARM_ROLE"], "grid_worker")
        self.assertEqual(e["VAULT_ALARM_RECORD"], self.rid)
        self.assertEqual((e["VAULT_ALARM_COUNT"], e["VAULT_ALARM_LIMIT"], e["VAULT_ALARM_PER"]),
                         ("2", "1", "86400"))
        self.assertNotIn("13812345678", "".join(e.values()))
        log = self.d.read_log()
        self.assertIn("vaultd: alarm: quota grid-alarm: grid-zhang", log)
        self.assertNotIn("13812345678", log)
        _, out, _ = self.d.embedded("audit", "report", "--user", "grid-zhang")
        self.assertEqual(out.count("[ALERT]"), 1, out)

    def test_deny_quota_refuses_and_raises_nothing(self):
        self.assertEqual(self.read(self.hotline, "hotline_followup", "hotline-app").status, 200)
        r = self.read(self.hotline, "hotline_followup", "hotline-app")
        self.assertEqual(r.status, 403, r)
        self.assertIn("quota 'hotline-cap' is used up", r.error()["message"])
        time.sleep(0.5)
        self.assertEqual(os.listdir(self.seen), [])
        self.assertNotIn("vaultd: alarm:", self.d.read_log())


if __name__ == "__main__":
    unittest.main()
