"""The TrainerCallback that turns training into protocol events and honours cancellation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .cancellation import CancelToken
from .events import EventWriter

log = logging.getLogger(__name__)

_TRAIN_LOG_KEYS = ("loss", "learning_rate", "grad_norm")
_LOG_EVERY_SECONDS = 10.0  # how often a human-readable progress line goes to stderr


@dataclass
class RunMetrics:
    """The latest values seen, for the training summary."""

    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    train_tokens: int = 0
    train_summary: dict[str, float] = field(default_factory=dict)  # Trainer's closing train_* metrics
    checkpoints: list[str] = field(default_factory=list)


class ProtocolCallback(TrainerCallback):
    """Emits ``progress`` per optimizer step, ``metric`` per log, ``checkpoint`` per save.

    When cancellation is requested it asks the Trainer to save and stop at the end of
    the current step; the caller then reports the cancellation.
    """

    def __init__(self, events: EventWriter, cancel: CancelToken, track_gpu_memory: bool) -> None:
        self._events = events
        self._cancel = cancel
        self._track_gpu_memory = track_gpu_memory
        self.metrics = RunMetrics()
        self.stopped_for_cancel = False
        self._last_checkpoint_step: int | None = None
        self._step_started: float | None = None
        self._step_seconds = 0.0  # time spent in steps since the last loss log
        self._tokens_at_last_log = 0
        self._last_log_line = 0.0

    # --- steps -----------------------------------------------------------------------

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._tokens_at_last_log = state.num_input_tokens_seen
        return control

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        self._step_started = time.perf_counter()
        return control

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        if self._step_started is not None:
            self._step_seconds += time.perf_counter() - self._step_started
            self._step_started = None
        self._events.progress(step=state.global_step, total_steps=state.max_steps, epoch=state.epoch or 0.0)
        if self._cancel.requested:
            control.should_save = True
            control.should_training_stop = True
            control.should_evaluate = False
            self.stopped_for_cancel = True
        return control

    def on_epoch_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        # Per-epoch saving would write the checkpoint of this step a second time.
        if self._last_checkpoint_step == state.global_step:
            control.should_save = False
        if self._cancel.requested:
            control.should_evaluate = False
        return control

    # --- logs, checkpoints -----------------------------------------------------------------

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ):
        logs = logs or {}
        step = state.global_step
        if "loss" in logs:
            values: dict[str, float | int] = {k: logs[k] for k in _TRAIN_LOG_KEYS if logs.get(k) is not None}
            tokens = state.num_input_tokens_seen - self._tokens_at_last_log
            if self._step_seconds > 0 and tokens > 0:
                values["tokens_per_second"] = round(tokens / self._step_seconds, 2)
                self.metrics.tokens_per_second = values["tokens_per_second"]
            self._tokens_at_last_log = state.num_input_tokens_seen
            self._step_seconds = 0.0
            if self._track_gpu_memory:
                import torch

                values["peak_gpu_memory_bytes"] = int(torch.cuda.max_memory_allocated())
            if state.epoch is not None:
                values["epoch"] = round(state.epoch, 4)
            self._events.metric(step, values)
            now = time.monotonic()
            if now - self._last_log_line >= _LOG_EVERY_SECONDS or step >= state.max_steps:
                self._last_log_line = now
                log.info(
                    "step %d/%d loss %.4f lr %.3g", step, state.max_steps, logs["loss"], logs.get("learning_rate", 0.0)
                )
            self.metrics.loss = logs["loss"]
            self.metrics.learning_rate = logs.get("learning_rate")
        if "eval_loss" in logs:
            values = {"eval_loss": logs["eval_loss"]}
            if state.epoch is not None:
                values["epoch"] = round(state.epoch, 4)
            self._events.metric(step, values)
            log.info("step %d eval_loss %.4f", step, logs["eval_loss"])
            self.metrics.eval_loss = logs["eval_loss"]
        if "train_loss" in logs:
            self.metrics.train_summary = {k: v for k, v in logs.items() if k.startswith("train_")}
        self.metrics.train_tokens = state.num_input_tokens_seen
        return control

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any):
        step = state.global_step
        path = Path(str(args.output_dir)).resolve() / f"{PREFIX_CHECKPOINT_DIR}-{step}"
        if step != self._last_checkpoint_step and path.is_dir():
            self._last_checkpoint_step = step
            self.metrics.checkpoints.append(str(path))
            self._events.checkpoint(step=step, path=str(path))
            log.info("checkpoint saved: %s", path)
        return control
