"""Who is still here: a reload keeps a user's work, a closed tab frees it.

The app has no "session ended" event to hang cleanup on (Streamlit keeps no such callback), and
a user's work must survive a reload: jobs and published graphs belong to an *owner* (the token
in the URL), not to one browser connection. So each page run records which client (Streamlit
session id) it came from under its owner, and a sweeper asks the server which clients are still
connected. An owner none of whose clients has been connected for ``grace_s`` seconds is gone:
``on_gone(owner, resources)`` stops its jobs and removes what was published for it.

No Streamlit here: the app passes the runtime's ``is_active_session`` as ``is_connected``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Owner:
    clients: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)
    last_connected: float = field(default_factory=time.monotonic)


class Presence:
    """Owners, their clients and the resources held for them (thread-safe)."""

    def __init__(
        self,
        is_connected: Callable[[str], bool],
        on_gone: Callable[[str, set[str]], None],
        grace_s: float,
    ) -> None:
        self.is_connected = is_connected
        self.on_gone = on_gone
        self.grace_s = grace_s
        self._owners: dict[str, _Owner] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def seen(self, owner: str, client: str) -> None:
        """``client`` is working for ``owner`` now (call it on every page run)."""
        with self._lock:
            entry = self._owners.setdefault(owner, _Owner())
            entry.clients.add(client)
            entry.last_connected = time.monotonic()

    def hold(self, owner: str, resource: str) -> None:
        """Remember ``resource`` (e.g. a published folder's key) to free when ``owner`` goes."""
        with self._lock:
            self._owners.setdefault(owner, _Owner()).resources.add(resource)

    def release(self, owner: str, resource: str) -> None:
        """The owner freed ``resource`` itself (closed the model)."""
        with self._lock:
            if owner in self._owners:
                self._owners[owner].resources.discard(resource)

    def owners(self) -> list[str]:
        with self._lock:
            return list(self._owners)

    def sweep(self) -> list[str]:
        """Free every owner gone for longer than the grace period; return who was freed."""
        now = time.monotonic()
        gone: list[tuple[str, set[str]]] = []
        with self._lock:
            for name, entry in list(self._owners.items()):
                entry.clients = {c for c in entry.clients if self.is_connected(c)}
                if entry.clients:
                    entry.last_connected = now
                elif now - entry.last_connected >= self.grace_s:
                    gone.append((name, entry.resources))
                    del self._owners[name]
        for name, resources in gone:  # outside the lock: stopping workers takes a moment
            self.on_gone(name, resources)
        return [name for name, _ in gone]

    def start(self, interval_s: float) -> None:
        """Sweep every ``interval_s`` seconds on a daemon thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._loop, args=(interval_s,), daemon=True, name="presence-sweeper"
            )
        self._thread.start()

    def _loop(self, interval_s: float) -> None:
        while True:
            time.sleep(interval_s)
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - the sweeper must outlive one bad cleanup
                continue
