"""The tiny test model is deterministic and usable by other suites."""

from __future__ import annotations

import hashlib
from pathlib import Path

from clara_trainer.testing.tiny_model import write_tiny_model


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_tiny_model_is_deterministic(tmp_path: Path, tiny_model_dir: Path) -> None:
    again = write_tiny_model(tmp_path / "again")
    assert digest(again) == digest(tiny_model_dir)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (again / name).is_file(), name


def test_tiny_model_loads_with_a_chat_template(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 2
    assert tokenizer.pad_token_id is not None and tokenizer.eos_token_id is not None
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<s><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
