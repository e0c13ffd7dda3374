"""The Helm chart: lint, render, check the rendered objects, and run costlynxd as the pod would.

Helm comes from scripts/helm.sh. Rendered YAML is parsed with PyYAML (Debian's python3-yaml).
Renders: default values, tests/deploy/values-all-on.yaml (every optional feature on), and a
few --set variants. Every rendered object is checked against the fields Kubernetes requires of
its kind and against the other objects it names (Service → pod labels and port names,
StatefulSet → ConfigMaps/Secret/volumes, Ingress → Service port, ...). Then costlynxd is started
with exactly the environment the pod would get (ConfigMap + Secret + catalog file), in a folder
laid out like a fresh volume (root-owned, group 10001, with lost+found), as uid 10001 when this
runs as root, and the rendered probes are sent to it.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

import deploylib

ALL_ON = os.path.join(deploylib.HERE, "values-all-on.yaml")
RELEASE, NAMESPACE = "rel", "costlynx-test"
KNOWN_KINDS = {"StatefulSet", "Service", "ConfigMap", "Secret", "ServiceAccount", "PodDisruptionBudget",
               "Ingress", "ServiceMonitor", "CronJob", "Deployment"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def render(*args):
    _, out, _ = deploylib.helm("template", RELEASE, deploylib.CHART, "--namespace", NAMESPACE, *args)
    return [d for d in yaml.safe_load_all(out) if d is not None]


def render_fails(*args):
    rc, out, err = deploylib.helm("template", RELEASE, deploylib.CHART, "--namespace", NAMESPACE, *args,
                                  check=False)
    return rc != 0, err


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def one(docs, kind):
    objs = by_kind(docs, kind)
    assert len(objs) == 1, "%d %s objects rendered" % (len(objs), kind)
    return objs[0]


def named(docs, kind, name):
    for d in by_kind(docs, kind):
        if d["metadata"]["name"] == name:
            return d
    return None


def get(obj, path, default=None):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return default
        obj = obj[part]
    return obj


class Pod:
    """The one container of the StatefulSet's pod template, with its environment resolved."""

    def __init__(self, docs):
        self.docs = docs
        self.sts = one(docs, "StatefulSet")
        self.spec = self.sts["spec"]["template"]["spec"]
        assert len(self.spec["containers"]) == 1
        self.c = self.spec["containers"][0]
        self.ports = {p["name"]: p["containerPort"] for p in self.c["ports"]}

    def env(self):
        """{name: value} as the kubelet would set it; a missing ConfigMap or Secret raises."""
        env = {}
        for src in self.c.get("envFrom", []):
            cm = named(self.docs, "ConfigMap", src["configMapRef"]["name"])
            assert cm is not None, "envFrom names a ConfigMap that is not rendered: %r" % src
            env.update(cm["data"])
        for e in self.c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                sec = named(self.docs, "Secret", ref["name"])
                assert sec is not None, "secretKeyRef names a Secret that is not rendered: %r" % ref
                assert ref["key"] in sec["data"], "Secret %s has no key %s" % (ref["name"], ref["key"])
                env[e["name"]] = base64.b64decode(sec["data"][ref["key"]]).decode()
        return env

    def static_env(self):
        """The ConfigMap part only (works with an existing Secret too)."""
        env = {}
        for src in self.c.get("envFrom", []):
            env.update(named(self.docs, "ConfigMap", src["configMapRef"]["name"])["data"])
        return env

    def mount(self, volume):
        ms = [m for m in self.c.get("volumeMounts", []) if m["name"] == volume]
        return ms[0] if ms else None

    def probe_port(self, probe):
        """The numeric container port a probe targets (a port name resolved)."""
        p = self.c[probe]
        port = (p.get("httpGet") or p.get("grpc") or p.get("tcpSocket"))["port"]
        return self.ports[port] if isinstance(port, str) else port


def check_objects(tc, docs):
    """Fields Kubernetes requires, and references between the rendered objects."""
    seen = set()
    for d in docs:
        tc.assertIsInstance(d.get("apiVersion"), str, d)
        tc.assertIsInstance(d.get("kind"), str, d)
        name = get(d, "metadata.name")
        tc.assertIsInstance(name, str, d)
        tc.assertRegex(name, DNS_SUBDOMAIN)
        tc.assertNotIn((d["kind"], name), seen, "rendered twice")
        seen.add((d["kind"], name))
        tc.assertIn(d["kind"], KNOWN_KINDS, "a new kind: teach check_objects its required fields")
        for k, v in (get(d, "metadata.labels") or {}).items():
            tc.assertIsInstance(v, str, "label %s of %s" % (k, name))
            tc.assertLessEqual(len(v), 63)
    pod = Pod(docs)
    sts, spec = pod.sts, pod.spec
    tc.assertEqual(sts["apiVersion"], "apps/v1")
    match = sts["spec"]["selector"]["matchLabels"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    tc.assertTrue(match)
    tc.assertLessEqual(match.items(), pod_labels.items(), "selector must match the pod template")
    tc.assertIsInstance(sts["spec"]["replicas"], int)
    gov = named(docs, "Service", sts["spec"]["serviceName"])
    tc.assertIsNotNone(gov, "serviceName names no rendered Service")
    tc.assertEqual(gov["spec"].get("clusterIP"), "None", "the governing Service must be headless")
    for c in spec["containers"]:
        tc.assertTrue(c.get("name") and c.get("image"), c)
        tc.assertTrue(all(isinstance(p["containerPort"], int) for p in c["ports"]))
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = {get(t, "metadata.name"): t for t in sts["spec"].get("volumeClaimTemplates", [])}
    for t in claims.values():
        tc.assertTrue(t["spec"]["accessModes"])
        tc.assertRegex(str(t["spec"]["resources"]["requests"]["storage"]), r"^[0-9]+(\.[0-9]+)?[KMGTPE]?i?$")
    for m in pod.c.get("volumeMounts", []):
        tc.assertTrue(m["name"] in volumes or m["name"] in claims, "mount of an unknown volume %r" % m)
        tc.assertTrue(m["mountPath"].startswith("/"))
    for v in volumes.values():
        if "configMap" in v:
            cm = named(docs, "ConfigMap", v["configMap"]["name"])
            if cm is not None:  # else an existing ConfigMap the user made
                for item in v["configMap"].get("items", []):
                    tc.assertIn(item["key"], cm["data"])
    sa = spec.get("serviceAccountName")
    if sa and sa != "default":
        tc.assertIsNotNone(named(docs, "ServiceAccount", sa), "serviceAccountName names no rendered ServiceAccount")
    for svc in by_kind(docs, "Service"):
        tc.assertEqual(svc["apiVersion"], "v1")
        tc.assertTrue(svc["spec"]["ports"])
        tc.assertLessEqual(svc["spec"]["selector"].items(), pod_labels.items(), "Service selects no pod")
        tc.assertRegex(svc["metadata"]["name"], DNS_LABEL)
        for p in svc["spec"]["ports"]:
            tc.assertIsInstance(p["port"], int)
            tc.assertIn(p["targetPort"], pod.ports, "targetPort is no container port name")
    for cm in by_kind(docs, "ConfigMap"):
        tc.assertTrue(all(isinstance(v, str) for v in cm["data"].values()), cm["metadata"]["name"])
    for sec in by_kind(docs, "Secret"):
        for k, v in sec.get("data", {}).items():
            base64.b64decode(v, validate=True)
    for pdb in by_kind(docs, "PodDisruptionBudget"):
        tc.assertEqual(pdb["apiVersion"], "policy/v1")
        tc.assertEqual(pdb["spec"]["selector"]["matchLabels"], match)
        tc.assertEqual(len({"minAvailable", "maxUnavailable"} & pdb["spec"].keys()), 1)
    for ing in by_kind(docs, "Ingress"):
        tc.assertEqual(ing["apiVersion"], "networking.k8s.io/v1")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                tc.assertIn(path["pathType"], ("Prefix", "Exact", "ImplementationSpecific"))
                be = path["backend"]["service"]
                svc = named(docs, "Service", be["name"])
                tc.assertIsNotNone(svc, "Ingress backend names no rendered Service")
                tc.assertIn(be["port"]["name"], [p["name"] for p in svc["spec"]["ports"]])
    for cj in by_kind(docs, "CronJob"):
        tc.assertEqual(cj["apiVersion"], "batch/v1")
        tc.assertEqual(len(cj["spec"]["schedule"].split()), 5, "a five-field cron schedule")
        tc.assertEqual(cj["spec"]["concurrencyPolicy"], "Forbid")
        jspec = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        tc.assertIn(jspec["restartPolicy"], ("Never", "OnFailure"))
        tc.assertIs(jspec["automountServiceAccountToken"], False)
        (c,) = jspec["containers"]
        tc.assertEqual(c["image"], pod.c["image"], "the CronJob runs the same image (its costlynxd ctl)")
        tc.assertEqual(jspec["securityContext"], spec["securityContext"])
        tc.assertEqual(c["securityContext"], pod.c["securityContext"])
        env = {e["name"]: e for e in c["env"]}
        ref = env["COSTLYNX_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]
        pod_ref = [e for e in pod.c["env"] if e["name"] == "COSTLYNX_ADMIN_TOKEN"][0]["valueFrom"]["secretKeyRef"]
        tc.assertEqual(ref, pod_ref, "the CronJob uses the pods' admin token")
        # one target per replica, each through the governing (headless) Service on the HTTP port
        targets = env["COSTLYNX_BACKUP_TARGETS"]["value"].split()
        tc.assertEqual(len(targets), sts["spec"]["replicas"])
        for i, url in enumerate(targets):
            tc.assertEqual(url, "http://%s-%d.%s.%s.svc:%d" % (sts["metadata"]["name"], i, gov["metadata"]["name"],
                                                                NAMESPACE, pod.ports["http"]))
    for sm in by_kind(docs, "ServiceMonitor"):
        sel = sm["spec"]["selector"]["matchLabels"]
        targets = [s for s in by_kind(docs, "Service") if sel.items() <= s["metadata"]["labels"].items()]
        tc.assertEqual(len(targets), 1, "the ServiceMonitor must select exactly the API Service")
        for ep in sm["spec"]["endpoints"]:
            tc.assertIn(ep["port"], [p["name"] for p in targets[0]["spec"]["ports"]])


def check_pod_contract(tc, docs):
    """What costlynxd needs of the pod: data dir on the volume, probes on its real ports, the
    admin token from the Secret, the security context, and time to shut down."""
    pod = Pod(docs)
    env = pod.static_env()
    # the per-replica volume is mounted where COSTLYNX_DATA_DIR points; with backups, a second
    # one where COSTLYNX_BACKUP_DIR points, and no backup folder without one
    claims = [get(t, "metadata.name") for t in pod.sts["spec"]["volumeClaimTemplates"]]
    backups = env.get("COSTLYNX_BACKUP_DIR", "")
    tc.assertEqual(claims, ["data", "backups"] if backups else ["data"])
    tc.assertEqual(pod.mount("data")["mountPath"], env["COSTLYNX_DATA_DIR"])
    tc.assertFalse(pod.mount("data").get("readOnly", False))
    if backups:
        tc.assertEqual(pod.mount("backups")["mountPath"], backups)
        tc.assertFalse(pod.mount("backups").get("readOnly", False))
        tc.assertFalse(backups.startswith(env["COSTLYNX_DATA_DIR"].rstrip("/") + "/"))
    tc.assertEqual(bool(by_kind(docs, "CronJob")), bool(backups), "the backup CronJob comes with the backup volume")
    # container ports are the ports the binary listens on
    http_port = deploylib.addr_port(env["COSTLYNX_HTTP_ADDR"])
    grpc_port = deploylib.addr_port(env["COSTLYNX_GRPC_ADDR"])
    tc.assertTrue(env["COSTLYNX_HTTP_ADDR"].startswith("0.0.0.0:"), "listen on the pod IP, not loopback")
    tc.assertTrue(env["COSTLYNX_GRPC_ADDR"].startswith("0.0.0.0:"))
    tc.assertEqual(pod.ports, {"http": http_port, "grpc": grpc_port})
    # probes: paths the binary serves, on the port it serves them on
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        if probe not in pod.c:
            tc.assertNotEqual(probe, "livenessProbe")
            tc.assertNotEqual(probe, "readinessProbe")
            continue
        p = pod.c[probe]
        if "httpGet" in p:
            tc.assertEqual(p["httpGet"]["path"], path)
            tc.assertEqual(pod.probe_port(probe), http_port)
        else:
            tc.assertEqual(p["grpc"].get("service", ""), "")
            tc.assertEqual(pod.probe_port(probe), grpc_port)
    # the admin token comes from the Secret
    tok = [e for e in pod.c["env"] if e["name"] == "COSTLYNX_ADMIN_TOKEN"]
    tc.assertEqual(len(tok), 1)
    tc.assertIn("secretKeyRef", tok[0]["valueFrom"])
    # security context
    psc, csc = pod.spec["securityContext"], pod.c["securityContext"]
    tc.assertIs(psc["runAsNonRoot"], True)
    tc.assertEqual(psc["runAsUser"], 10001)
    tc.assertEqual(psc["fsGroup"], 10001, "the volume must be writable to uid 10001")
    tc.assertEqual(psc["seccompProfile"]["type"], "RuntimeDefault")
    tc.assertIs(csc["runAsNonRoot"], True)
    tc.assertEqual(csc["runAsUser"], 10001)
    tc.assertIs(csc["readOnlyRootFilesystem"], True)
    tc.assertIs(csc["allowPrivilegeEscalation"], False)
    tc.assertEqual(csc["capabilities"]["drop"], ["ALL"])
    tc.assertFalse(csc["capabilities"].get("add"))
    tc.assertEqual(csc["seccompProfile"]["type"], "RuntimeDefault")
    tc.assertIs(pod.spec["automountServiceAccountToken"], False)
    # SIGTERM → preStop sleep + the binary's grace must end before the kubelet's SIGKILL
    pre = pod.c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[-1]) if pre else 0
    if pre:
        tc.assertEqual(pre[0], "/bin/sleep")
    tc.assertGreater(pod.spec["terminationGracePeriodSeconds"] * 1000,
                     int(env["COSTLYNX_SHUTDOWN_GRACE_MS"]) + pre_s * 1000)
    # every COSTLYNX_* variable is one the binary knows (a typo would be silently ignored)
    known = set(re.findall(r"COSTLYNX_[A-Z_]+", subprocess.run([deploylib.BINARY, "--help"],
                           stdout=subprocess.PIPE, text=True, timeout=10).stdout))
    tc.assertIn("COSTLYNX_DATA_DIR", known)
    tc.assertEqual({k for k in list(env) + [e["name"] for e in pod.c["env"]] if k.startswith("COSTLYNX_")} - known,
                   set())
    # the Services carry named ports with their application protocol
    svc = named(docs, "Service", pod.sts["metadata"]["name"])
    tc.assertEqual({p["name"]: p.get("appProtocol") for p in svc["spec"]["ports"]}, {"http": "http", "grpc": "grpc"})


class ChartTest(unittest.TestCase):
    def test_lint_strict(self):
        for extra in ([], ["-f", ALL_ON]):
            rc, out, err = deploylib.helm("lint", "--strict", deploylib.CHART, *extra, check=False)
            self.assertEqual(rc, 0, out + err)
            self.assertIn("0 chart(s) failed", out)

    def test_default_values(self):
        docs = render()
        check_objects(self, docs)
        check_pod_contract(self, docs)
        kinds = sorted(d["kind"] for d in docs)
        self.assertEqual(kinds, ["ConfigMap", "PodDisruptionBudget", "Secret", "Service", "Service",
                                 "ServiceAccount", "StatefulSet"])
        pod = Pod(docs)
        self.assertEqual(pod.sts["spec"]["replicas"], 1)
        self.assertEqual(pod.static_env()["COSTLYNX_DATA_DIR"], "/var/lib/costlynx")  # the image's VOLUME
        self.assertEqual(pod.ports, {"http": 8080, "grpc": 50051})  # the image's EXPOSE
        self.assertEqual(pod.static_env()["COSTLYNX_CATALOG"], "")
        self.assertEqual(pod.static_env()["COSTLYNX_BACKUP_DIR"], "")  # backups off by default
        self.assertEqual(pod.static_env()["COSTLYNX_DISK_RESERVE"], "1GiB")
        self.assertEqual(one(docs, "PodDisruptionBudget")["spec"], {
            "maxUnavailable": 1, "selector": pod.sts["spec"]["selector"]})
        token = pod.env()["COSTLYNX_ADMIN_TOKEN"]
        self.assertRegex(token, r"^[A-Za-z0-9]{40}$", "a generated token")

    def test_every_option_on(self):
        docs = render("-f", ALL_ON)
        check_objects(self, docs)
        check_pod_contract(self, docs)
        for kind in ("Ingress", "ServiceMonitor"):
            one(docs, kind)
        pod = Pod(docs)
        env = pod.env()
        self.assertEqual(env["COSTLYNX_ADMIN_TOKEN"], "test-admin-token-all-on")
        self.assertEqual(pod.sts["spec"]["replicas"], 2)
        self.assertIn("grpc", pod.c["livenessProbe"])
        # the catalog override: a mounted file that COSTLYNX_CATALOG names
        m = pod.mount("catalog")
        self.assertTrue(m["readOnly"])
        self.assertEqual(env["COSTLYNX_CATALOG"], m["mountPath"] + "/prices.csv")
        cm = named(docs, "ConfigMap", [v for v in pod.spec["volumes"] if v["name"] == "catalog"][0]
                   ["configMap"]["name"])
        self.assertTrue(cm["data"]["prices.csv"].startswith("# a two-line override catalog"))
        self.assertEqual(one(docs, "PodDisruptionBudget")["spec"]["minAvailable"], 1)
        self.assertEqual(one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["port"], "http")
        # backups: the volume, the variables, the CronJob
        self.assertEqual(env["COSTLYNX_BACKUP_DIR"], "/data/costlynx-backups")
        self.assertEqual(env["COSTLYNX_BACKUP_KEEP"], "3")
        claim = [t for t in pod.sts["spec"]["volumeClaimTemplates"] if t["metadata"]["name"] == "backups"][0]
        self.assertEqual(claim["spec"]["resources"]["requests"]["storage"], "50Gi")
        self.assertEqual(claim["spec"]["storageClassName"], "cheap-hdd")
        cj = one(docs, "CronJob")
        self.assertEqual((cj["spec"]["schedule"], cj["spec"]["timeZone"]), ("*/30 * * * *", "Europe/Berlin"))
        self.assertEqual(cj["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"], 1800)
        self.assertEqual(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["imagePullSecrets"],
                         [{"name": "regcred"}])

    def test_existing_secret(self):
        docs = render("--set", "adminToken.existingSecret=my-token", "--set", "adminToken.secretKey=token")
        self.assertEqual(by_kind(docs, "Secret"), [])
        ref = [e for e in Pod(docs).c["env"] if e["name"] == "COSTLYNX_ADMIN_TOKEN"][0]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref, {"name": "my-token", "key": "token"})

    def test_chart_secret_matches_secret_key_ref(self):
        docs = render("--set", "adminToken.value=s3cret", "--set", "adminToken.secretKey=tok")
        sec = one(docs, "Secret")
        ref = [e for e in Pod(docs).c["env"] if e["name"] == "COSTLYNX_ADMIN_TOKEN"][0]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref, {"name": sec["metadata"]["name"], "key": "tok"})
        self.assertEqual(base64.b64decode(sec["data"]["tok"]), b"s3cret")

    def test_grpc_probes_alone(self):
        docs = render("--set", "probes.type=grpc", "--set", "config.grpcPort=6000")
        check_objects(self, docs)
        check_pod_contract(self, docs)
        self.assertEqual(Pod(docs).c["readinessProbe"]["grpc"]["port"], 6000)

    def test_values_schema_rejects_mistakes(self):
        for bad in (["--set", "replicaCount=two"], ["--set", "config.typo=1"], ["--set", "config.logLevel=loud"],
                    ["--set", "config.httpPort=70000"], ["--set", "probes.type=tcp"],
                    ["--set", "persistence.size=lots"], ["--set", "unknownTopLevel=1"],
                    ["--set", "backup.keep=-1"], ["--set", "backup.dir=relative/path"], ["--set", "backup.typo=1"],
                    ["--set", "config.diskReserve=lots"]):
            failed, err = render_fails(*bad)
            self.assertTrue(failed, "rendered with %r" % bad)
            self.assertIn("schema", err, err)

    def test_template_guards(self):
        for bad, msg in ((["--set", "terminationGracePeriodSeconds=10"], "terminationGracePeriodSeconds"),
                         (["--set", "catalog.enabled=true"], "catalog.csv"),
                         (["--set", "adminToken.value=a", "--set", "adminToken.existingSecret=b"], "not both"),
                         (["--set", "config.grpcPort=8080"], "must differ"),
                         (["--set", "backup.enabled=true", "--set", "backup.dir=/var/lib/costlynx/backups"],
                          "backup.dir must be outside config.dataDir"),
                         (["--set", "backup.enabled=true", "--set", "backup.dir=/var/lib/costlynx/"],
                          "backup.dir must be outside config.dataDir")):
            failed, err = render_fails(*bad)
            self.assertTrue(failed, "rendered with %r" % bad)
            self.assertIn(msg, err)


class NotesTest(unittest.TestCase):
    """The chart's NOTES (printed by helm install) send the first event: run them for real,
    with `kubectl exec <pod> --` replaced by running costlynxd here and the port-forward by
    the local port."""

    def test_notes_send_the_first_event(self):
        _, out, _ = deploylib.helm("install", RELEASE, deploylib.CHART, "--namespace", NAMESPACE,
                                   "--dry-run=client")
        notes = out[out.index("NOTES:"):]
        steps = notes[notes.index("2. Create"):notes.index("The admin token")]
        exec_prefix = "kubectl -n %s exec %s-costlynx-0 -- " % (NAMESPACE, RELEASE)
        self.assertIn(exec_prefix + "costlynxd ctl key-create", steps)
        script = []
        for line in steps.splitlines():
            if not line.startswith("  ") or "port-forward" in line or "COSTLYNX_BASE_URL=" in line:
                continue
            if line.strip().startswith("#"):
                continue
            script.append(line.replace(exec_prefix, ""))
        srv = deploylib.Server()
        bindir = tempfile.mkdtemp(prefix="clx-notes-")
        try:
            srv.start()
            os.symlink(os.path.abspath(deploylib.BINARY), os.path.join(bindir, "costlynxd"))
            env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
            env.update(PATH=bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
                       COSTLYNX_HTTP_ADDR="0.0.0.0:%d" % srv.port,  # as in the pod
                       COSTLYNX_ADMIN_TOKEN=srv.admin_token,
                       COSTLYNX_BASE_URL="http://127.0.0.1:%d" % srv.port)
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(script)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, "NOTES commands failed:\n%s\n%s\n%s" % ("\n".join(script),
                                                                                      p.stdout, p.stderr))
            self.assertIn('{"ok":true,"inserted":1,"skipped":0}', p.stdout)
            self.assertIn('"costUsd":"0.0003195"', p.stdout)
            self.assertIn('"project":"customer-support"', p.stdout)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.cleanup()
            shutil.rmtree(bindir, ignore_errors=True)


class ChartDocsTest(unittest.TestCase):
    def test_readme_lists_every_value(self):
        with open(os.path.join(deploylib.CHART, "values.yaml")) as f:
            values = yaml.safe_load(f)
        with open(os.path.join(deploylib.CHART, "README.md")) as f:
            readme = f.read()
        whole = {"resources", "podSecurityContext", "securityContext",  # documented as one value each
                 "cells.router.resources"}

        def leaves(d, prefix=""):
            for k, v in d.items():
                key = prefix + k
                if isinstance(v, dict) and v and key not in whole:
                    yield from leaves(v, key + ".")
                else:
                    yield key

        missing = [k for k in leaves(values) if "| `%s` |" % k not in readme]
        self.assertEqual(missing, [], "values missing from the chart README's table")
        with open(os.path.join(deploylib.CHART, "values.schema.json")) as f:
            schema = json.load(f)
        self.assertEqual(set(values) - set(schema["properties"]), set(), "values without a schema")


class RenderedPodRunsTest(unittest.TestCase):
    """costlynxd started with the pod's rendered environment answers the pod's rendered probes."""

    def run_pod(self, docs):
        pod = Pod(docs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
        env.update(pod.env())
        root = tempfile.mkdtemp(prefix="clx-pod-")
        os.chmod(root, 0o755)
        try:
            # the mounted files: catalog ConfigMap items under their mountPath, re-rooted here
            for v in pod.spec.get("volumes", []):
                if "configMap" not in v:
                    continue
                cm = named(docs, "ConfigMap", v["configMap"]["name"])
                mnt = pod.mount(v["name"])["mountPath"]
                d = os.path.join(root, mnt.lstrip("/"))
                os.makedirs(d, exist_ok=True)
                for item in v["configMap"]["items"]:
                    with open(os.path.join(d, item["path"]), "w") as f:
                        f.write(cm["data"][item["key"]])
                if env.get("COSTLYNX_CATALOG", "").startswith(mnt + "/"):
                    env["COSTLYNX_CATALOG"] = os.path.join(root, env["COSTLYNX_CATALOG"].lstrip("/"))
                os.chmod(d, 0o755)
            # fresh volumes: root-owned mount point, group fsGroup, setgid, with lost+found
            data = os.path.join(root, env["COSTLYNX_DATA_DIR"].lstrip("/"))
            volumes = [data]
            backups = None
            if env.get("COSTLYNX_BACKUP_DIR"):
                backups = os.path.join(root, env["COSTLYNX_BACKUP_DIR"].lstrip("/"))
                volumes.append(backups)
            for vol in volumes:
                os.makedirs(os.path.join(vol, "lost+found"))
                os.chmod(os.path.join(vol, "lost+found"), 0o700)
            prefix = []
            if os.geteuid() == 0 and shutil.which("setpriv"):
                # the user, group and fsGroup the kubelet would give the container; the volume's
                # root is group-owned by fsGroup (setgid), or stays root's without one
                psc, csc = pod.spec.get("securityContext", {}), pod.c.get("securityContext", {})
                uid = csc.get("runAsUser", psc.get("runAsUser"))
                gid = csc.get("runAsGroup", psc.get("runAsGroup", uid))
                fsg = psc.get("fsGroup")
                self.assertIsNotNone(uid)
                for vol in volumes:
                    d = vol
                    while d != root:  # the folders above the volume: traversable, as in the image
                        os.chmod(d, 0o755)
                        d = os.path.dirname(d)
                    os.chown(vol, 0, fsg if fsg is not None else 0)
                    os.chmod(vol, 0o2775 if fsg is not None else 0o755)
                groups = ["--groups", str(fsg)] if fsg is not None else ["--clear-groups"]
                prefix = ["setpriv", "--reuid", str(uid), "--regid", str(gid)] + groups
            env["COSTLYNX_DATA_DIR"] = data
            if backups is not None:
                env["COSTLYNX_BACKUP_DIR"] = backups
            # a copy of the binary where uid 10001 can run it (the build tree may be under /root)
            binary = os.path.join(root, "usr/local/bin/costlynxd")
            os.makedirs(os.path.dirname(binary))
            shutil.copy(deploylib.BINARY, binary)
            os.chmod(binary, 0o755)
            for d in ("usr", "usr/local", "usr/local/bin"):
                os.chmod(os.path.join(root, d), 0o755)
            srv = deploylib.Server(env=env, admin_token=env["COSTLYNX_ADMIN_TOKEN"], prefix=prefix, binary=binary)
            try:
                srv.start()
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    p = pod.c.get(probe)
                    if p is None:
                        continue
                    if "httpGet" in p:
                        st, _, raw = srv.request("GET", p["httpGet"]["path"])
                        self.assertEqual(st, 200, "%s %s: %s" % (probe, p["httpGet"]["path"], raw))
                    else:
                        status = deploylib.grpc_health_check(srv.grpc_port, p["grpc"].get("service", ""))
                        if status is None:
                            self.skipTest("python3-grpcio missing: cannot send the gRPC probe")
                        self.assertEqual(status, 1, "%s: grpc.health.v1 status %r, want SERVING" % (probe, status))
                # the admin token from the Secret opens the admin API
                st, js = srv.admin("GET", "/workspaces")
                self.assertEqual(st, 200, js)
                if prefix:
                    self.assertTrue(os.path.exists(os.path.join(data, "CURRENT")), os.listdir(data))
                    self.assertEqual(os.stat(os.path.join(data, "CURRENT")).st_uid, uid)
                if backups is not None:
                    self.run_backup_cronjob(docs, srv, backups, uid if prefix else None)
                self.assertEqual(srv.stop(), 0, srv.stderr())
                return srv.stderr()
            finally:
                srv.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def run_backup_cronjob(self, docs, srv, backups, uid):
        """The CronJob's rendered command, with its targets pointed at this server, makes a backup
        in the pod's backup volume."""
        c = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["command"], ["/bin/sh", "-c"])
        bindir = tempfile.mkdtemp(prefix="clx-cron-")
        try:
            os.symlink(os.path.abspath(deploylib.BINARY), os.path.join(bindir, "costlynxd"))
            env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
            env.update(PATH=bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin"),
                       COSTLYNX_ADMIN_TOKEN=srv.admin_token,
                       COSTLYNX_BACKUP_TARGETS="http://127.0.0.1:%d" % srv.port)
            p = subprocess.run(["/bin/sh", "-c", c["args"][0]], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            info = json.loads(p.stdout.splitlines()[1])
            self.assertEqual(os.path.dirname(info["path"]), os.path.realpath(backups))
            self.assertTrue(os.path.isfile(os.path.join(info["path"], "CURRENT")))
            if uid is not None:
                self.assertEqual(os.stat(os.path.join(info["path"], "CURRENT")).st_uid, uid)
            # a target that does not answer fails the Job
            env["COSTLYNX_BACKUP_TARGETS"] += " http://127.0.0.1:1"
            p = subprocess.run(["/bin/sh", "-c", c["args"][0]], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=120)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("backup of http://127.0.0.1:1 FAILED", p.stderr)
        finally:
            shutil.rmtree(bindir, ignore_errors=True)

    def test_default_pod(self):
        log = self.run_pod(render("--set", "adminToken.value=pod-test-token"))
        self.assertIn("catalog built in", log)

    def test_all_on_pod(self):
        log = self.run_pod(render("-f", ALL_ON))
        self.assertRegex(log, r"catalog /\S+/etc/costlynx/catalog/prices\.csv: 2 prices")
        # the export is configured (its ClickHouse is unreachable here: the pod is ready anyway)
        self.assertIn("[export] exporting to http://clickhouse.analytics.example:8123/finops.llm_usage from seq 0", log)
        self.assertNotIn("ch-password-all-on", log)


class ClickHouseValuesTest(unittest.TestCase):
    """The export's settings: the ConfigMap carries all but the password, which a Secret holds."""

    def test_password_from_the_charts_secret(self):
        docs = render("-f", ALL_ON)
        pod = Pod(docs)
        env = pod.env()
        self.assertEqual(env["COSTLYNX_CLICKHOUSE_URL"], "http://clickhouse.analytics.example:8123/?insert_distributed_sync=1")
        self.assertEqual((env["COSTLYNX_CLICKHOUSE_DATABASE"], env["COSTLYNX_CLICKHOUSE_TABLE"]), ("finops", "llm_usage"))
        self.assertEqual((env["COSTLYNX_CLICKHOUSE_BATCH_ROWS"], env["COSTLYNX_CLICKHOUSE_INTERVAL_MS"]), ("20000", "500"))
        self.assertEqual(env["COSTLYNX_CLICKHOUSE_PASSWORD"], "ch-password-all-on")
        self.assertNotIn("COSTLYNX_CLICKHOUSE_PASSWORD", pod.static_env(), "the password must not sit in a ConfigMap")
        ref = [e for e in pod.c["env"] if e["name"] == "COSTLYNX_CLICKHOUSE_PASSWORD"][0]["valueFrom"]["secretKeyRef"]
        self.assertEqual(ref, {"name": "costlynx-all-clickhouse", "key": "password"})

    def test_off_by_default_and_existing_secret(self):
        docs = render()
        env = Pod(docs).env()
        self.assertEqual(env["COSTLYNX_CLICKHOUSE_URL"], "")
        self.assertNotIn("COSTLYNX_CLICKHOUSE_PASSWORD", env)
        docs = render("--set", "clickhouse.url=http://ch:8123", "--set", "clickhouse.password.existingSecret=ch-creds")
        self.assertEqual([s["metadata"]["name"] for s in by_kind(docs, "Secret")], ["rel-costlynx-admin"])
        ref = [e for e in Pod(docs).c["env"] if e["name"] == "COSTLYNX_CLICKHOUSE_PASSWORD"][0]["valueFrom"]
        self.assertEqual(ref["secretKeyRef"], {"name": "ch-creds", "key": "clickhouse-password"})
        failed, err = render_fails("--set", "clickhouse.password.value=a", "--set", "clickhouse.password.existingSecret=b")
        self.assertTrue(failed)
        self.assertIn("clickhouse.password.value or clickhouse.password.existingSecret, not both", err)
        for bad in (["--set", "clickhouse.url=ftp://x"], ["--set", "clickhouse.table=a-b"],
                    ["--set", "clickhouse.batchRows=0"]):
            failed, err = render_fails(*bad)
            self.assertTrue(failed, bad)
            self.assertIn("schema", err)


def frontends(cfg):
    """{name: [lines]} of a HAProxy config's frontend sections, without bind lines (addresses differ)."""
    out, cur = {}, None
    for line in cfg.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            cur = line.split()[1] if line.startswith("frontend ") else None
            if cur:
                out[cur] = []
        elif cur and not line.strip().startswith("bind "):
            out[cur].append(line.strip())
    return out


class CellsChartTest(unittest.TestCase):
    """cells.enabled: a StatefulSet and a Service per cell, and HAProxy in front (the rules of
    deploy/haproxy/costlynx.cfg, checked by the real haproxy binary)."""

    ARGS = ("--set", "cells.enabled=true", "--set", "cells.ids={c1,c2,c3}", "--set", "cells.workspaces.acme=c2",
            "--set", "cells.workspaces.beta=c3", "--set", "clickhouse.url=http://ch:8123")

    def router_files(self, docs):
        cm = named(docs, "ConfigMap", "rel-costlynx-router")
        self.assertIsNotNone(cm)
        return cm["data"]

    def test_one_statefulset_and_service_per_cell(self):
        docs = render(*self.ARGS)
        sts = {d["metadata"]["name"]: d for d in by_kind(docs, "StatefulSet")}
        self.assertEqual(sorted(sts), ["rel-costlynx-c1", "rel-costlynx-c2", "rel-costlynx-c3"])
        pods = {}
        for cell in ("c1", "c2", "c3"):
            s = sts["rel-costlynx-" + cell]
            self.assertEqual(s["spec"]["replicas"], 1)
            labels = s["spec"]["template"]["metadata"]["labels"]
            self.assertLessEqual(s["spec"]["selector"]["matchLabels"].items(), labels.items())
            self.assertEqual(labels["costlynx/cell"], cell)
            c = s["spec"]["template"]["spec"]["containers"][0]
            self.assertIn({"name": "COSTLYNX_CELL_ID", "value": cell}, c["env"])
            self.assertEqual(s["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]["costlynx/cell"], cell)
            gov = named(docs, "Service", s["spec"]["serviceName"])
            self.assertEqual(gov["spec"]["clusterIP"], "None")
            pods[cell] = labels
        # the per-cell Service selects its cell's pod and no other; the main one, only the router
        router = one(docs, "Deployment")
        router_labels = router["spec"]["template"]["metadata"]["labels"]
        self.assertLessEqual(router["spec"]["selector"]["matchLabels"].items(), router_labels.items())
        for svc in by_kind(docs, "Service"):
            sel = svc["spec"]["selector"].items()
            selected = sorted(c for c, l in pods.items() if sel <= l.items())
            name = svc["metadata"]["name"]
            if name == "rel-costlynx":
                self.assertEqual(selected, [])
                self.assertLessEqual(sel, router_labels.items())
                ports = {p["name"] for p in router["spec"]["template"]["spec"]["containers"][0]["ports"]}
                self.assertLessEqual({p["targetPort"] for p in svc["spec"]["ports"]}, ports)
            elif name == "rel-costlynx-headless":
                self.assertEqual(selected, ["c1", "c2", "c3"])
            else:
                self.assertEqual(selected, [name.rsplit("-", 1)[1]], name)
                self.assertFalse(sel <= router_labels.items())
        # the whole chart still renders every object kind correctly
        for d in docs:
            self.assertRegex(d["metadata"]["name"], DNS_SUBDOMAIN)

    def test_router_config_is_valid_haproxy(self):
        docs = render(*self.ARGS)
        files = self.router_files(docs)
        self.assertEqual(files["cells.map"].split(), ["#", "the", "cells", "a", "key", "may", "name", "(keys", "minted",
                                                      "on", "a", "cell", "read", "clx_<cell>_...)", "c1", "c1", "c2",
                                                      "c2", "c3", "c3"])
        self.assertIn("\nacme c2\nbeta c3\n", files["workspaces.map"])
        cfg = files["haproxy.cfg"]
        # every cell has its backends, pointing at its Service's ports
        for cell in ("c1", "c2", "c3"):
            self.assertIn("backend http_%s\n" % cell, cfg)
            self.assertIn("server %s rel-costlynx-%s:8080\n" % (cell, cell), cfg)
            self.assertIn("server %s rel-costlynx-%s:50051 proto h2\n" % (cell, cell), cfg)
        # the real haproxy accepts it, with the ConfigMap's files laid out as mounted
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(haproxy):
            self.fail("haproxy is not installed: run scripts/deps.sh")
        d = tempfile.mkdtemp(prefix="clx-router-chart-")
        try:
            for name, text in files.items():
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            p = subprocess.run([haproxy, "-c", "-f", os.path.join(d, "haproxy.cfg")], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        # the router runs that file, from the mounted ConfigMap
        c = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["args"][-1], "/etc/costlynx-router/haproxy.cfg")
        self.assertEqual([m["mountPath"] for m in c["volumeMounts"] if m["name"] == "config"], ["/etc/costlynx-router"])

    def test_router_rules_are_the_shipped_ones(self):
        files = self.router_files(render(*self.ARGS))
        with open(os.path.join(deploylib.SOURCE_DIR, "deploy", "haproxy", "costlynx.cfg")) as f:
            shipped = frontends(f.read())
        rendered = frontends(files["haproxy.cfg"])
        self.assertEqual(sorted(rendered), ["grpc", "health", "rest"])
        for name in ("rest", "grpc", "health"):
            self.assertEqual(rendered[name], shipped[name], "frontend %s differs from deploy/haproxy/costlynx.cfg" % name)

    def test_backups_reach_every_cell(self):
        docs = render(*self.ARGS, "--set", "backup.enabled=true")
        job = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        targets = [e["value"] for e in job["env"] if e["name"] == "COSTLYNX_BACKUP_TARGETS"][0].split()
        self.assertEqual(targets, ["http://rel-costlynx-%s-0.rel-costlynx-headless.costlynx-test.svc:8080" % c
                                   for c in ("c1", "c2", "c3")])
        for sts in by_kind(docs, "StatefulSet"):
            cell = sts["metadata"]["labels"]["costlynx/cell"]
            claims = {t["metadata"]["name"]: t for t in sts["spec"]["volumeClaimTemplates"]}
            self.assertEqual(sorted(claims), ["backups", "data"])
            self.assertEqual(claims["backups"]["metadata"]["labels"]["costlynx/cell"], cell)

    def test_cells_guards(self):
        for bad, msg in ((["--set", "replicaCount=2"], "set replicaCount to 1"),
                         (["--set", "cells.workspaces.acme=c9"], "which is not in cells.ids"),
                         (["--set", "cells.ids={c1,c1}"], "has an id twice"),
                         (["--set", "cells.ids=null"], "")):
            failed, err = render_fails("--set", "cells.enabled=true", *bad)
            self.assertTrue(failed, "rendered with %r" % bad)
            self.assertIn(msg, err)
        for bad in (["--set", "cells.ids={C1}"], ["--set", "cells.ids={c_1}"], ["--set", "cells.workspaces.Acme=c1"]):
            failed, err = render_fails("--set", "cells.enabled=true", *bad)
            self.assertTrue(failed, "rendered with %r" % bad)
            self.assertIn("schema", err)
        # off: no router, one StatefulSet, the Service selects costlynxd
        docs = render()
        self.assertEqual(by_kind(docs, "Deployment"), [])
        self.assertEqual(len(by_kind(docs, "StatefulSet")), 1)


if __name__ == "__main__":
    unittest.main()
