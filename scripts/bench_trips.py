"""Field trips under a school's load: 5 classes of 60 pupils following their teachers.

Usage: python scripts/bench_trips.py [--trips 5] [--pupils 60] [--moves 100]
                                     [--queue-url redis://127.0.0.1:6379/14] [--docs docs/benchmarks.md]

A ``museum serve`` subprocess (one uvicorn process, as deployed) runs on loopback with a fresh
catalog and one exhibition. Five teachers start a trip each through ``POST /trips``; 60 pupils
per trip join over real WebSockets (the ``websockets`` client, all in this process). Each
teacher then makes ``--moves`` moves, alternating stops and camera positions, five a second,
the five classes at once. Measured, for every move and every pupil: the time from the
teacher's send to the pupil's receive (monotonic clock, same process), p50/p95/p99; and the
server process's CPU time over the moves (from /proc), as a share of one core. With
``--queue-url redis://…`` the server shares trips through Redis (``docs/trips.md``).

It writes its section of docs/benchmarks.md (between the ``bench-trips`` markers), prints it,
and exits 1 when the goal (p95 under 150 ms, every move delivered in order) is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_docs import publish_verdict  # beside this script, on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DOCS = ROOT / "docs" / "benchmarks.md"
START_MARKER = "<!-- bench-trips:start -->"
END_MARKER = "<!-- bench-trips:end -->"
GOAL_P95 = 0.150  # seconds
MOVE_INTERVAL = 0.2  # seconds between two moves of one teacher
CLK_TCK = os.sysconf("SC_CLK_TCK")


def prepare(data: Path, teachers: int) -> list[tuple[str, str]]:
    """A migrated catalog with the seed and the test exhibition; ``teachers`` sign-ins."""
    from server.catalog import import_catalog_file
    from server.db import Database
    from server.migrate import upgrade
    from server.settings import Settings
    from tests.trip_helpers import add_exhibition, session_for

    settings = Settings(data_dir=data)
    db = Database(settings.resolved_database_url)
    upgrade(db)
    db.call(lambda s: import_catalog_file(s, ROOT / "assets" / "seed-catalog.csv"), write=True)
    add_exhibition(db)
    sessions = [session_for(db, f"giao-vien-{n}") for n in range(teachers)]
    db.dispose()
    return sessions


def serve(data: Path, port: int, queue_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_")}
    env |= {
        "MUSEUM_DATA_DIR": str(data),
        "MUSEUM_AUTO_MIGRATE": "false",
        "MUSEUM_LOG_LEVEL": "warning",
    }
    if queue_url:
        env["MUSEUM_QUEUE_URL"] = queue_url
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"museum serve stopped:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", trust_env=False, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def run_class(
    base: str,
    code: str,
    cookie: str,
    pupils: int,
    moves: int,
    ready: asyncio.Event,
    start: asyncio.Event,
) -> dict[str, Any]:
    from tests.trip_helpers import STOPS, join, receive, trip_socket

    async with trip_socket(base, code, cookie) as teacher:
        await receive(teacher)
        contexts = [trip_socket(base, code) for _ in range(pupils)]
        sockets = [await c.__aenter__() for c in contexts]
        try:
            for number, socket in enumerate(sockets):  # a class arrives over a few seconds
                await join(socket, f"Học sinh {number}")
            sent: dict[int, float] = {}
            latencies: list[float] = []
            in_order = [True] * pupils

            async def listen(index: int) -> None:
                last = 0
                while last < moves:
                    message = await receive(sockets[index], 60)
                    if message["type"] == "move":
                        latencies.append(time.monotonic() - sent[message["seq"]])
                        in_order[index] &= message["seq"] == last + 1
                        last = message["seq"]

            async def drain_teacher() -> None:
                while True:
                    await teacher.recv()

            listeners = [asyncio.create_task(listen(i)) for i in range(pupils)]
            drain = asyncio.create_task(drain_teacher())
            ready.set()
            await start.wait()
            for number in range(1, moves + 1):
                if number % 2:
                    message: dict[str, Any] = {"type": "goto", "stop": number % STOPS}
                else:
                    camera = {
                        "position": [number / 10, 1.0, 2.0],
                        "target": [0, 0, 0],
                        "up": [0, 1, 0],
                    }
                    message = {"type": "view", "camera": camera}
                sent[number] = time.monotonic()
                await teacher.send(json.dumps(message))
                await asyncio.sleep(MOVE_INTERVAL)
            await asyncio.wait_for(asyncio.gather(*listeners), 60)
            drain.cancel()
            await teacher.send(json.dumps({"type": "end"}))  # nothing is left in the hub
            return {"latencies": latencies, "in_order": all(in_order)}
        finally:
            for c in contexts:
                await c.__aexit__(None, None, None)


async def run_all(
    base: str, trips: list[tuple[str, str]], pupils: int, moves: int, pid: int
) -> dict[str, Any]:
    start = asyncio.Event()
    readies = [asyncio.Event() for _ in trips]
    tasks = [
        asyncio.create_task(run_class(base, code, cookie, pupils, moves, ready, start))
        for (code, cookie), ready in zip(trips, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    start.set()
    results = await asyncio.gather(*tasks)
    cpu = cpu_seconds(pid) - cpu_before
    wall = time.monotonic() - wall_before
    latencies = [value for result in results for value in result["latencies"]]
    return {
        "latencies": latencies,
        "in_order": all(r["in_order"] for r in results),
        "cpu": cpu,
        "wall": wall,
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def bench(args: argparse.Namespace) -> int:
    from tests.live import free_port
    from tests.trip_helpers import start_trip

    work = Path(tempfile.mkdtemp(prefix="bench-trips-"))
    server = None
    try:
        sessions = prepare(work / "data", args.trips)
        port = free_port()
        log = work / "serve.log"
        server = serve(work / "data", port, args.queue_url, log)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server, log)
        trips = [(start_trip(base, cookie, csrf), cookie) for cookie, csrf in sessions]
        result = asyncio.run(run_all(base, trips, args.pupils, args.moves, server.pid))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    latencies = result["latencies"]
    expected = args.trips * args.pupils * args.moves
    p50, p95, p99 = (percentile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    cpu_share = result["cpu"] / result["wall"]
    rate = args.trips / MOVE_INTERVAL
    met = {
        "p95": p95 / 1000 < GOAL_P95,
        "delivered": len(latencies) == expected and result["in_order"],
    }
    mark = {key: "" if ok else "✗ " for key, ok in met.items()}
    hub = "Redis (`MUSEUM_QUEUE_URL=redis://…`)" if args.queue_url else "in-process"
    lines = [
        START_MARKER,
        "## Field trips: five classes following their teachers",
        "",
        f"`python scripts/bench_trips.py` — one `museum serve` process ({hub} trip hub) on "
        f"loopback; {args.trips} trips of {args.pupils} pupils each over real WebSockets (the "
        f"`websockets` client, all in the benchmark process, on the same 2 cores). Each teacher "
        f"makes {args.moves} moves (stops and camera positions), {1 / MOVE_INTERVAL:.0f} a "
        f"second, the {args.trips} classes at once ({rate:.0f} moves/s, "
        f"{rate * args.pupils:.0f} messages/s out). Latency: teacher's send to pupil's receive.",
        "",
        "| deliveries | p50 | p95 | p99 | server CPU |",
        "|---|---|---|---|---|",
        f"| {len(latencies):,} of {expected:,} {mark['delivered']}(all, in order) | "
        f"{p50:.1f} ms | {p95:.1f} ms {mark['p95']}(goal < 150 ms) | {p99:.1f} ms | "
        f"{cpu_share * 100:.0f} % of one core ({result['cpu']:.1f} s in {result['wall']:.1f} s) |",
        "",
        f"Mean {statistics.fmean(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms.",
        "",
    ]
    return publish_verdict(args.docs, lines, met, START_MARKER, END_MARKER)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trips", type=int, default=5)
    parser.add_argument("--pupils", type=int, default=60)
    parser.add_argument("--moves", type=int, default=100)
    parser.add_argument("--queue-url", default="", help="redis://… to share trips through Redis")
    parser.add_argument("--docs", type=Path, default=DOCS)
    return bench(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
