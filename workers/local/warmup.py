"""Ready contexts: every shared browser keeps a few contexts opened ahead, of the shapes sessions ask for
(workers/pool/ready_shapes.py), so an open takes one instead of making one."""

import logging

from playwright.async_api import Error as PlaywrightError

from workers.local.parts import WorkerParts, first_line
from workers.pool.ready_shapes import ReadyShapes

log = logging.getLogger(__name__)


class Warmup:
    def __init__(self, parts: WorkerParts, shapes: ReadyShapes) -> None:
        self.parts = parts
        self.shapes = shapes  # which shapes are asked for, and how many of each to keep ready
        self._warming = False
        self._again = False

    def warm_up(self) -> None:
        """Top up every browser's ready contexts in the background (one top-up at a time; a request for
        another while one runs makes it go round once more)."""
        if self.parts.refusing:
            return
        if self._warming:
            self._again = True
            return
        self._warming = True
        self.parts.spawn(self._top_up())

    async def _top_up(self) -> None:
        try:
            again = True
            while again and not self.parts.refusing:
                self._again = False
                for slot in self.parts.slots:
                    await slot.warm_up(self.shapes.targets())
                again = self._again
        except PlaywrightError as exc:
            log.warning("preparing ready contexts failed: %s", first_line(exc))
        finally:
            self._warming = False
