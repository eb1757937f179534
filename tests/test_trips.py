"""Field trips on a live server over real WebSockets: a class of 60 follows its teacher, a
pupil reconnects, a forged command is refused, the summary downloads; and two server
processes sharing trips through Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.auth import SESSION_COOKIE
from server.db import Database
from server.settings import Settings
from tests.live import free_port, serving
from tests.trip_helpers import (
    STOPS,
    add_exhibition,
    join,
    receive,
    receive_type,
    session_for,
    start_trip,
    trip_socket,
)

PUPILS = 60
MOVES = 30
P95_GOAL = 0.150  # seconds from the teacher's send to a pupil's receive


@pytest.fixture
def live(seeded_settings: Settings) -> Iterator[tuple[str, Database]]:
    db = Database(seeded_settings.resolved_database_url)
    add_exhibition(db)
    with serving(create_app(seeded_settings)) as base:
        yield base, db
    db.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def test_sixty_pupils_receive_every_move_in_order_and_fast(live: tuple[str, Database]) -> None:
    base, db = live
    cookie, csrf = session_for(db, "co-hoa")
    code = start_trip(base, cookie, csrf)

    async def run() -> tuple[list[list[int]], list[float], int]:
        async with trip_socket(base, code, cookie) as teacher:
            assert (await receive(teacher))["you"]["role"] == "teacher"
            sockets = [trip_socket(base, code) for _ in range(PUPILS)]
            pupils = [await s.__aenter__() for s in sockets]
            try:
                await asyncio.gather(*(join(p, f"Học sinh {i}") for i, p in enumerate(pupils)))
                joined = 0
                while joined < PUPILS:  # one list per join; the last one names everybody
                    joined = len((await receive_type(teacher, "participants"))["participants"])
                sent: dict[int, float] = {}
                seen: list[list[int]] = [[] for _ in pupils]
                latencies: list[float] = []

                async def listen(index: int) -> None:
                    while len(seen[index]) < MOVES:
                        message = await receive(pupils[index])
                        if message["type"] == "move":
                            latencies.append(time.monotonic() - sent[message["seq"]])
                            seen[index].append(message["seq"])

                listeners = [asyncio.create_task(listen(i)) for i in range(PUPILS)]
                for number in range(1, MOVES + 1):
                    sent[number] = time.monotonic()
                    if number % 3:
                        await teacher.send(json.dumps({"type": "goto", "stop": number % STOPS}))
                    else:
                        camera = {"position": [number, 1, 2], "target": [0, 0, 0], "up": [0, 1, 0]}
                        await teacher.send(json.dumps({"type": "view", "camera": camera}))
                    await asyncio.sleep(0.06)  # a brisk teacher: 16 moves a second
                await asyncio.wait_for(asyncio.gather(*listeners), 30)
                return seen, latencies, joined
            finally:
                for s in sockets:
                    await s.__aexit__(None, None, None)

    seen, latencies, joined = asyncio.run(run())
    assert joined == PUPILS
    assert all(moves == list(range(1, MOVES + 1)) for moves in seen)  # every move, in order
    p95 = percentile(latencies, 0.95)
    print(f"fan-out to {PUPILS} pupils: p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p95 {p95 * 1000:.1f} ms over {len(latencies)} deliveries")  # fmt: skip
    assert p95 < P95_GOAL, f"p95 fan-out latency {p95 * 1000:.0f} ms"


def test_a_pupil_who_reconnects_gets_its_place_and_the_current_stop(
    live: tuple[str, Database],
) -> None:
    base, db = live
    cookie, csrf = session_for(db, "co-hoa")
    code = start_trip(base, cookie, csrf)

    async def run() -> None:
        async with trip_socket(base, code, cookie) as teacher:
            await receive(teacher)
            async with trip_socket(base, code) as first:
                state = await join(first, "Y Phương")
                token = state["you"]["token"]
                assert state["stop"] == 0 and len(token) >= 16
            assert (await receive_type(teacher, "participants"))["participants"][0]["connected"]
            away = await receive_type(teacher, "participants")
            assert away["participants"] == [{"nickname": "Y Phương", "connected": False}]
            # While the pupil is away the class moves on and a question is asked.
            await teacher.send(json.dumps({"type": "goto", "stop": 3}))
            await teacher.send(json.dumps({"type": "mode", "mode": "explore"}))
            ask = {"text": "Đây là gì?", "kind": "short"}
            await teacher.send(json.dumps({"type": "ask", "question": ask}))
            await receive_type(teacher, "question")
            async with trip_socket(base, code) as second:
                # Someone else cannot take the nickname without the token …
                await second.send(json.dumps({"type": "hello", "nickname": "y phương"}))
                assert (await receive_type(second, "error"))["code"] == "nickname_taken"
                # … the pupil with its token gets its place and the trip as it is now.
                state = await join(second, "Y Phương", token)
                assert (state["stop"], state["mode"], state["seq"]) == (3, "explore", 3)
                assert state["question"]["text"] == "Đây là gì?"
                assert state["you"] == {"role": "pupil", "nickname": "Y Phương", "token": token}
                back = await receive_type(teacher, "participants")
                assert back["participants"] == [{"nickname": "Y Phương", "connected": True}]

    asyncio.run(run())


def test_a_forged_teacher_command_is_refused_and_the_end_makes_the_csv(
    live: tuple[str, Database],
) -> None:
    base, db = live
    cookie, csrf = session_for(db, "co-hoa")
    code = start_trip(base, cookie, csrf)

    async def run() -> None:
        async with trip_socket(base, code, cookie) as teacher:
            await receive(teacher)
            async with trip_socket(base, code) as pupil, trip_socket(base, code) as other:
                await join(pupil, "=HYPERLINK(1)")
                await join(other, "Bình")
                await pupil.send(json.dumps({"type": "goto", "stop": 4}))
                error = await receive(pupil)
                assert (error["type"], error["code"]) == ("error", "forbidden")
                await pupil.send(json.dumps({"type": "end"}))
                assert (await receive(pupil))["code"] == "forbidden"
                question = {"text": "Chất liệu?", "kind": "choice", "options": ["đồng", "-gỗ"]}
                await teacher.send(json.dumps({"type": "ask", "question": question}))
                asked = await receive_type(pupil, "question")
                assert (
                    (await receive_type(other, "question"))["seq"] == asked["seq"] == 1
                )  # no goto
                await pupil.send(json.dumps({"type": "answer", "question_id": "q1", "choice": 1}))
                assert (await receive(pupil))["type"] == "answered"
                await other.send(json.dumps({"type": "answer", "question_id": "q1", "choice": 0}))
                await receive(other)
                results = None
                while results is None or results["results"]["total"] < 2:
                    results = await receive_type(teacher, "results")
                assert results["results"]["counts"] == [1, 1]
                await teacher.send(json.dumps({"type": "end"}))
                assert (await receive_type(pupil, "ended"))["type"] == "ended"
                assert (await receive_type(teacher, "ended"))["type"] == "ended"

    asyncio.run(run())
    cookies = {SESSION_COOKIE: cookie}
    response = httpx.get(f"{base}/trips/{code}/summary.csv", cookies=cookies, trust_env=False)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 1 + 2 + 1 + 2  # header, two pupils, the question, two answers
    nicknames = {row[1] for row in rows[1:] if row[1]}
    assert nicknames == {"'=HYPERLINK(1)", "Bình"}  # a formula is neutralised
    answers = sorted(row[5] for row in rows if row[5] and row is not rows[0])
    assert answers == ["1. đồng", "2. -gỗ"]
    # Another teacher, and a visitor, do not get it.
    stranger, _ = session_for(db, "co-khac")
    other = httpx.get(
        f"{base}/trips/{code}/summary.csv", cookies={SESSION_COOKIE: stranger}, trust_env=False
    )
    assert other.status_code == 404
    assert httpx.get(f"{base}/trips/{code}/summary.csv", trust_env=False).status_code == 401


# Two server processes sharing trips through Redis ---------------------------------------


def start_server(data_dir: Path, redis_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSEUM_") and "PROXY" not in k}
    env |= {
        "MUSEUM_DATA_DIR": str(data_dir),
        "MUSEUM_QUEUE_URL": redis_url,
        "MUSEUM_AUTO_MIGRATE": "false",
        "MUSEUM_LOG_LEVEL": "warning",
    }
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"museum serve stopped: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", trust_env=False, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{base} did not start")


@pytest.mark.slow
@pytest.mark.redis
def test_pupils_on_either_of_two_processes_receive_the_moves(
    seeded_settings: Settings, redis_url: str
) -> None:
    db = Database(seeded_settings.resolved_database_url)
    add_exhibition(db)
    cookie, csrf = session_for(db, "co-hoa")
    db.dispose()
    ports = [free_port(), free_port()]
    logs = [seeded_settings.data_dir.parent / f"serve-{port}.log" for port in ports]
    servers = [
        start_server(seeded_settings.data_dir, redis_url, port, log)
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, server, log in zip(bases, servers, logs, strict=True):
            wait_ready(base, server, log)
        code = start_trip(bases[0], cookie, csrf)  # started on the first process

        async def run() -> list[list[tuple[int, int]]]:
            # The teacher on the second process, six pupils spread over both.
            async with trip_socket(bases[1], code, cookie) as teacher:
                assert (await receive(teacher))["you"]["role"] == "teacher"
                sockets = [trip_socket(bases[i % 2], code) for i in range(6)]
                pupils = [await s.__aenter__() for s in sockets]
                try:
                    for i, pupil in enumerate(pupils):
                        await join(pupil, f"Em {i}")
                    for stop in (1, 2, 3, 4, 0, 2):
                        await teacher.send(json.dumps({"type": "goto", "stop": stop}))
                    received = []
                    for pupil in pupils:
                        moves = [await receive_type(pupil, "move") for _ in range(6)]
                        received.append([(m["seq"], m["stop"]) for m in moves])
                    # A pupil reconnecting to the other process gets the current stop.
                    async with trip_socket(bases[1], code) as late:
                        state = await join(late, "Em muộn")
                        assert (state["stop"], state["seq"]) == (2, 6)
                    return received
                finally:
                    for s in sockets:
                        await s.__aexit__(None, None, None)

        received = asyncio.run(run())
        expected = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 0), (6, 2)]
        assert received == [expected] * 6
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
