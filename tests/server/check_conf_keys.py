#!/usr/bin/env python3
"""vaultd.conf(5) and the parser agree: every key the help source
(server/vaultd.help, @conf / @@keys, from which the man page and docs come)
describes is one server/config.c reads, and every key config.c reads is
described.  Names are compared per path component (listen.tls.cert ->
listen, tls, cert), as config.c matches them one mapping level at a time."""
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "."
help_text = open(f"{src}/server/vaultd.help", encoding="utf-8").read()
config_c = open(f"{src}/server/config.c", encoding="utf-8").read()

m = re.search(r"^@conf\n.*?^@@keys\n(.*?)^@@", help_text, re.S | re.M)
if not m:
    sys.exit("server/vaultd.help: no @conf section with @@keys")
described = set()
for line in m.group(1).splitlines():
    if not line.strip():
        continue
    path = line.split()[0]
    for part in path.split("."):
        described.add(part.replace("[]", ""))

read = set(re.findall(r'strcmp\(key, "([a-z0-9_]+)"\)', config_c))
read |= set(re.findall(r'\{"([a-z0-9_]+)", offsetof\(', config_c))

fails = 0
for k in sorted(described - read):
    print(f"not ok - vaultd.conf(5) describes '{k}', which server/config.c does not read")
    fails += 1
for k in sorted(read - described):
    print(f"not ok - server/config.c reads '{k}', which vaultd.conf(5) does not describe")
    fails += 1
if len(read) < 30:
    print(f"not ok - only {len(read)} keys found in server/config.c: the pattern is stale")
    fails += 1
if not fails:
    print(f"ok - vaultd.conf(5) and server/config.c name the same {len(read)} keys")
sys.exit(1 if fails else 0)
