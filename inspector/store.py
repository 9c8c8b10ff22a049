"""Results that outlive the server: an embedded SQLite database in the deployment's data folder.

What a team builds up — finished runs, analyses, the models they were made on — used to live
in one server process; a restart or a redeploy lost it all. The store keeps, per owner token:

* **models** by content key, their bytes (and companion files) stored once as blobs by SHA-256,
  however many owners or jobs use them;
* **jobs**: one row per queued job, updated when it ends; a finished matrix or analysis keeps
  its results as a session bundle (:mod:`inspector.bundle`, without the model) — the format a
  user downloads, so what the store reopens is what a bundle reopens; a matrix also keeps what
  it asked for (configurations and inputs), so a job that was queued or running when the
  process died ends as ``interrupted`` (:meth:`Store.interrupt_unfinished`, at start) and can
  be run again;
* **shares**: read-only links to an owner's view of one model (:meth:`Store.share`), with an
  expiry, revocable, never carrying the owner token;
* a **secret** for owner tokens (:mod:`inspector.tokens`), so tokens issued before a restart
  stay valid after it (unless ``INSPECTOR_OWNER_SECRET`` sets one).

Retention (:meth:`Store.clean`): jobs older than ``store_max_age_days`` go, then the oldest
until the blobs fit ``store_max_bytes``; blobs nothing refers to are deleted. SQLite here is
one file on one host: several replicas need a shared store (see docs/deploy.md). No
Streamlit here: the app's ``pages/common/persist.py`` connects it to the job queue.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from inspector.errors import InspectorError

#: The folder of the deployment's store (default ``~/.local/share/onnx-inspector``; "off"
#: keeps everything in memory as before).
DATA_DIR_ENV = "INSPECTOR_DATA_DIR"
DB_FILE = "inspector.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY, data BLOB NOT NULL, size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, data TEXT NOT NULL, companions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, model TEXT NOT NULL, kind TEXT NOT NULL,
    about TEXT NOT NULL, state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',
    submitted REAL NOT NULL, finished REAL, result TEXT, request TEXT, configs TEXT
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, submitted);
CREATE TABLE IF NOT EXISTS shares (
    token TEXT PRIMARY KEY, owner TEXT NOT NULL, model TEXT NOT NULL, page TEXT NOT NULL,
    with_model INTEGER NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""

UNFINISHED = ("queued", "running")
INTERRUPTED = "interrupted"


def default_folder() -> Path | None:
    """The store's folder from the environment; None when the store is off."""
    value = os.environ.get(DATA_DIR_ENV, "")
    if value.strip().lower() == "off":
        return None
    return Path(value) if value else Path.home() / ".local/share/onnx-inspector"


@dataclass(frozen=True)
class StoredModel:
    key: str
    name: str
    data: bytes
    companions: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class StoredJob:
    id: str
    owner: str
    model: str  # the model's content key
    kind: str
    about: str
    state: str  # done, cancelled, failed, interrupted
    error: str
    submitted: float
    finished: float | None
    result: bytes | None  # a session bundle (no model) of its runs or analysis
    request: bytes | None  # a matrix's inputs as a bundle without runs
    configs: tuple[dict, ...]  # a matrix's configurations (RunConfig.to_dict)


@dataclass(frozen=True)
class Share:
    token: str
    owner: str
    model: str
    page: str
    with_model: bool  # the viewer may download the model
    created: float
    expires: float
    revoked: bool

    def usable(self, now: float | None = None) -> bool:
        return not self.revoked and (now or time.time()) < self.expires


def _share(row: tuple) -> Share:
    token, owner, model, page, with_model, created, expires, revoked = row
    return Share(token, owner, model, page, bool(with_model), created, expires, bool(revoked))


def _job(row: tuple, result: bytes | None, request: bytes | None) -> StoredJob:
    job_id, owner, model, kind, about, state, error, submitted, finished = row[:9]
    return StoredJob(
        job_id,
        owner,
        model,
        kind,
        about,
        state,
        error,
        submitted,
        finished,
        result=result,
        request=request,
        configs=tuple(json.loads(row[11] or "[]")),
    )


class Store:
    """One SQLite database (WAL: readers never wait for the writer); thread-safe."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / DB_FILE
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)  # owner tokens' secret and users' models: the server's only

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ secret and blobs

    def secret(self) -> bytes:
        """The owner tokens' secret, made once per store."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'owner_secret'").fetchone()
            if row:
                return bytes(row[0])
            value = secrets.token_bytes(32)
            db.execute("INSERT INTO meta VALUES ('owner_secret', ?)", (value,))
            return value

    def _put_blob(self, db: sqlite3.Connection, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        db.execute(
            "INSERT OR IGNORE INTO blobs (sha256, data, size) VALUES (?, ?, ?)",
            (sha, data, len(data)),
        )
        return sha

    def _blob(self, sha: str | None) -> bytes | None:
        if not sha:
            return None
        with self._lock:
            row = self._db.execute("SELECT data FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
        return bytes(row[0]) if row else None

    # --------------------------------------------------------------------------- models

    def put_model(
        self, key: str, name: str, data: bytes, companions: Iterable[tuple[str, bytes]]
    ) -> None:
        """Keep a model (once per content key; its bytes once per content)."""
        with self._tx() as db:
            if db.execute("SELECT 1 FROM models WHERE key = ?", (key,)).fetchone():
                return
            files = [[n, self._put_blob(db, d)] for n, d in companions]
            db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?)",
                (key, name, self._put_blob(db, data), json.dumps(files)),
            )

    def model(self, key: str) -> StoredModel | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, data, companions FROM models WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        data = self._blob(row[1])
        files = [(n, self._blob(sha)) for n, sha in json.loads(row[2])]
        if data is None or any(d is None for _, d in files):
            return None  # cleaned meanwhile
        return StoredModel(key, row[0], data, tuple((n, d) for n, d in files if d is not None))

    # ----------------------------------------------------------------------------- jobs

    def job_queued(
        self,
        job_id: str,
        owner: str,
        model: str,
        kind: str,
        about: str,
        submitted: float,
        *,
        request: bytes | None = None,
        configs: Iterable[dict] = (),
    ) -> None:
        with self._tx() as db:
            sha = self._put_blob(db, request) if request is not None else None
            db.execute(
                "INSERT OR REPLACE INTO jobs (id, owner, model, kind, about, state, submitted, "
                "request, configs) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                (job_id, owner, model, kind, about, submitted, sha, json.dumps(list(configs))),
            )

    def job_ended(
        self, job_id: str, state: str, finished: float, error: str = "", result: bytes | None = None
    ) -> None:
        with self._tx() as db:
            sha = self._put_blob(db, result) if result is not None else None
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error = ?, result = ? WHERE id = ?",
                (state, finished, error, sha, job_id),
            )

    def interrupt_unfinished(self, now: float | None = None) -> int:
        """Jobs queued or running when the last process stopped: they end ``interrupted``
        (called once when a server starts, before it queues anything). How many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error = ? WHERE state IN (?, ?)",
                (
                    INTERRUPTED,
                    now or time.time(),
                    "the server stopped while it was queued or running",
                    *UNFINISHED,
                ),
            )
            return cur.rowcount

    def jobs(self, owner: str, model: str | None = None) -> list[StoredJob]:
        """An owner's jobs that ended (for one model), oldest first."""
        query = (
            "SELECT id, owner, model, kind, about, state, error, submitted, finished, result, "
            "request, configs FROM jobs WHERE owner = ? AND state NOT IN (?, ?)"
        )
        args: list[object] = [owner, *UNFINISHED]
        if model is not None:
            query += " AND model = ?"
            args.append(model)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY submitted", args).fetchall()
        return [_job(r, self._blob(r[9]), self._blob(r[10])) for r in rows]

    def job_ids(self, owner: str, model: str) -> set[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE owner = ? AND model = ?", (owner, model)
            ).fetchall()
        return {r[0] for r in rows}

    def forget(self, owner: str, model: str) -> None:
        """Drop an owner's jobs of one model (they closed it) and the shares of it."""
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE owner = ? AND model = ?", (owner, model))
            db.execute("DELETE FROM shares WHERE owner = ? AND model = ?", (owner, model))

    # --------------------------------------------------------------------------- shares

    def share(self, owner: str, model: str, page: str, *, with_model: bool, ttl_s: float) -> Share:
        """A new read-only link's record: a random token of its own (never the owner's)."""
        if ttl_s <= 0:
            raise InspectorError("a share link must expire after a positive time")
        now = time.time()
        share = Share(
            secrets.token_urlsafe(24), owner, model, page, with_model, now, now + ttl_s, False
        )
        with self._tx() as db:
            db.execute(
                "INSERT INTO shares VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (share.token, owner, model, page, int(with_model), now, share.expires),
            )
        return share

    def shared(self, token: str, now: float | None = None) -> Share | None:
        """The share behind ``token`` if it exists, unrevoked and unexpired (at ``now``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT token, owner, model, page, with_model, created, expires, revoked "
                "FROM shares WHERE token = ?",
                (token,),
            ).fetchone()
        if row is None:
            return None
        share = _share(row)
        return share if share.usable(now) else None

    def shares(self, owner: str, model: str) -> list[Share]:
        """An owner's live links to one model, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT token, owner, model, page, with_model, created, expires, revoked "
                "FROM shares WHERE owner = ? AND model = ? AND revoked = 0 AND expires > ? "
                "ORDER BY created DESC",
                (owner, model, time.time()),
            ).fetchall()
        return [_share(r) for r in rows]

    def revoke(self, owner: str, token: str) -> bool:
        """Revoke one of ``owner``'s links (another owner's token is not theirs to revoke)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE shares SET revoked = 1 WHERE token = ? AND owner = ?", (token, owner)
            )
            return cur.rowcount == 1

    # ------------------------------------------------------------------------ retention

    def size(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM blobs").fetchone()[0])

    def clean(self, max_age_s: float, max_bytes: int, now: float | None = None) -> int:
        """Drop jobs older than ``max_age_s``, then the oldest ended ones until the blobs fit
        ``max_bytes``, expired shares, and models and blobs nothing refers to any more.
        Returns the jobs dropped."""
        now = now or time.time()
        dropped = 0
        with self._tx() as db:
            dropped += db.execute(
                "DELETE FROM jobs WHERE submitted < ? AND state NOT IN (?, ?)",
                (now - max_age_s, *UNFINISHED),
            ).rowcount
            db.execute("DELETE FROM shares WHERE expires < ? OR revoked = 1", (now,))
            self._collect(db)
            while self._total(db) > max_bytes:
                row = db.execute(
                    "SELECT id FROM jobs WHERE state NOT IN (?, ?) ORDER BY submitted LIMIT 1",
                    UNFINISHED,
                ).fetchone()
                if row is None:
                    break
                db.execute("DELETE FROM jobs WHERE id = ?", row)
                dropped += 1
                self._collect(db)
        return dropped

    @staticmethod
    def _total(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM blobs").fetchone()[0])

    @staticmethod
    def _collect(db: sqlite3.Connection) -> None:
        """Models no job or share names, then blobs nothing names."""
        db.execute(
            "DELETE FROM models WHERE key NOT IN (SELECT model FROM jobs) "
            "AND key NOT IN (SELECT model FROM shares)"
        )
        used: set[str] = set()
        for data, companions in db.execute("SELECT data, companions FROM models"):
            used.add(data)
            used.update(sha for _, sha in json.loads(companions))
        for result, request in db.execute("SELECT result, request FROM jobs"):
            used.update(s for s in (result, request) if s)
        for (sha,) in db.execute("SELECT sha256 FROM blobs").fetchall():
            if sha not in used:
                db.execute("DELETE FROM blobs WHERE sha256 = ?", (sha,))


__all__ = [
    "DATA_DIR_ENV",
    "INTERRUPTED",
    "Share",
    "Store",
    "StoredJob",
    "StoredModel",
    "default_folder",
]
