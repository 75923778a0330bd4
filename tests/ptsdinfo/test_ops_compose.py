"""compose.yaml: the cluster topology for operators who use containers. There is no
Docker engine here, so this checks its structure (and runs `docker compose config`
where Docker exists)."""

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
NGINX_CONF = (ROOT / "deploy/compose/nginx.conf").read_text()
# The Compose specification's top-level and service keys used by operators' tools.
TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
SERVICE_KEYS = {
    "build", "image", "command", "entrypoint", "environment", "env_file", "volumes",
    "networks", "ports", "expose", "depends_on", "restart", "healthcheck", "user",
}  # fmt: skip


def test_topology_is_primary_replica_redis_two_app_nodes_and_nginx():
    assert set(SERVICES) == {"primary", "replica", "redis", "migrate", "app1", "app2", "nginx"}
    for name in ("app1", "app2"):
        env = SERVICES[name]["environment"]
        assert "@primary:5432/" in env["DATABASE_URL"]
        assert "@replica:5432/" in env["DATABASE_REPLICA_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert env["PTSDINFO_PURGE_URLS"] == "http://nginx:6081"
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert "pg_basebackup" in (ROOT / "deploy/compose/replica-entrypoint.sh").read_text()
    migrate = SERVICES["migrate"]["command"][-1]
    assert "manage.py migrate --noinput && " in migrate


def test_the_app_nodes_write_page_files_where_nginx_reads_them():
    headers = "/var/cache/ptsdinfo/page-headers.conf"
    for name in ("app1", "app2"):
        env = SERVICES[name]["environment"]
        assert env["PTSDINFO_PAGE_FILES_DIR"] == "/var/cache/ptsdinfo/pages"
        assert env["PTSDINFO_PAGE_FILES_HEADERS"] == headers
        assert "pages:/var/cache/ptsdinfo" in SERVICES[name]["volumes"]
    assert f"page_files_headers --output {headers}" in SERVICES["migrate"]["command"][-1]
    assert "pages:/var/cache/ptsdinfo:ro" in SERVICES["nginx"]["volumes"]
    assert f"cp {headers} /etc/nginx/ptsdinfo/" in SERVICES["nginx"]["command"][-1]
    assert "root /var/cache/ptsdinfo/pages;" in NGINX_CONF  # where ptsdinfo-app.conf reads them
    # PURGE is handled by the compose network's purge server only.
    purge_server = NGINX_CONF.split("listen 6081;", 1)[1].split("}", 1)[0]
    assert "ptsdinfo-purge.conf" in purge_server
    assert NGINX_CONF.count("ptsdinfo-purge.conf") == 1


def test_the_keys_are_compose_keys_and_every_reference_resolves():
    assert {key for key in COMPOSE if not key.startswith("x-")} <= TOP_LEVEL
    named_volumes = set(COMPOSE["volumes"])
    networks = set(COMPOSE["networks"])
    for name, service in SERVICES.items():
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in SERVICES, (name, dependency)
        assert set(service.get("networks", [])) <= networks, name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in named_volumes, (name, source)
        for env_file in service.get("env_file", []):
            assert (ROOT / env_file).is_file(), (name, env_file)


def test_only_nginx_is_reachable_from_outside():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published == {"nginx"}


def test_variables_compose_reads_are_in_env_example():
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "compose.yaml").read_text()))
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert used and used <= listed, used - listed


def test_nginx_balances_both_nodes_and_trusts_only_the_compose_network():
    subnet = COMPOSE["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    upstream = re.search(r"upstream ptsdinfo_app \{(.*?)\}", NGINX_CONF, re.S).group(1)
    assert re.findall(r"server (\S+)", upstream) == ["app1:8000", "app2:8000"]
    assert re.search(rf"^\s*{re.escape(subnet)}\s+1;", NGINX_CONF, re.M)  # PURGE allowed
    trusted = SERVICES["app1"]["environment"]["PTSDINFO_TRUSTED_PROXIES"]
    assert ipaddress.ip_network(trusted) == ipaddress.ip_network(subnet)
    mounts = SERVICES["nginx"]["volumes"]
    assert "./deploy/nginx/ptsdinfo-app.conf:/etc/nginx/ptsdinfo/ptsdinfo-app.conf:ro" in mounts


def has_docker_compose() -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not has_docker_compose(), reason="no `docker compose` on this machine")
def test_docker_compose_config_accepts_it():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SECRET_KEY": "x",
        "POSTGRES_PASSWORD": "x",
        "REPLICATION_PASSWORD": "x",
    }
    result = subprocess.run(
        ["docker", "compose", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
