"""One fine-tuning job, phase by phase: data, model, training, adapter."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .cancellation import CancelToken
from .config import RESUME_LATEST, JobConfig
from .data import DataStats, read_records
from .errors import Cancelled, ConfigError
from .events import EventWriter, Phase, json_safe, utc_now_iso
from .model import check_base_model_exists

log = logging.getLogger(__name__)

_CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
SUMMARY_FILE = "training_summary.json"


@dataclass(frozen=True)
class JobResult:
    adapter_dir: Path
    summary: dict[str, Any]


def find_latest_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The checkpoint folder with the highest step that holds a trainer state, if any."""
    if not checkpoints_dir.is_dir():
        return None
    found: list[tuple[int, Path]] = []
    for child in checkpoints_dir.iterdir():
        match = _CHECKPOINT_NAME.match(child.name)
        if match and (child / "trainer_state.json").is_file():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def resolve_resume_checkpoint(config: JobConfig) -> Path | None:
    requested = config.resume_from_checkpoint
    if requested is None:
        return None
    if requested == RESUME_LATEST:
        latest = find_latest_checkpoint(config.checkpoints_dir)
        if latest is None:
            log.info(
                "resume_from_checkpoint is 'latest' but %s has no checkpoint: starting fresh", config.checkpoints_dir
            )
        return latest
    path = Path(requested)
    if not (path / "trainer_state.json").is_file():
        raise ConfigError(
            f"resume_from_checkpoint {path} is not a checkpoint folder (no trainer_state.json)",
            field="resume_from_checkpoint",
        )
    return path


def _check_cancelled(cancel: CancelToken, events: EventWriter, where: str) -> None:
    if cancel.requested:
        events.status(Phase.CANCELLING, f"cancelled ({cancel.reason}) {where}; no checkpoint to save")
        raise Cancelled(f"cancelled by {cancel.reason} {where}")


def _training_arguments(config: JobConfig, device: Any, has_validation: bool) -> Any:
    from transformers import TrainingArguments

    hp = config.hyperparameters
    scheduler = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[hp.lr_scheduler]
    eval_strategy = "no"
    if has_validation:
        eval_strategy = "steps" if hp.eval_steps else "epoch"
    return TrainingArguments(
        output_dir=str(config.checkpoints_dir),
        num_train_epochs=float(hp.epochs),
        max_steps=hp.max_steps if hp.max_steps is not None else -1,
        per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.batch_size,
        gradient_accumulation_steps=hp.gradient_accumulation_steps,
        learning_rate=hp.learning_rate,
        weight_decay=hp.weight_decay,
        lr_scheduler_type=scheduler,
        # transformers reads a float < 1 as a ratio of the total steps.
        warmup_steps=hp.warmup_steps if hp.warmup_steps > 0 else hp.warmup_ratio,
        logging_strategy="steps",
        logging_steps=hp.logging_steps,
        save_strategy="steps" if hp.save_steps else "epoch",
        save_steps=hp.save_steps or 500,
        eval_strategy=eval_strategy,
        eval_steps=hp.eval_steps,
        seed=hp.seed,
        data_seed=hp.seed,
        bf16=device.precision == "bf16",
        fp16=device.precision == "fp16",
        use_cpu=not device.is_cuda,
        # QLoRA enables checkpointing in prepare_model_for_kbit_training instead.
        activation_checkpointing=hp.gradient_checkpointing and config.method != "qlora",
        activation_checkpointing_kwargs={"use_reentrant": False} if hp.gradient_checkpointing else None,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=device.is_cuda,
        save_only_model=False,  # keep optimizer/scheduler/RNG state so a resume is exact
    )


def _save_adapter(model: Any, tokenizer: Any, summary: dict[str, Any], target: Path) -> None:
    """Write the adapter next to ``target`` and move it into place, so it appears whole."""
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    text = json.dumps(json_safe(summary), indent=2, ensure_ascii=False, allow_nan=False)
    (staging / SUMMARY_FILE).write_text(text + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    return {
        "clara_trainer": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def run_job(config: JobConfig, events: EventWriter, cancel: CancelToken) -> JobResult:
    """Run the job; raises a :class:`TrainerError` subclass on any expected failure."""
    started = time.monotonic()
    started_at = utc_now_iso()
    hp = config.hyperparameters

    # Fast checks first: nothing heavy is imported until the data has been validated.
    events.status(Phase.LOADING_DATA, f"reading {config.train_file}")
    train_records = read_records(config.train_file, config.record_format, "train_file")
    validation_records = None
    if config.validation_file is not None:
        validation_records = read_records(config.validation_file, config.record_format, "validation_file")
    check_base_model_exists(config.base_model)
    resume_from = resolve_resume_checkpoint(config)
    _check_cancelled(cancel, events, "while reading data")

    from .data import Encoder, ExampleDataset, PaddingCollator, encode_datasets
    from .model import load_model, load_tokenizer, resolve_device

    device = resolve_device(config)
    log.info("device %s, precision %s %s", device.device, device.precision, list(device.gpu_names))
    tokenizer = load_tokenizer(config)
    encoded = encode_datasets(
        Encoder(tokenizer, config.record_format, hp.max_seq_length), train_records, validation_records
    )
    stats: DataStats = encoded.stats  # type: ignore[assignment]
    events.status(
        Phase.LOADING_DATA,
        f"data ready: {stats.train_records} train / {stats.validation_records} validation records",
        data=stats.to_dict(),
    )
    _check_cancelled(cancel, events, "while tokenizing data")

    events.status(Phase.LOADING_MODEL, f"loading {config.base_model} for {config.method}")
    import torch
    from transformers import Trainer, set_seed
    from transformers.trainer_callback import PrinterCallback

    set_seed(hp.seed)
    loaded = load_model(config, device, tokenizer)
    log.info(
        "LoRA on %s: %d trainable of %d parameters",
        loaded.target_modules,
        loaded.trainable_parameters,
        loaded.total_parameters,
    )
    _check_cancelled(cancel, events, "while loading the model")

    from .callbacks import ProtocolCallback

    callback = ProtocolCallback(events, cancel, track_gpu_memory=device.is_cuda)
    trainer = Trainer(
        model=loaded.model,
        args=_training_arguments(config, device, bool(encoded.validation)),
        train_dataset=ExampleDataset(encoded.train),
        eval_dataset=ExampleDataset(encoded.validation) if encoded.validation else None,
        data_collator=PaddingCollator(tokenizer.pad_token_id, pad_to_multiple_of=8 if device.is_cuda else None),
        processing_class=tokenizer,
        callbacks=[callback],
    )
    trainer.remove_callback(PrinterCallback)  # it prints every log dict; the events carry them
    if device.is_cuda:
        torch.cuda.reset_peak_memory_stats()
    resume_note = f", resuming from {resume_from}" if resume_from else ""
    events.status(Phase.TRAINING, f"training{resume_note}", resumed_from=str(resume_from) if resume_from else None)
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    state = trainer.state

    if cancel.requested and state.global_step < state.max_steps:
        checkpoint = callback.metrics.checkpoints[-1] if callback.metrics.checkpoints else None
        events.status(
            Phase.CANCELLING,
            f"cancelled ({cancel.reason}) at step {state.global_step}"
            + (f"; checkpoint saved at {checkpoint}" if checkpoint else ""),
            step=state.global_step,
            checkpoint=checkpoint,
        )
        raise Cancelled(f"cancelled by {cancel.reason} at step {state.global_step}")
    if cancel.requested:
        log.warning("cancellation arrived after the last step; finishing the job")

    events.status(Phase.SAVING, f"saving the adapter to {config.adapter_dir}")
    metrics = callback.metrics
    final_metrics = {
        "train_loss": output.training_loss,
        "loss": metrics.loss,
        "eval_loss": metrics.eval_loss,
        "tokens_per_second": metrics.tokens_per_second,
        "train_tokens": metrics.train_tokens,
    }
    if device.is_cuda:
        final_metrics["peak_gpu_memory_bytes"] = int(torch.cuda.max_memory_allocated())
    hyperparameters = hp.to_dict()
    hyperparameters["target_modules"] = loaded.target_modules
    summary: dict[str, Any] = {
        "job_id": config.job_id,
        "dataset": config.dataset.to_dict() if config.dataset else None,
        "base_model": config.base_model,
        "method": config.method,
        "record_format": config.record_format,
        "hyperparameters": hyperparameters,
        "data": stats.to_dict(),
        "final_metrics": {k: v for k, v in final_metrics.items() if v is not None},
        "global_step": state.global_step,
        "total_steps": state.max_steps,
        "epochs": round(state.epoch or 0.0, 4),
        "resumed_from_checkpoint": str(resume_from) if resume_from else None,
        "started_at": started_at,
        "finished_at": utc_now_iso(),
        "duration_seconds": round(time.monotonic() - started, 3),
        "trainable_parameters": loaded.trainable_parameters,
        "device": device.to_dict(),
        "versions": _versions(),
    }
    _save_adapter(loaded.model, tokenizer, summary, config.adapter_dir)
    events.artifact("adapter", str(config.adapter_dir))
    events.status(
        Phase.COMPLETED,
        f"completed {state.global_step} steps in {summary['duration_seconds']:.1f}s",
        global_step=state.global_step,
        final_metrics=summary["final_metrics"],
    )
    return JobResult(adapter_dir=config.adapter_dir, summary=summary)
