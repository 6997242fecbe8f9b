"""Command line entry: ``python -m clara_trainer --config <run>/job.json``.

stdout carries only protocol events (see ``events.py``); everything else, including
library output, goes to stderr. The exit code is an :class:`ExitCode`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
import warnings
from typing import TextIO

from .cancellation import CancelToken, cancel_on_signals
from .config import load_job_config
from .errors import ErrorCode, ExitCode, TrainerError
from .events import EventWriter, Phase

log = logging.getLogger("clara_trainer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m clara_trainer",
        description="Fine-tune a causal language model with LoRA/QLoRA as described by a job.json.",
    )
    parser.add_argument("--config", required=True, help="path to the job's job.json")
    return parser


def _take_over_stdout() -> TextIO:
    """Keep the real stdout for events only; point fd 1 (and sys.stdout) at stderr.

    Libraries that print (or C code writing to fd 1) then land in the log, not in
    the protocol stream.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    return os.fdopen(protocol_fd, "w", encoding="utf-8", buffering=1, closefd=True)


def _configure_logging() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)
    # peft still calls this transformers alias; the notice says nothing about the job.
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    # Quiet, line-free library output: no progress bars, no tokenizer fork warnings.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower() and "cuda" in str(exc).lower()


def run(config_path: str, events: EventWriter, cancel: CancelToken) -> ExitCode:
    """Validate the job, run it, and turn every outcome into events and an exit code."""
    from .train import run_job  # imports nothing heavy at module level

    try:
        events.status(Phase.VALIDATING, f"validating {config_path}")
        config = load_job_config(config_path)
        run_job(config, events, cancel)
        return ExitCode.SUCCESS
    except TrainerError as exc:
        log.error("%s: %s", exc.code, exc.message)
        events.error(exc.code, exc.message, field=exc.field, line=exc.line)
        return exc.exit_code
    except BaseException as exc:  # noqa: BLE001 - the protocol needs an error event for anything
        if isinstance(exc, KeyboardInterrupt):
            events.error(ErrorCode.CANCELLED, f"interrupted: {type(exc).__name__}")
            return ExitCode.CANCELLED
        traceback.print_exc(file=sys.stderr)
        if _is_out_of_memory(exc):
            events.error(
                ErrorCode.OUT_OF_MEMORY,
                f"out of memory: {exc}. Lower batch_size or max_seq_length, or enable gradient_checkpointing / QLoRA.",
            )
            return ExitCode.OUT_OF_MEMORY
        events.error(ErrorCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        return ExitCode.INTERNAL


def main(argv: list[str] | None = None, *, events_stream: TextIO | None = None) -> int:
    """Program entry. ``events_stream`` (tests) replaces the stdout take-over."""
    stream = events_stream if events_stream is not None else _take_over_stdout()
    events = EventWriter(stream)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code in (0, None):
            return ExitCode.SUCCESS
        events.error(ErrorCode.INVALID_CONFIG, "usage: python -m clara_trainer --config <path to job.json>")
        return ExitCode.INVALID_CONFIG
    _configure_logging()
    cancel = CancelToken()
    with cancel_on_signals(cancel):
        return int(run(args.config, events, cancel))
