"""The multi-machine layout under faults, for real (issue 15): run by `make cluster-test`
against `make cluster`. Each fault test prints the failed-request count it measured."""

import signal
import time
import urllib.request
import uuid

import pytest

from tests.cluster.conftest import failed, get, load

SLUG = "cluster-check"
PATH = f"/articles/{SLUG}/"
EVERY_LAYER = ["lb", "nginx1", "nginx2", "app1", "app2"]


def publish_new_title(cluster) -> str:
    title = f"Cluster check {uuid.uuid4().hex[:8]}"
    cluster.node("publish", SLUG, title)
    return title


def wait_for(cluster, name: str, text: str, path: str = PATH, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, body = get(cluster.url(name, path))
        if status == 200 and text in body:
            return time.monotonic() - started
        time.sleep(0.02)
    return float("inf")


@pytest.fixture(scope="module")
def article(cluster):
    return publish_new_title(cluster)


def test_publish_on_node_1_is_visible_everywhere_within_one_second(cluster, article):
    for name in EVERY_LAYER:  # every cache holds the current page
        assert get(cluster.url(name, PATH))[0] == 200
    title = publish_new_title(cluster)

    seen = {name: wait_for(cluster, name, title) for name in EVERY_LAYER}

    print(f"\npublish-to-visible seconds: {seen}")
    assert max(seen.values()) < 1.0, seen


def headers(cluster, name, path=PATH):
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(cluster.url(name, path), timeout=5) as response:
        return response.headers


@pytest.mark.parametrize("query", ["", "?from=cluster-test"])
def test_each_reader_gets_its_own_request_id_from_the_file_and_the_proxy_cache(
    cluster, article, query
):
    for name in ("nginx1", "nginx2"):
        first = headers(cluster, name, PATH + query)
        time.sleep(0.2)  # the page file is written beside the first request
        second = headers(cluster, name, PATH + query)
        # A plain request is answered from the page file, one with a query string from
        # the proxy cache (publicsite/page_files.py).
        assert second["X-Cache-Status"] == ("HIT" if query else "FILE"), name
        assert first["X-Request-ID"] != second["X-Request-ID"], name
        assert second["X-Cache"] is None, name  # the app's, from whichever request filled it


def test_a_publish_rewrites_each_nodes_page_file_within_one_second(cluster, article):
    for name in ("nginx1", "nginx2"):
        headers(cluster, name)
        time.sleep(0.2)
        assert headers(cluster, name)["X-Cache-Status"] == "FILE", name
    title = publish_new_title(cluster)

    seen = {name: wait_for(cluster, name, title) for name in ("nginx1", "nginx2")}

    assert max(seen.values()) < 1.0, seen
    for name in ("nginx1", "nginx2"):  # from the rewritten file, not a fallback
        assert headers(cluster, name)["X-Cache-Status"] == "FILE", name


def test_staff_read_their_writes_and_readers_never_go_back_with_replay_paused(cluster, article):
    cookie = cluster.node("staff-session")["cookie"]
    cluster.sql("replica", "SELECT pg_wal_replay_pause()")
    try:
        title = publish_new_title(cluster)
        staff = {
            name: get(cluster.url(name, PATH), headers={"Cookie": cookie})
            for name in ("lb", "nginx1", "nginx2")
        }
        readers = {name: wait_for(cluster, name, title, timeout=2) for name in EVERY_LAYER}
        replica_has_it = title in cluster.sql(
            "replica", f"SELECT title FROM articles_article WHERE slug = '{SLUG}'"
        )
    finally:
        cluster.sql("replica", "SELECT pg_wal_replay_resume()")

    assert all(status == 200 and title in body for status, body in staff.values())
    # The replica has not replayed the publish, yet no reader is shown the old version:
    # public reads go to the primary until the replica catches up.
    assert not replica_has_it
    assert max(readers.values()) < 1.0, readers


def test_replica_stopped_public_reads_fall_back_with_no_5xx(cluster, article):
    urls = [cluster.url("lb", "/search/?q=ptsd{n}"), cluster.url("lb", PATH)]
    cluster.stop("replica")
    try:
        counts = load(urls, seconds=3)
    finally:
        cluster.start("replica")

    print(f"\nreplica stopped: {dict(counts)}")
    assert failed(counts) == 0, counts
    assert counts[200] > 0


def test_redis_stopped_pages_are_served_and_a_publish_is_not_lost(cluster, article):
    urls = [cluster.url("lb", "/search/?q=trauma{n}"), cluster.url("lb", PATH)]
    cluster.stop("redis")
    try:
        counts = load(urls, seconds=3)
        title = publish_new_title(cluster)
        during = {name: wait_for(cluster, name, title, timeout=2) for name in ("app1", "app2")}
    finally:
        cluster.start("redis")
    after = {name: wait_for(cluster, name, title) for name in EVERY_LAYER}

    print(f"\nRedis stopped: {dict(counts)}")
    assert failed(counts) == 0, counts
    assert max(during.values()) < 2.0, during
    assert max(after.values()) < 5.0, after


def test_a_killed_node_is_routed_around(cluster, article):
    urls = [cluster.url("lb", "/search/?q=sleep{n}"), cluster.url("lb", PATH)]
    import threading

    killer = threading.Timer(
        1.0, lambda: (cluster.stop("nginx1", signal.SIGKILL), cluster.stop("app1", signal.SIGKILL))
    )
    killer.start()
    try:
        counts = load(urls, seconds=4)
    finally:
        killer.join()
        cluster.start("app1")
        cluster.start("nginx1")

    print(f"\nnode 1 killed: {dict(counts)}")
    # HAProxy retries a refused connection on the other node; only requests already
    # inside the killed node can fail.
    assert failed(counts) <= 4, counts
    assert counts[200] > 0
