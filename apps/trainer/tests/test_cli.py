"""Outcome mapping of the entry point: exceptions to error events and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from clara_trainer import cli, train
from clara_trainer.cancellation import CancelToken
from clara_trainer.config import load_job_config
from clara_trainer.errors import Cancelled, ExitCode
from clara_trainer.events import EventWriter
from conftest import alphabet_records, assert_protocol, parse_events, write_job, write_jsonl


def run_with(job: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException) -> tuple[int, list[dict[str, Any]]]:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise failure

    monkeypatch.setattr(train, "run_job", fail)
    stream = io.StringIO()
    code = cli.main(["--config", str(job)], events_stream=stream)
    events = parse_events(stream.getvalue().splitlines())
    assert_protocol(events)
    return code, events


@pytest.fixture()
def job(tmp_path: Path, tiny_model_dir: Path) -> Path:
    return write_job(tmp_path, tiny_model_dir, write_jsonl(tmp_path / "train.jsonl", alphabet_records(4)))


def test_cuda_out_of_memory_exits_4(job: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    code, events = run_with(
        job, monkeypatch, torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
    )
    assert code == ExitCode.OUT_OF_MEMORY == 4
    assert events[-1]["type"] == "error" and events[-1]["code"] == "out_of_memory"
    assert "batch_size" in events[-1]["message"]


def test_unexpected_exception_exits_1(job: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, events = run_with(job, monkeypatch, RuntimeError("boom"))
    assert code == ExitCode.INTERNAL == 1
    assert events[-1]["code"] == "internal" and "boom" in events[-1]["message"]


def test_bad_arguments_exit_2() -> None:
    stream = io.StringIO()
    assert cli.main(["--nope"], events_stream=stream) == ExitCode.INVALID_CONFIG
    (event,) = parse_events(stream.getvalue().splitlines())
    assert event["code"] == "invalid_config"


def test_cancel_before_training_exits_without_checkpoint(job: Path) -> None:
    stream = io.StringIO()
    token = CancelToken()
    token.request("SIGTERM")
    with pytest.raises(Cancelled):
        train.run_job(load_job_config(job), EventWriter(stream), token)
    events = parse_events(stream.getvalue().splitlines())
    assert events[-1]["type"] == "status" and events[-1]["phase"] == "cancelling"
    assert not [e for e in events if e["type"] == "checkpoint"]


def test_events_are_strict_json_lines() -> None:
    stream = io.StringIO()
    writer = EventWriter(stream)
    writer.metric(3, {"loss": float("nan"), "grad_norm": 1.5})
    writer.error("data_error", "bad", line=None)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "loss" not in first and first["grad_norm"] == 1.5 and first["step"] == 3
    assert "line" not in second and "field" not in second
