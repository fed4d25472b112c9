"""CSV import (all or nothing) and key rotation."""

import os
import re
import unittest

import libvault

from . import GRID7, OTHER_GRID, VaultCase


class ImportTest(VaultCase):
    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def test_import_good_file(self):
        path = self.write("residents.csv",
                          "jurisdiction,name,phone,id_number,address\n"
                          "%s,张三,13812340001,330102199001011234,\"长征路12号,3单元501\"\n"
                          "%s,\"李\"\"小龙\"\"四\",13812340002,,大兜路8号\n" % (GRID7, OTHER_GRID))
        calls = []
        s = self.officer()
        n = s.import_csv(path, progress=lambda done, total: calls.append((done, total)))
        self.assertEqual(n, 2)
        self.assertTrue(calls)
        [a] = s.find("phone", "13812340001")
        [b] = s.find("phone", "13812340002")
        self.assertEqual(s.get(a, ["address"]).value("address"), "长征路12号,3单元501")
        rb = s.get(b, ["name", "id_number"])
        self.assertEqual(rb.value("name"), '李"小龙"四')
        self.assertFalse(rb["id_number"].present)  # empty cell: not set
        self.assertEqual(s.jurisdiction_of(b), OTHER_GRID)

    def test_import_bad_file_imports_nothing(self):
        path = self.write("bad.csv",
                          "jurisdiction,name,phone\n"
                          "%s,张三,13812340003\n"
                          "%s,李四\n" % (GRID7, GRID7))
        s = self.officer()
        with self.assertRaises(libvault.InvalidInput) as cm:
            s.import_csv(path)
        msg = cm.exception.message
        self.assertRegex(msg, re.escape(path) + r":3:\d+: ")
        self.assertNotIn("李四", msg)  # never a cell value
        self.assertEqual(s.find("phone", "13812340003"), [])  # the good row is not there
        # unknown column: row 1, its column
        path2 = self.write("cols.csv", "jurisdiction,name,shoe_size\n%s,王五,42\n" % GRID7)
        with self.assertRaises(libvault.InvalidInput) as cm:
            s.import_csv(path2)
        self.assertRegex(cm.exception.message, r"cols\.csv:1:3: .*shoe_size")
        # a denied write aborts the file as well
        path3 = self.write("special.csv",
                           "jurisdiction,name,criminal_record\n%s,赵六,有\n" % GRID7)
        with self.assertRaises(libvault.AccessDenied) as cm:
            s.import_csv(path3)
        self.assertRegex(cm.exception.message, r"special\.csv:2:3: ")
        with self.assertRaises(libvault.NotFound):
            s.import_csv(os.path.join(self.dir, "missing.csv"))


class RotateTest(VaultCase):
    def test_rotation_keeps_values_readable(self):
        s = self.officer()
        ids = [self.add_resident(s, phone="1381234%04d" % i, health="健康%d" % i)
               for i in range(5)]
        calls = []
        self.v.key_rotate("personal", progress=lambda d, t: calls.append((d, t)))
        self.v.key_rotate("sensitive")
        self.assertTrue(calls)
        for i, rid in enumerate(ids):
            r = s.get(rid, ["name", "phone", "health"])
            self.assertEqual(r.visible(), {"name": "张三丰", "phone": "1381234%04d" % i,
                                           "health": "健康%d" % i})
        s.put(ids[0], "phone", "13999999999")  # new writes use the new key
        self.v.close()
        with libvault.Vault.open(self.path, key_file=self.key) as v, self.officer(v) as s2:
            self.assertEqual(s2.get(ids[0], ["phone"]).value("phone"), "13999999999")
            self.assertTrue(v.audit_verify().ok)
        with self.assertRaises(libvault.StateError):
            self.v.key_rotate("personal")

    def test_unknown_grade(self):
        with self.assertRaises(libvault.VaultError):
            self.v.key_rotate("no_such_grade")


if __name__ == "__main__":
    unittest.main()
