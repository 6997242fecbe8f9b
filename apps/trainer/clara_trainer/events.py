"""The stdout protocol: one JSON object per line, each with ``type`` and ``time``."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, TextIO


class Phase:
    """Values of the ``phase`` field of ``status`` events."""

    VALIDATING = "validating"
    LOADING_DATA = "loading_data"
    LOADING_MODEL = "loading_model"
    TRAINING = "training"
    SAVING = "saving"
    COMPLETED = "completed"
    CANCELLING = "cancelling"


def utc_now_iso() -> str:
    """Current time as ISO-8601 UTC with millisecond precision, e.g. ``2026-01-31T12:00:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_safe(value: Any) -> Any:
    """Make a value valid strict JSON: NaN/inf become null (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class EventWriter:
    """Writes protocol events to a text stream, one flushed line each."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def emit(self, event_type: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"type": event_type, "time": utc_now_iso()}
        event.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(json_safe(event), ensure_ascii=False, allow_nan=False)
        self._stream.write(line + "\n")
        self._stream.flush()
        return event

    def status(self, phase: str, message: str, **extra: Any) -> None:
        self.emit("status", phase=phase, message=message, **extra)

    def progress(self, step: int, total_steps: int, epoch: float) -> None:
        self.emit("progress", step=step, total_steps=total_steps, epoch=round(epoch, 4))

    def metric(self, step: int, values: dict[str, float | int]) -> None:
        # Non-finite values (a diverged loss, an fp16 overflow in grad_norm) are left out:
        # every metric key that is present holds a number.
        finite = {k: v for k, v in values.items() if not (isinstance(v, float) and not math.isfinite(v))}
        if finite:
            self.emit("metric", step=step, **finite)

    def checkpoint(self, step: int, path: str) -> None:
        self.emit("checkpoint", step=step, path=path)

    def artifact(self, kind: str, path: str) -> None:
        self.emit("artifact", kind=kind, path=path)

    def error(self, code: str, message: str, *, field: str | None = None, line: int | None = None) -> None:
        self.emit("error", code=code, message=message, field=field, line=line)
