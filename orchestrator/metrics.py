"""Prometheus metrics: this node's own measurements, and deployment-wide figures read from Redis at scrape.

Deployment-wide series (sessions by status, created/ended totals, workers, queue) read the same on
every node: aggregate them with max(), not sum(), across API nodes.
"""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from . import clock
from .crashes import CrashLog
from .files import FileStats
from .queue import CreateQueue
from .registry import WorkerRegistry
from .store import SessionStore

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Deployment(Collector):
    """Figures read from Redis just before each scrape (prometheus collectors cannot await)."""

    def __init__(self) -> None:
        self.stats: dict[str, int] = {}
        self.workers: list[tuple[str, int, int, bool]] = []
        self.queued = 0
        self.quarantined = 0  # users in crash quarantine
        self.files: tuple[str, FileStats] | None = None  # this node's worker's session files, if it has one

    def collect(self) -> Iterator[Metric]:
        sessions = GaugeMetricFamily(
            "browserpool_sessions", "Sessions in each status (deployment-wide)", labels=["status"]
        )
        for status in ("starting", "active", "closing"):
            sessions.add_metric([status], max(self.stats.get(f"status:{status}", 0), 0))
        yield sessions
        yield CounterMetricFamily(
            "browserpool_sessions_created", "Sessions created", value=self.stats.get("created", 0)
        )
        ended = CounterMetricFamily("browserpool_sessions_ended", "Sessions ended, by reason", labels=["reason"])
        for key, value in sorted(self.stats.items()):
            if key.startswith("ended:"):
                ended.add_metric([key.removeprefix("ended:")], value)
        yield ended
        capacity = GaugeMetricFamily("browserpool_worker_capacity", "Session slots per live worker", labels=["worker"])
        used = GaugeMetricFamily("browserpool_worker_used", "Slots in use per live worker", labels=["worker"])
        draining = GaugeMetricFamily("browserpool_worker_draining", "1 while a worker drains", labels=["worker"])
        for worker_id, cap, in_use, is_draining in self.workers:
            capacity.add_metric([worker_id], cap)
            used.add_metric([worker_id], in_use)
            draining.add_metric([worker_id], int(is_draining))
        yield from (capacity, used, draining)
        yield GaugeMetricFamily("browserpool_queue_waiting", "Creates waiting for capacity", value=self.queued)
        yield GaugeMetricFamily(
            "browserpool_profiles", "Profiles kept (deployment-wide)", value=self.stats.get("profiles", 0)
        )
        yield GaugeMetricFamily(
            "browserpool_profile_bytes",
            "Stored (compressed) size of every profile's current version (deployment-wide)",
            value=self.stats.get("profile_bytes", 0),
        )
        yield CounterMetricFamily(
            "browserpool_profile_save_failures",
            "Final saves of persisting sessions that failed (the profile kept its previous version)",
            value=self.stats.get("profile_save_failures", 0),
        )
        yield CounterMetricFamily(
            "browserpool_browser_crashes", "Shared browsers that crashed", value=self.stats.get("browser_crashes", 0)
        )
        yield CounterMetricFamily(
            "browserpool_sessions_restarted",
            "Sessions of a crashed browser restarted on a fresh one with their state",
            value=self.stats.get("sessions_restarted", 0),
        )
        yield CounterMetricFamily(
            "browserpool_crash_quarantines",
            "Users quarantined because their command was in flight at a crash",
            value=self.stats.get("crash_quarantines", 0),
        )
        yield GaugeMetricFamily(
            "browserpool_crash_quarantined_users", "Users in crash quarantine now", value=self.quarantined
        )
        if self.files is not None:
            yield from _file_metrics(*self.files)


def _file_metrics(worker_id: str, stats: FileStats) -> Iterator[Metric]:
    on_disk = GaugeMetricFamily(
        "browserpool_files_bytes", "Bytes of session files (downloads, uploads, recordings) on disk", labels=["worker"]
    )
    on_disk.add_metric([worker_id], stats.bytes_on_disk)
    downloads = CounterMetricFamily("browserpool_downloads", "Session downloads finished", labels=["worker", "state"])
    downloads.add_metric([worker_id, "complete"], stats.downloads_complete)
    downloads.add_metric([worker_id, "failed"], stats.downloads_failed)
    recording = GaugeMetricFamily("browserpool_recordings_in_progress", "Sessions being recorded", labels=["worker"])
    recording.add_metric([worker_id], stats.recordings_in_progress)
    yield from (on_disk, downloads, recording)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._deployment = _Deployment()
        self.registry.register(self._deployment)
        self.session_start = Histogram(
            "browserpool_session_start_seconds",
            "Time to open a session (this node)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reaper_tick = Histogram(
            "browserpool_reaper_tick_seconds",
            "Duration of one reaper tick (this node)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reaped = Counter(
            "browserpool_reaped_sessions", "Sessions the reaper ended (this node)", ["outcome"], registry=self.registry
        )
        self.requests = Histogram(
            "browserpool_http_request_seconds",
            "API request latency (this node)",
            ["route", "method", "code"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webdriver_sessions = Gauge(
            "browserpool_webdriver_sessions",
            "WebDriver sessions this node drives (a chromedriver each)",
            registry=self.registry,
        )
        self.webdriver_commands = Counter(
            "browserpool_webdriver_commands",
            "WebDriver commands this node answered, by WebDriver outcome (success or the error code)",
            ["outcome"],
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "browserpool_redis_errors",
            "Requests answered 503 because Redis was unreachable (this node)",
            registry=self.registry,
        )

    async def refresh(
        self,
        store: SessionStore,
        registry: WorkerRegistry,
        queue: CreateQueue | None,
        files: tuple[str, FileStats] | None = None,
        crashes: CrashLog | None = None,
    ) -> None:
        self._deployment.files = files
        self._deployment.quarantined = len(await crashes.quarantined()) if crashes is not None else 0
        self._deployment.stats = await store.stats()
        live = await registry.live(clock.now_ms())
        self._deployment.workers = [(w.worker_id, w.capacity, w.used, w.draining) for w in live]
        self._deployment.queued = await queue.waiting() if queue is not None else 0

    def render(self) -> bytes:
        return generate_latest(self.registry)
