"""deploy/: the Kubernetes manifests validate against the Kubernetes schemas (kubernetes-validate,
strict: no unknown field), and agree with the server and the Dockerfile; the systemd unit
passes `systemd-analyze verify`; the nginx example passes `nginx -t` (test_scale_out.py runs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import lb_cluster
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
UNIT = ROOT / "deploy" / "systemd" / "ogcserve.service"


def documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in MANIFESTS
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


@pytest.mark.parametrize(
    ("name", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_each_manifest_validates_against_the_kubernetes_schemas(
    name: str, doc: dict[str, Any]
) -> None:
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_a_manifest_with_a_typo_is_refused() -> None:
    (deployment,) = [d for _, d in documents() if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["periodSecond"] = container["readinessProbe"].pop("periodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_deployment_agrees_with_the_server_and_the_image() -> None:
    kinds = {d["kind"] for _, d in documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} <= kinds
    (deployment,) = [d for _, d in documents() if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    args = container["args"]
    assert args[:2] == ["ogcserve", "serve"]
    assert int(args[args.index("--port") + 1]) == container["ports"][0]["containerPort"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile)
    assert uid and pod["securityContext"]["runAsUser"] == int(uid.group(1))
    assert "http://127.0.0.1:8080/health" in dockerfile and "USER ogcserve" in dockerfile
    # SIGTERM's grace (shutdown_grace + 5 s) fits in the pod's termination grace period.
    (config,) = [d for _, d in documents() if d["kind"] == "ConfigMap"]
    grace = float(config["data"].get("OGCSERVE_SHUTDOWN_GRACE", 10))
    assert pod["terminationGracePeriodSeconds"] > grace + 5
    (hpa,) = [d for _, d in documents() if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert container["resources"]["requests"]["cpu"]  # the HPA's utilisation needs a request


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is absent")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    ogcserve = str(Path(sys.executable).parent / "ogcserve")  # the installed console script
    unit = tmp_path / "ogcserve.service"
    text = UNIT.read_text()
    unit.write_text(text.replace("/opt/ogcserve/bin/ogcserve", ogcserve))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    pid_file = re.search(r"OGCSERVE_PID_FILE=(\S+)", text)
    assert pid_file and f"ogcserve reload --pid-file {pid_file.group(1)}" in text


@pytest.mark.skipif(lb_cluster.nginx_binary() is None, reason="nginx is not installed")
def test_the_nginx_example_passes_nginx_t(tmp_path: Path) -> None:
    nginx = lb_cluster.Nginx(tmp_path, ["127.0.0.2:8080", "127.0.0.3:8080"], lb_cluster.free_port())
    done = subprocess.run(
        [
            str(lb_cluster.nginx_binary()),
            "-t",
            "-p",
            str(nginx.root),
            "-c",
            str(nginx.root / "nginx.conf"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    example = lb_cluster.NGINX_EXAMPLE.read_text()
    # The headers the server builds its advertised URLs from (services/wms/urls.py,
    # services/ogcapi/links.py) are the ones the example sets.
    for header in ("X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Prefix"):
        assert f"proxy_set_header {header} " in example
