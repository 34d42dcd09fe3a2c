"""What the API asks of sessions: create, read, list, keep alive, drive, close."""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from . import clock
from .activity import ActivityRecorder
from .addresses import AddressPolicy, page_policy
from .cdp_tokens import CdpTokens
from .config import Settings
from .directory import WorkerDirectory
from .errors import (
    ClientGaveUp,
    FileNotFound,
    InvalidInput,
    NoProfileToSave,
    NotReplicated,
    PoolFull,
    PoolUnavailable,
    ProfileNotFound,
    RecordingNotReady,
    SessionEnded,
    SessionNotFound,
    SessionNotReady,
)
from .files import DownloadInfo, FileStream, PdfOptions, UploadedFile
from .isolation import DEFAULT_ISOLATION, IsolationPolicy
from .lifecycle import EndReason, SessionStatus
from .models import DEFAULT_PROXY, ProfileRef, SessionRecord, SessionRequest, SessionSpec
from .profiles import ProfileStore
from .proxies import UpstreamProxy, always_refused, proxy_from_url
from .queue import CreateQueue, wait_for_turn
from .redis_watch import ReplicaWait
from .store import SessionStore, Transition
from .worker import BrowserWorker, CdpClient, CdpMode, NavigationResult, Upload

log = logging.getLogger(__name__)

T = TypeVar("T")
GaveUp = Callable[[], Awaitable[bool]]


async def _never() -> bool:
    return False


@dataclass(frozen=True)
class CreatePolicy:
    """How sessions are made: timeouts a request may ask for, how long to queue, how many per user."""

    default_timeout: int = 300
    max_timeout: int = 86400
    idle_timeout: int = 300
    queue_timeout: float = 0
    max_sessions_per_user: int = 0  # 0: no limit
    default_proxy: UpstreamProxy | None = None  # for sessions that name none
    allow_direct: bool = True  # whether a session may ask for no proxy where a default is set
    addresses: AddressPolicy = field(default_factory=AddressPolicy)  # what a proxy's spelling alone may not name

    @classmethod
    def of(cls, settings: Settings) -> "CreatePolicy":
        return cls(
            default_timeout=settings.session_timeout,
            max_timeout=settings.max_session_timeout,
            idle_timeout=settings.idle_timeout,
            queue_timeout=settings.queue_timeout,
            max_sessions_per_user=settings.max_sessions_per_user,
            default_proxy=proxy_from_url(settings.default_proxy) if settings.default_proxy else None,
            allow_direct=settings.allow_direct,
            addresses=page_policy(settings),
        )

    def proxy_for(self, request: SessionRequest) -> UpstreamProxy | None:
        """The upstream a request's session uses: its own, the default when it names none, or none when it asks
        for none and that is allowed. InvalidInput for a proxy that can never be reached."""
        if request.proxy == DEFAULT_PROXY:
            return self.default_proxy
        if request.proxy is None:
            if self.default_proxy is not None and not self.allow_direct:
                raise InvalidInput(
                    "sessions here must use a proxy (BROWSERPOOL_ALLOW_DIRECT is false): leave proxy out for the "
                    "default one, or name your own",
                    loc=("body", "proxy"),
                )
            return None
        assert isinstance(request.proxy, UpstreamProxy)
        why = always_refused(request.proxy, self.addresses)
        if why:
            raise InvalidInput(f"proxy {request.proxy.server} is refused: {why}", loc=("body", "proxy", "server"))
        return request.proxy

    def spec_for(self, request: SessionRequest, user_id: str = "") -> SessionSpec:
        """The spec a request stands for, with the default timeout filled in; InvalidInput past the maximum."""
        timeout = self.default_timeout if request.timeout_seconds is None else request.timeout_seconds
        if timeout > self.max_timeout:
            raise InvalidInput(f"timeout_seconds must be at most {self.max_timeout}")
        profile = ProfileRef(user_id, request.profile, request.persist_profile) if request.profile else None
        proxy = self.proxy_for(request)
        return SessionSpec(
            request.viewport_width,
            request.viewport_height,
            request.user_agent,
            timeout,
            profile,
            proxy=proxy,
            record=request.record,
            isolation=request.isolation or DEFAULT_ISOLATION,
        )


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        directory: WorkerDirectory,
        queue: CreateQueue,
        cdp_tokens: CdpTokens,
        policy: CreatePolicy,
        replica_wait: ReplicaWait | None = None,
        profiles: ProfileStore | None = None,
    ) -> None:
        self.store = store
        self.replica_wait = replica_wait or ReplicaWait(None, 0, 1.0)
        self.profiles = profiles
        self.directory = directory
        self.queue = queue
        self.cdp_tokens = cdp_tokens
        self.policy = policy
        self.activity = ActivityRecorder(lambda sid, at: store.touch(sid, at))
        self.isolation = IsolationPolicy(store.redis, store.keys)
        self._cleanups: set[asyncio.Task[None]] = set()

    # --- reading -----------------------------------------------------------------------------

    async def get(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.store.get(session_id)
        if record is None or record.user_id != user_id:
            raise SessionNotFound(session_id)
        return record

    async def list_live(self, user_id: str) -> list[SessionRecord]:
        return await self.store.list_live(user_id)

    # --- lifecycle ---------------------------------------------------------------------------

    async def create(self, user_id: str, request: SessionRequest, gave_up: GaveUp = _never) -> SessionRecord:
        """Open a session on the best worker, waiting in the queue for capacity if so configured.

        Returns once its context is open (with its profile's state in it, if it starts from one) and the
        record reads `active`. A read-only profile must exist; a persisting one is made if new, and taken
        for this session alone (ProfileInUse while another session persists into it).
        """
        isolation = await self.isolation.level_for(user_id, request.isolation)
        spec = self.policy.spec_for(replace(request, isolation=isolation), user_id)
        if spec.profile is not None and not spec.profile.persist:
            if self.profiles is None or not await self.profiles.exists(user_id, spec.profile.name):
                raise ProfileNotFound(spec.profile.name)
        placed = None
        if self.policy.queue_timeout <= 0 or not await self.queue.waiting():
            placed = await self._place(user_id, spec)
        if placed is None and self.policy.queue_timeout > 0:
            placed = await self._wait_and_place(user_id, spec, gave_up)
        if placed is None:
            if self.directory.local is None and not await self.directory.live(fresh=True):
                raise PoolUnavailable("no browser worker is running; retry shortly")
            raise PoolFull()
        record, worker = placed
        if await gave_up():
            await self._abandon(record, worker, EndReason.START_FAILED)
            raise ClientGaveUp()
        return await self._activate(record, worker)

    async def close(self, user_id: str, session_id: str) -> None:
        """End a session at its owner's request. Closing an ended session is a no-op.

        The record says `closed` before this returns; the context closes right after, in the background.
        Nothing is lost if this process dies in between: the worker closes contexts whose records have
        ended at its next heartbeat (WorkerAgent.reconcile)."""
        record = await self.get(user_id, session_id)
        if not record.status.is_live:
            return

        async def move(status: SessionStatus) -> Transition | None:
            return await self.store.transition(
                session_id,
                status,
                clock.now_ms(),
                reason=EndReason.DELETED,
                user_id=record.user_id,
                worker_id=record.worker_id,
            )

        if await move(SessionStatus.CLOSING) is None:
            return  # someone else ended it first (the reaper, a crash): they close the context
        await move(SessionStatus.CLOSED)  # None only if the worker's reconcile finished the close meanwhile
        self.activity.forget(session_id)
        closing = self._close_context(record.worker_id, session_id, "session closed (deleted)")
        if record.profile_persist:
            # Its final save is part of the close: once this returns, the profile holds it and is free again.
            await closing
        else:
            self._in_background(closing)

    async def save_profile(self, user_id: str, session_id: str) -> SessionRecord:
        """Save an active persisting session's state into its profile now; the session carries on."""
        record = await self.get(user_id, session_id)
        if not record.profile_persist:
            raise NoProfileToSave(f"session {session_id} does not persist into a profile")
        worker = await self._drivable(record)
        await worker.save_profile(session_id)
        await self.activity.record(session_id)
        return await self.get(user_id, session_id)

    async def _close_context(self, worker_id: str, session_id: str, why: str) -> None:
        try:
            worker = await self.directory.get(worker_id)
            await worker.close_session(session_id, why)
        except PoolUnavailable:
            return  # its worker closes it on its next reconcile, or the reaper fails it when its lease lapses
        except Exception:
            log.warning("could not close the context of deleted session %s", session_id, exc_info=True)

    async def keepalive(self, user_id: str, session_id: str) -> SessionRecord:
        record = await self.get(user_id, session_id)
        status = await self.store.touch(session_id, clock.now_ms(), extend=True)
        if status is None or not status.is_live:
            raise SessionEnded((status or record.status).value)
        return await self.get(user_id, session_id)

    # --- actions -----------------------------------------------------------------------------

    async def navigate(self, user_id: str, session_id: str, url: str) -> NavigationResult:
        return await self._drive(user_id, session_id, lambda w: w.navigate(session_id, url))

    async def evaluate(self, user_id: str, session_id: str, expression: str) -> Any:
        return await self._drive(user_id, session_id, lambda w: w.evaluate(session_id, expression))

    async def screenshot(self, user_id: str, session_id: str) -> bytes:
        return await self._drive(user_id, session_id, lambda w: w.screenshot(session_id))

    async def content(self, user_id: str, session_id: str) -> str:
        return await self._drive(user_id, session_id, lambda w: w.content(session_id))

    async def pdf(self, user_id: str, session_id: str, options: PdfOptions) -> bytes:
        return await self._drive(user_id, session_id, lambda w: w.pdf(session_id, options))

    # --- files: downloads and recordings stay readable after the end, for the file retention --

    async def downloads(self, user_id: str, session_id: str) -> list[DownloadInfo]:
        return await (await self._file_holder(user_id, session_id)).downloads(session_id)

    async def download(self, user_id: str, session_id: str, name: str) -> FileStream:
        return await (await self._file_holder(user_id, session_id)).open_file(session_id, name)

    async def recording(self, user_id: str, session_id: str) -> FileStream:
        record = await self.get(user_id, session_id)
        if not record.record:
            raise FileNotFound('this session was not recorded (create it with "record": true)')
        if record.status.is_live:
            raise RecordingNotReady(
                "the session is still being recorded: its video is ready once the session has ended"
            )
        return await (await self.directory.get(record.worker_id)).open_file(session_id, None)

    async def upload(self, user_id: str, session_id: str, files: list[Upload]) -> list[UploadedFile]:
        return await self._drive(user_id, session_id, lambda w: w.upload(session_id, files))

    async def set_input_files(self, user_id: str, session_id: str, selector: str, names: list[str]) -> None:
        await self._drive(user_id, session_id, lambda w: w.set_input_files(session_id, selector, names))

    async def _file_holder(self, user_id: str, session_id: str) -> BrowserWorker:
        """The worker that holds (or held) the session: its files stay there after the end."""
        record = await self.get(user_id, session_id)
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        return await self.directory.get(record.worker_id)

    # --- CDP ---------------------------------------------------------------------------------

    async def cdp_session(self, session_id: str, user_id: str | None, token: str | None) -> BrowserWorker:
        """The worker to relay a CDP connection to: the owner's session, or the one the token opens."""
        return (await self.cdp_target(session_id, user_id, token))[1]

    async def cdp_target(
        self, session_id: str, user_id: str | None, token: str | None
    ) -> tuple[SessionRecord, BrowserWorker]:
        """The session a CDP connection opens (its owner's, or the one the token opens) and its worker."""
        record = await self.store.get(session_id)
        owner = record is not None and user_id is not None and record.user_id == user_id
        if record is None or not (owner or (token is not None and self.cdp_tokens.verify(session_id, token))):
            raise SessionNotFound(session_id)
        return record, await self._drivable(record)

    async def relay_cdp(
        self, worker: BrowserWorker, session_id: str, client: CdpClient, mode: CdpMode = CdpMode.FULL
    ) -> None:
        await worker.relay_cdp(session_id, client, lambda: self.activity.record(session_id), mode)

    # --- ends that come from the reaper ------------------------------------------------------

    async def after_ended(self, transitions: Iterable[Transition]) -> None:
        """Close the contexts of sessions the reaper ended (their workers would also notice on their own)."""
        for t in transitions:
            self.activity.forget(t.session_id)
            try:
                worker = await self.directory.get(t.worker_id)
                await worker.close_session(t.session_id, f"session {t.current.value} ({t.reason})")
            except PoolUnavailable:
                continue
            except Exception:
                log.warning("could not close the context of ended session %s", t.session_id, exc_info=True)

    async def drain(self) -> None:
        """Let in-flight clean-ups finish."""
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    # --- internals ---------------------------------------------------------------------------

    async def _place(self, user_id: str, spec: SessionSpec) -> tuple[SessionRecord, BrowserWorker] | None:
        """Open the session on the first candidate worker with room; None if every one is full."""
        for worker in await self.directory.candidates():
            record = self._new_record(user_id, worker.worker_id, spec)
            await self.store.create(record, self.policy.max_sessions_per_user)
            await self._claim_profile(record, spec)
            try:
                await worker.open_session(record.session_id, spec)
            except (PoolFull, PoolUnavailable):
                await self._discard(record, spec)  # it never started: leave no trace
                continue
            except asyncio.CancelledError:
                self._in_background(self._abandon(record, worker, EndReason.START_FAILED))
                raise
            except Exception:
                await self._abandon(record, worker, EndReason.START_FAILED)
                raise
            return record, worker
        return None

    async def _claim_profile(self, record: SessionRecord, spec: SessionSpec) -> None:
        """A persisting session becomes its profile's one writer once its record exists, before its context opens."""
        if spec.profile is None or not spec.profile.persist:
            return
        if self.profiles is None:
            await self.store.discard(record)
            raise InvalidInput("this node keeps no profiles", loc=("body", "profile"))
        try:
            await self.profiles.claim(spec.profile, record.session_id)
        except BaseException:
            await self.store.discard(record)
            raise

    async def _discard(self, record: SessionRecord, spec: SessionSpec) -> None:
        await self.store.discard(record)
        if spec.profile is not None and spec.profile.persist and self.profiles is not None:
            await self.profiles.release(spec.profile, record.session_id)

    async def _wait_and_place(
        self, user_id: str, spec: SessionSpec, gave_up: GaveUp
    ) -> tuple[SessionRecord, BrowserWorker] | None:
        deadline = clock.now_ms() + int(self.policy.queue_timeout * 1000)
        async with self.queue.ticket() as ticket:
            while await wait_for_turn(ticket, self.directory.free_slots, deadline, gave_up):
                placed = await self._place(user_id, spec)
                if placed is not None:
                    return placed
                await asyncio.sleep(0.1)
        if await gave_up():
            raise ClientGaveUp()
        return None

    async def _activate(self, record: SessionRecord, worker: BrowserWorker) -> SessionRecord:
        replicas = self.replica_wait.replicas()
        try:
            moved, acked = await self.store.transition_replicated(
                record.session_id,
                SessionStatus.ACTIVE,
                clock.now_ms(),
                user_id=record.user_id,
                worker_id=record.worker_id,
                replicas=replicas,
                timeout_ms=self.replica_wait.timeout_ms,
            )
        except BaseException:
            # The store failed us after the context opened: a context nobody can reach must not linger.
            self._in_background(self._abandon(record, worker, EndReason.START_FAILED))
            raise
        if moved is None:
            # Ended while it was starting (closed, reaped or its browser died): do not leak the context.
            await worker.close_session(record.session_id, "session ended while starting")
            current = await self.store.get(record.session_id)
            raise SessionEnded(current.status if current else SessionStatus.FAILED.value)
        if acked < replicas:
            # A 201 promises the session outlives a failover; without the replicas' word, undo it instead.
            await self._abandon(record, worker, EndReason.START_FAILED)
            raise NotReplicated(f"Redis replicas confirmed the session {acked} of {replicas} time(s); retry shortly")
        self.activity.mark_written(record.session_id, record.created_at_ms)
        return replace(record, status=SessionStatus.ACTIVE)

    def _new_record(self, user_id: str, worker_id: str, spec: SessionSpec) -> SessionRecord:
        now = clock.now_ms()
        profile = spec.profile
        return SessionRecord(
            session_id=uuid.uuid4().hex,
            user_id=user_id,
            worker_id=worker_id,
            status=SessionStatus.STARTING,
            viewport_width=spec.viewport_width,
            viewport_height=spec.viewport_height,
            user_agent=spec.user_agent,
            timeout_seconds=spec.timeout_seconds,
            idle_timeout=self.policy.idle_timeout,
            created_at_ms=now,
            last_activity_ms=now,
            expires_at_ms=now + spec.timeout_seconds * 1000,
            profile=profile.name if profile else None,
            profile_persist=bool(profile and profile.persist),
            proxy_server=spec.proxy.server if spec.proxy else None,
            proxy_username=spec.proxy.username if spec.proxy else None,
            record=spec.record,
            isolation=spec.isolation,
        )

    async def _drive(self, user_id: str, session_id: str, action: Callable[[BrowserWorker], Awaitable[T]]) -> T:
        """Run one action on a session's page; the use counts as activity."""
        worker = await self._drivable(await self.get(user_id, session_id))
        try:
            return await action(worker)
        finally:
            await self.activity.record(session_id)

    async def _drivable(self, record: SessionRecord) -> BrowserWorker:
        if record.status is SessionStatus.STARTING:
            raise SessionNotReady(record.status.value)
        if record.status is not SessionStatus.ACTIVE:
            raise SessionEnded(record.status.value)
        return await self.directory.get(record.worker_id)

    async def _abandon(self, record: SessionRecord, worker: BrowserWorker, reason: EndReason) -> None:
        """A start that failed, was cancelled or was given up on: close what opened, mark the record failed."""
        try:
            await worker.close_session(record.session_id, "session abandoned while starting")
        except Exception:
            log.warning("could not close abandoned session %s", record.session_id, exc_info=True)
        try:
            await self.store.transition(record.session_id, SessionStatus.FAILED, clock.now_ms(), reason=reason)
        except Exception:
            # The store is down: the record stays `starting` and the reaper ends it at its deadline.
            log.warning("could not mark abandoned session %s failed", record.session_id, exc_info=True)

    def _in_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
