"""The anchor of the GPU trainer check: a plain TRL ``SFTTrainer`` + PEFT LoRA/QLoRA run.

It trains the same model on the same records with the same hyperparameters as Clara's
job.json, the way the TRL and PEFT documentation show it (model loaded with
``from_pretrained``, QLoRA through a ``BitsAndBytesConfig``, adapter through
``peft_config``), and measures it the way the check measures Clara's trainer:

* tokens: the Trainer's ``num_input_tokens_seen`` with ``include_num_input_tokens_seen=
  "non_padding"`` (the attention-mask sum of every batch), the setting Clara uses;
* time: from just before ``trainer.train()`` to the log of the last optimizer step (the loss
  log, after the step's ``.item()`` synchronisation); model loading and dataset preparation
  come before and are not counted. Every step's log time and running token count are kept,
  so the check can also leave out the first (warm-up) steps;
* peak GPU memory: ``torch.cuda.max_memory_allocated()`` at that last log, after
  ``reset_peak_memory_stats()`` just before ``trainer.train()``.

Usage: ``python anchor_sft.py --params params.json --result result.json``; ``params.json`` is
written by ``trainer_gpu_check.py`` (keys below). Exit 0 on success; the result file then holds
the measurements.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def _to_prompt_completion(record: dict[str, Any]) -> dict[str, Any]:
    """A single-turn chat record as a conversational prompt-completion example.

    TRL then trains on the completion only (``completion_only_loss`` defaults to True for
    prompt-completion data): the assistant turn and its end-of-turn text, what Clara trains on.
    """
    messages = record["messages"]
    last_assistant = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return {"prompt": messages[:last_assistant], "completion": messages[last_assistant:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TRL SFTTrainer + PEFT anchor run")
    parser.add_argument("--params", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    params = json.loads(Path(args.params).read_text(encoding="utf-8"))
    method: str = params["method"]  # "lora" | "qlora"
    hp: dict[str, Any] = params["hyperparameters"]

    import datasets
    import peft
    import torch
    import transformers
    import trl
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    cuda = torch.cuda.is_available()
    precision = hp["precision"]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]

    records = [json.loads(line) for line in Path(params["train_file"]).read_text(encoding="utf-8").splitlines() if line]
    dataset = datasets.Dataset.from_list([_to_prompt_completion(r) for r in records])

    tokenizer = AutoTokenizer.from_pretrained(params["model_dir"])
    load_kwargs: dict[str, Any] = {}
    if method == "qlora":
        from transformers import BitsAndBytesConfig

        load_kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=hp["quantization_type"],
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        load_kwargs["device_map"] = {"": torch.cuda.current_device()}
        load_kwargs["dtype"] = dtype
    else:
        load_kwargs["dtype"] = dtype if cuda else torch.float32
    model = AutoModelForCausalLM.from_pretrained(params["model_dir"], **load_kwargs)

    peft_config = LoraConfig(
        r=hp["lora_r"],
        lora_alpha=hp["lora_alpha"],
        lora_dropout=hp["lora_dropout"],
        target_modules=list(hp["target_modules"]),
        bias="none",
        task_type="CAUSAL_LM",
    )
    scheduler = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}[hp["lr_scheduler"]]
    config = SFTConfig(
        output_dir=str(Path(params["output_dir"]) / "checkpoints"),
        max_steps=hp["max_steps"],
        per_device_train_batch_size=hp["batch_size"],
        gradient_accumulation_steps=hp["gradient_accumulation_steps"],
        learning_rate=hp["learning_rate"],
        weight_decay=hp["weight_decay"],
        lr_scheduler_type=scheduler,
        warmup_steps=hp["warmup_steps"],
        seed=hp["seed"],
        data_seed=hp["seed"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not cuda,
        # TRL turns gradient checkpointing on by default; Clara's default (and the job) is off.
        gradient_checkpointing=hp["gradient_checkpointing"],
        max_length=hp["max_seq_length"],
        packing=False,
        padding_free=False,
        # Clara pads each batch to a multiple of 8 on CUDA; do the same so both do equal work.
        pad_to_multiple_of=8 if cuda else None,
        logging_strategy="steps",
        logging_steps=hp["logging_steps"],
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
    )

    class Measure(TrainerCallback):
        """Per loss log: step, loss, wall time and the running non-padding token count."""

        def __init__(self) -> None:
            self.points: list[dict[str, Any]] = []
            self.peak: int | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            logs = logs or {}
            if "loss" in logs:
                now = time.time()
                self.points.append(
                    {
                        "step": state.global_step,
                        "loss": float(logs["loss"]),
                        "time": now,
                        "tokens": int(state.num_input_tokens_seen),
                    }
                )
                if cuda:
                    self.peak = int(torch.cuda.max_memory_allocated())
            return control

    measure = Measure()
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[measure],
    )
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    train_started = time.time()
    output = trainer.train()
    result = {
        "ok": True,
        "method": method,
        "train_started": train_started,
        "points": measure.points,
        "train_tokens": measure.points[-1]["tokens"] if measure.points else 0,
        "train_loss": output.training_loss,
        "global_step": trainer.state.global_step,
        "peak_gpu_memory_bytes": measure.peak,
        "trainable_parameters": trainable,
        "train_examples": len(trainer.train_dataset),
        "device": "cuda" if cuda else "cpu",
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "precision": precision,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "trl": trl.__version__,
            "datasets": datasets.__version__,
        },
    }
    Path(args.result).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
