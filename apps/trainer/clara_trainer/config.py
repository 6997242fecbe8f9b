"""job.json: typed dataclasses and strict validation (pure Python, no heavy imports).

Every problem raises :class:`ConfigError` naming the offending field with its full
path (e.g. ``hyperparameters.learning_rate``). Unknown keys are errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

METHODS = ("lora", "qlora")
RECORD_FORMATS = ("chat", "alpaca", "completion", "text")
LR_SCHEDULERS = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
QUANTIZATION_BITS = (4, 8)
QUANTIZATION_TYPES = ("nf4", "fp4")
RESUME_LATEST = "latest"


@dataclass(frozen=True)
class Hyperparameters:
    epochs: float = 3
    max_steps: int | None = None
    learning_rate: float = 2e-4
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_seq_length: int = 1024
    warmup_ratio: float = 0.03
    warmup_steps: int = 0  # > 0 wins over warmup_ratio
    seed: int = 42
    weight_decay: float = 0.0
    lr_scheduler: str = "cosine"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None  # None: per-architecture default
    quantization_bits: int = 4  # QLoRA only
    quantization_type: str = "nf4"  # QLoRA 4-bit only
    save_steps: int | None = None  # None: once per epoch
    eval_steps: int | None = None  # None: once per epoch (when there is a validation file)
    logging_steps: int = 1
    gradient_checkpointing: bool = False
    precision: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.target_modules is not None:
            data["target_modules"] = list(self.target_modules)
        return data


@dataclass(frozen=True)
class DatasetRef:
    """Which dataset version the files came from; copied into the training summary."""

    dataset_id: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobConfig:
    job_id: str
    base_model: str
    method: str
    record_format: str
    train_file: Path
    output_dir: Path
    validation_file: Path | None = None
    resume_from_checkpoint: str | None = None  # a checkpoint folder, "latest" or None
    dataset: DatasetRef | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)

    @property
    def checkpoints_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        return self.output_dir / "adapter"


# --- field readers ------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python; JSON true is not a number.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {_type_name(value)}", field=name)
    if not value.strip():
        raise ConfigError(f"{name} must not be empty", field=name)
    return value


def _read_choice(value: Any, name: str, choices: tuple[Any, ...]) -> Any:
    if isinstance(value, bool) or value not in choices:
        allowed = ", ".join(json.dumps(c) for c in choices)
        raise ConfigError(f"{name} must be one of {allowed}, got {json.dumps(value)}", field=name)
    return value


def _read_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if not _is_int(value):
        raise ConfigError(f"{name} must be an integer, got {_type_name(value)} {json.dumps(value)}", field=name)
    number = int(value)
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {number}", field=name)
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {number}", field=name)
    return number


def _read_number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
    exclusive_maximum: float | None = None,
) -> float:
    if not _is_number(value):
        raise ConfigError(f"{name} must be a number, got {_type_name(value)} {json.dumps(value)}", field=name)
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number", field=name)
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be >= {minimum:g}, got {number:g}", field=name)
    if exclusive_minimum is not None and number <= exclusive_minimum:
        raise ConfigError(f"{name} must be > {exclusive_minimum:g}, got {number:g}", field=name)
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name} must be <= {maximum:g}, got {number:g}", field=name)
    if exclusive_maximum is not None and number >= exclusive_maximum:
        raise ConfigError(f"{name} must be < {exclusive_maximum:g}, got {number:g}", field=name)
    return number


def _read_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {_type_name(value)}", field=name)
    return value


def _optional(reader: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def read(value: Any, name: str) -> Any:
        return None if value is None else reader(value, name)

    return read


def _read_target_modules(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be null or an array of module names, got {_type_name(value)}", field=name)
    if not value:
        raise ConfigError(f"{name} must not be an empty array (use null for the default)", field=name)
    return tuple(_read_string(item, f"{name}[{index}]") for index, item in enumerate(value))


def _read_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be an object, got {_type_name(value)}", field=name)
    return value


def _reject_unknown(data: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            path = f"{prefix}{key}"
            raise ConfigError(f"unknown key {path!r}", field=path)


_HYPERPARAMETER_READERS: dict[str, Callable[[Any, str], Any]] = {
    "epochs": lambda v, n: _read_number(v, n, exclusive_minimum=0, maximum=10_000),
    "max_steps": _optional(lambda v, n: _read_int(v, n, minimum=1)),
    "learning_rate": lambda v, n: _read_number(v, n, exclusive_minimum=0, maximum=1),
    "batch_size": lambda v, n: _read_int(v, n, minimum=1, maximum=65_536),
    "gradient_accumulation_steps": lambda v, n: _read_int(v, n, minimum=1, maximum=65_536),
    "max_seq_length": lambda v, n: _read_int(v, n, minimum=8, maximum=1_048_576),
    "warmup_ratio": lambda v, n: _read_number(v, n, minimum=0, exclusive_maximum=1),
    "warmup_steps": lambda v, n: _read_int(v, n, minimum=0),
    "seed": lambda v, n: _read_int(v, n, minimum=0, maximum=2**32 - 1),
    "weight_decay": lambda v, n: _read_number(v, n, minimum=0, maximum=1),
    "lr_scheduler": lambda v, n: _read_choice(v, n, LR_SCHEDULERS),
    "lora_r": lambda v, n: _read_int(v, n, minimum=1, maximum=4096),
    "lora_alpha": lambda v, n: _read_int(v, n, minimum=1, maximum=65_536),
    "lora_dropout": lambda v, n: _read_number(v, n, minimum=0, exclusive_maximum=1),
    "target_modules": _optional(_read_target_modules),
    "quantization_bits": lambda v, n: _read_choice(v, n, QUANTIZATION_BITS),
    "quantization_type": lambda v, n: _read_choice(v, n, QUANTIZATION_TYPES),
    "save_steps": _optional(lambda v, n: _read_int(v, n, minimum=1)),
    "eval_steps": _optional(lambda v, n: _read_int(v, n, minimum=1)),
    "logging_steps": lambda v, n: _read_int(v, n, minimum=1),
    "gradient_checkpointing": _read_bool,
    "precision": lambda v, n: _read_choice(v, n, PRECISIONS),
}
assert set(_HYPERPARAMETER_READERS) == {f.name for f in fields(Hyperparameters)}


def parse_hyperparameters(data: Any, prefix: str = "hyperparameters") -> Hyperparameters:
    if data is None:
        return Hyperparameters()
    values = _read_object(data, prefix)
    _reject_unknown(values, set(_HYPERPARAMETER_READERS), f"{prefix}.")
    parsed = {key: _HYPERPARAMETER_READERS[key](value, f"{prefix}.{key}") for key, value in values.items()}
    return Hyperparameters(**parsed)


def _read_dataset(value: Any, name: str) -> DatasetRef:
    data = _read_object(value, name)
    _reject_unknown(data, {"dataset_id", "version"}, f"{name}.")
    for key in ("dataset_id", "version"):
        if key not in data:
            raise ConfigError(f"{name}.{key} is required", field=f"{name}.{key}")
    return DatasetRef(
        dataset_id=_read_string(data["dataset_id"], f"{name}.dataset_id"),
        version=_read_int(data["version"], f"{name}.version", minimum=0),
    )


_REQUIRED_KEYS = ("job_id", "base_model", "method", "record_format", "train_file", "output_dir")
_OPTIONAL_KEYS = ("validation_file", "resume_from_checkpoint", "dataset", "hyperparameters")


def parse_job_config(data: Any, base_dir: Path) -> JobConfig:
    """Validate a decoded job.json; relative paths are resolved against ``base_dir``."""
    job = _read_object(data, "job")
    _reject_unknown(job, set(_REQUIRED_KEYS + _OPTIONAL_KEYS), "")
    for key in _REQUIRED_KEYS:
        if key not in job:
            raise ConfigError(f"{key} is required", field=key)

    def path_of(key: str) -> Path:
        return (base_dir / _read_string(job[key], key)).resolve()

    validation_file = None
    if job.get("validation_file") is not None:
        validation_file = path_of("validation_file")

    resume = job.get("resume_from_checkpoint")
    if resume is not None:
        resume = _read_string(resume, "resume_from_checkpoint")
        if resume != RESUME_LATEST:
            resume = str((base_dir / resume).resolve())

    dataset = None if job.get("dataset") is None else _read_dataset(job["dataset"], "dataset")

    return JobConfig(
        job_id=_read_string(job["job_id"], "job_id"),
        base_model=_read_string(job["base_model"], "base_model"),
        method=_read_choice(job["method"], "method", METHODS),
        record_format=_read_choice(job["record_format"], "record_format", RECORD_FORMATS),
        train_file=path_of("train_file"),
        output_dir=path_of("output_dir"),
        validation_file=validation_file,
        resume_from_checkpoint=resume,
        dataset=dataset,
        hyperparameters=parse_hyperparameters(job.get("hyperparameters")),
    )


def load_job_config(path: str | Path) -> JobConfig:
    """Read and validate job.json."""
    config_path = Path(path).resolve()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {config_path}", field="config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}", field="config") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config file is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}", field="config"
        ) from None
    return parse_job_config(data, config_path.parent)
