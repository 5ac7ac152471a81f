"""examples/docker-compose.yml and examples/kubernetes/weir-sidecar.yaml: valid
for their tools (docker-compose's schema, yamllint), and saying what matters:
weir's image as the app's sidecar, users from a read-only secret, the health
probe that is weir itself, the state directory, the ports."""

import os
import subprocess
import unittest

import yaml

import harness

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
COMPOSE = os.path.join(ROOT, "examples", "docker-compose.yml")
KUBERNETES = os.path.join(ROOT, "examples", "kubernetes", "weir-sidecar.yaml")
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 100}}}"


def run(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


class Lint(unittest.TestCase):
    def test_yamllint_strict(self):
        status, out = run([harness.require_tool("yamllint"), "-s", "-d", YAMLLINT_CONFIG,
                           COMPOSE, KUBERNETES])
        self.assertEqual(status, 0, out)

    def test_compose_schema(self):
        status, out = run([harness.require_tool("docker-compose"), "-f", COMPOSE,
                           "config", "-q"])
        self.assertEqual((status, out), (0, ""))


class Compose(unittest.TestCase):
    def setUp(self):
        with open(COMPOSE) as f:
            self.doc = yaml.safe_load(f)
        self.weir = self.doc["services"]["weir"]

    def test_app_is_in_weirs_network(self):
        app = self.doc["services"]["app"]
        self.assertEqual(app["network_mode"], "service:weir")
        self.assertEqual(app["depends_on"]["weir"]["condition"], "service_healthy")
        self.assertEqual(app["environment"]["ALL_PROXY"], "socks5h://127.0.0.1:1080")

    def test_weir_reads_users_from_the_secret(self):
        self.assertEqual(self.weir["image"], "weir")
        self.assertEqual(self.weir["secrets"], ["weir-users"])
        self.assertIn("weir-users", self.doc["secrets"])
        self.assertEqual(self.weir["environment"]["WEIR_USERS"], "/run/secrets/weir-users")
        self.assertNotIn("WEIR_LISTEN", self.weir["environment"])  # the embedded defaults

    def test_state_volume_and_port(self):
        self.assertIn("weir-state:/var/lib/weir", self.weir["volumes"])
        self.assertEqual(self.weir["ports"], ["1088:1088"])


class Kubernetes(unittest.TestCase):
    def setUp(self):
        with open(KUBERNETES) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        self.assertEqual([d["kind"] for d in docs], ["Pod", "Service"])
        self.pod, self.service = docs
        for d in docs:
            self.assertEqual(d["apiVersion"], "v1")
        spec = self.pod["spec"]
        self.containers = {c["name"]: c for c in spec["containers"]}
        self.volumes = {v["name"]: v for v in spec["volumes"]}
        self.weir = self.containers["weir"]

    def test_a_sidecar_of_the_app(self):
        self.assertEqual(sorted(self.containers), ["app", "weir"])
        self.assertTrue(self.weir["image"].startswith("weir"))
        env = {e["name"]: e["value"] for e in self.containers["app"]["env"]}
        self.assertEqual(env["ALL_PROXY"], "socks5h://127.0.0.1:1080")

    def test_probes_run_weir_probe(self):
        for probe in ("livenessProbe", "readinessProbe"):
            self.assertEqual(self.weir[probe]["exec"]["command"], ["weir", "probe"], probe)
            self.assertGreaterEqual(self.weir[probe]["timeoutSeconds"], 3, probe)

    def test_users_from_a_read_only_secret(self):
        mounts = {m["name"]: m for m in self.weir["volumeMounts"]}
        users = mounts["users"]
        self.assertTrue(users["readOnly"])
        self.assertEqual(self.volumes["users"]["secret"]["secretName"], "weir-users")
        self.assertEqual(self.volumes["users"]["secret"]["defaultMode"], 0o440)
        self.assertEqual(self.pod["spec"]["securityContext"]["fsGroup"], 10001)
        env = {e["name"]: e["value"] for e in self.weir["env"]}
        self.assertEqual(env["WEIR_USERS"], users["mountPath"] + "/users")

    def test_non_root_read_only_with_a_state_dir(self):
        ctx = self.weir["securityContext"]
        self.assertIs(ctx["runAsNonRoot"], True)
        self.assertEqual(ctx["runAsUser"], 10001)
        self.assertIs(ctx["readOnlyRootFilesystem"], True)
        self.assertIs(ctx["allowPrivilegeEscalation"], False)
        mounts = {m["name"]: m for m in self.weir["volumeMounts"]}
        self.assertEqual(mounts["state"]["mountPath"], "/var/lib/weir")
        self.assertEqual(self.volumes["state"], {"name": "state", "emptyDir": {}})

    def test_port_1088_and_its_service(self):
        self.assertEqual(self.weir["ports"], [{"name": "socks5", "containerPort": 1088}])
        self.assertEqual(self.service["spec"]["selector"], self.pod["metadata"]["labels"])
        self.assertEqual(self.service["spec"]["ports"],
                         [{"name": "socks5", "port": 1088, "targetPort": "socks5"}])


if __name__ == "__main__":
    unittest.main()
