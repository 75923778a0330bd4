"""`make bench`: load ptsdinfo the way readers do and write the numbers to docs/performance.md.

What runs (all on 127.0.0.1, every process started here and stopped here):

- PostgreSQL database `ptsdinfo_bench` (created if missing, migrated, demo loaded);
- gunicorn with deploy/gunicorn.conf.py, 2 sync workers, DEBUG off, twice:
  "app" with the application page cache on (production settings) and "uncached"
  with it off (scripts/bench_settings.py: DummyCache);
- one nginx with the shipped deploy/nginx/*.conf: a static server with a copy of the
  article's HTML on disk, the same static server adding the headers the app sends with
  that page (`add_header`), and the shipped reverse proxy in front of the "app"
  gunicorn: the article from the page file the app wrote (publicsite/page_files.py),
  and, with a query string (which never gets a file), from nginx's proxy cache.

Each target is loaded with wrk (2 threads, 32 connections, 10 s by default), and nginx
static and the shipped nginx's page file five more times in turn, each pair in the
other order from the last (target 3 is judged on the median of those rounds); queries per
request come from Django's test client with CaptureQueriesContext against the same
database and settings. Each target's server CPU per request is the CPU time (user and
system, from /proc) its worker processes used during the load, divided by the requests
served: nginx's workers for the nginx targets, gunicorn's for the others, PostgreSQL's
not counted. It is what a response costs the server, apart from how wrk and the server
share the cores. Worker memory (RSS from /proc) is sampled on the uncached server before load
and after at least --memory-requests requests.

Last, a second nginx with the same configuration, as one process under valgrind's
callgrind, counts the instructions nginx itself executes per request for nginx static,
static with the app's headers, the page file and the proxy-cache hit: a number that
repeats from run to run, for comparing nginx configurations on a noisy machine.

wrk, nginx and valgrind are installed from Debian's packages when missing (apt-get; needs root).
Not part of `make test` or CI. Usage: .venv/bin/python scripts/bench.py [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ARTICLE = "/articles/ketamine-for-ptsd/"
HOME = "/"
SEARCH = "/search/?q=ketamine"
MARK_START = "<!-- bench:start (written by `make bench`; edits here are overwritten) -->"
MARK_END = "<!-- bench:end -->"
STATIC_WITH_HEADERS = "nginx static file, with the app's headers"
TARGET3_ROUNDS = 5
CALLGRIND_REQUESTS = 2000
# The shipped nginx in front of the app: the article as the page file the app wrote.
SHIPPED_NGINX = "article, shipped nginx (page file)"
# A query string never gets a page file (publicsite/page_files.py): its proxy-cache hit.
PROXY_CACHE_ONLY = "article, shipped nginx's proxy cache (query string)"
PROXY_CACHE_QUERY = "?from=bench"
WAGTAIL_REFERENCE_RPS = 170
NGINX_REFERENCE_RPS = 66_000
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
LOAD_BEFORE = os.getloadavg()


@dataclass
class Result:
    name: str
    url: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str
    queries: str = ""
    cpu_us: float | None = None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_tools() -> None:
    tools = (("wrk", "wrk"), ("nginx", "nginx"), ("callgrind_control", "valgrind"))
    missing = [pkg for tool, pkg in tools if not _which(tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"bench needs {' and '.join(missing)}: apt-get install {' '.join(missing)}")
    log(f"installing {' '.join(missing)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
    install = ["apt-get", "install", "-y", "-qq", *missing]
    subprocess.run(install, check=True, env=env)  # noqa: S603


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")


def ensure_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with _opener.open(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fetch(url: str, headers: dict | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)  # noqa: S310
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def start_gunicorn(
    env: dict, port: int, log_path: Path, app: str | None = None
) -> subprocess.Popen:
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESS_LOG": "off",
        # No recycling during the benchmark: throughput and memory are measured as-is.
        "GUNICORN_MAX_REQUESTS": "0",
    }
    process = subprocess.Popen(  # noqa: S603
        [
            str(Path(PY).parent / "gunicorn"),
            "-c",
            "deploy/gunicorn.conf.py",
            *([app] if app else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return process


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


NGINX_CONF = """\
pcre_jit on;
{process}
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;

    proxy_cache_path {tmp}/proxy_cache levels=1:2 keys_zone=ptsdinfo:10m max_size=256m
                     inactive=1h use_temp_path=off;
    upstream ptsdinfo_app {{
        server 127.0.0.1:{app_port};
        keepalive 32;
    }}
    map "" $ptsdinfo_public_host {{ default 127.0.0.1:{proxy_port}; }}
    map "" $ptsdinfo_public_scheme {{ default http; }}
    geo $ptsdinfo_purger {{ default 0; 127.0.0.1 1; }}
    include {root}/deploy/nginx/ptsdinfo-http.conf;

    # The physical limit: the article's HTML as a file.
    server {{
        listen 127.0.0.1:{static_port};
        root {tmp}/static-site;
        index index.html;
    }}

    # The same file with the headers the app sends with the page (a static site that
    # keeps the site's security headers would send these too).
    server {{
        listen 127.0.0.1:{static_headers_port};
        root {tmp}/static-site;
        index index.html;
        include {tmp}/app-headers.conf;
    }}

    # The shipped reverse-proxy configuration in front of the "app" gunicorn.
    server {{
        listen 127.0.0.1:{proxy_port};
        root {tmp}/pages;  # the page files the app writes (PTSDINFO_PAGE_FILES_DIR)
        location /static/ {{
            alias {static_root}/;
            expires max;
        }}
        include {root}/deploy/nginx/ptsdinfo-app.conf;
    }}
    # Where the app sends PURGE (PTSDINFO_PURGE_URLS).
    server {{
        listen 127.0.0.1:{purge_port};
        include {root}/deploy/nginx/ptsdinfo-purge.conf;
        include {root}/deploy/nginx/ptsdinfo-app.conf;
    }}
}}
"""


def app_headers_conf(page_headers: Path, headers: dict) -> str:
    """add_header lines for the app's headers of a page: the ones the shipped nginx adds
    to a page file (`page_files_headers` wrote them), the page's language and a request
    id, as the shipped configuration adds them."""
    return "\n".join(
        [
            page_headers.read_text(),
            f'add_header Content-Language "{headers["Content-Language"]}";',
            "add_header X-Request-ID $ptsdinfo_request_id;",
            "",
        ]
    )


def nginx_conf(tmp: Path, name: str, process: str, **ports) -> Path:
    conf = tmp / f"{name}.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, root=ROOT, name=name, process=process, **ports))
    return conf


def start_nginx(tmp: Path, **ports) -> subprocess.Popen:
    workers = f"worker_processes {os.cpu_count() or 1};"
    conf = nginx_conf(tmp, "nginx", workers, **ports)
    nginx = _which("nginx")
    check = subprocess.run(  # noqa: S603
        [nginx, "-t", "-q", "-p", str(tmp), "-c", str(conf)], capture_output=True, text=True
    )
    if check.returncode:
        sys.exit(f"nginx configuration invalid:\n{check.stderr}")
    process = subprocess.Popen(  # noqa: S603
        [nginx, "-p", str(tmp), "-c", str(conf), "-g", "daemon off; user root;"],
        stdout=(tmp / "nginx.out").open("w"),
        stderr=subprocess.STDOUT,
    )
    wait_http(f"http://127.0.0.1:{ports['static_port']}/")
    return process


_LATENCY_RE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User plus system CPU time of each process, in clock ticks (/proc/<pid>/stat)."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone (nginx's cache loader exits after its first minute)
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def wrk(
    name: str,
    url: str,
    *,
    duration: int,
    threads: int,
    connections: int,
    server: int | None = None,
) -> Result:
    """Load url with wrk; with server (a master pid), also its workers' CPU per request."""
    workers = worker_pids(server) if server else []
    before = cpu_ticks(workers)
    out = subprocess.run(  # noqa: S603
        [_which("wrk"), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    latency = {p: float(v) * _UNIT_MS[u] for p, v, u in _LATENCY_RE.findall(out)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = []
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors.append(f"{match.group(1)} non-2xx")
    if match := re.search(r"Socket errors: (.*)", out):
        counts = dict(re.findall(r"(\w+) (\d+)", match.group(1)))
        # A sync gunicorn worker closes every connection; wrk counts nothing wrong then.
        if any(int(v) for k, v in counts.items() if k in {"connect", "timeout"}):
            errors.append(match.group(1).strip())
    result = Result(name, url, rps, latency["50"], latency["99"], requests, "; ".join(errors))
    cpu = ""
    if workers:
        after = cpu_ticks(workers)
        used = sum(after[pid] - before[pid] for pid in after if pid in before)
        result.cpu_us = used / os.sysconf("SC_CLK_TCK") / requests * 1e6
        cpu = f", {result.cpu_us:.1f} us of server CPU per request"
    log(f"{name}: {rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms{cpu}")
    return result


def keepalive_gets(port: int, path: str, count: int) -> None:
    """`count` GETs of `path` one after another on one keep-alive connection, as wrk
    sends them, each response read to its end."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        buffer = b""
        for _ in range(count):
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            if not head.startswith(b"HTTP/1.1 200"):
                sys.exit(f"{path} on port {port}: {head.splitlines()[0].decode()}")
            length = int(re.search(rb"(?i)content-length: (\d+)", head)[1])
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]


def nginx_instructions(
    tmp: Path, targets: dict[str, tuple[str, str]], app_port: int, static_root: Path
) -> dict[str, float]:
    """Instructions one nginx process executes per request for each of `targets` (name:
    (port name, path)), counted by valgrind's callgrind over CALLGRIND_REQUESTS requests
    after 200 to warm up. They repeat from run to run however busy the machine (wrk's
    requests per second do not), so they show what a configuration change costs nginx.
    The kernel's part (the socket, sendfile) is not counted; a static file and a page
    file make the same ten system calls per request (strace). {} without valgrind."""
    valgrind, control = _which("valgrind"), _which("callgrind_control")
    if not (valgrind and control):
        log("valgrind not found: no instruction counts")
        return {}
    own = {
        name: free_port()
        for name in ("static_port", "static_headers_port", "proxy_port", "purge_port")
    }
    single = "master_process off;"  # one process: the one callgrind counts
    conf = nginx_conf(tmp, "callgrind", single, app_port=app_port, static_root=static_root, **own)
    out = tmp / "callgrind"
    out.mkdir()
    process = subprocess.Popen(  # noqa: S603
        [
            valgrind,
            "--tool=callgrind",
            f"--callgrind-out-file={out}/nginx.%p",
            _which("nginx"),
            "-p",
            str(tmp),
            "-c",
            str(conf),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "callgrind.log").open("w"),
    )
    counts = {}
    try:
        wait_http(f"http://127.0.0.1:{own['static_port']}/", timeout=60)
        for number, (name, (port, path)) in enumerate(targets.items(), start=1):
            keepalive_gets(own[port], path, 200)
            subprocess.run([control, "-z", str(process.pid)], check=True, capture_output=True)  # noqa: S603
            keepalive_gets(own[port], path, CALLGRIND_REQUESTS)
            subprocess.run([control, "-d", str(process.pid)], check=True, capture_output=True)  # noqa: S603
            dump = out / f"nginx.{process.pid}.{number}"
            for _ in range(50):
                if dump.exists() and "totals:" in dump.read_text():
                    break
                time.sleep(0.1)
            totals = re.search(r"^totals: (\d+)", dump.read_text(), re.M)
            counts[name] = int(totals[1]) / CALLGRIND_REQUESTS
            log(f"callgrind: {name}: {counts[name]:,.0f} nginx instructions per request")
    finally:
        process.terminate()
        process.wait(timeout=30)
    return counts


def purge_check(env: dict, proxy_port: int, purge_port: int) -> list[str]:
    """The app's own purge hook against the shipped nginx configuration: a PURGE from
    loopback rewrites the page file readers get; one from another address is refused."""
    import http.client

    base = f"http://127.0.0.1:{proxy_port}"
    purge_base = f"http://127.0.0.1:{purge_port}"
    code = (
        "import django; django.setup(); from publicsite import caching; "
        f"print(caching.purge(paths=[{ARTICLE!r}]))"
    )
    before = fetch(base + ARTICLE)[1]
    time.sleep(1.1)  # so a rewritten page file carries a later Last-Modified header
    run = subprocess.run(  # noqa: S603
        [PY, "-c", code],
        cwd=ROOT,
        env={**env, "PTSDINFO_PURGE_URLS": purge_base},
        capture_output=True,
        text=True,
    )
    hook = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-300:]
    headers = fetch(base + ARTICLE)[1]
    changed = headers.get("Last-Modified") != before.get("Last-Modified")
    refreshed = "rewritten" if changed else "NOT rewritten"
    dates = f"Last-Modified {before.get('Last-Modified')} -> {headers.get('Last-Modified')}"
    after = f"{headers.get('X-Cache-Status')}, {refreshed} ({dates})"
    conn = http.client.HTTPConnection("127.0.0.1", purge_port, source_address=("127.0.0.2", 0))
    conn.request("PURGE", ARTICLE)
    foreign = conn.getresponse().status
    conn.close()
    return [
        f"- `caching.purge()` (the publish hook) against the shipped nginx: {hook}; next "
        f"reader: X-Cache-Status {after}",
        f"- PURGE from 127.0.0.2 (not an allowed purger): HTTP {foreign}",
    ]


PROFILE_BUCKETS = (
    ("JSON-LD: formatting each reference (structured_data)", "_creative_work"),
    ("JSON-LD: `ld_json` filter (json.dumps and escaping)", "ld_json"),
    ("database: health check `SELECT 1` (CONN_HEALTH_CHECKS)", "close_if_health_check_failed"),
    ("database: connecting", "connect ("),
    ("database: compiling SQL (ORM)", "as_sql ("),
    ("database: sending, waiting, receiving (psycopg)", "Cursor.execute"),
    ("database: building model instances", "ModelIterable.__iter__"),
    ("database: other ORM work", "QuerySet"),
    ("template rendering (the rest)", "Template.render"),
    ("view code (the rest)", "article_detail"),
    ("publicsite/caching.py (key, ETag, headers)", "caching.py"),
    ("middleware and Django's handler (the rest)", "get_response"),
    ("gunicorn: accept, HTTP parsing, socket writes", "SyncWorker"),
)


def start_profile(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    """py-spy (from PyPI, installed into the venv on demand) sampling one worker."""
    spy = Path(PY).parent / "py-spy"
    if not spy.exists():
        log("installing py-spy from PyPI for --profile")
        subprocess.run([PY, "-m", "pip", "install", "-q", "py-spy"], check=True)  # noqa: S603
    command = [str(spy), "record", "-p", str(pid), "-d", str(seconds), "-r", "250"]
    return subprocess.Popen(  # noqa: S603
        [*command, "-f", "raw", "-o", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_lines(raw: Path) -> list[str]:
    counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack, samples = line.rsplit(" ", 1)
        total += int(samples)
        label = next((lbl for lbl, needle in PROFILE_BUCKETS if needle in stack), "other")
        counts[label] = counts.get(label, 0) + int(samples)
    rows = sorted(counts.items(), key=lambda item: -item[1])
    return [
        "",
        f"py-spy, one uncached worker during the uncached article run ({total:,} samples; "
        "each sample counted once, under the first matching row):",
        "",
        "| where the worker's time went | share |",
        "|---|---:|",
        *(f"| {label} | {100 * n / total:.1f} % |" for label, n in rows),
    ]


def count_queries(env: dict, settings_module: str) -> dict[str, int]:
    """Queries of the second request to each page (the first may fill caches)."""
    code = f"""
import json, django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client, counts = Client(SERVER_NAME="127.0.0.1"), {{}}
for path in {[ARTICLE, HOME, SEARCH]!r}:
    assert client.get(path).status_code == 200, path
    with CaptureQueriesContext(connection) as ctx:
        client.get(path)
    counts[path] = len(ctx.captured_queries)
print(json.dumps(counts))
"""
    run = subprocess.run(  # noqa: S603
        [PY, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
        capture_output=True,
        text=True,
    )
    if run.returncode:
        sys.exit(f"counting queries failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def environment_lines(env: dict) -> list[str]:
    def version(*cmd):
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=10)  # noqa: S603
            return (run.stdout + run.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import django
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return [
        f"- When: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} CPUs "
        f"({cpu}), {_mem_gib():.0f} GiB; load average before the run "
        f"{LOAD_BEFORE[0]:.1f} (other work on the machine shares the same cores)",
        f"- Software: Python {platform.python_version()}, Django {django.get_version()}, "
        f"gunicorn (deploy/gunicorn.conf.py, 2 sync workers, preload, no recycling), "
        f"PostgreSQL {pg}, {version(_which('nginx'), '-v')}, "
        f"{version(_which('wrk'), '-v').split(' [')[0]}",
        "- App settings: DEBUG off, `DATABASE_CONN_MAX_AGE` "
        f"{env.get('DATABASE_CONN_MAX_AGE', '60')} s, local-memory page cache, "
        "publication generation in the file cache (settings.py defaults)",
    ]


def _mem_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def write_report(
    path: Path, results, static, memory, env_lines, args, profile, rounds, instructions
) -> None:
    lines = [
        MARK_START,
        "",
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, each target "
        "in turn, all in the same run (ratios are what compare across runs).",
        "",
        *env_lines,
        "",
        "| target | requests/s | p50 | p99 | queries/request | server CPU/request "
        "| ratio to nginx static |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = r.rps / static.rps
        shown = f"{ratio:.2f}" if ratio >= 0.1 else f"1/{1 / ratio:.0f}"
        errors = f" ({r.errors})" if r.errors else ""
        cpu = f"{r.cpu_us:,.1f} us" if r.cpu_us is not None else ""
        lines.append(
            f"| {r.name}{errors} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | {r.p99_ms:.2f} ms "
            f"| {r.queries} | {cpu} | {shown} |"
        )
    by_name = {r.name.split(" `")[0]: r for r in results}
    uncached = by_name["article, uncached"]
    app = by_name["article, application cache"]
    page_file = by_name[SHIPPED_NGINX]
    proxy_cache = by_name[PROXY_CACHE_ONLY]
    headed = by_name[STATIC_WITH_HEADERS]
    targets = [
        (
            "uncached article >= 1/130 of nginx static (3x Wagtail's 170 of 66,000 req/s)",
            uncached.rps / static.rps >= 1 / 130,
            f"1/{static.rps / uncached.rps:.0f}",
        ),
        ("uncached article <= 2 queries", int(uncached.queries) <= 2, uncached.queries),
        (
            "application-cached article >= 1/20 of nginx static",
            app.rps / static.rps >= 1 / 20,
            f"1/{static.rps / app.rps:.1f}",
        ),
        (
            "article through the shipped nginx >= 0.9 of nginx static (issue 16; median of "
            f"{len(rounds)} interleaved rounds after the table's run)",
            statistics.median(rounds) >= 0.9,
            f"{statistics.median(rounds):.2f} ({', '.join(f'{r:.2f}' for r in rounds)}; "
            f"the table's run {page_file.rps / static.rps:.2f})",
        ),
    ]
    lines += ["", "| target | this run | met |", "|---|---:|---|"]
    lines += [f"| {t} | {v} | {'yes' if ok else '**no**'} |" for t, ok, v in targets]
    if None not in (static.cpu_us, headed.cpu_us, page_file.cpu_us, proxy_cache.cpu_us):
        lines += [
            "",
            f"nginx CPU per request: static file {static.cpu_us:.1f} us, the same file with "
            f"the app's headers {headed.cpu_us:.1f} us, the shipped nginx's page file "
            f"{page_file.cpu_us:.1f} us, its proxy-cache hit {proxy_cache.cpu_us:.1f} us; by CPU "
            f"the page file is {static.cpu_us / page_file.cpu_us:.2f} of nginx static and the "
            f"proxy cache {static.cpu_us / proxy_cache.cpu_us:.2f}.",
        ]
    if instructions:
        base = instructions[static.name]
        lines += [
            "",
            f"nginx's own instructions per request (valgrind's callgrind, {CALLGRIND_REQUESTS:,} "
            "requests on one keep-alive connection, one nginx process): unlike requests per "
            "second, they repeat from run to run however busy the machine, so they compare "
            "nginx configurations. The kernel's part (the socket, sendfile) is not counted, "
            "and it is most of a request's CPU time: these are not a throughput ratio.",
            "",
            "| target | instructions/request | more than nginx static |",
            "|---|---:|---:|",
            *(
                f"| {name} | {count:,.0f} | {count - base:+,.0f} |"
                for name, count in instructions.items()
            ),
        ]
    lines += [
        "",
        f"Same run, absolute: uncached article {uncached.rps:,.0f} req/s = "
        f"{uncached.rps / WAGTAIL_REFERENCE_RPS:.1f}x the issue's Wagtail reference "
        f"({WAGTAIL_REFERENCE_RPS} req/s); nginx static {static.rps:,.0f} req/s here "
        f"(issue's reference machine: {NGINX_REFERENCE_RPS:,}).",
        "",
        "Gunicorn worker memory (RSS from /proc, uncached server, no worker recycling):",
        "",
        "| requests served (both workers) | " + " | ".join(memory["labels"]) + " |",
        "|---|" + "---:|" * len(memory["labels"]),
    ]
    for total, sizes in memory["samples"]:
        lines.append(f"| {total:,} | " + " | ".join(f"{s:.1f} MiB" for s in sizes) + " |")
    lines += [*profile, "", MARK_END]
    block = "\n".join(lines)
    text = path.read_text() if path.exists() else "# Performance\n\n" + MARK_START + MARK_END
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n## Latest `make bench`\n\n" + block + "\n"
    path.write_text(text)
    log(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--memory-requests", type=int, default=10_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ptsdinfo_bench"
        ),
    )
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--profile", action="store_true", help="py-spy the uncached article")
    args = parser.parse_args()
    started = time.monotonic()

    ensure_tools()
    database = args.database_url.rsplit("/", 1)
    ensure_database(f"{database[0]}/postgres", database[1])
    tmp = Path(tempfile.mkdtemp(prefix="ptsdinfo-bench-"))
    os.chmod(tmp, 0o755)  # noqa: S103 - nginx workers read the static copy from here
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PTSDINFO_"))},
        "DJANGO_SETTINGS_MODULE": "ptsdinfo.settings",
        "DATABASE_URL": args.database_url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-" + os.urandom(16).hex(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PTSDINFO_STATIC_ROOT": str(tmp / "staticfiles"),
        "PTSDINFO_PUBLICATION_CACHE_DIR": str(tmp / "publication"),
        "PTSDINFO_TRUSTED_PROXIES": "127.0.0.1",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'scripts'}",
    }
    env.pop("REDIS_URL", None)
    ports = {
        name: free_port()
        for name in ("app", "uncached", "static", "static_headers", "proxy", "purge", "floor")
    }
    processes = []
    try:
        log(f"preparing {database[1]}: migrate, load_demo, collectstatic")
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "load_demo", "--force-demo")  # a throwaway database, loopback only
        manage(env, "collectstatic", "--noinput", "-v0")
        page_headers = tmp / "ptsdinfo" / "page-headers.conf"
        manage(env, "page_files_headers", "--output", str(page_headers))
        # Page files on from here: with no add_header file yet, check W004 would warn above.
        env["PTSDINFO_PAGE_FILES_DIR"] = str(tmp / "pages")
        env["PTSDINFO_PAGE_FILES_HEADERS"] = str(page_headers)
        app = start_gunicorn(env, ports["app"], tmp / "gunicorn-app.log")
        processes.append(app)
        uncached_env = {**env, "DJANGO_SETTINGS_MODULE": "bench_settings"}
        uncached = start_gunicorn(uncached_env, ports["uncached"], tmp / "gunicorn-uncached.log")
        processes.append(uncached)
        status, headers, html = fetch(f"http://127.0.0.1:{ports['app']}{ARTICLE}")
        if status != 200:
            sys.exit(f"{ARTICLE} answered {status}: is the demo loaded?")
        page = tmp / "static-site" / ARTICLE.strip("/")
        page.mkdir(parents=True)
        (page / "index.html").write_bytes(html)
        (tmp / "app-headers.conf").write_text(app_headers_conf(page_headers, headers))
        floor_env = {**env, "BENCH_FLOOR_FILE": str(page / "index.html")}
        floor = start_gunicorn(floor_env, ports["floor"], tmp / "gunicorn-floor.log", "bench_floor")
        processes.append(floor)
        os.chmod(tmp / "staticfiles", 0o755)  # noqa: S103
        nginx = start_nginx(
            tmp,
            app_port=ports["app"],
            static_port=ports["static"],
            static_headers_port=ports["static_headers"],
            proxy_port=ports["proxy"],
            purge_port=ports["purge"],
            static_root=tmp / "staticfiles",
        )
        processes.append(nginx)
        app_url = f"http://127.0.0.1:{ports['app']}"
        uncached_url = f"http://127.0.0.1:{ports['uncached']}"
        proxy_url = f"http://127.0.0.1:{ports['proxy']}"
        for _ in range(3):  # fill the application and proxy caches
            for url in (
                app_url + ARTICLE,
                app_url + HOME,
                app_url + SEARCH,
                proxy_url + ARTICLE,
                proxy_url + ARTICLE + PROXY_CACHE_QUERY,
            ):
                fetch(url)
            time.sleep(0.2)  # the page file is written beside the first proxied request
        file_status = fetch(proxy_url + ARTICLE)[1].get("X-Cache-Status")
        cache_status = fetch(proxy_url + ARTICLE + PROXY_CACHE_QUERY)[1].get("X-Cache-Status")
        app_cache = fetch(app_url + ARTICLE)[1].get("X-Cache")
        log(
            f"cache check: shipped nginx X-Cache-Status={file_status}, with a query string "
            f"{cache_status}, app X-Cache={app_cache}"
        )
        if file_status != "FILE" or cache_status != "HIT":
            sys.exit("the shipped nginx did not serve the article from its page file and cache")
        log(f"page: {len(html):,} bytes; Cache-Control: {headers.get('Cache-Control')}")

        purge_lines = purge_check(env, ports["proxy"], ports["purge"])
        for line in purge_lines:
            log(line[2:])
        log("counting queries per request")
        uncached_q = count_queries(env, "bench_settings")
        cached_q = count_queries(env, "ptsdinfo.settings")

        workers = worker_pids(uncached.pid)
        memory = {"labels": [f"worker {i + 1}" for i in range(len(workers))], "samples": []}
        memory["samples"].append((0, [rss_mib(pid) for pid in workers]))
        served = 0
        profile: list[str] = []

        load = {"duration": args.duration, "threads": args.threads, "connections": args.connections}
        static = wrk(
            "nginx static file (same HTML)",
            f"http://127.0.0.1:{ports['static']}{ARTICLE}",
            server=nginx.pid,
            **load,
        )
        static.queries = "0"
        results = [static]
        for name, url, queries, server in (
            (
                STATIC_WITH_HEADERS,
                f"http://127.0.0.1:{ports['static_headers']}{ARTICLE}",
                0,
                nginx.pid,
            ),
            ("article, uncached", uncached_url + ARTICLE, uncached_q[ARTICLE], uncached.pid),
            ("article, application cache", app_url + ARTICLE, cached_q[ARTICLE], app.pid),
            (SHIPPED_NGINX, proxy_url + ARTICLE, 0, nginx.pid),
            (PROXY_CACHE_ONLY, proxy_url + ARTICLE + PROXY_CACHE_QUERY, 0, nginx.pid),
            (
                "gunicorn floor: same bytes from a bare WSGI app",
                f"http://127.0.0.1:{ports['floor']}{ARTICLE}",
                0,
                floor.pid,
            ),
            ("home page, uncached", uncached_url + HOME, uncached_q[HOME], uncached.pid),
            ("home page, application cache", app_url + HOME, cached_q[HOME], app.pid),
            (
                "search `ketamine`, uncached",
                uncached_url + SEARCH,
                uncached_q[SEARCH],
                uncached.pid,
            ),
            ("search `ketamine`, application cache", app_url + SEARCH, cached_q[SEARCH], app.pid),
        ):
            spy = None
            if args.profile and name == "article, uncached":
                spy = start_profile(workers[0], max(2, args.duration - 2), tmp / "profile.txt")
            result = wrk(name, url, server=server, **load)
            if spy is not None:
                spy.wait(timeout=60)
                profile = profile_lines(tmp / "profile.txt")
            result.queries = str(queries)
            results.append(result)
            if url.startswith(uncached_url):
                served += result.requests
                memory["samples"].append((served, [rss_mib(pid) for pid in workers]))
        while served < args.memory_requests:
            extra = wrk("memory top-up (uncached article)", uncached_url + ARTICLE, **load)
            served += extra.requests
        memory["samples"].append((served, [rss_mib(pid) for pid in workers]))
        if worker_pids(uncached.pid) != workers:
            log("warning: the uncached server's workers changed during the run")

        # Target 3 again in interleaved rounds: one 10 s run of each moves with the
        # machine by more than the gap the target is about (nginx static alone read
        # 33,643 to 40,146 req/s within four minutes here). Each pair runs in the other
        # order from the last, so a drift during the rounds favours neither.
        rounds = []
        targets = {
            "nginx static": f"http://127.0.0.1:{ports['static']}{ARTICLE}",
            SHIPPED_NGINX: proxy_url + ARTICLE,
        }
        for number in range(1, TARGET3_ROUNDS + 1):
            order = list(targets) if number % 2 else list(reversed(targets))
            rps = {
                name: wrk(f"round {number}: {name}", targets[name], server=nginx.pid, **load).rps
                for name in order
            }
            rounds.append(rps[SHIPPED_NGINX] / rps["nginx static"])

        instructions = nginx_instructions(
            tmp,
            {
                static.name: ("static_port", ARTICLE),
                STATIC_WITH_HEADERS: ("static_headers_port", ARTICLE),
                SHIPPED_NGINX: ("proxy_port", ARTICLE),
                PROXY_CACHE_ONLY: ("proxy_port", ARTICLE + PROXY_CACHE_QUERY),
            },
            app_port=ports["app"],
            static_root=tmp / "staticfiles",
        )

        env_lines = [*environment_lines(env), *purge_lines]
        write_report(
            args.report, results, static, memory, env_lines, args, profile, rounds, instructions
        )
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
