"""A session's profile on the worker: its state put into the context before the session is handed out, and read
back out of the context to be saved (orchestrator/profiles.py keeps it in Redis).

Restoring works on the session's context (a ready one when there is one): cookies in one `add_cookies` call and,
beside it, every origin's localStorage and IndexedDB written from iframes of one hidden page whose requests are
answered inside the browser (workers/pages/profile_restore.py). The session's own page stays on about:blank.
Saving reads `storage_state(indexed_db=True)`: cookies, and the storage of every origin the context's pages
visited. Contexts a CDP client made for itself (Target.createBrowserContext) are not part of the profile.
"""

import asyncio
import logging
from typing import Any

from playwright.async_api import BrowserContext
from playwright.async_api import Error as PlaywrightError

from orchestrator.deadlines import within
from orchestrator.errors import ActionFailed, ActionTimedOut, InvalidInput, NoProfileToSave
from orchestrator.models import ProfileRef
from orchestrator.profiles import ProfileStore
from workers.pages.profile_restore import write_origins

log = logging.getLogger(__name__)


class ProfileKeeper:
    def __init__(self, store: ProfileStore | None, timeout: float) -> None:
        self.store = store
        self.timeout = timeout

    def _store(self) -> ProfileStore:
        if self.store is None:
            raise InvalidInput("this worker keeps no profiles", loc=("body", "profile"))
        return self.store

    async def load(self, ref: ProfileRef) -> dict[str, Any]:
        """The profile's state, read before a context is taken for it (ProfileNotFound if it went)."""
        return await self._store().state(ref.user_id, ref.name)

    async def restore(self, context: BrowserContext, state: dict[str, Any]) -> None:
        if not state.get("cookies") and not state.get("origins"):
            return
        # The context is new (or a ready one nobody used): nothing to clear first.
        cookies, origins = state.get("cookies") or [], state.get("origins") or []
        work = asyncio.gather(context.add_cookies(cookies), write_origins(context, origins))
        try:
            await within(self.timeout, work)
        except TimeoutError as exc:
            raise ActionTimedOut(f"restoring the profile did not finish within {self.timeout:g}s") from exc
        except PlaywrightError as exc:
            raise ActionFailed(f"could not restore the profile: {str(exc).strip().splitlines()[0]}") from exc

    async def checkpoint(self, ref: ProfileRef | None, session_id: str, context: BrowserContext) -> None:
        """Save now, the session carrying on (its lease kept)."""
        if ref is None or not ref.persist:
            raise NoProfileToSave(f"session {session_id} does not persist into a profile")
        await self._store().save(ref, session_id, await self._read(context), final=False)

    async def final_save(self, ref: ProfileRef, session_id: str, context: BrowserContext) -> None:
        """The save a persisting session makes as it ends, before its context closes. Whatever fails, the
        profile keeps its previous version, the session's record says the save failed, and the lease is free."""
        store = self._store()
        try:
            await store.save(ref, session_id, await self._read(context), final=True)
        except Exception as exc:
            log.warning("session %s: saving profile %r failed: %s", session_id, ref.name, exc)
            try:
                await store.give_up(ref, session_id)
            except Exception:
                log.warning("session %s: could not record its failed save", session_id, exc_info=True)

    async def _read(self, context: BrowserContext) -> dict[str, Any]:
        try:
            state = await within(self.timeout, context.storage_state(indexed_db=True))
        except TimeoutError as exc:
            raise ActionTimedOut(f"reading the session's state did not finish within {self.timeout:g}s") from exc
        except PlaywrightError as exc:
            raise ActionFailed(f"could not read the session's state: {str(exc).strip().splitlines()[0]}") from exc
        return dict(state)
