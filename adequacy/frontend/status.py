"""The app's status line: the stage running while anything loads, a progress bar for
long work, and what came of it.

The app draws its title and this line before any heavy import, so the page is
never blank: "Loading the road graph…", "Building the demo…", "Evaluating…"
(with a bar when the engine reports progress), "Drawing the map…", then
"Ready".

Owns: ``Stages``. Uses: a ``st.status`` container, given by the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[str, int, int], None]


class Stages:
    """Names the stage now running in ``status`` (a ``st.status`` container)."""

    def __init__(self, status: Any) -> None:
        self.status = status
        self.started = time.perf_counter()

    def __call__(self, name: str) -> None:
        """Show ``name`` as the stage running ('Evaluating' reads 'Evaluating…')."""
        self.status.update(label=f"{name}…", state="running")

    def progress(self, name: str) -> Progress:
        """A stage with a progress bar: returns ``update(step, done, total)``, the
        engine's progress callback (updates the bar at most once per percent)."""
        self(name)
        bar = self.status.progress(0.0, text=name)
        shown: dict[str, Any] = {"at": (None, -1)}

        def update(step: str, done: int, total: int) -> None:
            share = min(max(done / total, 0.0), 1.0) if total else 0.0
            at = (step, int(share * 100))
            if at != shown["at"]:
                shown["at"] = at
                bar.progress(share, text=f"{name}: {step}")

        return update

    def seconds(self) -> float:
        """Seconds since this run of the page started."""
        return time.perf_counter() - self.started

    def done(self, label: str, *, error: bool = False) -> None:
        """The page is drawn (or stopped): ``label`` in place of the stage, collapsed."""
        self.status.update(label=label, state="error" if error else "complete", expanded=False)
