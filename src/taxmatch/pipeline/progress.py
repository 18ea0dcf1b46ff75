"""How the pipeline reports progress to its edges. Its own module so that what only
validates (pre-flight) need not import the whole batch run."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """What the edges give the pipeline to show progress (a rich bar, an API counter)."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


class Silent:
    """Shows nothing."""

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...
