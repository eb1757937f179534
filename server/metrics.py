"""Prometheus metrics: one registry per app, read by ``GET /metrics`` (server.ops.metrics).

Two kinds of figures, kept apart on purpose:

* **This process's HTTP traffic** (:class:`HttpMetrics`): requests by route name, method
  and status class, latency by route name, requests in flight. Labels are route *names*
  from server/routes.py, never raw paths, so a crawler cannot grow the series without
  bound. Each server process counts its own; Prometheus sums over instances.
* **The catalog's state** (:class:`CatalogCollector`), read from the database at scrape
  time: jobs by state and kind (the queue depth), finished jobs' durations by kind and
  outcome, fixity failures, free disk under the data directory. The ``jobs`` table is the
  truth about jobs whichever process ran them (any number of ``museum worker`` on any
  machine), so every server reports the same catalog-wide figures and no worker needs a
  port of its own: aggregate them over instances with ``max``, not ``sum``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from server import __version__
from server.models import JOB_STATES, FixityCheck, Job
from server.storage import free_space

if TYPE_CHECKING:
    from server.state import Museum

log = logging.getLogger(__name__)

PREFIX = "museum"
# Seconds: a metadata job takes well under a second, a 3D scan or a film up to hours.
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
FINISHED = ("succeeded", "failed")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class HttpMetrics:
    """What the request middleware (server.telemetry) records for each request."""

    requests: Counter
    latency: Histogram
    in_flight: Gauge

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "other"
        self.requests.labels(route, method, f"{status // 100}xx").inc()
        self.latency.labels(route).observe(seconds)


def http_metrics(registry: CollectorRegistry) -> HttpMetrics:
    return HttpMetrics(
        requests=Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by route name, method and status class.",
            ["route", "method", "status"],
            registry=registry,
        ),
        latency=Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route name.",
            ["route"],
            registry=registry,
        ),
        in_flight=Gauge(
            f"{PREFIX}_http_requests_in_progress",
            "HTTP requests being answered now by this process.",
            registry=registry,
        ),
    )


def _duration_seconds(session: Session) -> ColumnElement[float]:
    """``finished_at - started_at`` in seconds, in this database's dialect."""
    if session.get_bind().dialect.name == "sqlite":
        days = func.julianday(Job.finished_at) - func.julianday(Job.started_at)
        return cast(days * 86400.0, Float)
    return cast(func.extract("epoch", Job.finished_at - Job.started_at), Float)


@dataclass(frozen=True)
class CatalogFigures:
    """One scrape's worth of the ``jobs`` and ``fixity_checks`` tables."""

    by_state: dict[tuple[str, str], int]  # (state, kind) -> jobs
    durations: dict[tuple[str, str], tuple[list[int], float]]  # (kind, outcome) -> buckets, sum
    fixity_failed: int  # originals whose last ``museum fixity`` check found them changed/missing
    fixity_last: float | None  # Unix time of the latest check, None before the first


def read_catalog_figures(session: Session) -> CatalogFigures:
    """Three aggregate queries, whatever the tables' size: jobs by state, duration buckets
    of every finished job's final attempt (started_at is reset by each attempt), and the
    fixity checks' failures and latest time."""
    by_state = {
        (state, kind): int(count)
        for state, kind, count in session.execute(
            select(Job.state, Job.kind, func.count()).group_by(Job.state, Job.kind)
        )
    }
    seconds = _duration_seconds(session)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in JOB_BUCKETS]
    rows = session.execute(
        select(Job.kind, Job.state, func.count(), func.coalesce(func.sum(seconds), 0.0), *columns)
        .where(Job.state.in_(FINISHED), Job.started_at.is_not(None), Job.finished_at.is_not(None))
        .group_by(Job.kind, Job.state)
    )
    durations = {
        (row[0], row[1]): ([*(int(n or 0) for n in row[4:]), int(row[2])], float(row[3]))
        for row in rows
    }
    failed, last = session.execute(
        select(
            func.count(FixityCheck.sha256).filter(FixityCheck.ok.is_(False)),
            func.max(FixityCheck.checked_at),
        )
    ).one()
    last_time = last.replace(tzinfo=UTC).timestamp() if last is not None else None
    return CatalogFigures(by_state, durations, int(failed), last_time)


class CatalogCollector(Collector):
    """Figures read at scrape time: the queue depth, job durations and free disk."""

    def __init__(self, museum: Museum) -> None:
        self.museum = museum

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_catalog_up",
            "1 when this scrape could read the catalog database (the job figures below).",
        )
        try:
            figures = self.museum.db.call(read_catalog_figures)
        except Exception:  # a scrape reports the outage instead of failing
            log.warning("metrics: the catalog could not be read", exc_info=True)
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            yield from self._jobs(figures)
            yield from self._fixity(figures)
        yield up
        disk = GaugeMetricFamily(
            f"{PREFIX}_data_dir_free_bytes",
            "Bytes free on the file system of the data directory (MUSEUM_DATA_DIR).",
        )
        disk.add_metric([], free_space(self.museum.settings.data_dir))
        yield disk

    def _jobs(self, figures: CatalogFigures) -> Iterable[Metric]:
        kinds = sorted({*self.museum.jobs.handlers, *(kind for _, kind in figures.by_state)})
        jobs = GaugeMetricFamily(
            f"{PREFIX}_jobs",
            "Jobs in the catalog by state and kind; state=queued is the queue depth.",
            labels=["state", "kind"],
        )
        for state in JOB_STATES:
            for kind in kinds:
                jobs.add_metric([state, kind], figures.by_state.get((state, kind), 0))
        yield jobs
        durations = HistogramMetricFamily(
            f"{PREFIX}_job_duration_seconds",
            "Run time of finished jobs' last attempt, by kind and outcome (from the catalog).",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), (counts, total) in sorted(figures.durations.items()):
            buckets = [(str(float(b)), n) for b, n in zip(JOB_BUCKETS, counts, strict=False)]
            buckets.append(("+Inf", counts[-1]))
            durations.add_metric([kind, outcome], buckets, sum_value=total)
        yield durations

    @staticmethod
    def _fixity(figures: CatalogFigures) -> Iterable[Metric]:
        failed = GaugeMetricFamily(
            f"{PREFIX}_fixity_failed_originals",
            "Originals whose latest fixity check (museum fixity) found them changed or missing.",
        )
        failed.add_metric([], figures.fixity_failed)
        yield failed
        if figures.fixity_last is not None:
            last = GaugeMetricFamily(
                f"{PREFIX}_fixity_last_check_timestamp_seconds",
                "When museum fixity last re-hashed an original (Unix time).",
            )
            last.add_metric([], figures.fixity_last)
            yield last


def build_registry(museum: Museum) -> tuple[CollectorRegistry, HttpMetrics]:
    """The app's own registry (not the global one: tests build many apps in one process)."""
    registry = CollectorRegistry()
    Info(f"{PREFIX}_build", "The museum's version and Python.", registry=registry).info(
        {"version": __version__, "python": platform.python_version()}
    )
    ProcessCollector(registry=registry)
    registry.register(CatalogCollector(museum))
    return registry, http_metrics(registry)
