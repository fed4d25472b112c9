"""Client mode end to end: `vaultctl --server ... --token-file ...` and
libvault.Vault.connect against a real vaultd, compared with embedded mode
on the same vault file (docs/service.md "Client mode").

What must hold (issue 15): record get/add, grants and audit verify work
through the service with the same output as embedded; the subject flags
are a usage error in client mode; a wrong, expired, not-yet-valid, forged
(changed payload, `alg: none`) or wrong-audience token is an
authentication error (exit 6 with a one-line reason, AuthError);
Vault.connect has the methods of an embedded Vault; a lost connection is
an error and no value.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

import libvault  # noqa: E402  (PYTHONPATH=bindings/python, LIBVAULT_PATH from CTest)

OFFICER = ["--user", "officer-li", "--role", "data_officer", "--dept", "street_office",
           "--jurisdiction", H.STREET]


class ClientModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = H.Vaultd()
        cls.d.start()
        cls.url = "unix://" + cls.d.sock
        cls.tokfile = os.path.join(cls.d.tmp, "officer.jwt")
        with open(cls.tokfile, "w") as f:
            f.write(cls.d.token("officer-li", "data_officer", "street_office") + "\n")
        cls.tok2 = cls.d.token("officer-wang", "data_officer", "street_office")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def remote(self, *args, check=True, env=None, token_file=None):
        return H.run(H.VAULTCTL, "--server", self.url, "--token-file",
                     token_file or self.tokfile, "--purpose", "resident_service", *args,
                     check=check, env=env)

    def local(self, *args, check=True):
        return self.d.embedded(*(OFFICER + ["--purpose", "resident_service"] + list(args)),
                               check=check)

    # ---- vaultctl ----

    def test_cli_record_add_and_get_same_as_embedded(self):
        _, out, _ = self.remote("record", "add", "--in", H.GRID, "name=李四", "phone=13912345678")
        rid = out.split()[-1]
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        for args in (["record", "get", rid], ["--json", "record", "get", rid],
                     ["record", "get", rid, "--fields", "name,phone"]):
            _, r_out, _ = self.remote(*args)
            _, e_out, _ = self.local(*args)
            self.assertEqual(r_out, e_out, args)
        self.assertIn("李四", r_out)
        _, found, _ = self.remote("record", "find", "--field", "phone", "--value", "13912345678")
        self.assertIn(rid, found)
        # a record that isn't there: the same exit code as embedded (5)
        rc_r, _, err = self.remote("record", "get", "0" * 32, check=False)
        rc_e, _, _ = self.local("record", "get", "0" * 32, check=False)
        self.assertEqual((rc_r, rc_e), (5, 5), err)

    def test_cli_grant_same_as_embedded(self):
        _, out, _ = self.remote("record", "add", "--in", H.GRID, "name=王五")
        rid = out.split()[-1]
        rc, out, err = self.remote("grant", "--to-role", "civil_affairs_officer", "--to-dept",
                                   "civil_affairs", "--grades", "special..special", "--records", rid,
                                   "--for", "7d", "--reason", "低保复核", check=False)
        self.assertEqual(rc, 0, err)
        gid = [w for w in out.split() if w.startswith("g-")][0]
        # the same officer may not approve: denied (exit 4), as embedded
        rc, _, err = self.remote("grant", "approve", gid, check=False)
        self.assertEqual(rc, 4, err)
        tf2 = os.path.join(self.d.tmp, "officer2.jwt")
        with open(tf2, "w") as f:
            f.write(self.tok2)
        self.remote("grant", "approve", gid, token_file=tf2)
        for args in (["grants"], ["--json", "grants"]):
            _, r_out, _ = self.remote(*args)
            _, e_out, _ = self.local(*args)
            self.assertEqual(r_out, e_out, args)
        self.assertIn(gid, r_out)
        self.remote("revoke", gid, "--reason", "case closed")

    def test_cli_audit_verify(self):
        _, r_out, _ = self.remote("audit", "verify")
        self.assertTrue(r_out.startswith("ok: "), r_out)
        _, pk, _ = self.remote("audit", "pubkey")
        _, pk_e, _ = self.local("audit", "pubkey")
        self.assertEqual(pk, pk_e)
        out = os.path.join(self.d.tmp, "cli-export.jsonl")
        self.remote("audit", "export", "--out", out)
        pkf = os.path.join(self.d.tmp, "cli-audit.pub")
        with open(pkf, "w") as f:
            f.write(pk)
        _, v_out, _ = H.run(H.VAULTCTL, "audit", "verify", "--export", out, "--pubkey", pkf)
        self.assertTrue(v_out.startswith("ok"), v_out)

    def test_cli_refuses_subject_flags_and_bad_tokens(self):
        rc, _, err = self.remote("--user", "someone", "record", "get", "0" * 32, check=False)
        self.assertEqual(rc, 2, err)
        self.assertIn("the token says who is acting", err)
        rc, _, err = self.remote("record", "get", "0" * 32, "--role", "police_officer",
                                 check=False)
        self.assertEqual(rc, 2, err)
        rc, _, err = H.run(H.VAULTCTL, "--server", self.url, "--purpose", "resident_service",
                           "record", "get", "0" * 32, check=False,
                           env={k: v for k, v in os.environ.items() if k != "VAULT_TOKEN"})
        self.assertEqual(rc, 2, err)
        self.assertIn("identity token", err)
        rc, _, err = self.remote("keyslot", "list", check=False)
        self.assertEqual(rc, 2, err)
        # VAULT_TOKEN instead of a file; a token by an unknown key: exit 6
        other = os.path.join(self.d.tmp, "other.key")
        if not os.path.exists(other):
            H.run(H.VAULTCTL, "token", "keygen", "--out", other)
        forged = self.d.token("officer-li", "data_officer", "street_office", key=other)
        env = dict(os.environ, VAULT_TOKEN=forged)
        rc, _, err = H.run(H.VAULTCTL, "--server", self.url, "--purpose", "resident_service",
                           "audit", "verify", check=False, env=env)
        self.assertEqual(rc, 6, err)
        with open(self.tokfile) as f:
            env = dict(os.environ, VAULT_TOKEN=f.read().strip())
        rc, out, err = H.run(H.VAULTCTL, "--server", self.url, "--purpose", "resident_service",
                             "audit", "verify", check=False, env=env)
        self.assertEqual(rc, 0, err)

    def test_cli_bad_tokens_refused(self):
        """Each token vaultd must refuse (vaultd_harness.bad_tokens): exit
        6, nothing on stdout, one line on stderr naming why, and no part of
        the token in it; from --token-file and from VAULT_TOKEN."""
        env = {k: v for k, v in os.environ.items() if k != "VAULT_TOKEN"}
        cases = self.d.bad_tokens()
        self.assertEqual(len(cases), 6)
        for what, (tok, why) in cases.items():
            tf = os.path.join(self.d.tmp, "bad-%s.jwt" % what.replace(" ", "-"))
            with open(tf, "w") as f:
                f.write(tok + "\n")
            for args in (["record", "get", "0" * 32], ["grants"], ["audit", "verify"]):
                rc, out, err = self.remote(*args, check=False, env=env, token_file=tf)
                self.assertEqual(rc, 6, (what, args, err))
                self.assertEqual(out, "", (what, args))
                self.assertEqual(err.count("\n"), 1, (what, args, err))
                self.assertIn(why, err, (what, args))
                for part in tok.split("."):
                    if part:
                        self.assertNotIn(part, err, (what, args))
            rc, out, err = H.run(H.VAULTCTL, "--server", self.url, "--purpose", "resident_service",
                                 "audit", "verify", check=False, env=dict(env, VAULT_TOKEN=tok))
            self.assertEqual(rc, 6, (what, "VAULT_TOKEN", err))
            self.assertIn(why, err, what)
        # a write with the last one (alg none, the role changed) is refused too
        rc, out, err = self.remote("record", "add", "--in", H.GRID, "name=假冒", check=False,
                                   env=env, token_file=tf)
        self.assertEqual((rc, out), (6, ""), err)

    def test_cli_import_and_policy_errors_name_the_local_file(self):
        csv = os.path.join(self.d.tmp, "bad.csv")
        with open(csv, "w") as f:
            f.write("jurisdiction,name,shoe_size\n%s,孙八,42\n" % H.GRID)
        rc_r, _, err_r = self.remote("import", csv, check=False)
        rc_e, _, err_e = self.local("import", csv, check=False)
        self.assertEqual(rc_r, rc_e)
        self.assertNotEqual(rc_r, 0)
        self.assertEqual(err_r, err_e)
        self.assertIn(csv + ":", err_r)
        bad = os.path.join(self.d.tmp, "bad-policy.yaml")
        with open(bad, "w") as f:
            f.write("version: 1\nroles: [\n")
        rc_r, _, err_r = self.remote("policy", "apply", bad, check=False)
        rc_e, _, err_e = self.d.embedded("policy", "apply", bad, check=False)
        self.assertEqual(rc_r, rc_e)
        self.assertEqual(rc_r, 7)
        self.assertIn(bad + ":", err_r)
        self.assertEqual(err_r, err_e)

    # ---- Python ----

    def test_python_connect_same_methods(self):
        with open(self.tokfile) as f:
            token = f.read().strip()
        with libvault.Vault.connect(self.url, token=token, purpose="resident_service") as v, \
                libvault.Vault.open(self.d.vault, key_file=self.d.key) as e:
            self.assertTrue(v.remote)
            self.assertFalse(e.remote)
            self.assertEqual(v.id, e.id)
            with v.session(purpose="resident_service") as s, \
                    e.session(user="officer-li", role="data_officer", department="street_office",
                              jurisdiction=H.STREET, purpose="resident_service") as es:
                rid = s.create(H.GRID, {"name": "赵六", "phone": "13700000000"})
                r_rec = s.get(rid, ["name", "phone"])
                e_rec = es.get(rid, ["name", "phone"])
                self.assertEqual(repr(r_rec), repr(e_rec))
                self.assertEqual(r_rec["name"].value, "赵六")
                with self.assertRaises(libvault.NotFound):
                    s.get("0" * 32)
            self.assertEqual(v.audit_pubkey(), e.audit_pubkey())
            self.assertEqual(v.policy_source(), e.policy_source())
            with self.assertRaises(libvault.StateError):
                v.keyslot_list()
            v.set_token(token)

    def test_python_bad_tokens_refused(self):
        """Vault.connect with each token vaultd must refuse: the first call
        raises AuthError (VAULT_EAUTH) naming why, without the token; a
        good token on the same handle then works."""
        with open(self.tokfile) as f:
            good = f.read().strip()
        for what, (tok, why) in self.d.bad_tokens().items():
            with libvault.Vault.connect(self.url, token=tok, purpose="resident_service") as v:
                with v.session(purpose="resident_service") as s:
                    with self.assertRaises(libvault.AuthError, msg=what) as cm:
                        s.get("0" * 32)
                    self.assertIn(why, str(cm.exception), what)
                    self.assertEqual(cm.exception.code, libvault.AuthError.CODE, what)
                    for part in tok.split("."):
                        if part:
                            self.assertNotIn(part, str(cm.exception), what)
                    with self.assertRaises(libvault.AuthError, msg=what):
                        s.create(H.GRID, {"name": "假冒"})
                with self.assertRaises(libvault.AuthError, msg=what):
                    v.audit_verify()
                with self.assertRaises(libvault.AuthError, msg=what):
                    v.grant_list()
                v.set_token(good)
                with v.session(purpose="resident_service") as s:
                    with self.assertRaises(libvault.NotFound, msg=what):
                        s.get("0" * 32)
            tf = os.path.join(self.d.tmp, "py-bad.jwt")
            with open(tf, "w") as f:
                f.write(tok + "\n")
            with libvault.Vault.connect(self.url, token_file=tf, purpose="resident_service") as v:
                with self.assertRaises(libvault.AuthError, msg=what):
                    v.audit_pubkey()

    def test_python_lost_connection(self):
        d = H.Vaultd()
        try:
            d.start()
            v = libvault.Vault.connect("unix://" + d.sock, token=d.token(
                "officer-li", "data_officer", "street_office"), purpose="resident_service")
            s = v.session(purpose="resident_service")
            rid = s.create(H.GRID, {"name": "钱七"})
            self.assertEqual(s.get(rid, ["name"])["name"].value, "钱七")
            d.stop(sig=9)
            with self.assertRaises(libvault.VaultIOError) as cm:
                s.get(rid, ["name"])
            self.assertIn("connection lost", str(cm.exception))
            v.close()
        finally:
            d.cleanup()
        with self.assertRaises(libvault.VaultIOError):
            libvault.Vault.connect("unix://" + d.sock, token="a.b.c")


NOBODY = 65534  # the client's uid: not vaultd's, in none of its groups


class ClientHoldsNoKeyTest(unittest.TestCase):
    """Issue 15: through vaultd a client holding only its certificate and a
    token works, and holds no file that unwraps any key.  The client runs
    as `nobody`, which can't list the vault's directory nor read the vault,
    its keys sidecar or the key file; each file it does hold (certificate,
    key, CA file, tokens) is refused as a key file and as a passphrase."""

    @classmethod
    def setUpClass(cls):
        if os.getuid() != 0:
            raise unittest.SkipTest("needs root to run the client as another uid")
        cls.d = d = H.Vaultd(tls=True, extra_clients=[("vaultctl", NOBODY)])
        # a passphrase slot too, so a passphrase guess reaches Argon2id and the unwrap
        cls.passphrase = "admin passphrase kept off the client"
        H.run(H.VAULTCTL, "--vault", d.vault, "--key-file", d.key, "keyslot", "add", "--label",
              "admin", env=dict(os.environ, VAULT_NEW_PASSPHRASE=cls.passphrase))
        d.start()
        os.chmod(d.tmp, 0o711)  # the socket is reachable, the directory not readable
        cls.home = tempfile.mkdtemp(prefix="vault-client-")
        os.chown(cls.home, NOBODY, NOBODY)
        os.chmod(cls.home, 0o700)
        # vaultctl where nobody may run it (a fresh clone's build directory
        # may be under a directory only root can enter; vaultctl links
        # libvault statically)
        cls.vaultctl = os.path.join(cls.home, "vaultctl")
        shutil.copyfile(H.VAULTCTL, cls.vaultctl)
        os.chown(cls.vaultctl, NOBODY, NOBODY)
        os.chmod(cls.vaultctl, 0o755)
        cls.held = {}
        for name, src in (("grid-app.crt", d.cert("grid-app")),
                          ("grid-app.key.pem", d.keyfile("grid-app")),
                          ("ca.crt", d.cert("ca"))):
            cls.held[name] = os.path.join(cls.home, name)
            shutil.copyfile(src, cls.held[name])
        for name, tok in (("officer.jwt", d.token("officer-li", "data_officer", "street_office")),
                          ("grid.jwt", d.token("grid-zhang", "grid_worker",
                                               "community_committee", jurisdiction=H.GRID))):
            cls.held[name] = os.path.join(cls.home, name)
            with open(cls.held[name], "w") as f:
                f.write(tok + "\n")
        for path in cls.held.values():
            os.chown(path, NOBODY, NOBODY)
            os.chmod(path, 0o600)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.home, ignore_errors=True)

    def test_client_without_keys_works_through_vaultd(self):
        d, held = self.d, self.held
        secret = [d.vault, d.vault + ".keys", d.key, d.issuer_key]
        unix = ["--server", "unix://" + d.sock, "--token-file", held["officer.jwt"],
                "--purpose", "resident_service"]
        tls = ["--server", "https://127.0.0.1:%d" % d.tls_port, "--ca-file", held["ca.crt"],
               "--cert", held["grid-app.crt"], "--key", held["grid-app.key.pem"],
               "--token-file", held["grid.jwt"], "--purpose", "grid_management"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
               "LIBVAULT_PATH": os.environ.get("LIBVAULT_PATH", ""),
               "PYTHONPATH": os.environ.get("PYTHONPATH", "")}

        def client():
            out = {"uid": os.getuid(), "groups": os.getgroups(), "readable": []}
            try:
                os.listdir(d.tmp)
                out["readable"].append(d.tmp)
            except PermissionError:
                pass
            for path in secret:
                try:
                    with open(path, "rb"):
                        out["readable"].append(path)
                except PermissionError:
                    pass
            out["add"] = H.run(self.vaultctl, *unix, "record", "add", "--in", H.GRID,
                               "name=周九", "phone=13612345678", "health=糖尿病",
                               check=False, env=env)
            rid = out["add"][1].split()[-1] if out["add"][0] == 0 else "0" * 32
            out["get"] = H.run(self.vaultctl, *unix, "--json", "record", "get", rid,
                               "--fields", "name,health", check=False, env=env)
            out["verify"] = H.run(self.vaultctl, *unix, "audit", "verify", check=False, env=env)
            out["grid"] = H.run(self.vaultctl, *tls, "--json", "record", "get", rid,
                                "--fields", "phone,health", check=False, env=env)
            # and embedded, with what it holds: it can't even open the vault
            out["embedded"] = H.run(self.vaultctl, "--vault", d.vault, "--key-file",
                                    held["grid-app.key.pem"], "audit", "verify", check=False,
                                    env=env)
            # Python's Vault.connect, in this process
            with libvault.Vault.connect("unix://" + d.sock, token_file=held["officer.jwt"],
                                        purpose="resident_service") as v:
                with v.session(purpose="resident_service") as s:
                    out["python"] = s.get(rid, ["name"])["name"].value
            out["rid"] = rid
            return out

        out = d.as_uid(NOBODY, client)
        self.assertNotIn("exception", out, out)
        self.assertEqual((out["uid"], out["groups"]), (NOBODY, []))
        self.assertEqual(out["readable"], [], "the client can read none of the vault's files")
        self.assertEqual(out["add"][0], 0, out["add"])
        self.assertEqual(out["get"][0], 0, out["get"])
        got = {f["field"]: f for f in json.loads(out["get"][1])["fields"]}
        self.assertEqual(got["name"]["value"], "周九")
        self.assertEqual(got["health"]["value"], "糖尿病")
        self.assertEqual(out["verify"][0], 0, out["verify"])
        self.assertTrue(out["verify"][1].startswith("ok: "), out["verify"])
        # the grid worker over TLS with its certificate: phone masked, health denied
        self.assertEqual(out["grid"][0], 0, out["grid"])
        got = {f["field"]: f for f in json.loads(out["grid"][1])["fields"]}
        self.assertEqual(got["phone"]["effect"], "mask")
        self.assertNotIn("13612345678", out["grid"][1])
        self.assertEqual(got["health"]["effect"], "deny")
        self.assertIsNone(got["health"]["value"])
        self.assertNotIn("糖尿病", out["grid"][1])
        self.assertNotEqual(out["embedded"][0], 0, out["embedded"])
        self.assertEqual(out["python"], "周九")
        # vaultd logged the client as the app its uid maps to
        _, report, _ = d.embedded("--json", "audit", "report", "--record", out["rid"])
        entries = json.loads(report)
        entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
        mine = [e for e in entries if e.get("app") == "vaultctl"]
        self.assertTrue(mine, report)
        self.assertTrue(all(e["peer"].startswith("unix:uid=%d," % NOBODY) for e in mine),
                        [e["peer"] for e in mine])

    def test_no_held_file_unwraps_a_key(self):
        """Each file the client holds, as a key file (whole, its first 32
        bytes, its SHA-256) and as a passphrase (its text),
        against the vault it uses: exit 6, wrong key or passphrase.  The
        right key file and passphrase open it (the check can fail)."""
        d = self.d
        tmp = tempfile.mkdtemp(prefix="vault-keytry-")
        try:
            self.assertEqual(d.embedded("audit", "verify", check=False)[0], 0)
            rc, _, err = H.run(H.VAULTCTL, "--vault", d.vault, "audit", "verify", check=False,
                               env=dict(os.environ, VAULT_PASSPHRASE=self.passphrase))
            self.assertEqual(rc, 0, err)
            for name, path in sorted(self.held.items()):
                with open(path, "rb") as f:
                    data = f.read()
                tries = {"whole": data, "first 32 bytes": data[:32],
                         "sha256": hashlib.sha256(data).digest()}
                for how, key in tries.items():
                    kf = os.path.join(tmp, "try.key")
                    with open(kf, "wb") as f:
                        f.write(key)
                    os.chmod(kf, 0o600)
                    rc, out, err = H.run(H.VAULTCTL, "--vault", d.vault, "--key-file", kf,
                                         "audit", "verify", check=False)
                    self.assertEqual(rc, 6, (name, how, err))
                    self.assertEqual(out, "", (name, how))
                    # a 32-byte key reaches the keyslot's unwrap and fails there
                    self.assertIn("wrong key file" if len(key) == 32 else "exactly 32 bytes",
                                  err, (name, how))
                rc, out, err = H.run(H.VAULTCTL, "--vault", d.vault, "audit", "verify",
                                     check=False, env=dict(os.environ,
                                                           VAULT_PASSPHRASE=data.decode().strip()))
                self.assertEqual(rc, 6, (name, err))
                self.assertIn("wrong passphrase", err, name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
