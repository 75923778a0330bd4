"""The multi-machine layout of docs/deployment.md, run for real on this machine.

    python deploy/cluster.py start     # `make cluster`: starts everything, prints the URLs
    python deploy/cluster.py stop      # `make cluster-stop`
    python deploy/cluster.py status
    python deploy/cluster.py stop-one NAME / start-one NAME   # for the fault tests

What runs (loopback only, ports below, state in .cache/cluster/):

- PostgreSQL 15 primary (Debian's binaries, `initdb`) and a streaming replica made
  with `pg_basebackup -R`: two clusters, run as the postgres user (setpriv);
- Redis (no persistence), the shared page cache and publication generation;
- two app nodes, each gunicorn with deploy/gunicorn.conf.py behind its own nginx with
  the shipped deploy/nginx/*.conf (page cache, PURGE server); each node reads from the
  replica and purges both nginx caches on publish;
- HAProxy in front as the load balancer, with active health checks on /healthz.

Every process is started in the foreground of its own session and stopped by the PID
recorded for it (SIGTERM, then SIGKILL after a deadline); nothing is found by name.
The main PostgreSQL on 5432 is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".cache" / "cluster"
PIDS = STATE / "pids"
LOGS = STATE / "logs"
PY = str(ROOT / ".venv" / "bin" / "python")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Below Linux's ephemeral range (ip_local_port_range, 32768-60999 here): a port in it
# can be held, when the cluster starts, by any outgoing connection on the machine. The
# old 47xxx ports were, twice in one session: the primary's 47432 and the load
# balancer's 47800 ("Address already in use").
PORTS = {
    "primary": 27432,
    "replica": 27433,
    "redis": 27379,
    "app1": 27801,
    "app2": 27802,
    "nginx1": 27811,
    "nginx2": 27812,
    "purge1": 27821,
    "purge2": 27822,
    "lb": 27800,
}
# Start order; stop runs it backwards.
ORDER = ["primary", "replica", "redis", "app1", "app2", "nginx1", "nginx2", "lb"]
DEADLINE = 60  # seconds any one step may take


def log(message: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")


def ensure_tools() -> None:
    wanted = {"nginx": "nginx-light", "haproxy": "haproxy", "redis-server": "redis-server"}
    missing = [package for tool, package in wanted.items() if not _which(tool)]
    if not (PG_BIN / "postgres").exists():
        missing.append("postgresql-15")
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"make cluster needs: apt-get install {' '.join(missing)}")
    log(f"installing {' '.join(missing)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=300)  # noqa: S607
    subprocess.run(  # noqa: S603
        ["apt-get", "install", "-y", "-qq", *missing],  # noqa: S607
        check=True,
        env=env,
        timeout=600,
    )


# --- processes by PID --------------------------------------------------------------------


def pid_of(name: str) -> int | None:
    path = PIDS / f"{name}.pid"
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # A recycled PID belongs to something else: check it is still the process we started.
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    if stat[2] == "Z":
        return None
    return pid


def spawn(name: str, argv: list[str], env: dict | None = None) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    out = (LOGS / f"{name}.log").open("ab")
    process = subprocess.Popen(  # noqa: S603
        argv,
        cwd=ROOT,
        env=env or os.environ.copy(),
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (PIDS / f"{name}.pid").write_text(str(process.pid))
    return process.pid


def stop(name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    pid = pid_of(name)
    if pid is None:
        (PIDS / f"{name}.pid").unlink(missing_ok=True)
        return
    # SIGKILL goes to the process's whole group (it was started in its own session, so
    # the group is its own PID): nginx's or gunicorn's workers die with their master,
    # as on a machine that fails.
    if sig == signal.SIGKILL:
        os.killpg(pid, sig)
    else:
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        log(f"{name} (pid {pid}) did not stop in {timeout:.0f} s: SIGKILL")
        os.killpg(pid, signal.SIGKILL)
    (PIDS / f"{name}.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_until(check, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not ready after {timeout:.0f} s (logs in {LOGS})")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --- PostgreSQL -------------------------------------------------------------------------


def as_postgres(argv: list[str]) -> list[str]:
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *argv]


def pg_ready(port: int) -> bool:
    result = subprocess.run(  # noqa: S603
        [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
    )
    return result.returncode == 0


def init_primary() -> None:
    data = STATE / "pg-primary"
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True)
    (STATE / "sock").mkdir(exist_ok=True)
    shutil.chown(data, "postgres", "postgres")
    shutil.chown(STATE / "sock", "postgres", "postgres")
    log("initdb: the primary")
    subprocess.run(  # noqa: S603
        as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=DEADLINE,
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# ptsdinfo cluster rehearsal (deploy/cluster.py)\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{STATE / 'sock'}'\n"
            "wal_level = replica\nmax_wal_senders = 5\nwal_keep_size = '256MB'\n"
            "hot_standby = on\nshared_buffers = '64MB'\nmax_connections = 60\n"
        )


def start_postgres(name: str) -> None:
    data = STATE / f"pg-{name}"
    port = PORTS[name]
    if name == "replica" and not (data / "PG_VERSION").exists():
        log("pg_basebackup: the replica, from the primary")
        data.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(data, "postgres", "postgres")
        subprocess.run(  # noqa: S603
            as_postgres(
                [
                    str(PG_BIN / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(PORTS["primary"]),
                    "-U",
                    "postgres",
                    "-D",
                    str(data),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ]
            ),
            check=True,
            timeout=DEADLINE,
        )
    spawn(
        name,
        as_postgres([str(PG_BIN / "postgres"), "-D", str(data), "-c", f"port={port}"]),
    )
    wait_until(lambda: pg_ready(port), f"PostgreSQL {name} on {port}")


# --- the app ----------------------------------------------------------------------------


def app_env() -> dict:
    key_file = STATE / "secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "PTSDINFO_", "GUNICORN_"))
    }
    env.update(
        DJANGO_SECRET_KEY=key_file.read_text(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{PORTS['primary']}/ptsdinfo",
        DATABASE_REPLICA_URL=f"postgres://postgres@127.0.0.1:{PORTS['replica']}/ptsdinfo",
        REDIS_URL=f"redis://127.0.0.1:{PORTS['redis']}/0",
        PTSDINFO_PURGE_URLS=f"http://127.0.0.1:{PORTS['purge1']},http://127.0.0.1:{PORTS['purge2']}",
        PTSDINFO_STATIC_ROOT=str(STATE / "static"),
        PTSDINFO_PAGE_FILES_HEADERS=str(STATE / "page-headers.conf"),
        DJANGO_MEDIA_ROOT=str(STATE / "media"),
        GUNICORN_WORKERS=os.environ.get("CLUSTER_WORKERS", "2"),
        GUNICORN_ACCESS_LOG="off",
        LOG_FORMAT="text",
    )
    return env


def prepare_database() -> None:
    import psycopg

    with psycopg.connect(
        f"postgres://postgres@127.0.0.1:{PORTS['primary']}/postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'ptsdinfo'").fetchone():
            conn.execute("CREATE DATABASE ptsdinfo")
    env = {**app_env(), "PTSDINFO_PURGE_URLS": ""}  # no nginx yet: nothing to purge
    for args in (
        ["migrate", "--noinput", "-v0"],
        ["load_demo", "--force-demo"],  # a loopback-only rehearsal, thrown away
        ["collectstatic", "--noinput", "-v0"],
        ["page_files_headers", "--output", str(STATE / "page-headers.conf")],
    ):
        log(f"manage.py {' '.join(args)}")
        subprocess.run(  # noqa: S603
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )


def start_app(name: str) -> None:
    port = PORTS[name]
    # Each node's nginx reads the page files its own app writes (publicsite/page_files.py).
    pages = STATE / f"pages{name[-1]}"
    env = {**app_env(), "GUNICORN_BIND": f"127.0.0.1:{port}", "PTSDINFO_PAGE_FILES_DIR": str(pages)}
    spawn(name, [PY, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], env)
    wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), f"gunicorn {name}")


NODE_NGINX = """\
pcre_jit on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    log_format cache '$time_iso8601 $remote_addr "$request" $status $body_bytes_sent '
                     '$request_time $upstream_cache_status $ptsdinfo_request_id';
    access_log {tmp}/access.log cache;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=ptsdinfo:10m max_size=256m
                     inactive=1h use_temp_path=off;
    upstream ptsdinfo_app {{
        server 127.0.0.1:{app_port};
        keepalive 16;
    }}
    map "" $ptsdinfo_public_host {{ default 127.0.0.1:{lb_port}; }}
    map "" $ptsdinfo_public_scheme {{ default http; }}
    geo $ptsdinfo_purger {{ default 0; 127.0.0.1 1; }}
    include {root}/deploy/nginx/ptsdinfo-http.conf;

    server {{
        listen 127.0.0.1:{purge_port};
        include {root}/deploy/nginx/ptsdinfo-purge.conf;
        include {root}/deploy/nginx/ptsdinfo-app.conf;
    }}
    server {{
        listen 127.0.0.1:{port};
        root {pages};  # the page files this node's app writes (ptsdinfo-app.conf)
        location /static/ {{
            alias {static}/;
            expires max;
        }}
        location /media/ {{
            alias {media}/;
            expires 7d;
            add_header X-Content-Type-Options nosniff;
        }}
        include {root}/deploy/nginx/ptsdinfo-app.conf;
    }}
}}
"""


def start_nginx(name: str) -> None:
    index = name[-1]
    tmp = STATE / name
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(
        NODE_NGINX.format(
            tmp=tmp,
            root=ROOT,
            app_port=PORTS[f"app{index}"],
            port=PORTS[name],
            purge_port=PORTS[f"purge{index}"],
            lb_port=PORTS["lb"],
            static=STATE / "static",
            media=STATE / "media",
            pages=STATE / f"pages{index}",
        )
    )
    (tmp / "ptsdinfo").mkdir(exist_ok=True)
    shutil.copyfile(STATE / "page-headers.conf", tmp / "ptsdinfo" / "page-headers.conf")
    nginx = _which("nginx")
    subprocess.run(  # noqa: S603
        [nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf)], check=True, timeout=DEADLINE
    )
    spawn(name, [nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off; user root;"])
    wait_until(lambda: http_ok(f"http://127.0.0.1:{PORTS[name]}/healthz"), f"nginx {name}")


HAPROXY = """\
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 35s
    retries 2
    option redispatch
    option http-server-close
frontend public
    bind 127.0.0.1:{lb}
    default_backend nodes
backend nodes
    balance roundrobin
    # A node that refuses, resets or answers 502-504 to a GET or HEAD: try the other one.
    retry-on conn-failure empty-response response-timeout 502 503 504
    http-request disable-l7-retry unless METH_GET
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
    server node1 127.0.0.1:{nginx1} check
    server node2 127.0.0.1:{nginx2} check
"""


def start_lb(name: str = "lb") -> None:
    conf = STATE / "haproxy.cfg"
    conf.write_text(HAPROXY.format(**PORTS))
    haproxy = _which("haproxy")
    subprocess.run([haproxy, "-c", "-q", "-f", str(conf)], check=True, timeout=DEADLINE)  # noqa: S603
    spawn(name, [haproxy, "-db", "-f", str(conf)])
    wait_until(lambda: http_ok(f"http://127.0.0.1:{PORTS['lb']}/healthz"), "the load balancer")


def start_one(name: str) -> None:
    if pid_of(name) is not None:
        return
    if name in ("primary", "replica"):
        start_postgres(name)
    elif name == "redis":
        redis = _which("redis-server")
        spawn(
            name,
            [
                redis,
                "--bind",
                "127.0.0.1",
                "--port",
                str(PORTS["redis"]),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(STATE),
            ],
        )
        wait_until(
            lambda: (
                subprocess.run(  # noqa: S603
                    [_which("redis-cli"), "-p", str(PORTS["redis"]), "ping"],
                    capture_output=True,
                    check=False,
                ).stdout.strip()
                == b"PONG"
            ),
            "Redis",
        )
    elif name.startswith("app"):
        start_app(name)
    elif name.startswith("nginx"):
        start_nginx(name)
    elif name == "lb":
        start_lb()
    else:
        raise SystemExit(f"unknown part {name!r}: one of {', '.join(ORDER)}")
    if pid_of(name) is None:  # answered, but not by the process just started
        raise SystemExit(f"{name} exited after starting: see {LOGS / (name + '.log')}")


def stop_one(name: str) -> None:
    # PostgreSQL: SIGINT is its fast shutdown (SIGTERM waits for every client to leave).
    stop(name, signal.SIGINT if name in ("primary", "replica") else signal.SIGTERM)


def urls() -> dict:
    return {
        "load_balancer": f"http://127.0.0.1:{PORTS['lb']}/",
        "node1": f"http://127.0.0.1:{PORTS['nginx1']}/",
        "node2": f"http://127.0.0.1:{PORTS['nginx2']}/",
        "app1": f"http://127.0.0.1:{PORTS['app1']}/",
        "app2": f"http://127.0.0.1:{PORTS['app2']}/",
        "primary": f"postgres://postgres@127.0.0.1:{PORTS['primary']}/ptsdinfo",
        "replica": f"postgres://postgres@127.0.0.1:{PORTS['replica']}/ptsdinfo",
        "redis": f"redis://127.0.0.1:{PORTS['redis']}/0",
    }


def start() -> None:
    ensure_tools()
    STATE.mkdir(parents=True, exist_ok=True)
    init_primary()
    start_one("primary")
    start_one("redis")
    prepare_database()
    for name in ORDER[1:]:
        log(f"starting {name}")
        start_one(name)
    (STATE / "cluster.json").write_text(json.dumps({"ports": PORTS, "urls": urls()}, indent=2))
    print("\nptsdinfo cluster is running (stop it with `make cluster-stop`):")
    for label, url in urls().items():
        print(f"  {label:14} {url}")
    print(f"  logs           {LOGS}/")


def stop_all() -> None:
    for name in reversed(ORDER):
        if pid_of(name) is not None:
            log(f"stopping {name}")
        stop_one(name)


def status() -> int:
    down = 0
    for name in ORDER:
        pid = pid_of(name)
        down += pid is None
        print(f"{name:8} {'pid ' + str(pid) if pid else 'stopped'}")
    return 1 if down else 0


def main(argv: list[str]) -> int:
    if os.geteuid() != 0:
        sys.exit("deploy/cluster.py runs as root (it starts PostgreSQL as the postgres user)")
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        try:
            start()
        except BaseException:
            log("start failed: stopping what was started")
            stop_all()
            raise
    elif command == "stop":
        stop_all()
    elif command == "start-one":
        start_one(argv[2])
    elif command == "stop-one":
        stop_one(argv[2])
    elif command == "status":
        return status()
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
