"""The Dockerfile's promises, checked without a Docker engine: build with the CI scripts, a
non-root runtime, one data volume that COSTLYNX_DATA_DIR names, exposed ports that match the
listen addresses, SIGTERM, and a HEALTHCHECK that really passes against costlynxd (run here
with bash, as the image runs it) and really fails when nothing listens."""
import json
import os
import socket
import subprocess
import threading
import unittest

import deploylib


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stages = deploylib.dockerfile_stages()
        cls.build, cls.runtime = cls.stages[0], cls.stages[-1]
        cls.rt = {}
        for word, rest in cls.runtime["instructions"]:
            cls.rt.setdefault(word, []).append(rest)
        cls.env = deploylib.dockerfile_env(cls.runtime["instructions"])

    def one(self, word):
        self.assertIn(word, self.rt, "runtime stage has no %s" % word)
        self.assertEqual(len(self.rt[word]), 1, "more than one %s" % word)
        return self.rt[word][0]

    def test_build_stage_uses_the_ci_scripts(self):
        self.assertEqual(self.build["image"], "debian:12")
        runs = " ".join(rest for word, rest in self.build["instructions"] if word == "RUN")
        self.assertIn("./scripts/deps.sh", runs)
        self.assertIn("TARGET=costlynxd ./scripts/build.sh", runs)
        copies = [rest for word, rest in self.runtime["instructions"] if word == "COPY"]
        self.assertTrue(any(("--from=%s" % self.build["name"]) in c for c in copies), copies)

    def test_non_root_user(self):
        user = self.one("USER").split(":")
        self.assertEqual(user[0], "10001")
        runs = " ".join(self.rt.get("RUN", []))
        self.assertIn("--uid 10001", runs)

    def test_one_data_volume_named_by_the_env(self):
        vol = json.loads(self.one("VOLUME"))
        self.assertEqual(vol, ["/var/lib/costlynx"])
        self.assertEqual(self.env.get("COSTLYNX_DATA_DIR"), "/var/lib/costlynx")
        self.assertIn("install -d -o 10001 -g 10001 -m 0700 /var/lib/costlynx", " ".join(self.rt["RUN"]))

    def test_ports_match_the_listen_addresses(self):
        exposed = sorted(int(p.split("/")[0]) for p in self.one("EXPOSE").split())
        self.assertEqual(exposed, [8080, 50051])
        self.assertEqual(self.env.get("COSTLYNX_HTTP_ADDR"), "0.0.0.0:8080")
        self.assertEqual(self.env.get("COSTLYNX_GRPC_ADDR"), "0.0.0.0:50051")
        self.assertNotIn("COSTLYNX_ADMIN_TOKEN", self.env, "a token baked into the image")

    def test_stop_signal_and_entrypoint(self):
        self.assertEqual(self.one("STOPSIGNAL"), "SIGTERM")
        self.assertEqual(json.loads(self.one("ENTRYPOINT")), ["/usr/local/bin/costlynxd"])
        self.assertEqual(json.loads(self.one("CMD")), ["serve"])

    def test_env_is_valid_for_the_binary(self):
        # every ENV the image sets is accepted by costlynxd's option table (exit 2 otherwise);
        # only the addresses and the data folder are moved to this machine's free ports and a temp dir
        env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLYNX_")}
        env.update(self.env)
        srv = deploylib.Server(env=env)
        env["COSTLYNX_DATA_DIR"] = srv.data_dir
        env["COSTLYNX_ADMIN_TOKEN"] = srv.admin_token
        try:
            srv.start()
            st, _, raw = srv.request("GET", "/readyz")
            self.assertEqual(st, 200, raw)
            self.assertEqual(srv.stop(), 0, srv.stderr())
        finally:
            srv.cleanup()

    def healthcheck_script(self):
        hc = self.one("HEALTHCHECK")
        opts, _, cmd = hc.partition(" CMD ")
        for opt in ("--interval=", "--timeout=", "--start-period=", "--retries="):
            self.assertIn(opt, opts)
        argv = json.loads(cmd)
        self.assertEqual(argv[:2], ["/bin/bash", "-c"])
        return argv

    def run_healthcheck(self, addr):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COSTLYNX_HTTP_ADDR": addr}
        argv = self.healthcheck_script()
        return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, timeout=10).returncode

    def test_healthcheck_passes_on_a_ready_server_and_fails_without_one(self):
        srv = deploylib.Server()
        try:
            srv.start()
            for addr in ("0.0.0.0:%d" % srv.port, "127.0.0.1:%d" % srv.port):
                self.assertEqual(self.run_healthcheck(addr), 0, addr)
        finally:
            self.assertEqual(srv.stop(), 0)
            srv.cleanup()
        # nothing listens on the port any more
        self.assertNotEqual(self.run_healthcheck("0.0.0.0:%d" % srv.port), 0)
        # something listens that is not an HTTP server answering 200
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            s.settimeout(5)

            def answer():
                try:
                    c, _ = s.accept()
                    c.recv(1024)
                    c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                    c.close()
                except OSError:
                    pass
            t = threading.Thread(target=answer)
            t.start()
            self.assertNotEqual(self.run_healthcheck("0.0.0.0:%d" % port), 0)
            t.join(10)

    def test_dockerignore_keeps_host_builds_out(self):
        with open(os.path.join(deploylib.SOURCE_DIR, ".dockerignore")) as f:
            lines = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        for must in ("build", "build-*", ".git", ".cache", "data", ".costlynx-dev"):
            self.assertIn(must, lines)
        for keep in ("scripts", "CMakeLists.txt", "proto", "pricing"):
            self.assertNotIn(keep, lines)


if __name__ == "__main__":
    unittest.main()
