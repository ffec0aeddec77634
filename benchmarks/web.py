"""Web and feeds: requests per second and p95 latency of `sendwatch serve` with a realistic store.

    python benchmarks/web.py [--events 5000]

The store holds the 153 LAs' history: 5,000 events. A real `sendwatch serve` on
127.0.0.1, one client, sequential requests. Figures: the all-events feed answered in
full (200) and revalidated (304 with its ETag), and the home page. Target: p95 under
200 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _common import SENDWATCH, final

from sendwatch.vocab import Kind, Outcome
from storage.las import register
from storage.store import FindingData, Store
from tests.alerts.conftest import free_port

REQUESTS = 200


def seed(store: Store, events: int) -> None:
    random.seed(3)
    codes = [la.ons_code for la in register()]
    kinds = [
        Kind.IMPROVEMENT_NOTICE,
        Kind.INSPECTION_REPORT,
        Kind.NOTICE_LIFTED,
        Kind.NEWS,
        Kind.MONITORING_INSPECTION,
    ]
    store.record_many(
        (
            FindingData(
                source="lgl",
                identity=f"e{index}",
                url=f"https://www.localgovernmentlawyer.co.uk/a/{index}",
                title=f"Event {index}",
                kind=(kind := random.choice(kinds)),
                la_code=random.choice(codes),
                happened_on=dt.date(2018, 1, 1) + dt.timedelta(days=random.randint(0, 3000)),
                outcome=random.choice(list(Outcome)) if kind == Kind.INSPECTION_REPORT else None,
                summary="A council's SEND services. " * 5,
            )
            for index in range(events)
        ),
        alert=False,
    )


def measure(
    client: httpx.Client, path: str, headers: dict[str, str], status: int
) -> tuple[float, float]:
    latencies = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == status, (path, response.status_code)
    return len(latencies) / sum(latencies), statistics.quantiles(latencies, n=20)[18] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    events = parser.parse_args().events
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'store.db'}"
        store = Store(url)
        store.upgrade()
        seed(store, events)
        store.close()
        port = free_port()
        env_server = subprocess.Popen(
            [*SENDWATCH, "serve", "--port", str(port)],
            env={
                "PATH": "/usr/bin:/bin",
                "SENDWATCH_DATABASE_URL": url,
                "SENDWATCH_DATA_DIR": scratch,
                "SENDWATCH_LOG_LEVEL": "WARNING",
            },
            cwd=scratch,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(100):
                    try:
                        client.get("/healthz")
                        break
                    except httpx.TransportError:
                        time.sleep(0.2)
                etag = client.get("/feeds/all.atom").headers["etag"]
                figures = {}
                for name, path, headers, status in (
                    ("feed_200", "/feeds/all.atom", {}, 200),
                    ("feed_304", "/feeds/all.atom", {"If-None-Match": etag}, 304),
                    ("home", "/", {}, 200),
                    ("la_page", "/la/bexley", {}, 200),
                ):
                    rate, p95 = measure(client, path, headers, status)
                    print(f"{path} ({status}): {rate:.0f} requests/s, p95 {p95:.1f} ms")
                    figures[f"{name}_per_s"] = rate
                    figures[f"{name}_p95_ms"] = p95
        finally:
            env_server.terminate()
            env_server.wait(timeout=10)
    final(events=events, **figures)


if __name__ == "__main__":
    main()
