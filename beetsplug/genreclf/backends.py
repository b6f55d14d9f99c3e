"""Where analysis runs: local processes (loky) or threads through joblib, or
a Dask cluster through dask.distributed's futures.

A backend takes a stream of entries, each a task to run in a worker or a
result already at hand (a cache hit), and gives the results back in input
order. It starts workers only when the first real task arrives, and a worker
that dies costs only the file it was analysing.

With Dask, workers may see the music under another mount point: ``path_map``
(prefix -> prefix) translates the paths sent to them. Workers need only this
package (``pip install beets-genreclf`` on each, same version).
"""

from __future__ import annotations

import contextvars
import itertools
import warnings
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

Tag = TypeVar("Tag")
# joblib's and loky's own warnings (physical cores not found, a generator
# closed from another thread, a worker restarted) tell a beets user nothing.
warnings.filterwarnings("ignore", module="joblib")
DASK_INSTALL = "pip install 'beets-genreclf[dask]'"
TASKS_AHEAD_PER_WORKER = 4  # dask: tasks submitted before the oldest is awaited


class BackendError(Exception):
    """The backend cannot run (not installed, unreachable, wrong path_map)."""


@dataclass(frozen=True)
class Task:
    """A call to run in a worker."""

    function: Callable
    args: tuple


@dataclass(frozen=True)
class Ready:
    """A result already known in the parent: nothing to run."""

    value: Any


class WorkerDied:
    """The result of a task whose worker died under it, even when run alone."""


Entry = tuple[Tag, "Task | Ready"]


class Backend(ABC, Generic[Tag]):
    name: ClassVar[str]

    def __init__(self, path_map: tuple[tuple[str, str], ...] = ()) -> None:
        self.path_map = path_map  # (beets prefix, worker prefix)

    def worker_path(self, path: str) -> str:
        """``path`` as the workers see it (the longest matching prefix wins)."""
        for local, remote in sorted(self.path_map, key=lambda pair: -len(pair[0])):
            if path.startswith(local):
                return remote + path[len(local) :]
        return path

    def session(self, jobs: int) -> AbstractContextManager[None]:
        """Held around every ``results`` call of one run (see DaskBackend)."""
        return nullcontext()

    def results(self, entries: Iterator[Entry], jobs: int) -> Iterator[tuple[Tag, Any]]:
        """(tag, result) per entry, in order; ``WorkerDied()`` for a task
        that killed its worker. ``entries`` is pulled lazily, always in the
        caller's context (beets resolves library paths from it)."""
        entries = _in_context(entries, contextvars.copy_context())
        for tag, work in entries:
            if isinstance(work, Ready):
                yield tag, work.value
                continue
            yield from self._run(itertools.chain([(tag, work)], entries), jobs)
            return

    @abstractmethod
    def _run(self, entries: Iterator[Entry], jobs: int) -> Iterator[tuple[Tag, Any]]:
        """``results`` once the first entry is a task: workers are needed."""


class JoblibBackend(Backend):
    """loky worker processes (one BLAS thread each), or threads."""

    name = "loky"

    def _run(self, entries: Iterator[Entry], jobs: int) -> Iterator[tuple[Tag, Any]]:
        from concurrent.futures.process import BrokenProcessPool

        while True:
            queue: deque = deque()  # entries handed to joblib, not yet answered
            try:
                with self._pool(jobs) as parallel:
                    for value in parallel(_dispatched(entries, queue)):
                        yield from _ready_ones(queue)
                        tag, _ = queue.popleft()
                        yield tag, value
                    yield from _ready_ones(queue)
                return
            except BrokenProcessPool:  # retry what was in flight, one at a time
                for tag, work in queue:
                    yield tag, work.value if isinstance(work, Ready) else self._alone(work)

    def _alone(self, task: Task) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        try:  # two jobs for one task: joblib would run a single job in this process
            with self._pool(2) as parallel:
                return next(parallel([_delayed(task)]))
        except BrokenProcessPool:
            return WorkerDied()

    @contextmanager
    def _pool(self, jobs: int) -> Iterator:
        from joblib import Parallel, parallel_config

        with (
            parallel_config(**self._joblib_config()),
            Parallel(n_jobs=jobs, return_as="generator") as parallel,
        ):
            yield parallel

    def _joblib_config(self) -> dict:
        # One BLAS thread per worker: the workers fill the cores.
        return {"backend": "loky", "inner_max_num_threads": 1}


class ThreadingBackend(JoblibBackend):
    name = "threading"

    def _joblib_config(self) -> dict:
        return {"backend": "threading"}


class DaskBackend(Backend):
    """dask.distributed's own futures: joblib's dask backend hangs when a task
    kills its workers (it never reports KilledWorker)."""

    name = "dask"

    def __init__(self, path_map: tuple[tuple[str, str], ...] = (), scheduler: str = "local"):
        super().__init__(path_map)
        self.scheduler = scheduler  # tcp://host:port, or "local" for a LocalCluster

    @contextmanager
    def session(self, jobs: int) -> Iterator[None]:
        """A client connected to the scheduler, or to a LocalCluster of
        ``jobs`` single-threaded worker processes."""
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise BackendError(f"the dask backend needs dask.distributed: {DASK_INSTALL}") from exc
        if self.scheduler == "local":
            cluster = LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            with cluster, Client(cluster):
                yield
            return
        try:
            client = Client(self.scheduler, timeout="10s")
        except OSError as exc:
            raise BackendError(f"cannot reach the dask scheduler {self.scheduler}: {exc}") from exc
        with client:
            yield

    def _run(self, entries: Iterator[Entry], jobs: int) -> Iterator[tuple[Tag, Any]]:
        """Dask reschedules the tasks of a lost worker; a task that kills every
        worker it is tried on (``distributed.scheduler.allowed-failures``) is
        tried once more, then reported."""
        from distributed import get_client

        client = get_client()
        ahead = TASKS_AHEAD_PER_WORKER * max(1, len(client.scheduler_info()["workers"]))
        in_flight: deque = deque()  # (tag, future or Ready), in order
        for tag, work in entries:
            pending = work if isinstance(work, Ready) else _submit(client, work)
            in_flight.append((tag, pending, work))
            if len(in_flight) >= ahead:
                yield _awaited(client, *in_flight.popleft())
        while in_flight:
            yield _awaited(client, *in_flight.popleft())


BACKENDS: dict[str, type[Backend]] = {
    backend.name: backend for backend in (JoblibBackend, ThreadingBackend, DaskBackend)
}


def make_backend(
    name: str, scheduler: str = "local", path_map: tuple[tuple[str, str], ...] = ()
) -> Backend:
    if name not in BACKENDS:
        raise BackendError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    if name == DaskBackend.name:
        return DaskBackend(path_map, scheduler)
    return BACKENDS[name](path_map)


def _dispatched(entries: Iterator[Entry], queue: deque) -> Iterator:
    """joblib's calls for the tasks among ``entries``; every entry, task or
    ready, is queued so results can be handed back in order."""
    for tag, work in entries:
        queue.append((tag, work))
        if isinstance(work, Task):
            yield _delayed(work)


def _ready_ones(queue: deque) -> Iterator[tuple[Any, Any]]:
    while queue and isinstance(queue[0][1], Ready):
        tag, ready = queue.popleft()
        yield tag, ready.value


def _delayed(task: Task):
    from joblib import delayed

    return delayed(task.function)(*task.args)


def _submit(client, task: Task):
    return client.submit(task.function, *task.args, pure=False)


def _awaited(client, tag, pending, work) -> tuple[Any, Any]:
    from distributed.scheduler import KilledWorker

    if isinstance(pending, Ready):  # from the cache: no round trip
        return tag, pending.value
    try:
        return tag, pending.result()
    except KilledWorker:  # it, or a task beside it, killed workers: once more
        try:
            return tag, _submit(client, work).result()
        except KilledWorker:
            return tag, WorkerDied()


def _in_context(iterator: Iterator, context: contextvars.Context) -> Iterator:
    """``iterator``, advanced inside ``context`` whichever thread pulls it."""
    while True:
        try:
            yield context.run(next, iterator)
        except StopIteration:
            return
