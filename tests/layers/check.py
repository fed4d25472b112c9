#!/usr/bin/env python3
"""Layer check over #include lines (STYLE.md "Layers"), and the calls that
only the unit of work (libvault/op.c) may make.

Every C file and header under libvault/, include/, cli/, server/ and witness/ is put in a
module by tests/layers/modules.txt; each quoted #include is resolved the
way the compiler does (the including file's folder, then libvault/, then
include/) and the edge from the file's module to the header's module must
be one the table allows.  The table itself must have no circle.

SQLite/SQLCipher headers are the SQLCipher backend's alone: an #include of
<sqlite3.h> (or any sqlite3*/sqlcipher header) is allowed only in the files
of SQLITE_ONLY_IN, checked over libvault/, include/, cli/, fuzz/ and the
in-memory backend double (tests/store_mem.*, tests/test_store_conformance.c).
The other test programs may include it: they open the SQLCipher file
themselves to tamper with it.

    check.py [ROOT]        check the tree at ROOT (default: the checkout)
    check.py --self-test   plant a back edge, a store_begin outside op.c and
                           a SQLite include outside the backend in a copy,
                           and expect each to fail
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
# #include of a SQLite or SQLCipher header: <sqlite3.h>, <sqlcipher/...>, or a
# copied "sqlite3.h" (a quoted header of ours such as "store/sqlcipher.h",
# which declares the backend's open function, is not SQLite).
SQLITE_INCLUDE = re.compile(
    r'^\s*#\s*include\s*(?:<\s*([^>]*(?:sqlite3|sqlcipher)[^>]*)>|"((?:[^"]*/)?sqlite3[^"/]*\.h)")',
    re.M)
# Who may include one: the SQLCipher backend, and the benchmark (it measures
# raw SQLCipher as the baseline).
SQLITE_ONLY_IN = ("libvault/store/sqlcipher.c", "bench/")
# Where the SQLite rule is checked, besides sources(): C files under these
# folders, and these files.
SQLITE_CHECKED_DIRS = ("fuzz",)
SQLITE_CHECKED_FILES = ("tests/store_mem.c", "tests/store_mem.h", "tests/test_store_conformance.c")
# Calls only some files may make: one unit of work owns every transaction.
# libvault/reckeys.c runs the record-key store's transactions, which the
# unit of work drives: they open inside one of op.c's, commit in op.c's
# before_commit hook and end in its at_end hook (reckeys.h).
ONLY_IN = {
    "store_begin": ("libvault/op.c", "libvault/store/", "libvault/reckeys.c"),
    "store_commit": ("libvault/op.c", "libvault/store/", "libvault/reckeys.c"),
    "store_rollback": ("libvault/op.c", "libvault/store/", "libvault/reckeys.c"),
}


def read_table(path):
    modules, allowed = [], {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if ":" not in line:
                sys.exit(f"{path}:{n}: expected 'module prefixes... : allowed...'")
            left, right = line.split(":", 1)
            words = left.split()
            if len(words) < 2:
                sys.exit(f"{path}:{n}: a module needs a name and at least one path prefix")
            name = words[0]
            modules.extend((prefix, name) for prefix in words[1:])
            allowed[name] = set(right.split())
    for name, deps in allowed.items():
        for d in deps:
            if d not in allowed:
                sys.exit(f"{path}: module {name} allows unknown module {d}")
    return modules, allowed


def module_of(rel, modules):
    best = None
    for prefix, name in modules:
        if rel.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, name)
    return best[1] if best else None


def table_circle(allowed):
    """A circle in the allowed edges, as a list of modules, or None."""
    state = {}

    def visit(m, path):
        state[m] = 1
        for d in sorted(allowed[m]):
            if state.get(d) == 1:
                return path[path.index(d):] + [d] if d in path else [m, d]
            if d not in state:
                found = visit(d, path + [d])
                if found:
                    return found
        state[m] = 2
        return None

    for m in sorted(allowed):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def sources(root):
    out = []
    for top in ("libvault", "include", "cli", "server", "witness"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(out)


def sqlite_checked(root):
    """The files the SQLite include rule is checked over."""
    out = list(sources(root))
    for top in SQLITE_CHECKED_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            out.extend(os.path.relpath(os.path.join(dirpath, n), root)
                       for n in sorted(names) if n.endswith((".c", ".h")))
    out.extend(f for f in SQLITE_CHECKED_FILES if os.path.isfile(os.path.join(root, f)))
    return sorted(set(out))


def sqlite_problems(root):
    problems = []
    for rel in sqlite_checked(root):
        if rel.startswith(SQLITE_ONLY_IN):
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            code = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), f.read())
        for m in SQLITE_INCLUDE.finditer(code):
            line = code.count("\n", 0, m.start()) + 1
            problems.append(f"{rel}:{line}: includes {m.group(1) or m.group(2)}; only "
                            f"{', '.join(SQLITE_ONLY_IN)} may (nothing above the store "
                            f"backend table knows SQLCipher)")
    return problems


def resolve(root, rel, header):
    for base in (os.path.dirname(rel), "libvault", "include"):
        cand = os.path.normpath(os.path.join(base, header))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None


def check(root):
    modules, allowed = read_table(os.path.join(HERE, "modules.txt"))
    problems = []
    circle = table_circle(allowed)
    if circle:
        problems.append("modules.txt: the allowed edges have a circle: " + " -> ".join(circle))
    files = sources(root)
    edges = 0
    for rel in files:
        src = module_of(rel, modules)
        if src is None:
            problems.append(f"{rel}: in no module of tests/layers/modules.txt (add it)")
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            target = resolve(root, rel, m.group(1))
            if target is None:
                problems.append(f"{rel}:{line}: #include \"{m.group(1)}\" names no file of the tree")
                continue
            dst = module_of(target, modules)
            edges += 1
            if dst is None:
                problems.append(f"{rel}:{line}: {target} is in no module")
            elif dst != src and dst not in allowed[src]:
                problems.append(f"{rel}:{line}: {src} includes {target} of module {dst}, "
                                f"which {src} may not use (a back edge or a new dependency: "
                                f"see tests/layers/modules.txt)")
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            code = COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), f.read())
        for name, where in ONLY_IN.items():
            if rel.startswith(where):
                continue
            for m in re.finditer(r"\b" + name + r"\s*\(", code):
                line = code.count("\n", 0, m.start()) + 1
                problems.append(f"{rel}:{line}: calls {name}; only {', '.join(where)} may "
                                f"(transactions belong to the unit of work, libvault/op.c)")
    problems.extend(sqlite_problems(root))
    for p in problems:
        print(p)
    print(f"layers: {len(files)} files, {edges} include edges, {len(problems)} problems")
    return 1 if problems else 0


def self_test():
    root = os.path.normpath(os.path.join(HERE, "..", ".."))
    with tempfile.TemporaryDirectory() as tmp:
        for top in ("libvault", "include", "cli", "witness"):
            shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
        ok = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        if ok.returncode != 0:
            print("self-test: the clean copy fails:\n" + ok.stdout)
            return 1
        # The store (lowest) reaching for the vault handle: a back edge.
        target = os.path.join(tmp, "libvault", "store", "store.c")
        with open(target, "a", encoding="utf-8") as f:
            f.write('\n#include "vault_int.h"\n')
        bad = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        if bad.returncode == 0 or "store includes libvault/vault_int.h" not in bad.stdout:
            print("self-test: a planted back edge was not caught:\n" + bad.stdout)
            return 1
        # A data call beginning its own transaction past the unit of work.
        shutil.rmtree(os.path.join(tmp, "libvault"))
        shutil.copytree(os.path.join(root, "libvault"), os.path.join(tmp, "libvault"))
        target = os.path.join(tmp, "libvault", "session.c")
        with open(target, "a", encoding="utf-8") as f:
            f.write("\nstatic int planted(vault *v) { return store_begin(v->db, 1); }\n")
        bad = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        if bad.returncode == 0 or "session.c" not in bad.stdout or "calls store_begin" not in bad.stdout:
            print("self-test: a planted store_begin outside op.c was not caught:\n" + bad.stdout)
            return 1
        # SQLite reached past the backend: in the library, in the CLI as
        # <sqlcipher/sqlite3.h>, and in the in-memory backend double.
        shutil.rmtree(os.path.join(tmp, "libvault"))
        shutil.copytree(os.path.join(root, "libvault"), os.path.join(tmp, "libvault"))
        os.makedirs(os.path.join(tmp, "tests"))
        shutil.copy(os.path.join(root, "tests", "store_mem.h"), os.path.join(tmp, "tests"))
        plants = (("libvault/record.c", "#include <sqlite3.h>"),
                  ("cli/main.c", "# include <sqlcipher/sqlite3.h>"),
                  ("tests/store_mem.h", '#include "sqlite3.h"'))
        for rel, line in plants:
            with open(os.path.join(tmp, rel), "a", encoding="utf-8") as f:
                f.write("\n" + line + "\n")
        bad = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        for rel, line in plants:
            if bad.returncode == 0 or f"{rel}:" not in bad.stdout or \
                    "includes " + line.split("include")[1].strip(' <>"') not in bad.stdout:
                print(f"self-test: a planted SQLite include in {rel} was not caught:\n" + bad.stdout)
                return 1
        if "libvault/store/sqlcipher.c:" in bad.stdout:
            print("self-test: the SQLCipher backend's own include was refused:\n" + bad.stdout)
            return 1
    print("self-test: a clean tree passes; a planted back edge (store -> handle), a "
          "store_begin outside op.c and SQLite includes outside the backend fail")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(HERE, "..", ".."))))
