"""Device and precision, tokenizer and base model loading, LoRA / QLoRA setup."""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Hyperparameters, JobConfig
from .data import FALLBACK_CHAT_TEMPLATE
from .errors import ConfigError, EnvironmentProblem

log = logging.getLogger(__name__)

# LoRA target modules per `config.model_type`; anything else gets every linear layer
# except the output head (peft's "all-linear").
_LLAMA_LIKE = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "mixtral": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "gemma3_text": _LLAMA_LIKE,
    "olmo2": _LLAMA_LIKE,
    "phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
    "phi": ("q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"),
    "gpt2": ("c_attn", "c_proj", "c_fc"),
    "gpt_neox": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    "falcon": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
    "opt": ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"),
    "bloom": ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),
}
ALL_LINEAR = "all-linear"


def default_target_modules(model_type: str) -> tuple[str, ...] | str:
    return DEFAULT_TARGET_MODULES.get(model_type, ALL_LINEAR)


@dataclass(frozen=True)
class DeviceSetup:
    """Where training runs and in which precision."""

    device: str  # "cuda" or "cpu"
    precision: str  # "bf16", "fp16" or "fp32"
    gpu_names: tuple[str, ...] = ()

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    def torch_dtype(self) -> Any:
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "precision": self.precision, "gpus": list(self.gpu_names)}


def _visible_devices_note() -> str:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return "" if visible is None else f" (CUDA_VISIBLE_DEVICES={visible!r})"


def resolve_device(config: JobConfig) -> DeviceSetup:
    """Pick device and precision; refuse combinations this machine cannot run (exit 6)."""
    import torch

    hp = config.hyperparameters
    cuda = torch.cuda.is_available()
    if config.method == "qlora":
        if not cuda:
            raise EnvironmentProblem(
                "QLoRA needs a CUDA GPU, but none is available" + _visible_devices_note(), field="method"
            )
        if importlib.util.find_spec("bitsandbytes") is None:
            raise EnvironmentProblem(
                "QLoRA needs the bitsandbytes package; install apps/trainer/requirements-gpu.txt", field="method"
            )
        try:
            import bitsandbytes  # noqa: F401
        except Exception as exc:  # a broken CUDA setup surfaces here
            raise EnvironmentProblem(f"bitsandbytes cannot be imported: {exc}", field="method") from None

    gpu_names = tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else ()
    precision = hp.precision
    if precision == "auto":
        if cuda:
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            precision = "fp32"
    elif precision == "fp16" and not cuda:
        raise EnvironmentProblem(
            "precision fp16 needs a CUDA GPU; use fp32 or bf16 on CPU" + _visible_devices_note(),
            field="hyperparameters.precision",
        )
    elif precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise EnvironmentProblem("this GPU does not support bf16; use fp16", field="hyperparameters.precision")
    return DeviceSetup(device="cuda" if cuda else "cpu", precision=precision, gpu_names=gpu_names)


def check_base_model_exists(base_model: str) -> None:
    """Fail fast (before heavy imports) when a local base model folder is missing."""
    if base_model.startswith(("/", "./", "../", "~")):
        path = Path(base_model).expanduser()
        if not path.is_dir():
            raise EnvironmentProblem(f"base model folder not found: {path}", field="base_model")


def load_tokenizer(config: JobConfig) -> Any:
    """The base model's tokenizer, ready for right-padded training batches."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    except Exception as exc:  # OSError (not found / offline), ValueError, ...
        raise EnvironmentProblem(
            f"cannot load the tokenizer of base model {config.base_model!r}: {exc}", field="base_model"
        ) from None
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise EnvironmentProblem(
                f"the tokenizer of {config.base_model!r} has neither a pad nor an eos token", field="base_model"
            )
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    if config.record_format == "chat" and not getattr(tokenizer, "chat_template", None):
        log.warning("the tokenizer has no chat template; using Clara's ChatML-style fallback template")
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return tokenizer


def _quantization_config(hp: Hyperparameters, device: DeviceSetup) -> Any:
    from transformers import BitsAndBytesConfig

    if hp.quantization_bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=hp.quantization_type,
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=device.torch_dtype(),
    )


@dataclass
class LoadedModel:
    model: Any  # a peft PeftModel
    target_modules: list[str]
    trainable_parameters: int
    total_parameters: int


def load_model(config: JobConfig, device: DeviceSetup, tokenizer: Any) -> LoadedModel:
    """Load the base model (quantized for QLoRA) and wrap it with a LoRA adapter."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    hp = config.hyperparameters
    kwargs: dict[str, Any] = {}
    if config.method == "qlora":
        kwargs["quantization_config"] = _quantization_config(hp, device)
        kwargs["device_map"] = {"": torch.cuda.current_device()}
        kwargs["dtype"] = device.torch_dtype()
    else:
        # Full-precision weights on CPU (bf16 there only autocasts); GPU loads in the training dtype.
        kwargs["dtype"] = device.torch_dtype() if device.is_cuda else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as exc:
        raise EnvironmentProblem(f"cannot load base model {config.base_model!r}: {exc}", field="base_model") from None

    model.config.use_cache = False  # the KV cache is useless in training and clashes with checkpointing
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if config.method == "qlora":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=hp.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        # peft casts every non-quantised weight to fp32, the embeddings and the output head
        # included: the head then makes fp32 logits (batch x seq x vocab) and their gradient,
        # the largest tensors of a step. Those two stay frozen, so they go back to the compute
        # dtype (the norms stay fp32): 0.19 GiB less at peak on the H100 check, same loss.
        compute_dtype = device.torch_dtype()
        for embedding in (model.get_input_embeddings(), model.get_output_embeddings()):
            if embedding is not None:
                embedding.to(compute_dtype)

    targets: list[str] | str
    if hp.target_modules is not None:
        targets = list(hp.target_modules)
    else:
        default = default_target_modules(getattr(model.config, "model_type", ""))
        targets = default if isinstance(default, str) else list(default)
    lora_config = LoraConfig(
        r=hp.lora_r,
        lora_alpha=hp.lora_alpha,
        lora_dropout=hp.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type=TaskType.CAUSAL_LM,
    )
    try:
        peft_model = get_peft_model(model, lora_config)
    except ValueError as exc:
        raise ConfigError(
            f"LoRA target modules {targets!r} do not fit this model: {exc}", field="hyperparameters.target_modules"
        ) from None

    resolved = getattr(peft_model.peft_config["default"], "target_modules", None) or targets
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    return LoadedModel(
        model=peft_model,
        target_modules=sorted(resolved) if not isinstance(resolved, str) else [resolved],
        trainable_parameters=trainable,
        total_parameters=total,
    )
