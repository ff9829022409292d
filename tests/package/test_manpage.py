#!/usr/bin/env python3
"""tests/package/test_manpage.py TPCLEARD MANPAGE - docs/man/tpcleard.8 against `tpcleard --help`.

The help text is the source: every option, exit status, environment variable, file and
configuration key it names must be in the man page, every option the man page names must be in
the help, and the page must render with man(1)'s formatter without a warning. Exits 1 naming
what drifted."""
import re
import subprocess
import sys


def roff_text(page):
    """The man page's words as a reader sees them: escapes and font requests undone."""
    t = page.replace("\\-", "-").replace("\\(dq", '"').replace("\\e", "\\")
    t = re.sub(r"\\f[BIRP]", "", t)
    t = re.sub(r"^\.\\\".*$", "", t, flags=re.M)  # comments
    t = re.sub(r"^\.(?:B|I|BR|RB|IR|RI|TP|PP|SH|TH)\b ?", "", t, flags=re.M)
    return t


def section(text, title, following):
    m = re.search(r"^%s:?\n(.*?)(?=^(?:%s)|\Z)" % (title, following), text, re.M | re.S)
    return m.group(1) if m else ""


def main():
    exe, man = sys.argv[1], sys.argv[2]
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    page = open(man, encoding="utf-8").read()
    text = roff_text(page)
    errors = []

    # options: both ways, each with its entry in OPTIONS (the synopsis alone is not enough)
    help_opts = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", helptext.split("\nExit status:")[0]))
    options = section(text, "OPTIONS", "SIGNALS")
    tags = "\n".join(l for l in options.splitlines() if l.startswith("-"))  # the .TP tags
    man_opts = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", tags))
    for o in sorted(help_opts - man_opts):
        errors.append("option %s is in --help, not in the man page" % o)
    for o in sorted(man_opts - help_opts):
        errors.append("option %s is in the man page, not in --help" % o)
    # short options
    for s in re.findall(r"^\s+(-[a-zA-Z]),", helptext, re.M):
        if not re.search(r"(?<![\w-])%s\b" % re.escape(s), tags):
            errors.append("short option %s is not in the man page" % s)

    # exit statuses, environment, files: every entry of --help's sections
    ex = section(helptext, "Exit status", "Environment")
    man_ex = section(text, "EXIT STATUS", "ENVIRONMENT")
    for code in re.findall(r"^\s+(\d+)\s", ex, re.M):
        if not re.search(r"^%s$" % code, man_ex, re.M):
            errors.append("exit status %s is not in EXIT STATUS" % code)
    for code in re.findall(r"^(\d+)$", man_ex, re.M):
        if not re.search(r"^\s+%s\s" % code, ex, re.M):
            errors.append("exit status %s of the man page is not in --help" % code)
    env = section(helptext, "Environment", "Files")
    for var in re.findall(r"^\s+([A-Z][A-Z_]+)\s", env, re.M):
        if var not in section(text, "ENVIRONMENT", "FILES"):
            errors.append("environment variable %s is not in ENVIRONMENT" % var)
    files = section(helptext, "Files", "Configuration keys")
    for path in re.findall(r"(/etc/\S+|DATA_DIR/[\w./]+)", files):
        path = path.rstrip(":,")
        if path not in section(text, "FILES", "SEE ALSO"):
            errors.append("file %s is not in FILES" % path)

    # configuration keys: "section.key =" in --help, "[section] key" in the man page
    for sec, key in re.findall(r"^  ([a-z]+)\.([a-z_]+) =", helptext, re.M):
        if not re.search(r"^\[%s\] %s$" % (sec, key), text, re.M):
            errors.append("key [%s] %s is not in CONFIGURATION" % (sec, key))

    # it renders: groff's warnings (-ww) name any request it does not understand
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", man], capture_output=True, text=True)
    if r.returncode != 0 or r.stderr.strip():
        errors.append("groff: " + r.stderr.strip())

    for e in errors:
        print("manpage: " + e, file=sys.stderr)
    if not errors:
        print("manpage: %d options, every exit status, variable, file and key of --help" % len(help_opts))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
