"""Every record format trains end to end (in-process, a few steps each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import assert_protocol, run_in_process, write_job, write_jsonl

RECORDS: dict[str, list[dict[str, Any]]] = {
    "chat": [
        {
            "messages": [
                {"role": "system", "content": "You answer with the next letter."},
                {"role": "user", "content": f"What comes after {a}?"},
                {"role": "assistant", "content": f"{b}"},
            ],
            "source_chunk_ids": ["chunk-1"],
        }
        for a, b in zip("ABCDEFGH", "BCDEFGHI", strict=False)
    ],
    "alpaca": [
        {"instruction": "Name the next letter.", "input": a, "output": b, "metadata": {"k": 1}}
        for a, b in zip("ABCDEFGH", "BCDEFGHI", strict=False)
    ],
    "completion": [
        {"prompt": f"After {a} comes", "completion": f" {b}"} for a, b in zip("ABCDEFGH", "BCDEFGHI", strict=False)
    ],
    "text": [{"text": "one two three four five six seven eight nine ten"} for _ in range(8)],
}


@pytest.mark.parametrize("record_format", sorted(RECORDS))
def test_each_record_format_trains(record_format: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", RECORDS[record_format])
    job = write_job(
        tmp_path,
        tiny_model_dir,
        train,
        record_format=record_format,
        hyperparameters={
            "max_steps": 4,
            "batch_size": 2,
            "max_seq_length": 256,
            "lr_scheduler": "linear",
            "warmup_steps": 1,
        },
    )
    run = run_in_process(job)
    assert run.returncode == 0, run.events[-3:]
    assert_protocol(run.events)
    assert [e["step"] for e in run.of_type("progress")] == [1, 2, 3, 4]
    losses = [loss for _, loss in run.losses()]
    assert len(losses) == 4 and all(0 < loss < 20 for loss in losses)
    summary = json.loads((tmp_path / "output" / "adapter" / "training_summary.json").read_text())
    assert summary["record_format"] == record_format and summary["global_step"] == 4
    assert summary["data"]["train_records"] == 8


def test_chat_without_a_chat_template_uses_the_fallback(tmp_path: Path, tiny_model_dir: Path) -> None:
    base = tmp_path / "base-without-template"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").unlink()
    train = write_jsonl(tmp_path / "train.jsonl", RECORDS["chat"])
    job = write_job(tmp_path, base, train, record_format="chat", hyperparameters={"max_steps": 2})
    run = run_in_process(job)
    assert run.returncode == 0, run.events[-3:]
    saved_template = (tmp_path / "output" / "adapter" / "chat_template.jinja").read_text()
    assert "<|im_start|>" in saved_template  # the adapter ships the template it was trained with


def test_gradient_accumulation_and_epochs(tmp_path: Path, tiny_model_dir: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", RECORDS["text"])
    job = write_job(
        tmp_path,
        tiny_model_dir,
        train,
        hyperparameters={"epochs": 2, "batch_size": 2, "gradient_accumulation_steps": 2, "lr_scheduler": "constant"},
    )
    run = run_in_process(job)
    assert run.returncode == 0
    # 8 records / (2 x 2) = 2 optimizer steps per epoch; a checkpoint per epoch by default.
    assert [e["step"] for e in run.of_type("progress")] == [1, 2, 3, 4]
    assert [e["step"] for e in run.of_type("checkpoint")] == [2, 4]
    assert all(e["learning_rate"] == pytest.approx(0.005) for e in run.of_type("metric") if "loss" in e)
