"""The runtime image installs exactly the Debian packages costlynxd's shared libraries come from.

`ldd $COSTLYNXD` lists every library the loader resolves (direct and indirect); `dpkg -S` maps
each file to its Debian 12 package. Every such package must be in the Dockerfile's runtime-stage
`apt-get install` list, except the three that debian:12 already has (BASE_IMAGE_PROVIDES),
and the list holds nothing else (no stale entries when a dependency goes away).

Why those three are in debian:12: the image is Debian's minbase root filesystem, i.e. every
Essential and Priority: required package with its dependencies. `apt` is Priority: required
and Depends on libc6, libgcc-s1 and libstdc++6; test_base_image_has_them checks this from the
dpkg database of this Debian 12 machine. Other libraries that happen to be in the base image
too (zlib1g, libzstd1, libbz2-1.0, liblz4-1: dependencies of dpkg/apt) are still listed in the
Dockerfile, so the image does not lean on what apt needs today.

Libraries opened with dlopen() are invisible to ldd; costlynxd opens none (h2o, RocksDB, gRPC
and OpenSSL are all linked).
"""
import os
import re
import subprocess
import unittest

import deploylib

BASE_IMAGE_PROVIDES = {"libc6", "libgcc-s1", "libstdc++6"}
# packages the runtime stage may install without a library of costlynxd in them
NON_LIBRARY_ALLOWED = {"ca-certificates", "tzdata"}


def run(*args):
    return subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def usrmerge_spellings(path):
    """The path, its symlink's target, and their usr-merged twins: Debian 12 registers some
    libraries under /lib, others under /usr/lib, and ldd prints either."""
    cands = []
    for p in (path, os.path.realpath(path)):
        cands.append(p)
        if p.startswith("/usr/lib/"):
            cands.append(p[len("/usr"):])
        elif p.startswith("/lib/") or p.startswith("/lib64/"):
            cands.append("/usr" + p)
    return list(dict.fromkeys(cands))


def dpkg_owners(paths):
    """{library path: [packages]} for the paths dpkg -S knows (one dpkg call for all)."""
    spell = {p: usrmerge_spellings(p) for p in paths}
    r = run("dpkg", "-S", *sorted({c for cs in spell.values() for c in cs}))
    owner_of = {}  # dpkg -S exits 1 when some spelling is unknown: the others are still printed
    for line in r.stdout.splitlines():
        if line.startswith("diversion ") or ": " not in line:
            continue
        owners, path = line.split(": ", 1)
        owner_of[path.strip()] = sorted({o.strip().split(":")[0] for o in owners.split(",")})
    out = {}
    for p, cs in spell.items():
        for c in cs:
            if c in owner_of:
                out[p] = owner_of[c]
                break
    return out


def ldd_libraries(binary):
    r = run("ldd", binary)
    if r.returncode != 0:
        raise AssertionError("ldd %s failed: %s%s" % (binary, r.stdout, r.stderr))
    libs, missing = [], []
    for line in r.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            name, _, target = line.partition("=>")
            target = target.strip()
            if target.startswith("not found"):
                missing.append(name.strip())
            elif target.startswith("/"):
                libs.append(target.split()[0])
            # "linux-vdso.so.1 =>  (0x...)" style: kernel-provided, no file
        elif line.startswith("/"):  # the dynamic loader itself
            libs.append(line.split()[0])
    return libs, missing


class RuntimePackagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            with open("/etc/debian_version") as f:
                debian = f.read()
        except OSError:
            debian = ""
        if not debian.startswith("12"):
            raise unittest.SkipTest("the package check maps files with this machine's dpkg: needs Debian 12")
        cls.stages = deploylib.dockerfile_stages()
        cls.runtime = cls.stages[-1]
        cls.listed = []
        for word, rest in cls.runtime["instructions"]:
            if word == "RUN":
                cls.listed += deploylib.apt_install_packages(rest)

    def test_runtime_stage_is_debian12(self):
        self.assertGreaterEqual(len(self.stages), 2, "multi-stage: build, then runtime")
        self.assertEqual(self.runtime["image"], "debian:12")
        self.assertTrue(self.listed, "no apt-get install in the runtime stage")
        self.assertEqual(len(self.listed), len(set(self.listed)), "a package is listed twice: %r" % self.listed)

    def test_base_image_has_them(self):
        # apt is in every debian:12 image (Priority: required); what it Depends on is there too
        r = run("dpkg-query", "-W", "-f=${Priority}\n${Depends}\n${Pre-Depends}", "apt")
        self.assertEqual(r.returncode, 0, r.stderr)
        prio, deps = r.stdout.split("\n", 1)
        self.assertEqual(prio, "required")
        dep_names = {d.strip().split()[0].split(":")[0] for d in re.split(r"[,|]", deps) if d.strip()}
        self.assertEqual(BASE_IMAGE_PROVIDES - dep_names, set(),
                         "not a dependency of apt, so not certainly in debian:12: list it in the Dockerfile")

    def test_every_linked_library_is_installed(self):
        self.assertTrue(os.access(deploylib.BINARY, os.X_OK), "no binary at %s" % deploylib.BINARY)
        libs, missing = ldd_libraries(deploylib.BINARY)
        self.assertEqual(missing, [], "libraries ldd cannot resolve here")
        self.assertGreater(len(libs), 5, libs)
        needed, unowned = {}, []
        owners_of = dpkg_owners(libs)
        for lib in libs:
            owners = owners_of.get(lib)
            if owners is None:
                unowned.append(lib)
                continue
            for o in owners:
                needed.setdefault(o, []).append(os.path.basename(lib))
        self.assertEqual(unowned, [], "libraries no Debian package owns (built by hand? they would be missing "
                                      "from the image)")
        for must in ("librocksdb7.8", "libh2o-evloop0.13", "libgrpc29", "libssl3", "libyajl2", "libprotobuf-c1"):
            if not any(p.startswith(must.rstrip("0123456789.")) for p in needed):
                self.fail("ldd found no package like %s: is %s costlynxd? %r" % (must, deploylib.BINARY, needed))
        lacking = sorted(p for p in needed if p not in self.listed and p not in BASE_IMAGE_PROVIDES)
        self.assertEqual(lacking, [], "the runtime stage of the Dockerfile does not install these packages, "
                         "which costlynxd links against: %s" % {p: needed[p] for p in lacking})
        extra = sorted(p for p in self.listed if p not in needed and p not in NON_LIBRARY_ALLOWED)
        self.assertEqual(extra, [], "the runtime stage installs packages costlynxd does not link against")

    def test_listed_packages_exist(self):
        # every name resolves in Debian 12's archive (a dry run: nothing is installed)
        r = run("apt-get", "install", "-s", "--no-install-recommends", *self.listed)
        self.assertEqual(r.returncode, 0, "apt-get install -s failed:\n%s%s" % (r.stdout, r.stderr))


if __name__ == "__main__":
    unittest.main()
