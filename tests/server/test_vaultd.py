"""vaultd end to end: a real vaultd on a Unix socket and over TLS 1.3 with
certificates made here, driven over HTTP (docs/api.md).

What must hold (issue 15): the subject comes only from the authenticated
app and token; wrong, expired, not-yet-valid, forged and wrong-audience
tokens are refused; an unknown client CA is refused; an app outside its
apps: bounds is denied and logged; an officer can't approve their own
grant; reading the log and the grants is for the policy's auditors;
concurrent clients keep one linear chain; SIGKILL loses no acknowledged
write; and a grid worker's token cannot read health.
"""

import json
import os
import shutil
import signal
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

GRID_UID = 1001
UNAUTH_REFILL = 3  # seconds: tokens of the unmapped-peer rate limit (1/s) come back
HOTLINE_UID = 1002
VAULTCTL_UID = 1003  # the app `vaultctl` (officers' command line): auditors reach the log there


def audit_export(d):
    """The log's entries as dicts (an administrator's embedded export)."""
    out = os.path.join(d.tmp, "audit-%d.jsonl" % len(os.listdir(d.tmp)))
    d.embedded("audit", "export", "--out", out)
    with open(out) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if "seq" in r]


class ServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Vaultd(tls=True, extra_clients=[("grid-app", GRID_UID),
                                                  ("hotline-app", HOTLINE_UID),
                                                  ("vaultctl", VAULTCTL_UID)])
        cls.d.start()
        d = cls.d
        cls.officer = d.token("officer-li", "data_officer", "street_office")
        cls.officer2 = d.token("officer-wang", "data_officer", "street_office")
        cls.grid = d.token("grid-zhang", "grid_worker", "community_committee",
                           jurisdiction=H.GRID)
        cls.hotline = d.token("agent-chen", "hotline_agent", "hotline_12345",
                              jurisdiction="hangzhou")
        cls.street = d.token("officer-zhou", "street_officer", "street_office")
        cls.auditor = d.token("auditor-qian", "auditor", "street_office")
        r = d.post("/v1/records/add", {
            "purpose": "resident_service", "jurisdiction": H.GRID,
            "fields": {"name": "张三", "phone": "13812345678", "gender": "男",
                       "health": "高血压"}},
            token=cls.officer)
        assert r.status == 201, r
        cls.rid = r.json["id"]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # ---- transport and tokens ----

    def test_health_needs_nothing(self):
        r = self.d.get("/v1/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["status"], "ok")

    def test_no_token_refused(self):
        r = self.d.post("/v1/records/get", {"purpose": "resident_service", "id": self.rid})
        self.assertEqual(r.status, 401)
        self.assertIn("identity token is required", r.error()["message"])

    def test_bad_tokens_refused(self):
        d = self.d
        other = os.path.join(d.tmp, "other-issuer.key")
        if not os.path.exists(other):
            H.run(H.VAULTCTL, "token", "keygen", "--out", other)
        good = self.officer
        head, payload, sig = good.split(".")
        flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
        cases = {
            "forged signature": head + "." + payload + "." + flipped,
            "another key": d.token("officer-li", "data_officer", "street_office", key=other),
            "wrong audience": d.token("officer-li", "data_officer", "street_office",
                                      aud="someone-else"),
            "unknown issuer": d.token("officer-li", "data_officer", "street_office",
                                      iss="https://evil.invalid"),
            "garbage": "not.a.token",
        }
        for what, tok in cases.items():
            r = d.post("/v1/records/get", {"purpose": "resident_service", "id": self.rid},
                       token=tok)
            self.assertEqual(r.status, 401, what)
            self.assertNotIn(tok, r.raw, what)
        # the cases every driver sees (test_client.py, test_client.c), with their reasons
        for what, (tok, why) in d.bad_tokens().items():
            r = d.post("/v1/records/get", {"purpose": "resident_service", "id": self.rid},
                       token=tok)
            self.assertEqual(r.status, 401, what)
            self.assertEqual(r.error()["code"], "VAULT_EAUTH", what)
            self.assertIn(why, r.error()["message"], what)
            for part in tok.split("."):
                if part:
                    self.assertNotIn(part, r.raw, what)

    def test_expired_and_not_yet_valid(self):
        d = self.d
        now = int(time.time())
        # --at makes the development issuer sign as if at that time
        for what, at, msg in (("expired", now - 7200, "expired"),
                              ("not yet valid", now + 3600, "not yet valid")):
            _, tok, _ = H.run(H.VAULTCTL, "token", "issue", "--issuer-key", d.issuer_key,
                              "--iss", H.ISS, "--aud", H.AUD, "--sub", "officer-li",
                              "--role", "data_officer", "--dept", "street_office",
                              "--jurisdiction", H.STREET, "--ttl", "1h", "--at", str(at))
            r = d.post("/v1/records/get", {"purpose": "resident_service", "id": self.rid},
                       token=tok.strip())
            self.assertEqual(r.status, 401, what)
            self.assertIn(msg, r.error()["message"], what)

    def test_unmapped_uid_refused_and_logged(self):
        def call():
            r = self.d.post("/v1/records/get", {"purpose": "resident_service", "id": self.rid},
                            token=self.officer)
            return [r.status, r.error().get("message", "")]
        status, msg = self.d.as_uid(4242, call)
        self.assertEqual(status, 401)
        self.assertIn("not mapped to an app", msg)
        rows = audit_export(self.d)
        self.assertTrue(any("uid=4242" in json.dumps(e) for e in rows),
                        "the refused peer is in the log")

    def test_body_too_large(self):
        # refused from the declared length, before the body is read
        sock = H.socket.socket(H.socket.AF_UNIX, H.socket.SOCK_STREAM)
        sock.connect(self.d.sock)
        sock.sendall(("POST /v1/records/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n"
                      % self.officer).encode())
        head = sock.recv(4096).decode(errors="replace")
        sock.close()
        self.assertTrue(head.startswith("HTTP/1.1 413"), head[:200])
        self.assertIn("request body over 65536 bytes", head)
        # and when the body runs past the limit without a declared length
        sock = H.socket.socket(H.socket.AF_UNIX, H.socket.SOCK_STREAM)
        sock.connect(self.d.sock)
        sock.sendall(("POST /v1/records/get HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n" % self.officer).encode())
        try:
            for _ in range(20):
                sock.sendall(b"1000\r\n" + b"x" * 4096 + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        head = sock.recv(4096).decode(errors="replace")
        sock.close()
        self.assertTrue(head.startswith("HTTP/1.1 413"), head[:200])

    def test_malformed_json(self):
        r = self.d.post("/v1/records/get", None, token=self.officer, raw=b'{"purpose": ',
                        headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertIn("request body: line 1", r.error()["message"])
        # The message says where, never what: jansson's own text quotes the body.
        r = self.d.post("/v1/records/get", None, token=self.officer,
                        raw=b'{"purpose": "x", "value": "330102199001011234',
                        headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertIn("not valid JSON", r.error()["message"])
        self.assertNotIn("3301021990", r.error()["message"])

    def test_unknown_route(self):
        self.assertEqual(self.d.get("/v1/nope").status, 404)
        self.assertEqual(self.d.get("/v1/records/get").status, 405)

    # ---- the subject comes only from app + token ----

    def test_grid_worker_cannot_read_health_or_change_role(self):
        rid = self.rid

        def call():
            r = self.d.post("/v1/records/get", {
                "purpose": "grid_management", "id": rid,
                "fields": ["phone", "health"],
                # asserted in the body: never read as identity
                "role": "police_officer", "department": "public_security",
                "jurisdiction": "hangzhou", "user": "someone-else"}, token=self.grid)
            return [r.status, r.json]
        status, doc = self.d.as_uid(GRID_UID, call)
        self.assertEqual(status, 200, doc)
        eff = {f["name"]: f for f in doc["fields"]}
        self.assertEqual(eff["health"]["effect"], "deny")
        self.assertNotIn("value", eff["health"])
        self.assertEqual(eff["phone"]["effect"], "mask")
        self.assertNotEqual(eff["phone"].get("value"), "13812345678")
        # the same over TLS, the app known by its client certificate alone
        c = self.d.tls("grid-app")
        try:
            for body in ({"purpose": "grid_management", "id": rid, "fields": ["phone", "health"],
                          "role": "health_worker", "department": "health",
                          "jurisdiction": "hangzhou", "user": "someone-else"},
                         {"purpose": "grid_management", "id": rid,
                          "fields": ["phone", "health"]}):
                r = H.http_request(c, "POST", "/v1/records/get", body, token=self.grid)
                self.assertEqual(r.status, 200, r)
                eff = {f["name"]: f for f in r.json["fields"]}
                self.assertEqual(eff["health"]["effect"], "deny")
                self.assertNotIn("value", eff["health"])
                self.assertNotIn("高血压", r.raw)
                self.assertEqual(eff["phone"]["effect"], "mask")
                self.assertNotIn("13812345678", r.raw)
            # nor does a body change the role for a write or an officer's action
            r = H.http_request(c, "POST", "/v1/records/update", {
                "purpose": "grid_management", "id": rid, "fields": {"health": "无"},
                "role": "health_worker", "department": "health"}, token=self.grid)
            self.assertEqual(r.status, 403, r)
            r = H.http_request(c, "POST", "/v1/grants/issue", {
                "purpose": "grid_management", "role": "grid_worker",
                "department": "community_committee", "effect": "allow", "fields": ["health"],
                "records": [rid], "not_after": int(time.time()) + 3600, "reason": "x"},
                token=self.grid)
            self.assertEqual(r.status, 403, r)
        finally:
            c.close()
        rows = audit_export(self.d)
        mine = [e for e in rows if "grid-zhang" in json.dumps(e, ensure_ascii=False)]
        self.assertTrue(mine, "the read is logged under the token's subject")
        self.assertTrue(any(e.get("app") == "grid-app" and e.get("peer", "").startswith("tls:")
                            for e in mine), "the TLS reads are logged with the TLS peer")
        self.assertFalse(any("someone-else" in json.dumps(e) for e in rows))
        self.assertFalse(any(e.get("user") == "grid-zhang" and e.get("role") == "health_worker"
                             for e in rows))

    def test_hotline_app_asserting_health_denied_and_logged(self):
        tok = self.d.token("agent-chen", "health_worker", "health", jurisdiction="hangzhou")

        def call():
            r = self.d.post("/v1/records/get", {"purpose": "public_health", "id": self.rid},
                            token=tok)
            return [r.status, r.error().get("message", "")]
        status, msg = self.d.as_uid(HOTLINE_UID, call)
        self.assertEqual(status, 403, msg)
        self.assertIn("hotline-app", msg)
        rows = audit_export(self.d)
        self.assertTrue(any("hotline-app" in json.dumps(e) and "health" in json.dumps(e)
                            for e in rows if e.get("outcome") != "ok"))

    def test_audit_names_authenticated_principal(self):
        r = self.d.post("/v1/records/get", {"purpose": "resident_service", "id": self.rid},
                        token=self.officer)
        self.assertEqual(r.status, 200, r)
        rows = audit_export(self.d)
        last = [e for e in rows if json.dumps(e).find("officer-li") >= 0][-1]
        text = json.dumps(last)
        self.assertIn(H.ISS, text)
        self.assertIn("street-desk", text)
        self.assertIn("unix:uid=%d" % os.getuid(), text)

    # ---- officers ----

    def test_top_grade_grant_needs_a_second_officer(self):
        d = self.d
        r = d.post("/v1/grants/issue", {
            "purpose": "resident_service", "role": "civil_affairs_officer",
            "department": "civil_affairs", "effect": "allow", "grade_min": "special",
            "grade_max": "special", "records": [self.rid],
            "not_after": int(time.time()) + 7 * 86400,
            "reason": "低保复核 case 2026-118"}, token=self.officer)
        self.assertEqual(r.status, 201, r)
        gid = r.json["id"]
        self.assertTrue(r.json["pending"], "a special-grade grant waits for approval")
        r = d.post("/v1/grants/approve", {"purpose": "resident_service", "id": gid},
                   token=self.officer)
        self.assertEqual(r.status, 403, "the issuer can't approve their own grant")
        r = d.post("/v1/grants/approve", {"purpose": "resident_service", "id": gid},
                   token=self.officer2)
        self.assertEqual(r.status, 200, r)

    def test_one_subject_under_two_user_names_cannot_approve(self):
        """Two-person approval compares the tokens' (iss, sub), not the user
        names their claims give: the same person with a second user claim
        is refused and logged; another subject approves."""
        d = self.d
        zhao = d.token("officer-zhao", "data_officer", "street_office", user="zhao")
        alias = d.token("officer-zhao", "data_officer", "street_office", user="zhao.alt")
        qian = d.token("officer-qian", "data_officer", "street_office", user="qian")
        r = d.post("/v1/grants/issue", {
            "purpose": "resident_service", "role": "civil_affairs_officer",
            "department": "civil_affairs", "effect": "allow", "grade_min": "special",
            "grade_max": "special", "records": [self.rid],
            "not_after": int(time.time()) + 7 * 86400,
            "reason": "临时救助 case 2026-121"}, token=zhao)
        self.assertEqual(r.status, 201, r)
        gid = r.json["id"]
        self.assertTrue(r.json["pending"])
        r = d.post("/v1/grants/approve", {"purpose": "resident_service", "id": gid},
                   token=alias)
        self.assertEqual(r.status, 403, r)
        self.assertIn("same token subject", r.error()["message"])
        refusals = [e for e in audit_export(d)
                    if e.get("action") == "approve" and e.get("user") == "zhao.alt"]
        self.assertTrue(refusals, "the refused approval is logged")
        self.assertEqual(refusals[-1]["outcome"], "denied")
        self.assertEqual(refusals[-1]["subject"], "officer-zhao")
        r = d.post("/v1/grants/approve", {"purpose": "resident_service", "id": gid},
                   token=qian)
        self.assertEqual(r.status, 200, r)
        r = d.post("/v1/grants/list", {"purpose": "resident_service"}, token=qian)
        self.assertEqual(r.status, 200, r)
        row = [g for g in r.json["grants"] if g["id"] == gid][0]
        self.assertEqual((row["issued_by"]["issuer"], row["issued_by"]["subject"],
                          row["issued_by"]["app"]), (H.ISS, "officer-zhao", "street-desk"))
        self.assertTrue(row["issued_by"]["token_id"])
        self.assertEqual(row["approved_by"]["subject"], "officer-qian")
        self.assertEqual(row["approver"], "qian")

    # ---- TLS ----

    def test_tls_client_certificates(self):
        d = self.d
        c = d.tls("grid-app")
        r = H.http_request(c, "POST", "/v1/records/get",
                           {"purpose": "grid_management", "id": self.rid, "fields": ["gender"]},
                           token=self.grid)
        self.assertEqual(r.status, 200, r)
        c.close()
        # a certificate that maps to no app
        c = d.tls("nobody-app")
        r = H.http_request(c, "POST", "/v1/records/get", {"purpose": "x", "id": self.rid},
                           token=self.grid)
        self.assertEqual(r.status, 401)
        c.close()
        # a certificate from an unknown CA, with a CN that would map
        c = d.tls("rogue-grid")
        try:
            r = H.http_request(c, "POST", "/v1/records/get", {"purpose": "x", "id": self.rid},
                               token=self.grid)
            self.assertEqual(r.status, 401)
            self.assertIn("not trusted", r.error()["message"])
        except (ssl.SSLError, ConnectionError):
            pass  # refused during the handshake: also a refusal
        c.close()
        # no certificate at all
        c = d.tls(None)
        try:
            r = H.http_request(c, "GET", "/v1/policy", None, token=self.grid)
            self.assertEqual(r.status, 401)
        except (ssl.SSLError, ConnectionError):
            pass
        c.close()

    def test_server_certificate_is_not_a_client_certificate(self):
        c = self.d.tls("server-grid")
        try:
            r = H.http_request(c, "POST", "/v1/records/get", {"purpose": "grid_management",
                                                               "id": self.rid}, token=self.grid)
            self.assertEqual(r.status, 401)
            self.assertIn("not made for TLS clients", r.error()["message"])
        except (ssl.SSLError, ConnectionError):
            pass
        c.close()

    def test_no_body_is_read_before_authentication(self):
        # a TLS client without a certificate declares a 60 MiB import: the
        # answer comes at once, before any of the body is sent
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.d.cert("ca"))
        raw = H.socket.create_connection(("127.0.0.1", self.d.tls_port), timeout=10)
        sock = ctx.wrap_socket(raw, server_hostname="localhost")
        sock.sendall(b"POST /v1/import?purpose=resident_service HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: text/csv\r\nContent-Length: 62914560\r\n\r\n")
        head = sock.recv(4096).decode(errors="replace")
        sock.close()
        self.assertTrue(head.startswith("HTTP/1.1 401"), head[:200])

    def test_unmapped_peers_cannot_flood_the_log(self):
        before = len(audit_export(self.d))

        def call():
            out = []
            for _ in range(60):
                r = self.d.post("/v1/records/get", {"purpose": "x", "id": self.rid})
                out.append(r.status)
            return out
        statuses = self.d.as_uid(4343, call)
        self.assertEqual(set(statuses), {401})
        rows = audit_export(self.d)
        new = [e for e in rows[before:] if "uid=4343" in json.dumps(e)]
        self.assertGreater(len(new), 0)
        self.assertLess(len(new), 40, "refusals of unmapped peers are rate-limited")
        m = self.d.get("/v1/metrics")
        self.assertIn("vaultd_refusals_unlogged_total", m.raw)
        time.sleep(UNAUTH_REFILL)  # the rate limit's bucket refills for the other tests

    def test_changing_the_vault_is_for_data_officers(self):
        """A street officer has grant limits (it issues and approves grants)
        but isn't listed under data_officers: it can't apply a policy (one
        that would make it an auditor, say), rotate a key or take the db
        key; each refusal is logged."""
        d = self.d
        with open(H.POLICY, encoding="utf-8") as f:
            text = f.read().replace("auditors: [auditor, data_officer]",
                                    "auditors: [auditor, data_officer, street_officer]")
        for path, body in (("/v1/policy/apply", {"purpose": "resident_service",
                                                 "filename": "community.yaml", "yaml": text}),
                           ("/v1/keys/rotate", {"purpose": "resident_service",
                                                "grade": "contact"}),
                           ("/v1/db-key", {"purpose": "resident_service"})):
            r = d.post(path, body, token=self.street)
            self.assertEqual(r.status, 403, (path, r))
            self.assertIn("role street_officer is not a data officer: data_officers does not "
                          "list it (community.yaml:", r.error()["message"], path)
            last = audit_export(d)[-2]
            self.assertEqual((last["action"], last["outcome"]), ("session_open", "denied"), path)
            self.assertEqual(last["subject"], "officer-zhou", path)
        # still not an auditor: the policy was not applied
        r = d.post("/v1/audit/report", {"purpose": "resident_service", "kind": "denied"},
                   token=self.street)
        self.assertEqual(r.status, 403, r)

    def test_reading_the_log_is_for_auditors(self):
        """A street officer on the officers' desk app is an officer (grants,
        approvals) but not an auditor: the routes that show who accessed
        whom, and the grants, answer 403, and each refusal is logged."""
        d = self.d
        routes = (("/v1/audit/report", {"purpose": "resident_service", "kind": "denied"}),
                  ("/v1/audit/bundle", {"purpose": "resident_service", "record": self.rid}),
                  ("/v1/audit/export", {"purpose": "resident_service"}),
                  ("/v1/grants/list", {"purpose": "resident_service"}))
        for path, body in routes:
            r = d.post(path, body, token=self.street)
            self.assertEqual(r.status, 403, (path, r))
            self.assertEqual(r.error()["code"], "VAULT_EDENIED", path)
            self.assertIn("role street_officer may not read the audit log or the grants: "
                          "auditors does not list it (community.yaml:", r.error()["message"])
            last = audit_export(d)[-2]  # the embedded export is the last entry
            self.assertEqual(last["action"], "session_open", path)
            self.assertEqual(last["outcome"], "denied", path)
            self.assertEqual(last["subject"], "officer-zhou", path)
            self.assertEqual(last["app"], "street-desk", path)
            self.assertIn("auditors does not list it", last["detail"], path)
        # what reveals no accesses stays open to the same officer
        r = d.post("/v1/audit/verify", {"purpose": "resident_service"}, token=self.street)
        self.assertEqual(r.status, 200, r)
        r = d.get("/v1/audit/pubkey?purpose=resident_service", token=self.street)
        self.assertEqual(r.status, 200, r)
        r = d.post("/v1/audit/checkpoint", {"purpose": "resident_service"}, token=self.street)
        self.assertEqual(r.status, 200, r)
        # a data officer (listed) reads the report at the desk
        r = d.post("/v1/audit/report", {"purpose": "resident_service", "kind": "denied"},
                   token=self.officer)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(any(e.get("subject") == "officer-zhou" for e in r.json["entries"]),
                        "the data officer sees the street officer's refusals")

        # the auditor, through the officers' command-line app
        def call():
            out = []
            for path, body in routes:
                body = dict(body, purpose="audit")
                r = d.post(path, body, token=self.auditor)
                out.append([path, r.status, r.error().get("message", "")])
            return out
        for path, status, msg in d.as_uid(VAULTCTL_UID, call):
            self.assertEqual(status, 200, (path, msg))

    def test_db_key_refusal_is_logged(self):
        r = self.d.post("/v1/db-key", {"purpose": "resident_service"}, token=self.officer)
        self.assertEqual(r.status, 403)
        self.assertIn("disabled in service mode", r.error()["message"])
        last = audit_export(self.d)[-2]  # the export itself is the last entry
        self.assertEqual(last["action"], "db_key")
        self.assertEqual(last["outcome"], "denied")
        self.assertEqual(last["subject"], "officer-li")

    # ---- concurrency ----

    def test_concurrent_clients_one_chain(self):
        d = self.d
        errors = []

        def worker(n):
            c = d.unix()
            try:
                for _ in range(10):
                    r = H.http_request(c, "POST", "/v1/records/get",
                                       {"purpose": "resident_service", "id": self.rid},
                                       token=self.officer)
                    if r.status != 200:
                        errors.append(r)
            except Exception as e:  # noqa: B902
                errors.append(e)
            finally:
                c.close()
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        r = d.post("/v1/audit/verify", {"purpose": "resident_service"}, token=self.officer)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["ok"], r.json)
        seqs = [e["seq"] for e in audit_export(d)]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))


class CrashTest(unittest.TestCase):
    def test_sigkill_loses_no_acknowledged_write(self):
        d = H.Vaultd()
        try:
            d.start()
            tok = d.token("officer-li", "data_officer", "street_office")
            acked = []
            stop = threading.Event()

            def writer():
                c = d.unix()
                while not stop.is_set():
                    try:
                        r = H.http_request(c, "POST", "/v1/records/add", {
                            "purpose": "resident_service", "jurisdiction": H.GRID,
                            "fields": {"name": "住户%d" % len(acked)}}, token=tok)
                    except OSError:
                        break
                    if r.status == 201:
                        acked.append(r.json["id"])
                c.close()
            ts = [threading.Thread(target=writer) for _ in range(4)]
            for t in ts:
                t.start()
            while len(acked) < 40:
                threading.Event().wait(0.01)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            stop.set()
            for t in ts:
                t.join()
            d.proc = None
            d.start()
            for rid in acked:
                r = d.post("/v1/records/get", {"purpose": "resident_service", "id": rid,
                                               "fields": ["name"]}, token=tok)
                self.assertEqual(r.status, 200, (rid, r))
            r = d.post("/v1/audit/verify", {"purpose": "resident_service"}, token=tok)
            self.assertTrue(r.json["ok"], r.json)
        finally:
            d.cleanup()


class GrantPrincipalTamperTest(unittest.TestCase):
    """The principal a grant row records is covered by its row MAC: changed
    through the stock sqlcipher shell (the database key alone), the vault
    refuses the row (integrity error, exit 3)."""

    def test_changed_issuer_principal_fails_the_row_mac(self):
        d = H.Vaultd(workers=1)
        try:
            d.start()
            tok = d.token("officer-li", "data_officer", "street_office")
            r = d.post("/v1/records/add", {
                "purpose": "resident_service", "jurisdiction": H.GRID,
                "fields": {"name": "李四", "health": "糖尿病"}}, token=tok)
            self.assertEqual(r.status, 201, r)
            r = d.post("/v1/grants/issue", {
                "purpose": "resident_service", "role": "civil_affairs_officer",
                "department": "civil_affairs", "effect": "allow", "grade_min": "special",
                "grade_max": "special", "records": [r.json["id"]],
                "not_after": int(time.time()) + 86400, "reason": "复核 case 2026-122"},
                token=tok)
            self.assertEqual(r.status, 201, r)
            gid = r.json["id"]
            d.stop()
            _, out, _ = d.embedded("grants")
            self.assertIn(gid, out, "intact, the row reads")
            _, key, _ = d.embedded("key", "db-key")
            # the issuer made out to be another officer, so that officer-li
            # could approve the grant himself
            _, out, _ = H.run("sqlcipher", "-batch", "-bail", d.vault, input=(
                'PRAGMA key = "%s";\nPRAGMA cipher_page_size = 4096;\n'
                "UPDATE grants SET issuer_sub = 'officer-wang' WHERE id = '%s';\n"
                "SELECT total_changes();\n" % (key.strip(), gid)))
            self.assertEqual(out.strip().splitlines()[-1], "1", out)
            rc, out, err = d.embedded("grants", check=False)
            self.assertEqual(rc, 3, (out, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("integrity", err.lower())
            self.assertNotIn(gid, out)
        finally:
            d.cleanup()


class RefusedStoreTest(unittest.TestCase):
    """An older copy of the vault file put back under vaultd: it does not
    start (exit 3, the vault's one-line message on its log), the refusal is
    counted in the keys file, and the restart after the repair logs it."""

    def test_refusal_reported_and_logged_after_repair(self):
        d = H.Vaultd(workers=1)
        try:
            d.start()
            d.stop()
            shutil.copy(d.vault, d.vault + ".old")
            d.start()
            tok = d.token("officer-li", "data_officer", "street_office")
            r = d.post("/v1/records/add", {
                "purpose": "resident_service", "jurisdiction": H.GRID,
                "fields": {"name": "李四"}}, token=tok)
            self.assertEqual(r.status, 201, r)
            d.stop()
            os.rename(d.vault, d.vault + ".cur")
            shutil.copy(d.vault + ".old", d.vault)
            before = len(d.read_log())
            d.start(wait=False)
            self.assertEqual(d.proc.wait(30), 3)
            d.proc = None
            lines = [l for l in d.read_log()[before:].splitlines() if l.strip()]
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("vaultd: %s: audit log: integrity check failed: rolled back" % d.vault,
                          lines[0])
            with open(d.vault + ".keys") as f:
                refused = json.load(f)["audit"]["refused"]
            self.assertEqual((refused["count"], refused["class"]), (1, "rolled back"))
            os.rename(d.vault + ".cur", d.vault)
            d.start()
            d.stop()
            with open(d.vault + ".keys") as f:
                self.assertNotIn("refused", json.load(f)["audit"])
            _, out, _ = d.embedded("audit", "export")
            hits = [l for l in out.splitlines() if '"action":"audit_rewrite_refused"' in l]
            self.assertEqual(len(hits), 1, hits)
            self.assertIn("refused 1 time as rolled back", hits[0])
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
