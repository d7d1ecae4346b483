"""Where sweep tasks run: in this process, or fanned out on a Dask cluster (a local one by default, or an address).

Why Dask, not Ray: Dask's ``distributed`` is pure-Python wheels on top of what we already ship (NumPy, pandas, cloudpickle)
and starts a local multi-process cluster in about a second; Ray is a large compiled wheel with its own object store and
raylet daemons — more to install, pin and keep alive for what a sweep needs (one data set scattered once, many small
independent tasks, results gathered in order).

``run_tasks(fn, data, tasks, engine)`` calls ``fn(data, task)`` for every task and returns the results in task order:

- ``LocalEngine()``: a plain loop in this process;
- ``DaskEngine(workers=N)``: a ``distributed.LocalCluster`` of N single-threaded worker *processes* on 127.0.0.1,
  started for the call and closed after it; ``DaskEngine(address="tcp://host:8786")``: an existing cluster (scale
  out). ``data`` is scattered to every worker once (broadcast); each task ships only its small parameters.

Results do not depend on the engine: every task is a pure function of its inputs (seeded, exact wei), so a sweep's
table and fingerprints are the same on one process, a local cluster or a remote one (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class LocalEngine:
    name: str = "local"

    def describe(self) -> str:
        return "1 process (local)"


@dataclass(frozen=True, slots=True)
class DaskEngine:
    workers: int | None = None  # local cluster size (default: the CPU count)
    address: str | None = None  # an existing scheduler, e.g. tcp://10.0.0.5:8786
    name: str = "dask"

    def describe(self) -> str:
        return f"dask cluster at {self.address}" if self.address else f"dask local cluster, {self.workers or 'cpu'} worker process(es)"


Engine = LocalEngine | DaskEngine


class Session:
    """Tasks against one data set on one engine; data scattered once, the cluster kept for the session."""

    def __init__(self, engine: Engine | None, data: Any) -> None:
        self.engine = engine or LocalEngine()
        self.data = data
        self._client: Any = None
        self._cluster: Any = None
        self._shared: Any = None

    def __enter__(self) -> Session:
        if isinstance(self.engine, DaskEngine):
            self._open(self.engine)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = self._shared = None

    def _open(self, engine: DaskEngine) -> None:
        import logging
        import os

        from distributed import Client, LocalCluster

        logging.getLogger("distributed").setLevel(logging.ERROR)  # no per-worker chatter on the user's terminal
        if engine.address:
            self._client = Client(engine.address, timeout="20s")
        else:
            self._cluster = LocalCluster(
                n_workers=engine.workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
        self._shared = self._client.scatter(self.data, broadcast=True)

    def run(self, fn: Callable[[Any, T], R], tasks: Sequence[T]) -> list[R]:
        """``[fn(data, t) for t in tasks]`` in task order."""
        if self._client is None:
            return [fn(self.data, t) for t in tasks]
        futures = self._client.map(_call, [fn] * len(tasks), list(tasks), data=self._shared, pure=False)
        return list(self._client.gather(futures))


def run_tasks(fn: Callable[[Any, T], R], data: Any, tasks: Sequence[T], engine: Engine | None = None) -> list[R]:
    """``[fn(data, t) for t in tasks]``, on ``engine`` (default: local), in one session."""
    with Session(engine, data) as session:
        return session.run(fn, tasks)


def _call(fn: Callable[[Any, T], R], task: T, data: Any) -> R:
    return fn(data, task)
