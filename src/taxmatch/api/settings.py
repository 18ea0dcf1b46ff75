"""What ``create_app`` is built from. The CLI (``taxmatch serve``) fills it from flags and
the environment; tests build it directly. Nothing here is read at import time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taxmatch.pipeline.worker import WorkerConfig


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The custodian's choices for the service. Agencies' own limits override the defaults."""

    store: Path
    database_url: str | None = None
    policy: Path | None = None  # the custodian's policy; never the requester's to choose
    matcher: str = "probabilistic"
    out: Path | None = None  # packages; default STORE/packages
    daily_row_quota: int = 2_000_000
    rate_per_minute: int = 600
    max_upload_bytes: int = 4 * 1024**3
    worker_threads: int = 1  # in-process workers; 0 leaves the queue to `taxmatch worker`
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    as_of: date | None = None  # judge batches at this date (default: the upload date)
    warm_lookups: bool = True  # keep a warm matcher for single lookups (built at start-up)
    secure_cookies: bool = False  # the console's session cookie only over HTTPS (`serve` decides)

    @property
    def packages(self) -> Path:
        return self.out if self.out is not None else self.store / "packages"

    @property
    def uploads(self) -> Path:
        from taxmatch.pipeline.retain import uploads_dir

        return uploads_dir(self.store)

    def worker_config(self) -> WorkerConfig:
        """What the service's queue workers run each batch with."""
        from taxmatch.pipeline.worker import WorkerConfig

        return WorkerConfig(
            store=self.store,
            out=self.packages,
            database_url=self.database_url,
            policy=self.policy,
            matcher=self.matcher,
            lease_seconds=self.lease_seconds,
            poll_seconds=self.poll_seconds,
            as_of=self.as_of,
        )
