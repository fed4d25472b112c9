#!/usr/bin/env python3
"""vaultd's alarms (docs/service.md "Alarms"): a read over a policy quota
whose over: is alert goes on, and vaultd writes one line for it to its log
(the journal under systemd) and runs alarms.command with the alarm in its
environment: the quota, the user, the record, the count; never a value.
A deny quota refuses the read (403) and raises nothing.  A read of a
canary record through vaultd answers like any read and raises an alarm of
kind canary (issue 19, "Must show")."""

import http.server
import json
import os
import socket
import stat
import subprocess
import sys
import threading
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


class _AlarmBase(unittest.TestCase):
    """vaultd with the two quotas, a resident, and tokens; alarm_config()
    says where its alarms go."""

    def alarm_config(self):
        raise NotImplementedError

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
        with open(d.config, "a") as f:
            f.write(self.alarm_config())
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

class AlarmTest(_AlarmBase):
    def alarm_config(self):
        # alarms.command: writes its environment to a file, one per alarm
        self.seen = os.path.join(self.d.tmp, "alarms-seen")
        os.mkdir(self.seen)
        self.cmd = os.path.join(self.d.tmp, "on-alarm.sh")
        with open(self.cmd, "w") as f:
            # written aside, then renamed: the test never reads a half-written file
            f.write("#!/bin/sh\nenv | grep '^VAULT_ALARM_' | sort > %s/$$.tmp && mv %s/$$.tmp %s/$$.env\n"
                    % (self.seen, self.seen, self.seen))
        os.chmod(self.cmd, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        return "alarms:\n  command: %s\n  timeout: 5s\n" % self.cmd

    def envs(self):
        def done():
            return sorted(n for n in os.listdir(self.seen) if n.endswith(".env"))
        for _ in range(100):
            if done():
                break
            time.sleep(0.1)
        out = []
        for n in done():
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

    def test_canary_read_raises_an_alarm(self):
        # a decoy resident, added by a data officer on the host; read
        # through vaultd like any record, it raises an alarm (kind canary)
        _, out, _ = self.d.embedded("--user", "li", "--role", "data_officer", "--dept",
                                    "street_office", "--jurisdiction", "hangzhou",
                                    "--purpose", "resident_service",
                                    "canary", "add", "--in", H.GRID)
        cid = out.strip()
        self.assertEqual(len(cid), 32, out)
        r = self.d.post("/v1/records/get", {"purpose": "resident_service", "id": cid,
                                             "fields": ["phone"]}, token=self.officer)
        self.assertEqual(r.status, 200, r)  # to the reader, a record like any other
        self.assertNotIn("canary", json.dumps(r.json).lower())
        envs = self.envs()
        self.assertEqual(len(envs), 1, envs)
        e = envs[0]
        self.assertEqual(e["VAULT_ALARM_KIND"], "canary")
        self.assertEqual(e["VAULT_ALARM_USER"], "officer-li")
        self.assertEqual(e["VAULT_ALARM_RECORD"], cid)
        phone = r.json["fields"]["phone"]["value"] if isinstance(r.json.get("fields"), dict) \
            else None
        if phone:
            self.assertNotIn(phone, "".join(e.values()))
        log = self.d.read_log()
        self.assertIn("vaultd: alarm: canary", log)
        # a real resident's read raises nothing more
        self.assertEqual(self.d.post("/v1/records/get", {
            "purpose": "resident_service", "id": self.rid, "fields": ["phone"]},
            token=self.officer).status, 200)
        time.sleep(0.5)
        self.assertEqual(len(os.listdir(self.seen)), 1)
        _, out, _ = self.d.embedded("audit", "report", "--user", "officer-li")
        self.assertIn("[CANARY]", out)

    def test_deny_quota_refuses_and_raises_nothing(self):
        self.assertEqual(self.read(self.hotline, "hotline_followup", "hotline-app").status, 200)
        r = self.read(self.hotline, "hotline_followup", "hotline-app")
        self.assertEqual(r.status, 403, r)
        self.assertIn("quota 'hotline-cap' is used up", r.error()["message"])
        time.sleep(0.5)
        self.assertEqual(os.listdir(self.seen), [])
        self.assertNotIn("vaultd: alarm:", self.d.read_log())


@unittest.skipIf(os.path.exists("/run/systemd/journal/socket"),
                 "a journal runs here: the alarm would go to it")
class NoJournalTest(AlarmTest):
    """JOURNAL_STREAM inherited where no journal listens: sd_journal_send
    fails, and the alarm still reaches the log (stderr)."""

    def setUp(self):
        self.saved = os.environ.get("JOURNAL_STREAM")
        os.environ["JOURNAL_STREAM"] = "8:424242"
        super().setUp()

    def tearDown(self):
        super().tearDown()
        if self.saved is None:
            os.environ.pop("JOURNAL_STREAM", None)
        else:
            os.environ["JOURNAL_STREAM"] = self.saved

    def test_deny_quota_refuses_and_raises_nothing(self):
        pass  # AlarmTest's; here only the alarm's way out is under test

    def test_canary_read_raises_an_alarm(self):
        pass


class _Hook(http.server.BaseHTTPRequestHandler):
    """Keeps each POST's path, headers and JSON body; answers the status
    the server was told to."""

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.server.got.append((self.path, self.headers.get("Content-Type"), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class WebhookTest(_AlarmBase):
    def alarm_config(self):
        self.hook = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
        self.hook.got = []
        self.hook.status = 204
        self.serving = True
        threading.Thread(target=self.hook.serve_forever, daemon=True).start()
        return "alarms:\n  webhook: http://127.0.0.1:%d/alarm\n  timeout: 5s\n" % \
            self.hook.server_address[1]

    def tearDown(self):
        if self.serving:
            self.hook.shutdown()
            self.hook.server_close()
        super().tearDown()

    def posts(self, n):
        for _ in range(100):
            if len(self.hook.got) >= n:
                break
            time.sleep(0.1)
        return list(self.hook.got)

    def test_alarm_posted_as_json(self):
        self.assertEqual(self.read(self.grid, "grid_management", "grid-app").status, 200)
        r = self.read(self.grid, "grid_management", "grid-app")
        self.assertEqual(r.status, 200, r)
        got = self.posts(1)
        self.assertEqual(len(got), 1, got)
        path, ctype, body = got[0]
        self.assertEqual((path, ctype), ("/alarm", "application/json"))
        self.assertNotIn(b"13812345678", body)
        a = json.loads(body)
        self.assertEqual((a["kind"], a["name"], a["user"], a["role"], a["record"]),
                         ("quota", "grid-alarm", "grid-zhang", "grid_worker", self.rid))
        self.assertEqual((a["count"], a["limit"], a["per"]), (2, 1, 86400))
        self.assertIsInstance(a["time"], int)

    def test_webhook_failing_is_logged(self):
        self.hook.status = 500
        self.read(self.grid, "grid_management", "grid-app")
        r = self.read(self.grid, "grid_management", "grid-app")
        self.assertEqual(r.status, 200, r)  # the read never waits for the webhook
        self.posts(1)
        for _ in range(50):
            if "alarm not delivered" in self.d.read_log():
                break
            time.sleep(0.1)
        log = self.d.read_log()
        self.assertIn("alarms.webhook http://127.0.0.1:%d/alarm: HTTP 500: alarm not delivered"
                      % self.hook.server_address[1], log)
        self.assertNotIn("13812345678", log)
        # nothing listening: refused, logged, vaultd goes on
        self.hook.shutdown()
        self.hook.server_close()
        self.serving = False
        self.read(self.grid, "grid_management", "grid-app")
        for _ in range(50):
            if self.d.read_log().count("alarm not delivered") >= 2:
                break
            time.sleep(0.1)
        self.assertGreaterEqual(self.d.read_log().count("alarm not delivered"), 2)
        self.assertEqual(self.d.get("/v1/health").status, 200)

    def test_webhook_config_refused(self):
        for url, why in (("http://example.org/alarm", "https://"),
                         ("ftp://127.0.0.1/alarm", "https://"),
                         ("https://", "https://")):
            cfg = os.path.join(self.d.tmp, "bad-hook.yaml")
            with open(self.d.config) as f:
                text = f.read()
            text = text.replace("webhook: http://127.0.0.1:%d/alarm" % self.hook.server_address[1],
                                "webhook: " + url)
            with open(cfg, "w") as f:
                f.write(text)
            os.chmod(cfg, 0o600)
            p = subprocess.run([H.VAULTD, "--config", cfg, "--check-config"],
                               capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0, url)
            self.assertIn("alarms.webhook must be an %s URL" % why, p.stderr, url)
            self.assertRegex(p.stderr, r"bad-hook\.yaml:\d+:\d+: ")


if __name__ == "__main__":
    unittest.main()
