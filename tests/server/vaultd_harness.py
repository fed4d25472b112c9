"""Start a real vaultd for a test, with a vault, issuers, tokens and
(optionally) TLS certificates made for it in a temporary directory.

Used by tests/server/test_vaultd.py (and bench/ for the service figures).
The binaries come from VAULTCTL and VAULTD (paths set by CTest), the
policies from VAULT_SOURCE_DIR.
"""

import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time

SRC = os.environ.get("VAULT_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VAULTCTL = os.environ.get("VAULTCTL", os.path.join(SRC, "build", "vaultctl"))
VAULTD = os.environ.get("VAULTD", os.path.join(SRC, "build", "vaultd"))
POLICY = os.path.join(SRC, "policies", "community.yaml")

ISS = "https://id.test.invalid"
AUD = "vaultd-test"
STREET = "hangzhou/gongshu/xiaohe"
GRID = STREET + "/changzheng/grid-07"


def run(*args, check=True, env=None, input=None):
    """Run a command; return (exit code, stdout, stderr)."""
    p = subprocess.run(list(args), capture_output=True, text=True, env=env, input=input)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stderr,
                                                      p.stdout))
    return p.returncode, p.stdout, p.stderr


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def error(self):
        return (self.json or {}).get("error", {})

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def http_request(conn, method, path, body=None, token=None, raw=None, headers=None):
    h = dict(headers or {})
    data = None
    if token:
        h["Authorization"] = "Bearer " + token
    if raw is not None:
        data = raw if isinstance(raw, bytes) else raw.encode()
        h.setdefault("Content-Type", "text/csv")
    elif body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    out = r.read().decode("utf-8", "replace")
    return Response(r.status, out, dict(r.getheaders()))


class Vaultd:
    """A vault and a vaultd serving it, in a temporary directory."""

    def __init__(self, tls=False, workers=4, extra_clients=(), unix_mode="0666"):
        self.tmp = tempfile.mkdtemp(prefix="vaultd-test-")
        os.chmod(self.tmp, 0o755)  # the tests' other uids reach the socket here
        self.vault = os.path.join(self.tmp, "street.vault")
        self.key = os.path.join(self.tmp, "street.key")
        self.sock = os.path.join(self.tmp, "vaultd.sock")
        self.issuer_key = os.path.join(self.tmp, "issuer.key")
        self.config = os.path.join(self.tmp, "vaultd.yaml")
        self.log = os.path.join(self.tmp, "vaultd.log")
        self.proc = None
        self.tls_port = 0
        run(VAULTCTL, "init", "--vault", self.vault, "--policy", POLICY, "--key-file", self.key)
        _, out, _ = run(VAULTCTL, "token", "keygen", "--out", self.issuer_key)
        self.issuer_pub = [w for w in out.split() if w.startswith("ed25519:")][0]
        self.clients = [("street-desk", os.getuid())] + list(extra_clients)
        if tls:
            self.make_certs()
        self.write_config(workers, unix_mode)

    # ---- files ----

    def write_config(self, workers, unix_mode):
        lines = [
            "vault: %s" % self.vault,
            "unlock:",
            "  key_file: %s" % self.key,
            "listen:",
            "  unix: %s" % self.sock,
            "  unix_mode: %s" % unix_mode,
        ]
        if self.tls_port:
            lines += [
                "  tls:",
                "    address: 127.0.0.1:%d" % self.tls_port,
                "    cert: %s" % self.cert("server"),
                "    key: %s" % self.keyfile("server"),
                "    client_ca: %s" % self.cert("ca"),
            ]
        lines.append("clients:")
        for app, uid in self.clients:
            lines += ["  - app: %s" % app, "    unix_uid: %d" % uid]
        if self.tls_port:
            lines += ["  - app: grid-app", "    tls_cn: grid-app",
                      "  - app: hotline-app", "    tls_cn: hotline-app"]
        lines += [
            "issuers:",
            "  - name: test-idp",
            "    iss: %s" % ISS,
            "    audience: %s" % AUD,
            "    key: %s" % self.issuer_pub,
            # the user name from its own claim (the dev issuer's --user, default
            # the sub), so one subject can carry two user names
            "    user_claim: preferred_username",
            "limits:",
            "  workers: %d" % workers,
            "  max_body: 64KiB",
            "  clock_skew: 30s",
        ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def cert(self, name):
        return os.path.join(self.tmp, name + ".crt")

    def keyfile(self, name):
        return os.path.join(self.tmp, name + ".key.pem")

    def _certtool(self, name, template, ca=None):
        tpl = os.path.join(self.tmp, name + ".tpl")
        with open(tpl, "w") as f:
            f.write(template)
        # certtool is no test subject: not under a sanitizer runtime the test
        # preloads (it hangs there), and with no terminal to prompt on
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
        run("certtool", "--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
            "--outfile", self.keyfile(name), env=env, input="")
        if ca is None:
            run("certtool", "--generate-self-signed", "--load-privkey", self.keyfile(name),
                "--template", tpl, "--outfile", self.cert(name), env=env, input="")
        else:
            run("certtool", "--generate-certificate", "--load-privkey", self.keyfile(name),
                "--load-ca-certificate", self.cert(ca), "--load-ca-privkey", self.keyfile(ca),
                "--template", tpl, "--outfile", self.cert(name), env=env, input="")

    def make_certs(self):
        ca = 'cn = "vaultd test CA"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 2\n'
        self._certtool("ca", ca)
        self._certtool("rogue-ca", ca.replace("test CA", "rogue CA"))
        self._certtool("server", 'cn = "localhost"\ndns_name = "localhost"\nip_address = '
                       '"127.0.0.1"\ntls_www_server\nexpiration_days = 2\n', ca="ca")
        for cn in ("grid-app", "hotline-app", "nobody-app"):
            self._certtool(cn, 'cn = "%s"\ntls_www_client\nexpiration_days = 2\n' % cn, ca="ca")
        self._certtool("rogue-grid", 'cn = "grid-app"\ntls_www_client\nexpiration_days = 2\n',
                       ca="rogue-ca")
        # from the right CA, with the right CN, but made for a TLS server
        self._certtool("server-grid", 'cn = "grid-app"\ntls_www_server\nexpiration_days = 2\n',
                       ca="ca")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.tls_port = s.getsockname()[1]
        s.close()

    # ---- tokens ----

    def token(self, sub, role, dept, jurisdiction=STREET, ttl="1h", iss=ISS, aud=AUD,
              key=None, user=None):
        args = [VAULTCTL, "token", "issue", "--issuer-key", key or self.issuer_key, "--iss", iss,
                "--aud", aud, "--sub", sub, "--role", role, "--dept", dept,
                "--jurisdiction", jurisdiction, "--ttl", ttl]
        if user:
            args += ["--user", user]
        _, out, _ = run(*args)
        return out.strip()

    def bad_tokens(self, sub="officer-li", role="data_officer", dept="street_office",
                   jurisdiction=STREET):
        """The tokens vaultd must refuse, each with the words its refusal
        names: {case: (token, reason)}.  "wrong key": signed by a key that
        isn't the pinned issuer key; "forged payload": a valid token whose
        payload was changed (another role) under its signature; "alg none":
        the same claims unsigned."""
        other = os.path.join(self.tmp, "other-issuer.key")
        if not os.path.exists(other):
            run(VAULTCTL, "token", "keygen", "--out", other)
        now = int(time.time())

        def at(t):
            _, out, _ = run(VAULTCTL, "token", "issue", "--issuer-key", self.issuer_key,
                            "--iss", ISS, "--aud", AUD, "--sub", sub, "--role", role,
                            "--dept", dept, "--jurisdiction", jurisdiction, "--ttl", "1h",
                            "--at", str(t))
            return out.strip()

        def b64(doc):
            raw = json.dumps(doc, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        good = self.token(sub, role, dept, jurisdiction)
        head, payload, sig = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["role"] = "police_officer"
        claims["department"] = "public_security"
        return {
            "wrong key": (self.token(sub, role, dept, jurisdiction, key=other), "bad signature"),
            "expired": (at(now - 7200), "token expired"),
            "not yet valid": (at(now + 3600), "token not yet valid"),
            "forged payload": (head + "." + b64(claims) + "." + sig, "bad signature"),
            "alg none": (b64({"alg": "none", "typ": "JWT"}) + "." + b64(claims) + ".",
                         'unsigned (alg "none")'),
            "wrong audience": (self.token(sub, role, dept, jurisdiction, aud="someone-else"),
                               "wrong audience"),
        }

    # ---- the process ----

    def start(self, wait=True):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([VAULTD, "--config", self.config], stdout=logf,
                                     stderr=subprocess.STDOUT)
        logf.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError("vaultd exited %d: %s" % (self.proc.returncode,
                                                               self.read_log()))
            if os.path.exists(self.sock):
                try:
                    r = self.get("/v1/health")
                    if r.status == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("vaultd did not become ready: " + self.read_log())

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        return rc

    def cleanup(self):
        self.stop()
        run("rm", "-rf", self.tmp, check=False)

    # ---- requests ----

    def unix(self):
        return UnixHTTPConnection(self.sock)

    def tls(self, client="grid-app", ca="ca"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.load_verify_locations(self.cert(ca))
        if client:
            ctx.load_cert_chain(self.cert(client), self.keyfile(client))
        return http.client.HTTPSConnection("127.0.0.1", self.tls_port, context=ctx, timeout=30)

    def post(self, path, body, token=None, conn=None, raw=None, headers=None):
        c = conn or self.unix()
        try:
            return http_request(c, "POST", path, body, token, raw=raw, headers=headers)
        finally:
            if conn is None:
                c.close()

    def get(self, path, token=None, conn=None):
        c = conn or self.unix()
        try:
            return http_request(c, "GET", path, None, token)
        finally:
            if conn is None:
                c.close()

    def as_uid(self, uid, fn):
        """Run fn() in a child process with this uid (and gid, no other
        groups); return what it returns (JSON-serialisable)."""
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(rfd)
                os.setgroups([])  # none of root's groups either
                os.setgid(uid)
                os.setuid(uid)
                out = fn()
                os.write(wfd, json.dumps(out).encode())
            except BaseException as e:  # noqa: B902 -- report anything to the parent
                os.write(wfd, json.dumps({"exception": repr(e)}).encode())
                code = 1
            os._exit(code)
        os.close(wfd)
        data = b""
        while True:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            data += chunk
        os.close(rfd)
        os.waitpid(pid, 0)
        return json.loads(data.decode())

    def embedded(self, *args, check=True):
        """vaultctl on the vault file itself (as an administrator on the host)."""
        return run(VAULTCTL, "--vault", self.vault, "--key-file", self.key, *args, check=check)
