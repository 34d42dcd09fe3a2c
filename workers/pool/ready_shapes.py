"""Which context shapes each browser keeps ready, and how many of each.

The default shape (what a session gets when it asks for nothing) is always kept ready. Other shapes are
learned from the creates this worker sees: the first request of a new shape opens its context as usual,
after which a few of that shape wait ready, so the next request of it starts as fast as a default one.
Only the most recently asked-for shapes are kept, so the memory they cost stays bounded; with no ready
default contexts (BROWSERPOOL_WARM_CONTEXTS=0, the densest setting) no shape is learned either.
"""

from collections import OrderedDict

from orchestrator.models import DEFAULT_SHAPE, ContextShape


class ReadyShapes:
    def __init__(self, default_count: int, per_learned: int = 0, max_learned: int = 0) -> None:
        self.default_count = default_count
        self.per_learned = per_learned
        self.max_learned = max_learned
        self._learned: OrderedDict[ContextShape, None] = OrderedDict()  # least recently asked for first

    def asked(self, shape: ContextShape) -> bool:
        """Note a create of this shape; True if that changes what should be kept ready."""
        if shape == DEFAULT_SHAPE or min(self.default_count, self.per_learned, self.max_learned) <= 0:
            return False
        known = shape in self._learned
        self._learned[shape] = None
        self._learned.move_to_end(shape)
        while len(self._learned) > self.max_learned:
            self._learned.popitem(last=False)
        return not known

    def targets(self) -> dict[ContextShape, int]:
        """How many ready contexts of each shape a browser should hold."""
        wanted = {shape: self.per_learned for shape in self._learned}
        if self.default_count > 0:
            wanted[DEFAULT_SHAPE] = self.default_count
        return wanted
