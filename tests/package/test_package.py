#!/usr/bin/env python3
"""tests/package/test_package.py BUILD_DIR SOURCE_DIR - the Debian package, built and run.

1. `cmake --build BUILD_DIR --target package` writes BUILD_DIR/tpclear_*.deb;
2. `dpkg-deb -c`: its files are exactly tests/package/expected-contents.txt (a line ending in
   a glob matches one or more files; every other line must be there, every file must match);
3. `dpkg-deb -I`: the conffile, the maintainer scripts, and Depends naming the Debian libraries
   the binaries link (dpkg-shlibdeps);
4. `dpkg -x` into a scratch root (never the real /): the packaged tpcleard is started as the
   unit starts it (ExecStart, an unprivileged user when run as root, UMask) against the
   packaged /etc/tpclear/tpcleard.ini, with a second --config file over it that moves what
   cannot be shared with the machine: the data directory (into the scratch root) and the
   ports (free ones). It must send READY=1 to a NOTIFY_SOCKET, warn about the sample payer
   accounts, take reference data and a sending from the packaged tpclear, and stop with 0 on
   SIGTERM.
Exits 1 with what failed."""
import fnmatch
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def fail(msg):
    print("package: " + msg, file=sys.stderr)
    sys.exit(1)


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def build(build_dir):
    for old in glob.glob(os.path.join(build_dir, "tpclear_*.deb")):
        os.unlink(old)
    run("cmake", "--build", build_dir, "--target", "package")
    debs = glob.glob(os.path.join(build_dir, "tpclear_*.deb"))
    if len(debs) != 1:
        fail("expected one tpclear_*.deb in %s, found %s" % (build_dir, debs))
    return debs[0]


def check_contents(deb, expected_file):
    files = []
    for line in run("dpkg-deb", "-c", deb).splitlines():
        if line.startswith("d"):
            continue  # directories: implied by the files
        path = line.split()[5].lstrip(".")
        files.append(path)
    want = [l.strip() for l in open(expected_file) if l.strip() and not l.startswith("#")]
    errors = []
    for w in want:
        if not any(fnmatch.fnmatchcase(f, w) for f in files):
            errors.append("missing from the package: " + w)
    for f in files:
        if not any(fnmatch.fnmatchcase(f, w) for w in want):
            errors.append("not in expected-contents.txt: " + f)
    if errors:
        fail("\n".join(errors))
    return files


def check_info(deb):
    info = run("dpkg-deb", "-I", deb)
    depends = run("dpkg-deb", "-f", deb, "Depends")
    for lib in ("libzmq5", "liblmdb0", "libevent", "libsodium23", "libjansson4", "libsystemd0",
                "libxml2", "libinih1", "libprotobuf-c1", "adduser"):
        if lib not in depends:
            fail("Depends lacks %s: %s" % (lib, depends))
    for script in ("conffiles", "postinst", "prerm", "postrm"):
        if not re.search(r"^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+%s\b" % script, info, re.M):
            fail("control member %s missing:\n%s" % (script, info))
    tmp = tempfile.mkdtemp()
    try:
        run("dpkg-deb", "-e", deb, tmp)
        if open(os.path.join(tmp, "conffiles")).read().split() != ["/etc/tpclear/tpcleard.ini"]:
            fail("conffiles must list /etc/tpclear/tpcleard.ini")
    finally:
        shutil.rmtree(tmp)


def unit_settings(root):
    unit = open(os.path.join(root, "lib/systemd/system/tpcleard.service")).read()
    s = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    if s.get("Type") != "notify" or "WatchdogSec" not in s or s.get("User") != "tpclear":
        fail("unit: Type=notify, WatchdogSec and User=tpclear expected")
    exe = s["ExecStart"].split()
    if not os.access(os.path.join(root, exe[0].lstrip("/")), os.X_OK):
        fail("unit ExecStart %s is not in the package" % exe[0])
    return s, exe


def start_packaged(root, scratch, settings, exe):
    data = os.path.join(scratch, "var/lib/tpclear")
    override = os.path.join(scratch, "override.ini")
    etc = os.path.join(root, "etc/tpclear/tpcleard.ini")
    ini = open(etc).read()
    if "\ndata_dir = /var/lib/tpclear\n" not in ini:
        fail("the packaged configuration must set data_dir = /var/lib/tpclear")
    with open(override, "w") as f:
        f.write("[ledger]\ndata_dir = %s\n[intake]\nendpoint = tcp://127.0.0.1:*\n"
                "[http]\nlisten = 127.0.0.1:0\n[engine]\nworkers = 2\n" % data)
    os.makedirs(data)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(scratch, "notify"))
    os.chmod(os.path.join(scratch, "notify"), 0o777)  # as systemd's: the service is not root
    notify.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=os.path.join(scratch, "notify"))
    env.pop("LD_PRELOAD", None)
    cmd = [os.path.join(root, exe[0].lstrip("/"))] + exe[1:] + ["--config", etc, "--config", override]
    umask = int(settings.get("UMask", "0022"), 8)
    pre = None
    if os.getuid() == 0:
        # as the unit runs it: not root. nobody stands in for the tpclear user
        for p in (scratch, os.path.join(scratch, "var"), os.path.join(scratch, "var/lib"), data):
            os.chown(p, 65534, 65534)
        os.chmod(scratch, 0o755)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    log = open(os.path.join(scratch, "tpcleard.log"), "w")
    proc = subprocess.Popen(cmd, stderr=log, env=env, preexec_fn=lambda: os.umask(umask))
    try:
        msg = notify.recv(4096).decode()
    except socket.timeout:
        proc.kill()
        fail("no READY=1 within 30 s; log:\n" + open(log.name).read())
    if "READY=1" not in msg:
        fail("first notification is not READY=1: %r" % msg)
    eps = dict(l.split("=", 1) for l in open(os.path.join(data, "tpcleard.endpoints")).read().split())
    return proc, eps["intake"], log.name


def main():
    build_dir, src = sys.argv[1], sys.argv[2]
    deb = build(build_dir)
    check_contents(deb, os.path.join(src, "tests/package/expected-contents.txt"))
    check_info(deb)
    scratch = tempfile.mkdtemp(prefix="tpc-pkg-")
    root = os.path.join(scratch, "root")
    try:
        run("dpkg", "-x", deb, root)
        settings, exe = unit_settings(root)
        proc, intake, logname = start_packaged(root, scratch, settings, exe)
        env = dict(os.environ, TPCLEAR_ENDPOINT=intake)
        cli = os.path.join(root, "usr/bin/tpclear")
        for kind in ("providers", "members", "tariffs", "agreements"):
            run(cli, "load", kind, os.path.join(src, "config/refdata/%s.csv" % kind), env=env)
        out = run(cli, "submit", os.path.join(src, "config/samples/sample-gp.920000"), env=env)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        log = open(logname).read()
        if rc != 0:
            fail("tpcleard exited %d on SIGTERM; log:\n%s" % (rc, log))
        if "PAYMENT WARNING: budget AMI pays from the SAMPLE account" not in log:
            fail("the packaged configuration's sample accounts must be warned about:\n" + log)
        if "configuration: " + os.path.join(scratch, "override.ini") not in log:
            fail("the configuration files read are not logged:\n" + log)
        print("package: %s: contents, control, Depends; packaged tpcleard READY, took a "
              "sending (%s), stopped 0" % (os.path.basename(deb), out.strip().splitlines()[0]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
