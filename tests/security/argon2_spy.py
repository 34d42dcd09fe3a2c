"""Watch argon2 at work: how many hashes ran, how many at once, and on which threads.

The hashes still run for real (the wrapper calls argon2's own methods); only the counting is added.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher


class Argon2Spy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.running = 0
        self.most_at_once = 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()
        for name in ("hash", "verify"):
            monkeypatch.setattr(PasswordHasher, name, self._counted(getattr(PasswordHasher, name)))

    def _counted(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(hasher: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
                self.running += 1
                self.most_at_once = max(self.most_at_once, self.running)
                self.threads.add(threading.get_ident())
            try:
                return original(hasher, *args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1

        return counted
