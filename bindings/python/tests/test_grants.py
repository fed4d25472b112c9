"""Grants within and beyond the policy's limits, approval, revocation, break-glass.

Uses tests/data/grants/limits.yaml, like tests/test_grants.c.
"""

import datetime
import time
import unittest

import libvault
from libvault import Action, Effect

from . import LIMITS, VaultCase


class GrantsTest(VaultCase):
    policy = LIMITS

    def setUp(self):
        super().setUp()

        def as_(user, role, dept, purpose):
            s = self.v.session(user=user, role=role, department=dept, jurisdiction="city/a",
                               purpose=purpose)
            self.addCleanup(s.close)
            return s

        self.clerk = as_("clerk1", "clerk", "office", "service")
        self.chief = as_("chief1", "chief", "office", "service")
        self.deputy = as_("deputy1", "deputy", "office", "service")
        self.reader = as_("reader1", "reader", "records_desk", "service")
        self.medic = as_("medic1", "medic", "clinic", "emergency")
        self.rid = self.clerk.create("city/a/b", {"name": "王小明", "phone": "13912345678",
                                                  "health": "糖尿病"})

    def effect(self, s, field):
        return s.get(self.rid, [field])[field].effect

    def grant(self, officer, fields=("name",), dept="records_desk", seconds=3600, **kw):
        kw.setdefault("reason", "records desk follow-up")
        return officer.grant_issue(department=dept, fields=list(fields) if fields else None,
                                   jurisdiction="city/a", duration=seconds, **kw)

    def test_grant_within_limits(self):
        self.assertEqual(self.effect(self.reader, "name"), Effect.DENY)
        g = self.grant(self.clerk)
        self.assertFalse(g.pending)
        self.assertTrue(g.id.startswith("g-"))
        r = self.reader.get(self.rid, ["name", "phone"])
        self.assertEqual(r["name"].effect, Effect.ALLOW)
        self.assertEqual(r["name"].value, "王小明")
        self.assertEqual(r["name"].reason.grant, g.id)
        self.assertEqual(r["phone"].effect, Effect.DENY)
        # a masked grant shows masked values; an aware datetime works as the end
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        g2 = self.clerk.grant_issue(department="records_desk", fields=["phone"],
                                    jurisdiction="city/a", effect=Effect.MASK, not_after=until,
                                    reason="call back")
        self.assertEqual(self.reader.get(self.rid, ["phone"]).value("phone"), "139****5678")
        listed = self.v.grant_list(active_only=True, as_json=True)
        self.assertEqual({x["id"] for x in listed}, {g.id, g2.id})
        self.assertIn(g.id, self.v.grant_list())

    def test_grant_beyond_limits(self):
        with self.assertRaises(libvault.AccessDenied) as cm:
            self.grant(self.clerk, fields=["health"])  # above the personal ceiling
        self.assertIn("personal", cm.exception.message)
        self.assertIn("ceiling", cm.exception.message)
        with self.assertRaises(libvault.AccessDenied):
            self.grant(self.clerk, fields=None, grade_max="sensitive")
        with self.assertRaises(libvault.AccessDenied) as cm:
            self.grant(self.clerk, seconds=3 * 86400)  # longer than 2d
        self.assertIn("max_duration 2d", cm.exception.message)
        with self.assertRaises(libvault.AccessDenied):
            self.grant(self.clerk, dept="clinic")  # recipient not allowed
        with self.assertRaises(libvault.AccessDenied):
            self.grant(self.reader)  # a role with no grant limits
        with self.assertRaises(libvault.InvalidInput):
            self.grant(self.clerk, reason="")
        with self.assertRaises(TypeError):
            self.clerk.grant_issue(department="records_desk", fields=["name"],
                                   jurisdiction="city/a", reason="no end")
        self.assertEqual(self.effect(self.reader, "name"), Effect.DENY)
        self.assertEqual(self.effect(self.reader, "health"), Effect.DENY)

    def test_approval_by_a_second_officer(self):
        g = self.grant(self.chief, fields=None, grade_min="sensitive", grade_max="special")
        self.assertTrue(g.pending)
        self.assertEqual(self.effect(self.reader, "health"), Effect.DENY)  # pending
        with self.assertRaises(libvault.AccessDenied):
            self.chief.grant_approve(g.id)  # not the issuer
        with self.assertRaises(libvault.AccessDenied):
            self.clerk.grant_approve(g.id)  # ceiling below the grant's grade
        self.deputy.grant_approve(g.id)
        self.assertEqual(self.effect(self.reader, "health"), Effect.ALLOW)
        with self.assertRaises(libvault.StateError):
            self.deputy.grant_approve(g.id)
        with self.assertRaises(libvault.NotFound):
            self.deputy.grant_approve("g-0000000000000000")

    def test_revoke(self):
        g = self.grant(self.clerk)
        self.assertEqual(self.effect(self.reader, "name"), Effect.ALLOW)
        with self.assertRaises(libvault.InvalidInput):
            self.clerk.grant_revoke(g.id, "")
        with self.assertRaises(libvault.AccessDenied):
            self.reader.grant_revoke(g.id, "not mine")
        self.chief.grant_revoke(g.id, "work finished")
        self.assertEqual(self.effect(self.reader, "name"), Effect.DENY)  # at once
        with self.assertRaises(libvault.StateError):
            self.chief.grant_revoke(g.id, "again")
        states = {x["id"]: x["state"] for x in self.v.grant_list(as_json=True)}
        self.assertEqual(states[g.id], "revoked")
        self.assertEqual(self.v.grant_list(active_only=True, as_json=True), [])

    def test_expiry(self):
        g = self.grant(self.clerk, seconds=2)
        self.assertEqual(self.effect(self.reader, "name"), Effect.ALLOW)
        time.sleep(3)
        self.assertEqual(self.effect(self.reader, "name"), Effect.DENY)
        self.assertNotIn(g.id, self.v.grant_list(active_only=True))

    def test_actions_and_time_range(self):
        # read only unless asked; search must be asked for
        self.grant(self.clerk, fields=("phone",))
        self.assertEqual(self.reader.decide(Action.SEARCH, self.rid, "phone").effect,
                         Effect.DENY)
        self.grant(self.clerk, fields=("phone",), actions=[Action.READ, Action.SEARCH],
                   user="reader1")
        self.assertEqual(self.reader.decide(Action.SEARCH, self.rid, "phone").effect,
                         Effect.ALLOW)
        with self.assertRaises(libvault.InvalidInput):
            self.grant(self.clerk, actions=[Action.WRITE])
        with self.assertRaises(TypeError):
            self.grant(self.clerk, actions=["read"])
        # the signed overflow that once gave a permanent grant
        with self.assertRaises(libvault.InvalidInput):
            self.clerk.grant_issue(department="records_desk", fields=["name"],
                                   jurisdiction="city/a", not_before=-(2 ** 63) + 1,
                                   not_after=2 ** 63 - 1, reason="forever")
        self.assertEqual(self.v.grant_warnings(self.grant(self.clerk).id), "")

    def test_break_glass(self):
        self.assertEqual(self.effect(self.medic, "health"), Effect.DENY)
        with self.assertRaises(libvault.InvalidInput):
            self.medic.break_glass(self.rid, "")  # a reason is mandatory
        with self.assertRaises(libvault.AccessDenied):
            self.clerk.break_glass(self.rid, "curious")  # not a break-glass role
        with self.assertRaises(libvault.AccessDenied):
            self.medic.break_glass(self.rid, "too long", 7200)  # over 1h
        self.assertEqual(self.effect(self.medic, "health"), Effect.DENY)
        bg = self.medic.break_glass(self.rid, "unconscious patient", 600)
        self.assertTrue(bg.startswith("bg-"))
        r = self.medic.get(self.rid, ["health"])
        self.assertEqual(r["health"].value, "糖尿病")
        self.assertEqual(r["health"].reason.grant, bg)
        report = self.v.report_break_glass()
        self.assertIn("unconscious patient", report)
        self.assertIn("medic1", report)
        self.assertIn("health:allow", report)
        self.assertNotIn("糖尿病", report)
        other = self.clerk.create("city/a/c", {"health": "x"})
        self.assertEqual(self.medic.get(other, ["health"])["health"].effect, Effect.DENY)


if __name__ == "__main__":
    unittest.main()
