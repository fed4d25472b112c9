#!/usr/bin/env python3
"""A city vault on PostgreSQL served by two vaultd instances at once
(issue 17, "Must show"; docs/postgresql.md "A city vault, end to end").
Run inside a throwaway cluster:

    tests/pg/pg_cluster.sh run python3 tests/pg/test_city.py

- `vaultctl init` makes the vault in the schema `city` of the server
  VAULT_PG_URI names; the keys file stays on the vaultd host;
- two vaultd processes serve the same location on their own sockets;
  the gongshu district's residents are imported through the first, the
  xihu district's through the second, at the same time;
- both instances then answer reads of both districts' residents at once
  (each found by phone, then read), every value the one imported;
- a grant revoked through one instance is refused by the other at its
  next request;
- the server ends every connection: the calls then under way fail closed
  (VAULT_EIO, no value), each vaultd handle that met it is replaced, and
  the instance serves again without a restart, its retention thread and
  its witness thread too (a round every second here; a real `vaultctl
  witness serve` cosigns a checkpoint taken after the ended connections);
- the chain verifies through each instance and with `vaultctl audit
  verify` against a checkpoint taken through the first.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "witness"))
import vaultd_harness as H  # noqa: E402
from test_witness import Witness  # noqa: E402

N = 60  # residents a district
DISTRICTS = {
    "gongshu": "hangzhou/gongshu/xiaohe/changzheng/grid-07",
    "xihu": "hangzhou/xihu/lingyin/fayun/grid-01",
}


CITY_APP = """  city-desk:
    description: the city's data desk (two vaultd instances)
    departments: [street_office, community_committee]
    roles: [data_officer, grid_worker]
    jurisdictions: [hangzhou]
    purposes: [resident_service, grid_management]
    officer_actions: true
"""


def at_once(*calls):
    """Run each (function, arg, ...) in a thread of its own, all at once,
    and wait for them all."""
    ts = [threading.Thread(target=c[0], args=c[1:]) for c in calls]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def resident(d, i):
    return {"name": "%s居民%03d" % ("拱" if d == "gongshu" else "西", i),
            "phone": "13%d%08d" % (1 if d == "gongshu" else 2, i)}


class Instance:
    """One vaultd on the shared location."""

    def __init__(self, tmp, name, location, key, issuer_pub, witness=None):
        self.sock = os.path.join(tmp, name + ".sock")
        self.config = os.path.join(tmp, name + ".yaml")
        self.log = os.path.join(tmp, name + ".log")
        with open(self.config, "w") as f:
            f.write("\n".join([
                "vault: '%s'" % location,
                "unlock:", "  key_file: %s" % key,
                "listen:", "  unix: %s" % self.sock, "  unix_mode: '0600'",
                "clients:", "  - app: city-desk", "    unix_uid: %d" % os.getuid(),
                "issuers:", "  - name: city-idp", "    iss: %s" % H.ISS,
                "    audience: %s" % H.AUD, "    key: %s" % issuer_pub,
                "limits:", "  workers: 4", "  max_body: 64KiB", "  clock_skew: 30s",
                # a retention round every second: its own handle must
                # survive the ended connections too
                "retention:", "  every: 1s",
            ] + ([
                # and the witness, retried every second: the witness
                # thread's handle meets them as well
                "audit:", "  witnesses:", "    - key: %s" % witness.vkey,
                "      url: %s" % witness.url, "  witness_retry: 1s", "  witness_timeout: 2s",
            ] if witness else [])) + "\n")
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([H.VAULTD, "--config", self.config], stdout=logf,
                                     stderr=subprocess.STDOUT)
        logf.close()
        t0 = time.time()
        while time.time() - t0 < 30:
            if self.proc.poll() is not None:
                raise AssertionError("vaultd %s exited: %s" % (name, open(self.log).read()))
            if os.path.exists(self.sock):
                try:
                    if self.request("GET", "/v1/health").status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("vaultd %s did not start: %s" % (name, open(self.log).read()))

    def request(self, method, path, body=None, token=None, raw=None, headers=None):
        c = H.UnixHTTPConnection(self.sock)
        try:
            return H.http_request(c, method, path, body, token, raw=raw, headers=headers)
        finally:
            c.close()

    def wait_log(self, text, test, after=0, tries=100):
        """The instance's log from byte `after` on, once it has text (the
        test fails after tries * 0.1 s without it)."""
        for _ in range(tries):
            with open(self.log) as f:
                got = f.read()[after:]
            if text in got:
                return got
            time.sleep(0.1)
        test.assertIn(text, got)
        return got

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class CityTest(unittest.TestCase):
    def setUp(self):
        uri = os.environ.get("VAULT_PG_URI")
        if not uri:
            self.fail("VAULT_PG_URI is not set: run under tests/pg/pg_cluster.sh run")
        self.tmp = tempfile.mkdtemp(prefix="vault-city-")
        self.key = os.path.join(self.tmp, "city.key")
        self.loc = "%s%svault_keys=%s/city.keys&vault_schema=city" % (
            uri, "&" if "?" in uri else "?", self.tmp)
        # the shipped policy, and the city's own desk app: every district
        with open(H.POLICY, encoding="utf-8") as f:
            text = f.read()
        self.assertIn("\napps:\n", text)
        policy = os.path.join(self.tmp, "city.yaml")
        text = text.replace("\napps:\n", "\napps:\n" + CITY_APP, 1)
        with open(policy, "w", encoding="utf-8") as f:
            f.write(text)
        H.run(H.VAULTCTL, "--vault", self.loc, "--key-file", self.key, "init",
              "--policy", policy)
        # a witness of the city's log, pinned by the policy; both
        # instances submit to it (each one's last checkpoint at its stop)
        _, logkey, _ = H.run(H.VAULTCTL, "--vault", self.loc, "--key-file", self.key, "audit",
                             "pubkey")
        self.witness = Witness(self.tmp, "city-w1", [logkey.strip()])
        self.witness.start()
        with open(policy, "w", encoding="utf-8") as f:
            f.write(text + "\nwitnesses:\n  - key: %s\n" % self.witness.vkey)
        H.run(H.VAULTCTL, "--vault", self.loc, "--key-file", self.key, "policy", "apply", policy)
        self.issuer_key = os.path.join(self.tmp, "issuer.key")
        _, out, _ = H.run(H.VAULTCTL, "token", "keygen", "--out", self.issuer_key)
        pub = [w for w in out.split() if w.startswith("ed25519:")][0]
        self.a = Instance(self.tmp, "a", self.loc, self.key, pub, self.witness)
        self.b = Instance(self.tmp, "b", self.loc, self.key, pub, self.witness)

    def tearDown(self):
        for i in (getattr(self, "a", None), getattr(self, "b", None)):
            if i:
                i.stop()
        if getattr(self, "witness", None):
            self.witness.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def token(self, sub, role, dept, jurisdiction="hangzhou"):
        _, out, _ = H.run(H.VAULTCTL, "token", "issue", "--issuer-key", self.issuer_key,
                          "--iss", H.ISS, "--aud", H.AUD, "--sub", sub, "--role", role,
                          "--dept", dept, "--jurisdiction", jurisdiction, "--ttl", "1h")
        return out.strip()

    def test_two_districts_two_instances(self):
        officer = self.token("officer-li", "data_officer", "street_office")
        # the two districts' imports, one through each instance, at once
        results = {}

        def load(inst, d):
            lines = ["jurisdiction,name,phone"]
            for i in range(N):
                r = resident(d, i)
                lines.append("%s,%s,%s" % (DISTRICTS[d], r["name"], r["phone"]))
            results[d] = inst.request("POST", "/v1/import?purpose=resident_service",
                                      raw="\n".join(lines) + "\n", token=officer)

        at_once((load, self.a, "gongshu"), (load, self.b, "xihu"))
        for d, r in results.items():
            self.assertIn(r.status, (200, 201), (d, r.raw))
            self.assertEqual(r.json["imported"], N, d)

        # reads of both districts through both instances at once
        errors = []

        def read_all(inst, name):
            try:
                read_some(inst, name)
            except Exception as e:  # a thread's failure fails the test
                errors.append((name, repr(e)))

        def read_some(inst, name):
            for d in DISTRICTS:
                for i in range(0, N, 3):
                    want = resident(d, i)
                    f = inst.request("POST", "/v1/records/find", {
                        "purpose": "resident_service", "field": "phone",
                        "value": want["phone"]}, token=officer)
                    if f.status != 200 or len(f.json.get("ids", [])) != 1:
                        errors.append((name, d, i, "find", f.status, f.raw))
                        continue
                    g = inst.request("POST", "/v1/records/get", {
                        "purpose": "resident_service", "id": f.json["ids"][0],
                        "fields": ["name", "phone"]}, token=officer)
                    vals = {x["name"]: x.get("value") for x in g.json["fields"]} \
                        if g.status == 200 else None
                    if vals != want:
                        errors.append((name, d, i, "get", g.status, vals))

        at_once((read_all, self.a, "a"), (read_all, self.b, "b"))
        self.assertEqual(errors, [])

        # a grant revoked through one instance is refused by the other
        grid = self.token("grid-zhang", "grid_worker", "community_committee",
                          jurisdiction=DISTRICTS["gongshu"])
        f = self.a.request("POST", "/v1/records/find", {
            "purpose": "resident_service", "field": "phone",
            "value": resident("gongshu", 0)["phone"]}, token=officer)
        rid = f.json["ids"][0]
        def health_effect(inst):
            r = inst.request("POST", "/v1/records/get", {
                "purpose": "grid_management", "id": rid, "fields": ["health"]}, token=grid)
            self.assertEqual(r.status, 200, r.raw)
            return r.json["fields"][0]["effect"]

        self.assertEqual(health_effect(self.a), "deny")  # the policy's default
        g = self.a.request("POST", "/v1/grants/issue", {
            "purpose": "resident_service", "role": "grid_worker",
            "department": "community_committee", "effect": "mask", "fields": ["health"],
            "records": [rid], "not_after": int(time.time()) + 7200,
            "reason": "heat-wave check"}, token=officer)
        self.assertEqual(g.status, 201, g.raw)
        gid = g.json["id"]
        self.assertEqual(health_effect(self.b), "mask")  # issued through a, seen by b
        r = self.b.request("POST", "/v1/grants/revoke", {
            "purpose": "resident_service", "id": gid, "reason": "done"}, token=officer)
        self.assertIn(r.status, (200, 204), r.raw)
        self.assertEqual(health_effect(self.a), "deny")  # revoked through b, refused by a

        # the server ends every connection (a failover, a restart): the calls
        # then fail closed (VAULT_EIO, no value), each handle that met it
        # (and the idle ones) is replaced before its next use, and the
        # instance serves again without a restart
        want = resident("xihu", 3)
        f = self.a.request("POST", "/v1/records/find", {
            "purpose": "resident_service", "field": "phone", "value": want["phone"]},
            token=officer)
        rid3 = f.json["ids"][0]
        n = subprocess.run(["psql", "-X", "-A", "-t", "-c",
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND backend_type = 'client backend'"],
                           capture_output=True, text=True, check=True).stdout.strip()
        self.assertGreater(int(n), 0)
        got = []

        def get_some(k):
            for _ in range(k):
                g = self.a.request("POST", "/v1/records/get", {
                    "purpose": "resident_service", "id": rid3, "fields": ["name", "phone"]},
                    token=officer)
                got.append(g)

        at_once(*[(get_some, 3)] * 4)  # one for each of a's 4 workers
        failed = [g for g in got if g.status != 200]
        self.assertTrue(failed, "no request met the ended connections")
        self.assertLessEqual(len(failed), 4, [g.status for g in got])  # one per worker at most
        for g in failed:
            self.assertEqual(g.json["error"]["code"], "VAULT_EIO", g.raw)
            self.assertNotIn(want["phone"], g.raw)
            self.assertNotIn(want["name"], g.raw)
        for g in got:
            if g.status == 200:
                self.assertEqual({x["name"]: x.get("value") for x in g.json["fields"]}, want)
        got.clear()
        get_some(8)
        self.assertEqual([g.status for g in got], [200] * 8)
        with open(self.a.log) as f:
            self.assertIn("replaced by a new one", f.read())
        # the retention thread's handle: renewed before a later round
        log = self.a.wait_log("retention: the database connection was lost: a new handle", self)
        tail = self.a.wait_log("vaultd: retention: 0 records erased", self, after=len(log))
        self.assertNotIn("retention: the run failed", tail)  # and a round after it succeeds
        # the witness thread's handle: renewed too, and a checkpoint taken
        # after the ended connections is cosigned from it
        self.a.wait_log("witnesses: the database connection was lost: a new handle", self)

        def cosigned():  # by either instance's witness thread
            n = 0
            for inst in (self.a, self.b):
                m = inst.request("GET", "/v1/metrics").raw
                line = [x for x in m.splitlines()
                        if x.startswith("vaultd_witness_cosignatures_total ")]
                n += int(float(line[0].split()[1])) if line else 0
            return n

        before = cosigned()
        r = self.a.request("POST", "/v1/audit/checkpoint", {"purpose": "resident_service"},
                           token=officer)
        self.assertEqual(r.status, 200, r.raw)
        for _ in range(100):
            if cosigned() > before:
                break
            time.sleep(0.1)
        self.assertGreater(cosigned(), before, open(self.a.log).read()[-2000:])

        # the chain, through each instance and offline against a checkpoint
        for inst in (self.a, self.b):
            # b's handles met the ended connections too: one failed call,
            # and its idle handles are renewed before their next use
            for _ in range(5):
                v = inst.request("POST", "/v1/audit/verify", {"purpose": "resident_service"},
                                 token=officer)
                if v.status == 200:
                    break
                self.assertEqual(v.json["error"]["code"], "VAULT_EIO", v.raw)
            self.assertEqual(v.status, 200, v.raw)
            self.assertTrue(v.json.get("ok"), v.json)
        cp = os.path.join(self.tmp, "cp.note")
        before = cosigned()
        H.run(H.VAULTCTL, "--vault", self.loc, "--key-file", self.key, "audit", "checkpoint",
              "--out", cp)
        # the policy pins the witness: the newest checkpoint must be
        # cosigned for the offline verify to pass, which a's witness
        # thread does at its next round
        for _ in range(100):
            if cosigned() > before:
                break
            time.sleep(0.1)
        self.assertGreater(cosigned(), before, open(self.a.log).read()[-2000:])
        self.a.stop()
        self.b.stop()
        _, out, _ = H.run(H.VAULTCTL, "--vault", self.loc, "--key-file", self.key, "audit",
                          "verify", "--checkpoint", cp)
        self.assertIn("ok", out)
        n = subprocess.run(["psql", "-X", "-A", "-t", "-c",
                            "SELECT count(*) FROM city.records"], capture_output=True,
                           text=True, check=True).stdout.strip()
        self.assertEqual(int(n), 2 * N)


if __name__ == "__main__":
    unittest.main()
