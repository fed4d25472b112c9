#!/usr/bin/env python3
"""A 12345 hotline work-order desk (12345政务服务便民热线) on libvault.

A resident calls 12345 to complain about their property management company.
Their identity as the complainant (投诉人身份) must never reach anyone who
handles the work order, least of all the department complained about.

Two vaults, as in practice:

* the street office's shared resident file (policies/community.yaml).  A data
  officer records the caller as a resident.  That policy lets nobody write
  the special-grade `complainant_identity` field (grants only ever open
  reads), so the identity can't end up in the shared file;
* the 12345 desk's own vault (policies/hotline.yaml), where the agent who
  takes the call captures the identity at intake (rule agent-intake-write)
  and where it is never shown back (rule desk-deny-complainant).

Then the hotline agent handling the work order sees name and phone masked
and the identity denied, the handling departments (the community committee
and civil affairs) see what their work needs with the identity denied or
absent, and the access trail of each record is printed from the audit log.

Run:
    LIBVAULT_PATH=/path/to/libvault.so python3 bindings/python/examples/hotline.py
The policies are found through VAULT_SOURCE_DIR (the repository root) or
relative to this script.
"""

import os
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.dirname(HERE)
if os.path.isdir(os.path.join(BINDINGS, "libvault")):
    sys.path.insert(0, BINDINGS)

import libvault  # noqa: E402
from libvault import Effect  # noqa: E402

SOURCE_DIR = os.environ.get("VAULT_SOURCE_DIR") or os.path.normpath(
    os.path.join(BINDINGS, "..", ".."))
COMMUNITY = os.path.join(SOURCE_DIR, "policies", "community.yaml")
HOTLINE = os.path.join(SOURCE_DIR, "policies", "hotline.yaml")

STREET = "hangzhou/gongshu/xiaohe"
COMMUNITY_PATH = STREET + "/changzheng"
HOME = COMMUNITY_PATH + "/grid-07"

CALLER = {
    "name": "陈晓梅",
    "phone": "13857124680",
    "address": "浙江省杭州市拱墅区小河街道长征社区长征路12号3单元501",
}
IDENTITY = "实名投诉人：投诉长征社区物业公司（本人为该小区业主）"


def pad(text, width):
    """Left-justify text to a terminal width (CJK characters take two columns)."""
    cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - cols, 0)


def show(title, session, record_id, fields):
    """Print one read the way the person would see it, with each decision."""
    print("  %s (%s/%s, purpose %s):" % (title, session.role, session.department,
                                          session.purpose))
    result = session.get(record_id, fields)
    for f in result.values():
        label = {Effect.ALLOW: "plain", Effect.MASK: "masked", Effect.DENY: "DENIED"}[f.effect]
        shown = f.value if f.value is not None else ("-" if f.denied else "(no value)")
        print("    %-22s %-7s %s %s" % (f.field, label, pad(shown, 56), f.reason.text))
    return result


def check(cond, what):
    if not cond:
        raise SystemExit("hotline.py: unexpected: " + what)


def main():
    with tempfile.TemporaryDirectory(prefix="hotline-") as tmp:
        key = os.path.join(tmp, "desk.key")
        libvault.generate_key_file(key)

        print("== 1. The 12345 desk takes the call (its own vault, %s)"
              % os.path.relpath(HOTLINE, SOURCE_DIR))
        with libvault.Vault.create(os.path.join(tmp, "desk.vault"), HOTLINE,
                                   key_file=key) as desk:
            with desk.session(user="zhou.agent", role="hotline_agent",
                              department="hotline_12345", jurisdiction="hangzhou",
                              purpose="hotline_intake") as intake:
                order = intake.create(HOME, dict(CALLER, complainant_identity=IDENTITY))
            print("  work order caller record %s… written at intake, identity included" % order[:8])

            print("\n== 2. The same agent follows the work order up")
            with desk.session(user="zhou.agent", role="hotline_agent",
                              department="hotline_12345", jurisdiction="hangzhou",
                              purpose="hotline_followup") as followup:
                r = show("hotline agent", followup, order,
                         ["name", "phone", "complainant_identity"])
            check(r["phone"].value == "138****4680", "phone not masked for the agent")
            check(r["complainant_identity"].denied and r["complainant_identity"].value is None,
                  "identity shown to the agent")
            with desk.session(user="he.supervisor", role="hotline_supervisor",
                              department="hotline_12345", jurisdiction="hangzhou",
                              purpose="quality_review") as qa:
                r = show("quality supervisor", qa, order,
                         ["name", "phone", "complainant_identity"])
            check(r["complainant_identity"].denied, "identity shown to quality review")

            desk.set_actor("qian.compliance")
            desk_trail = desk.report_record(order)
            check(desk.audit_verify().ok, "desk audit log does not verify")

        print("\n== 3. The street's data officer records the caller as a resident (%s)"
              % os.path.relpath(COMMUNITY, SOURCE_DIR))
        with libvault.Vault.create(os.path.join(tmp, "street.vault"), COMMUNITY,
                                   key_file=key) as street:
            with street.session(user="li.officer", role="data_officer",
                                department="street_office", jurisdiction=STREET,
                                purpose="resident_service") as officer:
                resident = officer.create(HOME, CALLER)
                print("  resident record %s… created with name, phone and address" % resident[:8])
                try:
                    officer.put(resident, "complainant_identity", IDENTITY)
                except libvault.AccessDenied as e:
                    print("  complainant_identity refused: %s" % e.message)
                else:
                    check(False, "the shared file accepted the complainant's identity")

            print("\n== 4. Who sees what of the resident while the work order is handled")
            with street.session(user="zhou.agent", role="hotline_agent",
                                department="hotline_12345", jurisdiction="hangzhou",
                                purpose="hotline_followup") as agent:
                r = show("hotline agent", agent, resident,
                         ["name", "phone", "complainant_identity"])
            check(r["name"].masked and r["phone"].value == "138****4680",
                  "name/phone not masked for the hotline")
            check(r["complainant_identity"].reason.rule == "hotline-deny-complainant",
                  "identity not denied by the hotline rule")
            with street.session(user="wu.community", role="community_staff",
                                department="community_committee",
                                jurisdiction=COMMUNITY_PATH,
                                purpose="resident_service") as staff:
                r = show("handling department: community committee", staff, resident,
                         ["name", "phone", "address", "complainant_identity"])
            check(r["complainant_identity"].denied, "identity shown to the community")
            with street.session(user="zhao.civil", role="civil_affairs_officer",
                                department="civil_affairs", jurisdiction=STREET,
                                purpose="social_assistance") as civil:
                r = show("handling department: civil affairs", civil, resident,
                         ["name", "phone", "complainant_identity"])
            check(r["complainant_identity"].value is None, "identity shown to civil affairs")

            street.set_actor("qian.compliance")
            street_trail = street.report_record(resident)
            verified = street.audit_verify()
            check(verified.ok, "street audit log does not verify")

        print("\n== 5. Access trail (audit report per record; values are never logged)")
        print("  -- 12345 desk, work order caller %s" % order)
        for line in desk_trail.splitlines():
            print("  " + line)
        print("  -- street resident file, resident %s" % resident)
        for line in street_trail.splitlines():
            print("  " + line)
        print("\nBoth audit logs verify (street: %d entries).  The complainant's identity was\n"
              "never shown to anyone handling the work order." % verified.entries)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except libvault.VaultError as e:
        print("hotline.py: %s: %s" % (type(e).__name__, e.message), file=sys.stderr)
        sys.exit(1)
