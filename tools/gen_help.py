#!/usr/bin/env python3
"""Generate help, man pages and bash completion from one help source.

    gen_help.py vaultctl cli/vaultctl.help OUTDIR VERSION
        -> OUTDIR/vaultctl_help.c, vaultctl.1, vaultctl.bash
    gen_help.py vaultd server/vaultd.help OUTDIR VERSION
        -> OUTDIR/vaultd_help.c, vaultd.8, vaultd.conf.5

The source format is described at the top of cli/vaultctl.help and in
docs/help.md.  A malformed source stops the build with FILE:LINE: message.
"""
import os
import sys
import time

FILE_ARGS = {"FILE", "PATH", "CHECKPOINT-FILE"}
DIR_ARGS = {"DIR"}
# Placeholders whose values are a fixed list: completed from it.
CHOICE_ARGS = {"PROFILE": "interactive moderate sensitive"}


class SourceError(Exception):
    pass


def parse(path):
    """Sections: list of dicts {kind, name, headers{key: [lines]}, blocks{name: [lines]}}."""
    sections = []
    cur = None
    block = None
    last_key = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for no, line in enumerate(lines, 1):
        where = "%s:%d" % (path, no)
        if line.startswith("#") and block is None:
            continue
        if line.startswith("@@"):
            if cur is None:
                raise SourceError(where + ": a block outside a section")
            block = line[2:].strip()
            if block in cur["blocks"]:
                raise SourceError(where + ": block @@%s given twice" % block)
            cur["blocks"][block] = []
            continue
        if line.startswith("@"):
            word, _, name = line[1:].partition(" ")
            if word not in ("top", "group", "leaf", "conf"):
                raise SourceError(where + ": unknown section @%s" % word)
            cur = {"kind": word, "name": name.strip(), "headers": {}, "blocks": {},
                   "where": where, "order": []}
            sections.append(cur)
            block = None
            last_key = None
            continue
        if block is not None:
            cur["blocks"][block].append(line)
            continue
        if not line.strip():
            continue
        if cur is None:
            raise SourceError(where + ": text outside a section")
        if line[0] == " ":
            if last_key is None:
                raise SourceError(where + ": a continuation line without a header")
            cur["headers"][last_key].append(line[1:])
            continue
        key, sep, value = line.partition(":")
        if not sep or " " in key:
            raise SourceError(where + ": expected 'key: value'")
        key = key.strip()
        cur["headers"].setdefault(key, []).append(value.strip())
        last_key = key
    for s in sections:
        for b in s["blocks"].values():
            while b and not b[-1].strip():
                b.pop()
    return sections


def parse_options(sec):
    """[(option, ARG or None)] from the comma-separated 'options' header."""
    text = " ".join(sec["headers"].get("options", []) + sec["headers"].get("global", []))
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split()
        if not parts[0].startswith("--") or len(parts) > 2:
            raise SourceError("%s: bad option '%s'" % (sec["where"], item))
        out.append((parts[0], parts[1] if len(parts) == 2 else None))
    return out


def example_block(sec):
    for name in ("examples", "example"):
        if name in sec["blocks"]:
            return name, sec["blocks"][name]
    raise SourceError("%s: %s has no @@example(s) block" % (sec["where"], sec["name"] or "top"))


def usage_lines(sec):
    u = sec["headers"].get("usage")
    if not u:
        raise SourceError("%s: %s has no usage" % (sec["where"], sec["name"] or "top"))
    return ["usage: " + u[0]] + ["       " + line for line in u[1:]]


def options_line(prog, sec):
    opts = parse_options(sec)
    if not opts:
        return "options: the global options only (%s --help)" % prog
    return "options: %s (and the global options: %s --help)" % (
        ", ".join(o if a is None else o + " " + a for o, a in opts), prog)


def leaf_body(prog, sec):
    """What follows the usage lines in a leaf's help (and in its man subsection)."""
    out = []
    desc = sec["blocks"].get("description")
    if not desc:
        raise SourceError("%s: %s has no @@description" % (sec["where"], sec["name"]))
    out += desc + [""]
    out.append(options_line(prog, sec))
    out.append("")
    head, ex = example_block(sec)
    out.append(head + ":")
    out += ["  " + line for line in ex]
    return out


def leaf_help(prog, sec):
    return "\n".join(usage_lines(sec) + [""] + leaf_body(prog, sec)) + "\n"


def group_help(prog, group, leaves):
    width = max(len(l["name"].split(" ", 1)[1]) for l in leaves)
    out = ["usage: %s %s <command> [options]   ('%s %s <command> --help' for one)" %
           (prog, group["name"], prog, group["name"]), ""]
    if "description" in group["blocks"]:
        out += group["blocks"]["description"] + [""]
    out.append("Commands:")
    for l in leaves:
        word = l["name"].split(" ", 1)[1]
        out.append("  %-*s  %s" % (width, word, summary(l)))
    out += ["", "examples:"]
    for l in leaves:
        out += ["  " + line for line in example_block(l)[1]]
    return "\n".join(out) + "\n"


def summary(sec):
    s = sec["headers"].get("summary")
    if not s:
        raise SourceError("%s: %s has no summary" % (sec["where"], sec["name"] or "top"))
    return " ".join(s)


def top_help(top):
    b = top["blocks"]
    for need in ("commands", "options", "notes", "exit"):
        if need not in b:
            raise SourceError("%s: @top has no @@%s" % (top["where"], need))
    head, ex = example_block(top)
    out = usage_lines(top) + ["", "Commands:"] + b["commands"] + [
        "", "Global options (also accepted after the command):"] + b["options"] + [""]
    out += b["notes"] + [""] + b["exit"] + ["", head + ":"] + ["  " + line for line in ex]
    return "\n".join(out) + "\n"


# ---- C ----

def c_string(text, indent="    "):
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        lines = [l + "\n" for l in lines]
    else:
        lines = [l + "\n" for l in lines[:-1]] + [lines[-1]]
    out = []
    for l in lines:
        e = l.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        out.append(indent + '"' + e + '"')
    return "\n".join(out) if out else indent + '""'


# ---- troff ----

def troff_text(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ch == "'":
            out.append("\\(aq")
        elif ch == "`":
            out.append("\\(ga")
        elif ord(ch) > 126:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    line = "".join(out)
    if line.startswith(".") or line.startswith("'"):
        line = "\\&" + line
    return line


def troff_para(lines):
    """Filled text; blank lines become paragraph breaks, indented lines stay as lines."""
    out = []
    for l in lines:
        if not l.strip():
            out.append(".PP")
        elif l.startswith(" "):
            out += [".br", troff_text(l.strip()), ".br"]
        else:
            out.append(troff_text(l))
    return out


def troff_pre(lines, indent=True):
    out = [".RS 4"] if indent else []
    out.append(".nf")
    out += [troff_text(l) if l else "" for l in lines]
    out.append(".fi")
    if indent:
        out.append(".RE")
    return [l if l else "\\&" for l in out]


def troff_defs(lines):
    """'NAME   text' lines (continuations indented further) as .TP items."""
    out = []
    for l in lines:
        if l and not l.startswith("    ") and l.strip():
            name, _, rest = l.strip().partition("  ")
            out += [".TP", ".B " + troff_text(name), troff_text(rest.strip())]
        elif l.strip():
            out.append(troff_text(l.strip()))
    return out


def man_date():
    """The page's date: SOURCE_DATE_EPOCH's day (dpkg-buildpackage sets it
    from debian/changelog, so package builds are reproducible), else none."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch.isdigit():
        return ""
    return time.strftime("%Y-%m-%d", time.gmtime(int(epoch)))


def man_head(name, section, title, version, summary_text):
    return [
        '.\\" Generated by tools/gen_help.py from the help source: edit that, not this.',
        '.TH %s %s "%s" "libvault %s" "%s"' % (name.upper().replace("-", "\\-"), section,
                                               man_date(), version, title),
        ".nh", ".ad l",
        ".SH NAME", troff_text("%s - %s" % (name, summary_text)),
    ]


def man_vaultctl(prog, top, groups, leaves, version):
    b = top["blocks"]
    out = man_head(prog, 1, "User Commands", version, summary(top))
    out += [".SH SYNOPSIS"] + troff_pre([u[len("usage: "):] if u.startswith("usage: ") else u
                                          for u in usage_lines(top)], indent=False)
    out += [".SH DESCRIPTION"] + troff_para(b["notes"])
    out += [".PP", "Commands:"] + troff_pre(b["commands"])
    out += [".SH OPTIONS", "Global options (also accepted after the command):"]
    out += troff_pre(b["options"])
    out += [".SH COMMANDS"]
    for l in leaves:
        out += ['.SS "%s"' % troff_text(l["name"])]
        out += troff_pre(usage_lines(l), indent=False)
        # description, then the options line and the example, as in --help
        desc = l["blocks"]["description"]
        out += [".PP"] + troff_para(desc)
        out += [".PP", troff_text(options_line(prog, l))]
        head, ex = example_block(l)
        out += [".PP", troff_text(head + ":")] + troff_pre(ex)
    out += [".SH \"EXIT STATUS\""] + troff_para(b["exit"])
    if "environment" in b:
        out += [".SH ENVIRONMENT"] + troff_defs(b["environment"])
    if "files" in b:
        out += [".SH FILES"] + troff_defs(b["files"])
    head, ex = example_block(top)
    out += [".SH EXAMPLES"] + troff_pre(ex)
    out += [".SH \"SEE ALSO\"", troff_text("vaultd(8), vaultd.conf(5), sqlcipher(1)")]
    return "\n".join(out) + "\n"


# ---- bash completion ----

def bash_completion(prog, top, groups, leaves):
    gl = parse_options(top)
    words = {}  # "record" -> leaves, "" -> commands
    tops = []
    for l in leaves:
        w = l["name"].split(" ")
        if w[0] not in tops:
            tops.append(w[0])
        if len(w) == 2:
            words.setdefault(w[0], []).append(w[1])
    # What an option's value completes to, per leaf ("* OPT" for the global
    # ones): a file, a directory, one of a fixed list ("=w1 w2"), or
    # nothing ("arg": a time, an id, a name).  The same option may take a
    # file in one leaf and a time in another (restore --from, grant --from).
    argopts, kinds = set(), {}
    for sec in [top] + leaves:
        for o, a in parse_options(sec):
            if a is None:
                continue
            argopts.add(o)
            kind = ("file" if a in FILE_ARGS else "dir" if a in DIR_ARGS else
                    "=" + CHOICE_ARGS[a] if a in CHOICE_ARGS else "arg")
            kinds[("*" if sec is top else sec["name"]) + " " + o] = kind
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    fn = "_" + prog
    out = ["# bash completion for %s: generated by tools/gen_help.py from the help source." % prog,
           "declare -gA %s_sub=(" % fn]
    for g, ws in words.items():
        out.append("  [%s]=%s" % (q(g), q(" ".join(ws))))
    out.append(")")
    out.append("declare -gA %s_opts=(" % fn)
    # A leaf's own options, without the global ones offered with them anyway.
    global_names = {o for o, _ in gl}
    for l in leaves:
        own = [o for o, _ in parse_options(l) if o not in global_names]
        out.append("  [%s]=%s" % (q(l["name"]), q(" ".join(own))))
    out.append(")")
    out += [
        "%s_commands=%s" % (fn, q(" ".join(tops))),
        "%s_global=%s" % (fn, q(" ".join(o for o, _ in gl))),
        "%s_argopts=%s" % (fn, q(" " + " ".join(sorted(argopts)) + " ")),
        "declare -gA %s_kind=(" % fn,
    ] + ["  [%s]=%s" % (q(k), q(v)) for k, v in sorted(kinds.items())] + [
        ")",
        "%s()" % fn,
        "{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= leaf= i w kind",
        "    [ \"$COMP_CWORD\" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    COMPREPLY=()",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        "        w=${COMP_WORDS[i]}",
        "        if [[ $w == -* ]]; then",
        "            [[ \"%s_argopts\" == *\" $w \"* ]] && ((i++))" % ("$" + fn),
        "            continue",
        "        fi",
        "        if [ -z \"$cmd\" ]; then cmd=$w; leaf=$w",
        "        elif [ \"$leaf\" = \"$cmd\" ] && [[ \" ${%s_sub[$cmd]} \" == *\" $w \"* ]]; then leaf=\"$cmd $w\"" % fn,
        "        fi",
        "    done",
        "    if [[ $prev == -* ]] && [[ \"%s_argopts\" == *\" $prev \"* ]]; then" % ("$" + fn),
        "        kind=${%s_kind[\"$leaf $prev\"]:-${%s_kind[\"* $prev\"]:-arg}}" % (fn, fn),
        "        case $kind in",
        "            file) COMPREPLY=($(compgen -f -- \"$cur\")) ;;",
        "            dir) COMPREPLY=($(compgen -d -- \"$cur\")) ;;",
        "            =*) COMPREPLY=($(compgen -W \"${kind#=}\" -- \"$cur\")) ;;",
        "        esac",
        "        return 0",
        "    fi",

        "    if [ -z \"$cmd\" ]; then",
        "        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"%s_global\" -- \"$cur\"))" % ("$" + fn),
        "        else COMPREPLY=($(compgen -W \"%s_commands help\" -- \"$cur\")); fi" % ("$" + fn),
        "        return 0",
        "    fi",
        "    if [[ $cur == -* ]]; then",
        "        COMPREPLY=($(compgen -W \"${%s_opts[$leaf]} %s_global\" -- \"$cur\"))" % (fn, "$" + fn),
        "        return 0",
        "    fi",
        "    if [ \"$leaf\" = \"$cmd\" ] && [ -n \"${%s_sub[$cmd]}\" ]; then" % fn,
        "        COMPREPLY=($(compgen -W \"${%s_sub[$cmd]}\" -- \"$cur\"))" % fn,
        "        [ -n \"${COMPREPLY[*]}\" ] && return 0",
        "    fi",
        "    COMPREPLY=($(compgen -f -- \"$cur\"))",
        "    return 0",
        "}",
        "complete -F %s %s" % (fn, prog),
    ]
    return "\n".join(out) + "\n"


def gen_vaultctl(src, outdir, version):
    prog = "vaultctl"
    secs = parse(src)
    tops = [s for s in secs if s["kind"] == "top"]
    if len(tops) != 1:
        raise SourceError("%s: exactly one @top section wanted" % src)
    top = tops[0]
    groups = {s["name"]: s for s in secs if s["kind"] == "group"}
    leaves = [s for s in secs if s["kind"] == "leaf"]
    seen = set()
    for l in leaves:
        if l["name"] in seen:
            raise SourceError("%s: leaf '%s' given twice" % (l["where"], l["name"]))
        seen.add(l["name"])
        w = l["name"].split(" ")
        if len(w) == 2 and w[0] not in groups and w[0] not in seen:
            raise SourceError("%s: leaf '%s' of no group" % (l["where"], l["name"]))
        leaf_help(prog, l)
    entries = [("", top_help(top), 0)]
    for l in leaves:
        w = l["name"].split(" ")
        if len(w) == 1 and w[0] in groups:
            raise SourceError("%s: '%s' is both a group and a leaf" % (l["where"], w[0]))
    done_groups = set()
    for l in leaves:
        w = l["name"].split(" ")
        if len(w) == 2 and w[0] in groups and w[0] not in done_groups:
            done_groups.add(w[0])
            members = [m for m in leaves if m["name"].startswith(w[0] + " ")]
            entries.append((w[0], group_help(prog, groups[w[0]], members), 1))
        entries.append((l["name"], leaf_help(prog, l), 0))
    c = ["/* Generated by tools/gen_help.py from cli/vaultctl.help: edit that, not this. */",
         '#include "help.h"', "",
         "const vaultctl_help_entry vaultctl_help_entries[] = {"]
    for name, text, group in entries:
        c.append('    {"%s", %d,\n%s},' % (name, group, c_string(text, "     ")))
    c += ["    {0, 0, 0}", "};", ""]
    write(os.path.join(outdir, "vaultctl_help.c"), "\n".join(c))
    write(os.path.join(outdir, "vaultctl.1"), man_vaultctl(prog, top, groups, leaves, version))
    write(os.path.join(outdir, "vaultctl.bash"), bash_completion(prog, top, groups, leaves))


def gen_vaultd(src, outdir, version):
    secs = parse(src)
    top = [s for s in secs if s["kind"] == "top"]
    conf = [s for s in secs if s["kind"] == "conf"]
    if len(top) != 1 or len(conf) != 1:
        raise SourceError("%s: one @top and one @conf section wanted" % src)
    top, conf = top[0], conf[0]
    b = top["blocks"]
    for need in ("description", "options", "signals", "exit", "files"):
        if need not in b:
            raise SourceError("%s: @top has no @@%s" % (top["where"], need))
    head, ex = example_block(top)
    text = usage_lines(top) + [""] + b["description"] + [""] + b["options"] + [
        "", head + ":"] + ["  " + l for l in ex] + [""] + b["signals"] + b["exit"]
    c = ["/* Generated by tools/gen_help.py from server/vaultd.help: edit that, not this. */",
         "extern const char vaultd_usage[];",
         "const char vaultd_usage[] =", c_string("\n".join(text) + "\n") + ";", ""]
    write(os.path.join(outdir, "vaultd_help.c"), "\n".join(c))
    m = man_head("vaultd", 8, "System Administration", version, summary(top))
    m += [".SH SYNOPSIS"] + troff_pre([usage_lines(top)[0][len("usage: "):]], indent=False)
    m += [".SH DESCRIPTION"] + troff_para(b["description"])
    m += [".SH OPTIONS"] + troff_defs(b["options"])
    m += [".SH SIGNALS"] + troff_para(b["signals"])
    m += [".SH \"EXIT STATUS\""] + troff_para(b["exit"])
    m += [".SH FILES"] + troff_defs(b["files"])
    m += [".SH EXAMPLES"] + troff_pre(ex)
    m += [".SH \"SEE ALSO\"", troff_text("vaultd.conf(5), vaultctl(1), systemd.service(5)")]
    write(os.path.join(outdir, "vaultd.8"), "\n".join(m) + "\n")
    cb = conf["blocks"]
    for need in ("description", "keys", "example"):
        if need not in cb:
            raise SourceError("%s: @conf has no @@%s" % (conf["where"], need))
    m = man_head("vaultd.conf", 5, "File Formats", version, summary(conf))
    m += [".SH SYNOPSIS", troff_text("/etc/vaultd/vaultd.yaml")]
    m += [".SH DESCRIPTION"] + troff_para(cb["description"])
    m += [".SH OPTIONS", troff_text("The keys, with their type and default:")]
    m += troff_defs(cb["keys"])
    m += [".SH EXAMPLES"] + troff_pre(cb["example"])
    m += [".SH \"SEE ALSO\"", troff_text("vaultd(8), vaultctl(1)")]
    write(os.path.join(outdir, "vaultd.conf.5"), "\n".join(m) + "\n")


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("vaultctl", "vaultd"):
        print("usage: gen_help.py vaultctl|vaultd SOURCE OUTDIR VERSION", file=sys.stderr)
        return 2
    try:
        (gen_vaultctl if sys.argv[1] == "vaultctl" else gen_vaultd)(*sys.argv[2:])
    except (SourceError, OSError) as e:
        print("gen_help.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
