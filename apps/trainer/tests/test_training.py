"""The trainer as the worker runs it: a real subprocess, its events, files and exit codes."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    ALPHABET,
    TrainerRun,
    alphabet_records,
    assert_protocol,
    run_in_process,
    run_trainer,
    run_trainer_until,
    write_job,
    write_jsonl,
)

MAX_STEPS = 40
SAVE_STEPS = 10


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> tuple[Path, TrainerRun]:
    """One full LoRA run shared by the tests below: 40 steps, a checkpoint every 10."""
    run_dir = tmp_path_factory.mktemp("lora-run")
    train = write_jsonl(run_dir / "train.jsonl", alphabet_records(64))
    validation = write_jsonl(run_dir / "validation.jsonl", alphabet_records(8))
    job = write_job(
        run_dir,
        tiny_model_dir,
        train,
        validation_file=str(validation),
        hyperparameters={"max_steps": MAX_STEPS, "save_steps": SAVE_STEPS, "eval_steps": 20},
    )
    return run_dir, run_trainer(job)


def test_lora_run_follows_the_protocol_and_succeeds(lora_run: tuple[Path, TrainerRun]) -> None:
    run_dir, run = lora_run
    assert run.returncode == 0, run.stderr[-4000:]
    assert_protocol(run.events)
    assert not run.of_type("error")

    phases = [e["phase"] for e in run.of_type("status")]
    assert phases[0] == "validating"
    for phase in ("loading_data", "loading_model", "training", "saving", "completed"):
        assert phase in phases
    assert phases.index("loading_model") < phases.index("training") < phases.index("saving")
    # It ends with the adapter artifact, then the completed status.
    assert [e["type"] for e in run.events[-2:]] == ["artifact", "status"]
    assert run.events[-1]["phase"] == "completed"
    assert run.events[-2]["path"] == str(run_dir / "output" / "adapter")

    progress = run.of_type("progress")
    assert [e["step"] for e in progress] == list(range(1, MAX_STEPS + 1))
    assert all(e["total_steps"] == MAX_STEPS for e in progress)
    assert progress[-1]["epoch"] == pytest.approx(MAX_STEPS * 4 / 64)

    metrics = [e for e in run.of_type("metric") if "loss" in e]
    assert [e["step"] for e in metrics] == list(range(1, MAX_STEPS + 1))
    for event in metrics:
        assert {"loss", "learning_rate", "grad_norm", "tokens_per_second", "epoch"} <= set(event)
        assert event["tokens_per_second"] > 0
        assert "peak_gpu_memory_bytes" not in event  # CPU run
    eval_steps = [e["step"] for e in run.of_type("metric") if "eval_loss" in e]
    assert eval_steps == [20, 40]

    checkpoints = run.of_type("checkpoint")
    assert [e["step"] for e in checkpoints] == [10, 20, 30, 40]
    for event in checkpoints:
        assert Path(event["path"]) == run_dir / "output" / "checkpoints" / f"checkpoint-{event['step']}"
        assert (Path(event["path"]) / "trainer_state.json").is_file()


def test_data_statistics_are_reported(lora_run: tuple[Path, TrainerRun]) -> None:
    _, run = lora_run
    data_events = [e for e in run.of_type("status") if "data" in e]
    assert len(data_events) == 1 and data_events[0]["phase"] == "loading_data"
    data = data_events[0]["data"]
    assert data["train_records"] == 64 and data["validation_records"] == 8
    assert data["truncated_records"] == 0 and data["max_seq_length"] == 64
    lengths = data["token_length"]
    assert set(lengths) == {"min", "max", "mean", "p50", "p95"}
    assert lengths["min"] == lengths["max"] == lengths["p50"] == lengths["p95"]  # identical records


def test_loss_goes_down(lora_run: tuple[Path, TrainerRun]) -> None:
    _, run = lora_run
    losses = [loss for _, loss in run.losses()]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.7 * first, (first, last)


def test_adapter_folder_and_summary(lora_run: tuple[Path, TrainerRun]) -> None:
    run_dir, run = lora_run
    adapter = run_dir / "output" / "adapter"
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "training_summary.json"):
        assert (adapter / name).is_file(), name
    summary = json.loads((adapter / "training_summary.json").read_text())
    assert summary["job_id"] == "job-test"
    assert summary["dataset"] == {"dataset_id": "ds-test", "version": 3}
    assert summary["method"] == "lora" and summary["record_format"] == "text"
    assert summary["global_step"] == MAX_STEPS and summary["total_steps"] == MAX_STEPS
    assert summary["hyperparameters"]["learning_rate"] == 0.005
    assert sorted(summary["hyperparameters"]["target_modules"]) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    assert summary["final_metrics"]["loss"] == run.losses()[-1][1]
    assert "eval_loss" in summary["final_metrics"] and summary["duration_seconds"] > 0
    assert summary["data"]["train_records"] == 64


def test_adapter_loads_over_the_base_and_changes_its_output(
    lora_run: tuple[Path, TrainerRun], tiny_model_dir: Path, tiny_tokenizer: Any
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run_dir, _ = lora_run
    inputs = tiny_tokenizer(ALPHABET, return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    base.eval()
    with torch.no_grad():
        base_logits = base(**inputs).logits
    tuned = PeftModel.from_pretrained(base, str(run_dir / "output" / "adapter"))
    tuned.eval()
    with torch.no_grad():
        tuned_logits = tuned(**inputs).logits
    assert not torch.allclose(base_logits, tuned_logits, atol=1e-3)
    # The adapter learned the pattern: the next letter is predicted after each letter.
    labels = inputs["input_ids"][0, 1:]
    accuracy = (tuned_logits[0, :-1].argmax(-1) == labels).float().mean().item()
    base_accuracy = (base_logits[0, :-1].argmax(-1) == labels).float().mean().item()
    assert accuracy > base_accuracy and accuracy > 0.5


def test_resume_from_a_checkpoint_continues_at_the_next_step(
    lora_run: tuple[Path, TrainerRun], tiny_model_dir: Path, tmp_path: Path
) -> None:
    first_dir, first = lora_run
    checkpoint = first_dir / "output" / "checkpoints" / "checkpoint-20"
    job = write_job(
        tmp_path,
        tiny_model_dir,
        first_dir / "train.jsonl",
        validation_file=str(first_dir / "validation.jsonl"),
        resume_from_checkpoint=str(checkpoint),
        hyperparameters={"max_steps": MAX_STEPS, "save_steps": SAVE_STEPS, "eval_steps": 20},
    )
    resumed = run_trainer(job)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert_protocol(resumed.events)
    assert resumed.of_type("progress")[0]["step"] == 21
    assert resumed.of_type("metric")[0]["step"] == 21
    assert [e["step"] for e in resumed.of_type("checkpoint")] == [30, 40]
    state = json.loads((tmp_path / "output" / "checkpoints" / "checkpoint-40" / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
    # Optimizer, scheduler, RNG and data order come back with the checkpoint: the resumed
    # steps repeat the original run's steps.
    original = {e["step"]: e for e in first.of_type("metric") if "loss" in e}
    for event in (e for e in resumed.of_type("metric") if "loss" in e):
        assert event["learning_rate"] == pytest.approx(original[event["step"]]["learning_rate"], rel=1e-6)
        assert event["loss"] == pytest.approx(original[event["step"]]["loss"], rel=1e-3)


def test_sigterm_saves_a_checkpoint_that_resumes_to_completion(tiny_model_dir: Path, tmp_path: Path) -> None:
    total = 400
    train = write_jsonl(tmp_path / "train.jsonl", alphabet_records(32))
    job = write_job(tmp_path, tiny_model_dir, train, hyperparameters={"max_steps": total, "save_steps": 1000})
    cancelled = run_trainer_until(job, lambda e: e["type"] == "progress" and e["step"] >= 3, signal.SIGTERM)
    assert cancelled.returncode == 5, cancelled.stderr[-4000:]
    assert_protocol(cancelled.events)
    checkpoints = cancelled.of_type("checkpoint")
    assert len(checkpoints) == 1
    step = checkpoints[0]["step"]
    assert 3 <= step < total
    assert cancelled.of_type("progress")[-1]["step"] == step
    tail = cancelled.events[-3:]
    assert tail[0]["type"] == "checkpoint"
    assert tail[1]["type"] == "status" and tail[1]["phase"] == "cancelling"
    assert tail[2]["type"] == "error" and tail[2]["code"] == "cancelled"
    assert not cancelled.of_type("artifact")

    # The worker re-queues the job with resume "latest" in the same run folder.
    job_data = json.loads(job.read_text())
    job_data["resume_from_checkpoint"] = "latest"
    job_data["hyperparameters"]["max_steps"] = step + 5
    job.write_text(json.dumps(job_data))
    resumed = run_trainer(job)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert resumed.of_type("progress")[0]["step"] == step + 1
    assert resumed.of_type("progress")[-1]["step"] == step + 5
    assert resumed.events[-1]["phase"] == "completed"
    assert (tmp_path / "output" / "adapter" / "adapter_model.safetensors").is_file()


# --- failures: exit code + one error event ----------------------------------------------------


@pytest.fixture()
def text_train(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "train.jsonl", alphabet_records(8))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"record_format": "sharegpt"}, "record_format"),
        ({"hyperparameters": {"lora_r": 0}}, "hyperparameters.lora_r"),
        ({"hyperparameters": {"learning_rate": -1}}, "hyperparameters.learning_rate"),
        ({"hyperparameters": {"learning_rat": 0.1}}, "hyperparameters.learning_rat"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_config_exits_2_naming_the_field(
    tmp_path: Path, tiny_model_dir: Path, text_train: Path, overrides: dict[str, Any], field: str
) -> None:
    run = run_trainer(write_job(tmp_path / "run", tiny_model_dir, text_train, **overrides), timeout=60)
    assert run.returncode == 2, run.stderr
    assert_protocol(run.events)
    assert run.error["code"] == "invalid_config" and run.error["field"] == field
    assert run.events[-1]["type"] == "error"
    assert "Traceback" not in run.stderr


def test_malformed_jsonl_exits_3_naming_the_line(tmp_path: Path, tiny_model_dir: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a"}\n{"text": "b"}\n{"text": "c"\n{"text": "d"}\n', encoding="utf-8")
    run = run_trainer(write_job(tmp_path / "run", tiny_model_dir, train), timeout=60)
    assert run.returncode == 3, run.stderr
    assert_protocol(run.events)
    assert run.error["code"] == "data_error" and run.error["line"] == 3 and run.error["field"] == "train_file"


def test_missing_field_exits_3(tmp_path: Path, tiny_model_dir: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", [{"prompt": "p", "completion": "c"}, {"prompt": "p"}])
    run = run_trainer(write_job(tmp_path / "run", tiny_model_dir, train, record_format="completion"), timeout=60)
    assert run.returncode == 3
    assert run.error["line"] == 2 and "completion" in run.error["message"]


def test_empty_train_file_exits_3(tmp_path: Path, tiny_model_dir: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text("", encoding="utf-8")
    run = run_trainer(write_job(tmp_path / "run", tiny_model_dir, train), timeout=60)
    assert run.returncode == 3
    assert run.error["code"] == "data_error" and "empty" in run.error["message"]


def test_bad_validation_file_exits_3(tmp_path: Path, tiny_model_dir: Path, text_train: Path) -> None:
    validation = tmp_path / "validation.jsonl"
    validation.write_text('{"text": "ok"}\n{"txt": "oops"}\n', encoding="utf-8")
    run = run_trainer(
        write_job(tmp_path / "run", tiny_model_dir, text_train, validation_file=str(validation)), timeout=60
    )
    assert run.returncode == 3
    assert run.error["field"] == "validation_file" and run.error["line"] == 2


def test_qlora_without_cuda_exits_6(tmp_path: Path, tiny_model_dir: Path, text_train: Path) -> None:
    run = run_trainer(write_job(tmp_path / "run", tiny_model_dir, text_train, method="qlora"), timeout=120)
    assert run.returncode == 6, run.stderr[-3000:]
    assert_protocol(run.events)
    assert run.error["code"] == "environment"
    assert "QLoRA" in run.error["message"] and "CUDA" in run.error["message"]


def test_missing_base_model_exits_6(tmp_path: Path, text_train: Path) -> None:
    run = run_trainer(write_job(tmp_path / "run", tmp_path / "no-such-model", text_train), timeout=60)
    assert run.returncode == 6
    assert run.error["code"] == "environment" and run.error["field"] == "base_model"


def test_unknown_hub_model_offline_exits_6(tmp_path: Path, text_train: Path) -> None:
    run = run_trainer(
        write_job(tmp_path / "run", "clara-tests/model-that-does-not-exist", text_train),
        timeout=120,
        HF_HOME=str(tmp_path / "hf-home"),
    )
    assert run.returncode == 6, run.stderr[-3000:]
    assert run.error["code"] == "environment" and run.error["field"] == "base_model"


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    run = run_trainer(tmp_path / "job.json", timeout=60)
    assert run.returncode == 2
    assert run.error["code"] == "invalid_config"


def test_resume_from_a_folder_that_is_no_checkpoint_exits_2(
    tmp_path: Path, tiny_model_dir: Path, text_train: Path
) -> None:
    not_a_checkpoint = tmp_path / "checkpoint-7"
    not_a_checkpoint.mkdir()
    run = run_trainer(
        write_job(tmp_path / "run", tiny_model_dir, text_train, resume_from_checkpoint=str(not_a_checkpoint)),
        timeout=60,
    )
    assert run.returncode == 2
    assert run.error["field"] == "resume_from_checkpoint"


def test_latest_without_checkpoints_starts_fresh(tmp_path: Path, tiny_model_dir: Path, text_train: Path) -> None:
    run = run_in_process(
        write_job(
            tmp_path / "run",
            tiny_model_dir,
            text_train,
            resume_from_checkpoint="latest",
            hyperparameters={"max_steps": 2},
        )
    )
    assert run.returncode == 0
    assert run.of_type("progress")[0]["step"] == 1


def test_stdout_carries_only_events(lora_run: tuple[Path, TrainerRun]) -> None:
    # Library output (transformers warnings, saving messages) went to stderr.
    _, run = lora_run
    assert len(run.stdout_lines) == len(run.events)
    assert all(line.startswith("{") for line in run.stdout_lines)
    assert run.stderr.strip(), "the log (stderr) should not be empty"
