"""job.json validation: defaults, types, ranges, unknown keys (pure Python, no torch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clara_trainer.config import Hyperparameters, load_job_config, parse_job_config
from clara_trainer.errors import ConfigError, ExitCode


def minimal_job(**overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "job_id": "j1",
        "base_model": "/models/tiny",
        "method": "lora",
        "record_format": "chat",
        "train_file": "/data/train.jsonl",
        "output_dir": "/runs/j1/output",
    }
    job.update(overrides)
    return job


def config_error(data: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_job_config(data, Path("/runs/j1"))
    assert info.value.exit_code == ExitCode.INVALID_CONFIG
    assert info.value.code == "invalid_config"
    return info.value


def test_minimal_job_gets_every_default() -> None:
    config = parse_job_config(minimal_job(), Path("/runs/j1"))
    assert config.hyperparameters == Hyperparameters()
    assert config.hyperparameters.learning_rate == 2e-4
    assert config.hyperparameters.lr_scheduler == "cosine"
    assert config.validation_file is None and config.resume_from_checkpoint is None and config.dataset is None
    assert config.checkpoints_dir == Path("/runs/j1/output/checkpoints")
    assert config.adapter_dir == Path("/runs/j1/output/adapter")


def test_full_job_is_read_with_types() -> None:
    job = minimal_job(
        validation_file="/data/val.jsonl",
        resume_from_checkpoint="latest",
        dataset={"dataset_id": "ds1", "version": 3},
        hyperparameters={
            "epochs": 1.5,
            "max_steps": 10,
            "learning_rate": 0.001,
            "target_modules": ["q_proj", "v_proj"],
            "quantization_bits": 8,
            "precision": "fp32",
            "gradient_checkpointing": True,
            "save_steps": None,
        },
    )
    config = parse_job_config(job, Path("/runs/j1"))
    hp = config.hyperparameters
    assert (hp.epochs, hp.max_steps, hp.learning_rate) == (1.5, 10, 0.001)
    assert hp.target_modules == ("q_proj", "v_proj")
    assert hp.quantization_bits == 8 and hp.precision == "fp32" and hp.gradient_checkpointing is True
    assert config.resume_from_checkpoint == "latest"
    assert config.dataset is not None and config.dataset.to_dict() == {"dataset_id": "ds1", "version": 3}


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text(
        json.dumps(minimal_job(train_file="data/train.jsonl", output_dir="output")), encoding="utf-8"
    )
    config = load_job_config(tmp_path / "job.json")
    assert config.train_file == tmp_path / "data" / "train.jsonl"
    assert config.output_dir == tmp_path / "output"


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [
        ({"lora_r": 0}, "hyperparameters.lora_r"),
        ({"learning_rate": -1}, "hyperparameters.learning_rate"),
        ({"learning_rate": "0.1"}, "hyperparameters.learning_rate"),
        ({"batch_size": 2.5}, "hyperparameters.batch_size"),
        ({"batch_size": True}, "hyperparameters.batch_size"),
        ({"epochs": 0}, "hyperparameters.epochs"),
        ({"warmup_ratio": 1.0}, "hyperparameters.warmup_ratio"),
        ({"lora_dropout": -0.1}, "hyperparameters.lora_dropout"),
        ({"lr_scheduler": "exponential"}, "hyperparameters.lr_scheduler"),
        ({"quantization_bits": 3}, "hyperparameters.quantization_bits"),
        ({"quantization_type": "int4"}, "hyperparameters.quantization_type"),
        ({"precision": "fp64"}, "hyperparameters.precision"),
        ({"target_modules": []}, "hyperparameters.target_modules"),
        ({"target_modules": ["q_proj", 3]}, "hyperparameters.target_modules[1]"),
        ({"gradient_checkpointing": 1}, "hyperparameters.gradient_checkpointing"),
        ({"max_steps": 0}, "hyperparameters.max_steps"),
        ({"learning_rat": 0.1}, "hyperparameters.learning_rat"),
    ],
)
def test_bad_hyperparameters_name_the_field(hyperparameters: dict[str, Any], field: str) -> None:
    error = config_error(minimal_job(hyperparameters=hyperparameters))
    assert error.field == field
    assert field in error.message


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (minimal_job(record_format="sharegpt"), "record_format"),
        (minimal_job(method="full"), "method"),
        (minimal_job(job_id=""), "job_id"),
        (minimal_job(base_model=7), "base_model"),
        (minimal_job(extra_thing=1), "extra_thing"),
        (minimal_job(dataset={"dataset_id": "d"}), "dataset.version"),
        (minimal_job(dataset={"dataset_id": "d", "version": 1, "name": "x"}), "dataset.name"),
        (minimal_job(hyperparameters=[1]), "hyperparameters"),
        ({k: v for k, v in minimal_job().items() if k != "train_file"}, "train_file"),
    ],
)
def test_bad_top_level_fields_are_named(job: dict[str, Any], field: str) -> None:
    assert config_error(job).field == field


def test_unreadable_or_invalid_json_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_job_config(tmp_path / "nope.json")
    assert "not found" in missing.value.message
    (tmp_path / "job.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError) as broken:
        load_job_config(tmp_path / "job.json")
    assert "not valid JSON" in broken.value.message


def test_exit_codes_are_the_documented_ones() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "SUCCESS": 0,
        "INTERNAL": 1,
        "INVALID_CONFIG": 2,
        "DATA_ERROR": 3,
        "OUT_OF_MEMORY": 4,
        "CANCELLED": 5,
        "ENVIRONMENT": 6,
    }
