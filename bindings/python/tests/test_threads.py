"""Use from several threads, as docs/threading.md says: each thread its own
session (sharing one handle), or its own handle."""

import threading
import unittest

import libvault
from libvault import Effect

from . import GRID7, STREET, VaultCase

READS = 25
HAN = "甲乙丙丁戊己庚辛"


def run_threads(targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as e:  # reported in the main thread
                errors.append(e)
        return run

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
        if t.is_alive():
            errors.append(RuntimeError("thread did not finish"))
    return errors


class ThreadsTest(VaultCase):
    def setUp(self):
        super().setUp()
        o = self.officer()
        self.ids = [self.add_resident(o, name="居民" + HAN[i], phone="1380000%04d" % i)
                    for i in range(8)]

    def entries(self, v=None):
        # the verify is logged after its scan: one more entry than it saw
        return (v or self.v).audit_verify().entries + 1

    def test_four_threads_own_sessions_shared_handle(self):
        before = self.entries()
        barrier = threading.Barrier(4)

        def reader(k):
            def run():
                masked = k % 2 == 1
                if masked:
                    s = self.v.session(user="grid%d" % k, role="grid_worker",
                                       department="community_committee", jurisdiction=GRID7,
                                       purpose="grid_management")
                else:
                    s = self.v.session(user="officer%d" % k, role="data_officer",
                                       department="street_office", jurisdiction=STREET,
                                       purpose="resident_service")
                with s:
                    barrier.wait()
                    for n in range(READS):
                        i = (n + k) % len(self.ids)
                        r = s.get(self.ids[i], ["name", "phone", "health"])
                        phone = "1380000%04d" % i
                        if masked:
                            assert r["phone"].effect == Effect.MASK, r
                            assert r["phone"].value == phone[:3] + "****" + phone[-4:], r
                            assert r["name"].value == "居*", r
                        else:
                            assert r["phone"].value == phone, r
                            assert r["name"].value == "居民" + HAN[i], r
                        assert r["health"].value is None
            return run

        errors = run_threads([reader(k) for k in range(4)])
        self.assertEqual(errors, [])
        res = self.v.audit_verify()
        self.assertTrue(res.ok)
        self.assertEqual(res.entries, before + 4 * READS)

    def test_two_threads_own_handles(self):
        before = self.entries()
        self.v.close()
        barrier = threading.Barrier(2)
        created = []

        def worker(k):
            def run():
                with libvault.Vault.open(self.path, key_file=self.key) as v:
                    with v.session(user="w%d" % k, role="data_officer",
                                   department="street_office", jurisdiction=STREET,
                                   purpose="resident_service") as s:
                        barrier.wait()
                        for n in range(READS):
                            i = (n * 3 + k) % len(self.ids)
                            got = s.get(self.ids[i], ["phone"]).value("phone")
                            assert got == "1380000%04d" % i, got
                        created.append(s.create(GRID7, {"name": "新居民%d" % k}))
            return run

        errors = run_threads([worker(0), worker(1)])
        self.assertEqual(errors, [])
        with libvault.Vault.open(self.path, key_file=self.key) as v:
            res = v.audit_verify()
            self.assertTrue(res.ok)
            self.assertEqual(res.entries, before + 2 * READS + 2)
            with self.officer(v) as s:
                self.assertEqual(sorted(s.get(rid, ["name"]).value("name") for rid in created),
                                 ["新居民0", "新居民1"])

    def test_error_messages_are_per_thread(self):
        g = self.grid()
        o = self.officer()
        barrier = threading.Barrier(2)

        def denied():
            barrier.wait()
            for _ in range(READS):
                try:
                    g.put(self.ids[0], "phone", "13000000000")
                except libvault.AccessDenied as e:
                    assert "write" in e.message and "phone" in e.message, e.message
                else:
                    raise AssertionError("write allowed")

        def missing():
            barrier.wait()
            for _ in range(READS):
                try:
                    o.get("0" * 32)
                except libvault.NotFound as e:
                    assert "write" not in e.message, e.message
                else:
                    raise AssertionError("found")

        self.assertEqual(run_threads([denied, missing]), [])
        self.assertTrue(self.v.audit_verify().ok)


if __name__ == "__main__":
    unittest.main()
