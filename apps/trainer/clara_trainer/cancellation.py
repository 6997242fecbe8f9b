"""Cooperative cancellation: SIGTERM/SIGINT set a flag that the training loop polls."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager


class CancelToken:
    """Set once when the process is asked to stop; read by the training callback."""

    def __init__(self) -> None:
        self._requested = False  # a plain flag: safe to set from a signal handler
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        if not self._requested:
            self.reason = reason
            self._requested = True

    @property
    def requested(self) -> bool:
        return self._requested


@contextmanager
def cancel_on_signals(token: CancelToken, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Route the given signals to ``token`` while the block runs; restore the old handlers after."""

    def handle(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if not token.requested:
            # os.write: logging is not safe to re-enter from a signal handler.
            os.write(2, f"{name} received: saving a checkpoint at the end of the current step, then exiting\n".encode())
        token.request(name)

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
