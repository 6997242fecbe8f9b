"""Shared fixtures: a tiny local model, job/data writers, and a real trainer subprocess.

Other suites (e.g. the TypeScript end-to-end tests) build the same model with
``python -m clara_trainer.testing.make_tiny_model <out_dir>``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TRAINER_ROOT = Path(__file__).resolve().parents[1]  # apps/trainer
SUBPROCESS_TIMEOUT = 240

# A pattern a tiny model learns in a few dozen steps.
ALPHABET = "a b c d e f g h i j k l m n o p q r s t u v w x y z"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> None:
    import torch

    torch.set_num_threads(2)


def trainer_env(**extra: str) -> dict[str, str]:
    """Environment the worker gives the trainer: CPU only, offline, package on PYTHONPATH."""
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(TRAINER_ROOT),
            "CUDA_VISIBLE_DEVICES": "",
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "2",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama model, written by the same CLI the TypeScript e2e tests use."""
    target = tmp_path_factory.mktemp("tiny-model")
    completed = subprocess.run(
        [sys.executable, "-m", "clara_trainer.testing.make_tiny_model", str(target)],
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == str(target)
    return target


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


# --- job and data files --------------------------------------------------------------


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def alphabet_records(count: int) -> list[dict[str, Any]]:
    return [{"text": ALPHABET, "id": f"r{i}", "metadata": {"source": "test"}} for i in range(count)]


FAST_HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 0.005,
    "batch_size": 4,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "warmup_ratio": 0.0,
    "max_seq_length": 64,
    "logging_steps": 1,
}


def write_job(run_dir: Path, base_model: Path | str, train_file: Path, **overrides: Any) -> Path:
    """Write ``run_dir/job.json``; ``hyperparameters`` in ``overrides`` are merged into the fast defaults."""
    hyperparameters = {**FAST_HYPERPARAMETERS, **overrides.pop("hyperparameters", {})}
    job: dict[str, Any] = {
        "job_id": "job-test",
        "base_model": str(base_model),
        "method": "lora",
        "record_format": "text",
        "train_file": str(train_file),
        "validation_file": None,
        "output_dir": str(run_dir / "output"),
        "resume_from_checkpoint": None,
        "dataset": {"dataset_id": "ds-test", "version": 3},
        "hyperparameters": hyperparameters,
    }
    job.update(overrides)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.json"
    path.write_text(json.dumps(job, indent=2), encoding="utf-8")
    return path


# --- running the trainer -------------------------------------------------------------------


@dataclass
class TrainerRun:
    returncode: int
    stdout_lines: list[str]
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    @property
    def error(self) -> dict[str, Any]:
        errors = self.of_type("error")
        assert len(errors) == 1, f"expected one error event, got {errors}\n{self.stderr[-3000:]}"
        return errors[0]

    def losses(self) -> list[tuple[int, float]]:
        return [(e["step"], e["loss"]) for e in self.of_type("metric") if "loss" in e]


def parse_events(lines: list[str]) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object."""
    events = []
    for line in lines:
        event = json.loads(line)
        assert isinstance(event, dict), line
        events.append(event)
    return events


def run_trainer(job_path: Path, timeout: float = SUBPROCESS_TIMEOUT, **env: str) -> TrainerRun:
    """Run ``python -m clara_trainer --config job.json`` as the worker does (cwd = run folder)."""
    completed = subprocess.run(
        [sys.executable, "-m", "clara_trainer", "--config", str(job_path)],
        cwd=job_path.parent,
        env=trainer_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = completed.stdout.splitlines()
    return TrainerRun(completed.returncode, lines, completed.stderr, parse_events(lines))


def run_trainer_until(
    job_path: Path, predicate: Any, signal_to_send: int, timeout: float = SUBPROCESS_TIMEOUT
) -> TrainerRun:
    """Run the trainer, send ``signal_to_send`` once an event matches ``predicate``, wait for exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "clara_trainer", "--config", str(job_path)],
        cwd=job_path.parent,
        env=trainer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    lines: list[str] = []
    sent = False
    deadline = time.monotonic() + timeout
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if not sent and predicate(json.loads(line)):
                process.send_signal(signal_to_send)
                sent = True
            if time.monotonic() > deadline:
                raise TimeoutError("trainer did not finish in time")
        stderr = process.stderr.read() if process.stderr else ""
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert sent, "the trainer ended before the signal could be sent"
    return TrainerRun(returncode, lines, stderr, parse_events(lines))


def run_in_process(job_path: Path) -> TrainerRun:
    """Run the trainer inside the test process (saves the import time of a subprocess)."""
    from clara_trainer.cli import main

    stream = io.StringIO()
    returncode = main(["--config", str(job_path)], events_stream=stream)
    lines = stream.getvalue().splitlines()
    return TrainerRun(returncode, lines, "", parse_events(lines))


# --- protocol checks ------------------------------------------------------------------------

EVENT_TYPES = {"status", "progress", "metric", "checkpoint", "artifact", "error"}
PHASES = {"validating", "loading_data", "loading_model", "training", "saving", "completed", "cancelling"}
ERROR_CODES = {"invalid_config", "data_error", "out_of_memory", "environment", "cancelled", "internal"}
METRIC_KEYS = {
    "loss",
    "learning_rate",
    "grad_norm",
    "eval_loss",
    "tokens_per_second",
    "peak_gpu_memory_bytes",
    "epoch",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_protocol(events: list[dict[str, Any]]) -> None:
    """Check every event's shape and that steps move forward."""
    from datetime import datetime

    assert events, "no events"
    last_progress = None
    last_metric = 0
    for event in events:
        assert event.get("type") in EVENT_TYPES, event
        time_text = event.get("time")
        assert isinstance(time_text, str) and time_text.endswith("Z"), event
        assert datetime.fromisoformat(time_text.replace("Z", "+00:00")).utcoffset().total_seconds() == 0
        kind = event["type"]
        if kind == "status":
            assert event["phase"] in PHASES, event
            assert isinstance(event["message"], str) and event["message"], event
        elif kind == "progress":
            assert _is_int(event["step"]) and _is_int(event["total_steps"]), event
            assert _is_number(event["epoch"]), event
            assert 1 <= event["step"] <= event["total_steps"], event
            if last_progress is not None:
                assert event["step"] == last_progress + 1, (last_progress, event)
            last_progress = event["step"]
        elif kind == "metric":
            assert _is_int(event["step"]), event
            values = {k: v for k, v in event.items() if k not in ("type", "time", "step")}
            assert values and set(values) <= METRIC_KEYS, event
            assert all(_is_number(v) for v in values.values()), event
            assert event["step"] >= last_metric, event
            last_metric = event["step"]
        elif kind == "checkpoint":
            assert _is_int(event["step"]), event
            assert Path(event["path"]).is_absolute() and Path(event["path"]).name == f"checkpoint-{event['step']}"
        elif kind == "artifact":
            assert event["kind"] == "adapter" and Path(event["path"]).is_absolute(), event
        elif kind == "error":
            assert event["code"] in ERROR_CODES, event
            assert isinstance(event["message"], str) and event["message"], event
            if "field" in event:
                assert isinstance(event["field"], str), event
            if "line" in event:
                assert _is_int(event["line"]) and event["line"] >= 1, event
