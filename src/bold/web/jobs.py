"""Long work (an ingest, a linkage run, a study) runs in the background while its page shows how far it has got.

A job is one action called in a worker thread with a ``progress`` callback; its phase, state and outcome are
kept by the server, so the page polling it (htmx, every second) finds it again after a reload. Only the person
who started a job sees it. Jobs run one at a time (the machine's two cores are the work's, not the server's),
the rest wait in order. What a job returns is turned into a link to the page that shows it; a ``BoldError``
becomes its one-line message, anything else "internal error", never a traceback.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bold.errors import BoldError, NotFound

log = logging.getLogger("bold.web")


@dataclass
class Job:
    id: str
    owner: str
    title: str
    state: str = "queued"  # queued, running, done, failed
    phase: str = "waiting for earlier work to finish"
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None
    error: str | None = None
    result_url: str | None = None
    result_text: str | None = None
    failures: list[str] = field(default_factory=list)  # parts of the work that failed while the rest went on
    phases: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class Jobs:
    def __init__(self, workers: int = 1):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bold-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def start(
        self,
        owner: str,
        title: str,
        work: Callable[[Callable[[str], None]], Any],
        outcome: Callable[[Any], tuple[str, str] | tuple[str, str, list[str]]],
    ) -> Job:
        """Queue ``work(progress)``; when it returns, ``outcome(result)`` gives (link, text) for the result, and
        optionally the one-line failures of parts of the work that did not stop the rest (a study of many)."""
        with self._lock:
            job = Job(id=f"job-{next(self._ids)}", owner=owner, title=title)
            self._jobs[job.id] = job

        def progress(phase: str) -> None:
            job.phase = phase
            job.phases.append(phase)

        def run() -> None:
            job.state, job.phase = "running", "starting"
            try:
                job.result_url, job.result_text, *failures = outcome(work(progress))
                job.failures = list(failures[0]) if failures else []
                job.state, job.phase = "done", "finished"
                if job.failures:
                    job.phase = f"finished, with {len(job.failures)} failed"
            except BoldError as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # a bug: one line for the person, the traceback for the server's log only
                log.exception("job %s (%s) failed", job.id, title)
                job.state, job.error = "failed", f"internal error ({type(exc).__name__}); this is a bug in BOLD"
            job.finished_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

        self._pool.submit(run)
        return job

    def get(self, job_id: str, owner: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound(f"no job {job_id!r} of yours")
        return job

    def of(self, owner: str) -> list[Job]:
        mine = [j for j in self._jobs.values() if j.owner == owner]
        return sorted(mine, key=lambda j: int(j.id.removeprefix("job-")), reverse=True)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
