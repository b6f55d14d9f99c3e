"""Where feature extraction runs: local processes (loky) or threads through
joblib, or a Dask cluster through dask.distributed's futures.

With Dask, workers may see the music under another mount point: ``path_map``
(prefix -> prefix) translates the paths sent to them. Workers need only the
feature code (``pip install beets-genreclf`` on each, same version); results
come back to the beets process, which alone writes the database and tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

BACKENDS = ("loky", "threading", "dask")
DASK_INSTALL = "pip install 'beets-genreclf[dask]'"


class BackendError(Exception):
    """The backend cannot run (not installed, unreachable, wrong path_map)."""


@dataclass(frozen=True)
class Backend:
    name: str = "loky"
    scheduler: str = "local"  # dask: tcp://host:port, or "local" for a LocalCluster
    path_map: tuple[tuple[str, str], ...] = ()  # (beets prefix, worker prefix)

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise BackendError(
                f"unknown backend '{self.name}'; choose one of {', '.join(BACKENDS)}"
            )

    def worker_path(self, path: str) -> str:
        """``path`` as the workers see it (the longest matching prefix wins)."""
        for local, remote in sorted(self.path_map, key=lambda pair: -len(pair[0])):
            if path.startswith(local):
                return remote + path[len(local) :]
        return path

    def joblib_config(self) -> dict:
        if self.name == "loky":  # one BLAS thread per worker: the workers fill the cores
            return {"backend": "loky", "inner_max_num_threads": 1}
        return {"backend": self.name}

    @contextmanager
    def session(self, jobs: int) -> Iterator[None]:
        """For Dask, a client connected to the scheduler (or to a LocalCluster
        of ``jobs`` single-threaded worker processes) for the duration."""
        if self.name != "dask":
            yield
            return
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
