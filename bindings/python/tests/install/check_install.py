#!/usr/bin/env python3
"""pip-install the bindings into a fresh venv and run the README example
against the C library installed into a temporary prefix (issue 18, "Must show").

    check_install.py --build BUILD_DIR --source SOURCE_DIR [--cmake CMAKE]

Offline, two ways: a venv that sees the system's setuptools and wheel
(--system-site-packages) with pip --no-index --no-build-isolation, and a
plain venv with pip --no-index --find-links /usr/share/python-wheels, which
builds in isolation from Debian's wheels of setuptools and wheel
(python3-setuptools-whl, python3-wheel-whl).  The C library comes from
`cmake --install BUILD_DIR --prefix TMP/prefix`; the example runs from a copy
of the package in the venv, with LD_LIBRARY_PATH (then LIBVAULT_PATH) pointing
into the prefix and never at the build tree, and must report a library_path
inside the prefix.  Installed, the package is typed: mypy accepts a correct
use and rejects a wrong one (PEP 561, py.typed).  Exit 0 when every check
passes; the first failure is printed with the output that shows it.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.normpath(os.path.join(HERE, "..", ".."))

PROBE = """\
import json, os, sys
import libvault
print("PROBE " + json.dumps({"library_path": libvault.library_path,
                             "module": libvault.__file__,
                             "version": libvault.library_version}))
"""

METADATA = """\
import json
from importlib import metadata
d = metadata.distribution("libvault")
print(json.dumps({"name": d.metadata["Name"], "version": d.version,
                  "requires_python": d.metadata["Requires-Python"],
                  "license": d.metadata["License"], "summary": d.metadata["Summary"],
                  "files": [str(f) for f in (d.files or [])]}))
"""

TYPED_OK = """\
import libvault
path: str = libvault.library_path
def read(s: libvault.Session, rid: str) -> "str | None":
    return s.get(rid, ["phone"])["phone"].value
"""

TYPED_WRONG = """\
import libvault
path: int = libvault.library_path
"""


class Failed(Exception):
    pass


def run(cmd, *, env=None, cwd=None, timeout=300):
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return r


def must(r, what):
    if r.returncode != 0:
        raise Failed("%s failed (exit %d):\n%s%s" % (what, r.returncode, r.stdout, r.stderr))
    return r


def check(cond, what, detail=""):
    if not cond:
        raise Failed(what + ("\n" + detail if detail else ""))
    print("ok:", what)


def clean_env(**more):
    env = dict(os.environ)
    for k in ("PYTHONPATH", "LIBVAULT_PATH", "LD_LIBRARY_PATH", "PYTHONHOME",
              "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        env.pop(k, None)
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1",
               PYTHONDONTWRITEBYTECODE="1")
    env.update(more)
    return env


def readme_example():
    with open(os.path.join(BINDINGS, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("```python\n") + len("```python\n")
    return text[start:text.index("```", start)]


def inside(path, top):
    path, top = os.path.realpath(path), os.path.realpath(top)
    return os.path.commonpath([path, top]) == top


def probe(py, env, cwd):
    r = must(run([py, "-c", PROBE], env=env, cwd=cwd), "import libvault")
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("PROBE "))
    return json.loads(line[len("PROBE "):])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--cmake", default="cmake")
    args = ap.parse_args()
    build, source = os.path.abspath(args.build), os.path.abspath(args.source)

    tmp = tempfile.mkdtemp(prefix="libvault-pip-")
    try:
        prefix = os.path.join(tmp, "prefix")
        venv = os.path.join(tmp, "venv")
        src = os.path.join(tmp, "src")
        py = os.path.join(venv, "bin", "python")

        # 1. the C library, installed into a prefix of its own
        must(run([args.cmake, "--install", build, "--prefix", prefix]), "cmake --install")
        sonames = glob.glob(os.path.join(prefix, "**", "libvault.so.0"), recursive=True)
        check(len(sonames) == 1, "cmake --install put libvault.so.0 in the prefix", str(sonames))
        libdir = os.path.dirname(sonames[0])

        # 2. a fresh venv, and the package pip-installed into it offline
        #    (from a copy: setuptools builds in the source tree)
        must(run([sys.executable, "-m", "venv", "--system-site-packages", venv]), "python -m venv")
        os.mkdir(src)
        shutil.copytree(os.path.join(BINDINGS, "libvault"), os.path.join(src, "libvault"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(os.path.join(BINDINGS, name), src)
        env = clean_env()
        must(run([py, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps",
                  src], env=env, cwd=tmp), "pip install --no-index --no-build-isolation")

        # 2b. a plain venv (nothing of the system's site-packages): pip builds
        #     in isolation from Debian's wheels, still without the network
        wheels = "/usr/share/python-wheels"
        check(glob.glob(os.path.join(wheels, "wheel-*.whl")) and
              glob.glob(os.path.join(wheels, "setuptools-*.whl")),
              "Debian's setuptools and wheel wheels in %s (python3-setuptools-whl, "
              "python3-wheel-whl: make deps)" % wheels)
        plain = os.path.join(tmp, "plain")
        must(run([sys.executable, "-m", "venv", plain]), "python -m venv (plain)")
        plain_py = os.path.join(plain, "bin", "python")
        must(run([plain_py, "-m", "pip", "install", "--no-index", "--find-links", wheels,
                  "--no-deps", src], env=env, cwd=tmp),
             "pip install --no-index --find-links %s (plain venv)" % wheels)
        r = must(run([plain_py, "-c", "import libvault; print(libvault.__file__, "
                      "libvault.library_path)"], env=clean_env(LD_LIBRARY_PATH=libdir), cwd=tmp),
                 "import libvault in the plain venv")
        mod, lib = r.stdout.split()
        check(inside(mod, plain) and inside(lib, prefix),
              "the plain venv imports its own copy and the installed library", r.stdout)

        meta = json.loads(must(run([py, "-c", METADATA], env=env, cwd=tmp), "metadata").stdout)
        check(meta["name"] == "libvault" and meta["version"] == "0.1.0",
              "installed distribution libvault 0.1.0", str(meta))
        check(meta["requires_python"] == ">=3.11" and meta["license"] and meta["summary"],
              "metadata: requires-python, license, summary", str(meta))
        check("libvault/py.typed" in meta["files"], "py.typed is installed", str(meta["files"]))
        check(not any(f.startswith("tests") for f in meta["files"]), "the tests are not installed")

        # 3. the README example, loading the library from the prefix
        example = os.path.join(tmp, "example.py")
        with open(example, "w", encoding="utf-8") as f:
            f.write(PROBE + "\n" + readme_example())
        env = clean_env(LD_LIBRARY_PATH=libdir)
        r = must(run([py, example], env=env, cwd=source), "the README example")
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith("PROBE "))
        got = json.loads(line[len("PROBE "):])
        check(inside(got["module"], venv), "libvault imported from the venv", got["module"])
        check(inside(got["library_path"], prefix) and os.path.isfile(got["library_path"]),
              "library_path is the installed file (LD_LIBRARY_PATH)", got["library_path"])
        check(not inside(got["library_path"], build), "not the build tree's library")
        check(got["version"] == meta["version"], "library version = package version")
        for want in ("phone MASK 138****5678", "health DENY None", "refused:", "export intact:"):
            check(want in r.stdout, "the example printed %r" % want, r.stdout)

        # 4. LIBVAULT_PATH naming the installed file
        got = probe(py, clean_env(LIBVAULT_PATH=sonames[0]), tmp)
        check(inside(got["library_path"], prefix), "library_path in the prefix (LIBVAULT_PATH)",
              got["library_path"])

        # 5. neither: an ImportError that says what was tried (unless the
        #    machine has a libvault of its own in ld.so.cache)
        cache = run(["ldconfig", "-p"]).stdout
        if "libvault.so" not in cache:
            r = run([py, "-c", "import libvault"], env=clean_env(), cwd=tmp)
            last = (r.stderr.strip().splitlines() or [""])[-1]
            check(r.returncode != 0 and "LIBVAULT_PATH (not set)" in last
                  and "not in a libvault checkout" in last and "libvault.so.0" in last,
                  "no library: ImportError listing what was tried", r.stderr)
        else:
            print("skip: a libvault is in ld.so.cache; the not-found message is not checked")

        # 6. the installed package is typed for its users (PEP 561)
        mypy = shutil.which("mypy")
        check(mypy is not None, "mypy is installed (Debian package mypy)")
        for name, text, want in (("typed_ok.py", TYPED_OK, 0), ("typed_wrong.py", TYPED_WRONG, 1)):
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            r = run([mypy, "--strict", "--no-incremental", "--python-executable", py, path],
                    env=clean_env(), cwd=tmp)
            check(r.returncode == want, "mypy on a user's %s exits %d" % (name, want),
                  r.stdout + r.stderr)
        check("typed_wrong.py:2:" in r.stdout and 'has type "str"' in r.stdout,
              "mypy names the wrong annotation", r.stdout)
    except Failed as e:
        print("FAIL:", e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("python_install: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
