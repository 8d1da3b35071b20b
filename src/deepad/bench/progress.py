"""What a running benchmark shows on stderr: a bar over the jobs with an ETA, one line per
failure, and a count by status at the end."""

from __future__ import annotations

import sys
from collections import Counter
from typing import IO

from deepad.bench.jobs import STATUSES, Job, Outcome


def failure_line(job: Job, outcome: Outcome) -> str:
    """``FAILED DeepSVDD 6_cardio seed=1: timeout after 60 s``."""
    return f"FAILED {job.describe()}: {outcome.error or outcome.status}"


def status_counts(counts: Counter) -> str:
    """``9 ok, 1 error, 2 timeout`` in the order of :data:`~deepad.bench.jobs.STATUSES`."""
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]]
    return ", ".join(parts) if parts else "nothing"


class Progress:
    """A tqdm bar over ``total`` jobs (off when ``enabled`` is false) that prints a line for
    each failure above the bar."""

    def __init__(self, total: int, *, enabled: bool = True, stream: IO[str] | None = None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._bar = None
        if enabled and total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, unit="job", file=self.stream, dynamic_ncols=True,
                             smoothing=0.1)

    def note(self, line: str) -> None:
        """Print ``line`` above the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            self.stream.write(f"{line}\n")
            self.stream.flush()

    def update(self, job: Job, outcome: Outcome) -> None:
        """Advance the bar by one finished job."""
        if outcome.failed:
            self.note(failure_line(job, outcome))
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
