"""docs/openapi.json against the routes vaultd really serves.

The set of (method, path) pairs, and which are officers' routes, must be
the same in the OpenAPI file and in `vaultd --routes`; then every route is
called on a live vaultd with a body built from its schema's required
members, and must answer as the file says: never 404/405, JSON (an
object of the documented shape, or the Error schema) or the documented
text type.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vaultd_harness as H  # noqa: E402

SPEC = os.path.join(H.SRC, "docs", "openapi.json")


def served_routes():
    _, out, _ = H.run(H.VAULTD, "--routes")
    routes = {}
    for line in out.splitlines():
        parts = line.split()
        routes[(parts[0].lower(), parts[1])] = None if parts[2] == "-" else parts[2]
    return routes


def spec_routes(spec):
    return {(m, p): op.get("x-officer")
            for p, ops in spec["paths"].items() for m, op in ops.items()}


def check_shape(test, schema, doc, spec, where):
    """A small structural check: types and required members."""
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    t = schema.get("type")
    if t == "object":
        test.assertIsInstance(doc, dict, where)
        for k in schema.get("required", []):
            test.assertIn(k, doc, "%s: required member %s" % (where, k))
        for k, sub in schema.get("properties", {}).items():
            if k in doc:
                check_shape(test, sub, doc[k], spec, where + "." + k)
    elif t == "array":
        test.assertIsInstance(doc, list, where)
        for n, item in enumerate(doc[:5]):
            if "items" in schema:
                check_shape(test, schema["items"], item, spec, "%s[%d]" % (where, n))
    elif t == "string":
        test.assertIsInstance(doc, str, where)
    elif t == "integer":
        test.assertIsInstance(doc, int, where)
    elif t == "boolean":
        test.assertIsInstance(doc, bool, where)


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(SPEC) as f:
            cls.spec = json.load(f)

    def test_same_routes(self):
        served = served_routes()
        documented = spec_routes(self.spec)
        self.assertEqual(sorted(set(served) - set(documented)), [], "served, not documented")
        self.assertEqual(sorted(set(documented) - set(served)), [], "documented, not served")
        for k in served:
            self.assertEqual(served[k], documented[k], "officer flag of %s %s" % k)

    def test_every_route_answers_as_documented(self):
        d = H.Vaultd()
        try:
            d.start()
            tok = d.token("officer-li", "data_officer", "street_office")
            samples = {"purpose": "resident_service", "id": "0" * 32, "ids": ["0" * 32],
                       "jurisdiction": H.GRID, "fields": {"name": "张三"}, "field": "phone",
                       "value": "13800000000", "action": "read", "filename": "p.yaml",
                       "yaml": "not: a policy", "effect": "allow", "not_after": 4000000000,
                       "reason": "test", "kind": "denied", "grade": "personal",
                       "seq": 1, "from": 0, "record": "0" * 32, "month": "2026-11"}
            for (method, path), officer in sorted(spec_routes(self.spec).items()):
                op = self.spec["paths"][path][method]
                body = None
                raw = None
                path_q = path
                if "requestBody" in op:
                    content = op["requestBody"]["content"]
                    if "text/csv" in content:
                        raw = "jurisdiction,name\n%s,李四\n" % H.GRID
                        path_q = path + "?purpose=resident_service"
                    else:
                        schema = content["application/json"]["schema"]
                        body = {k: samples[k] for k in schema.get("required", [])}
                elif method == "get":
                    path_q = path + "?purpose=resident_service"
                c = d.unix()
                r = H.http_request(c, method.upper(), path_q, body, tok, raw=raw)
                c.close()
                where = "%s %s -> %d" % (method.upper(), path, r.status)
                unknown_ok = "id" in (body or {}) or "ids" in (body or {})
                self.assertNotIn(r.status, (405,) if unknown_ok else (404, 405), where)
                if r.status == 404:
                    self.assertEqual(r.error().get("code"), "VAULT_ENOTFOUND", where)
                ok = [k for k in op["responses"] if k != "default"][0]
                if str(r.status) == ok:
                    ctype = list(op["responses"][ok]["content"])[0]
                    self.assertTrue(r.headers.get("Content-Type", "").startswith(ctype.split(";")[0]),
                                    where + " content type " + r.headers.get("Content-Type", ""))
                    if ctype == "application/json":
                        check_shape(self, op["responses"][ok]["content"][ctype]["schema"], r.json,
                                    self.spec, where)
                else:
                    self.assertGreaterEqual(r.status, 400, where)
                    self.assertLess(r.status, 500, where + " " + r.raw[:200])
                    check_shape(self, {"$ref": "#/components/schemas/Error"}, r.json, self.spec,
                                where)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
