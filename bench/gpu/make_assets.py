"""Model, tokenizer and data for the GPU trainer check, built locally (nothing downloaded).

* A synthetic but learnable chat data set: single-turn conversations (system + user +
  assistant) whose answers are deterministic functions of the prompt (reverse a word list,
  sort numbers, capitalise words, look a key up in a table, apply a fixed codebook, count
  words). Seeded: the same arguments always give the same records.
* A byte-level BPE tokenizer trained on that data with the ``tokenizers`` library, with the
  special tokens and ChatML chat template of Clara's test model
  (``clara_trainer.testing.tiny_model``).
* A Llama model with random (seeded) weights, sized by a :class:`ModelPreset`, saved in bf16.

``python bench/gpu/make_assets.py <out_dir> [--preset bench|tiny] [--records N]`` writes
``<out_dir>/model/`` and ``<out_dir>/train.jsonl`` (Clara's ``chat`` format); the check calls
:func:`build_assets` directly.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# --- model presets -----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPreset:
    """Sizes of the generated Llama model and its tokenizer."""

    name: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int  # embedding rows; the tokenizer's own vocabulary may be smaller (rows padded)
    tokenizer_vocab_size: int  # target size of the trained BPE vocabulary
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    seed: int = 0


PRESETS: dict[str, ModelPreset] = {
    # ~246M parameters: 16 layers of 1024 (16 heads of 64, GQA with 4 KV heads, SwiGLU MLP of
    # 2816), a 32,000-row vocabulary like Llama 2 / TinyLlama, untied output head.
    "bench": ModelPreset(
        name="bench",
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=16,
        num_attention_heads=16,
        num_key_value_heads=4,
        vocab_size=32000,
        tokenizer_vocab_size=8000,
    ),
    # The --cpu-smoke model: a few hundred thousand parameters, a CPU step in milliseconds.
    "tiny": ModelPreset(
        name="tiny",
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=1024,
        tokenizer_vocab_size=1024,
        max_position_embeddings=1024,
    ),
}


def parameter_count(preset: ModelPreset, vocab_size: int) -> int:
    """Parameters of the Llama model ``preset`` describes (untied head, no biases)."""
    h, i, layers = preset.hidden_size, preset.intermediate_size, preset.num_hidden_layers
    head_dim = h // preset.num_attention_heads
    kv = preset.num_key_value_heads * head_dim
    attention = h * h * 2 + h * kv * 2  # q, o + k, v
    mlp = 3 * h * i
    norms = 2 * h
    return layers * (attention + mlp + norms) + h + 2 * vocab_size * h


# --- synthetic data ------------------------------------------------------------------------

SYSTEM_PROMPT = "You are a precise assistant. Follow the instruction exactly and answer with the result only."
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def _pseudo_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.randint(2, 3)
        words.add("".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables)))
    return sorted(words)


@dataclass(frozen=True)
class _Lexicon:
    words: list[str]
    codebook: dict[str, str]  # fixed word -> code word mapping, the same in every record


def _lexicon(seed: int) -> _Lexicon:
    rng = random.Random(seed)
    words = _pseudo_words(rng, 400)
    codes = _pseudo_words(random.Random(seed + 1), 460)
    codes = [c for c in codes if c not in set(words)][: len(words)]
    rng.shuffle(codes)
    return _Lexicon(words=words, codebook=dict(zip(words, codes, strict=False)))


def _task_reverse(rng: random.Random, lex: _Lexicon, n: int) -> tuple[str, str]:
    items = [rng.choice(lex.words) for _ in range(n)]
    return "Reverse the order of these words:\n" + " ".join(items), " ".join(reversed(items))


def _task_sort(rng: random.Random, lex: _Lexicon, n: int) -> tuple[str, str]:
    numbers = [rng.randint(0, 999) for _ in range(n)]
    return (
        "Sort these numbers from smallest to largest:\n" + ", ".join(map(str, numbers)),
        ", ".join(map(str, sorted(numbers))),
    )


def _task_upper(rng: random.Random, lex: _Lexicon, n: int) -> tuple[str, str]:
    items = [rng.choice(lex.words) for _ in range(n)]
    return "Write these words in capital letters:\n" + " ".join(items), " ".join(w.upper() for w in items)


def _task_codebook(rng: random.Random, lex: _Lexicon, n: int) -> tuple[str, str]:
    items = [rng.choice(lex.words) for _ in range(n)]
    return "Encode each word with the codebook:\n" + " ".join(items), " ".join(lex.codebook[w] for w in items)


def _task_lookup(rng: random.Random, lex: _Lexicon, n: int) -> tuple[str, str]:
    keys = rng.sample(lex.words, min(max(n // 3, 2), len(lex.words)))
    table = {k: rng.randint(0, 999) for k in keys}
    asked = rng.sample(keys, min(len(keys), rng.randint(1, 4)))
    lines = "\n".join(f"{k} = {v}" for k, v in table.items())
    question = ", ".join(asked)
    answer = "\n".join(f"{k} = {table[k]}" for k in asked)
    return f"Here is a table:\n{lines}\nGive the values of: {question}", answer


def _task_count(rng: random.Random, lex: _Lexicon, n: int) -> tuple[str, str]:
    items = [rng.choice(lex.words) for _ in range(n)]
    target = rng.choice(items)
    hits = sum(1 for w in items if w == target)
    return (
        f"How many words are in this list, and how often does {target} occur?\n" + " ".join(items),
        f"The list has {n} words; {target} occurs {hits} times.",
    )


_TASKS = (_task_reverse, _task_sort, _task_upper, _task_codebook, _task_lookup, _task_count)


def synthetic_records(count: int, *, seed: int = 1234, min_items: int = 8, max_items: int = 200) -> list[dict]:
    """``count`` chat records (Clara's ``chat`` format), deterministic for a given seed."""
    lex = _lexicon(seed)
    rng = random.Random(seed)
    records = []
    for index in range(count):
        task = _TASKS[index % len(_TASKS)]
        question, answer = task(rng, lex, rng.randint(min_items, max_items))
        records.append(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return records


def write_jsonl(records: list[dict], path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


# --- tokenizer and model ------------------------------------------------------------------------


def _tokenizer_corpus(records: list[dict]) -> Iterator[str]:
    for record in records:
        for message in record["messages"]:
            yield message["role"]
            yield message["content"]


def build_tokenizer(records: list[dict], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on the records, wrapped for transformers.

    Special tokens, BOS handling and chat template are those of Clara's test model, so the
    trainer and TRL render conversations identically.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from clara_trainer.testing.tiny_model import (
        BOS_TOKEN,
        CHAT_TEMPLATE,
        EOS_TOKEN,
        IM_END,
        IM_START,
        PAD_TOKEN,
        UNK_TOKEN,
    )

    special_tokens = [UNK_TOKEN, BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, IM_START, IM_END]
    tokenizer = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_tokenizer_corpus(records), trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS_TOKEN)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A",
        pair=f"{BOS_TOKEN} $A {BOS_TOKEN} $B",
        special_tokens=[(BOS_TOKEN, bos_id)],
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=UNK_TOKEN,
        additional_special_tokens=[IM_START, IM_END],
        model_max_length=4096,
        padding_side="right",
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_model(preset: ModelPreset, tokenizer: Any) -> Any:
    """A randomly initialised (seeded) LlamaForCausalLM; embedding rows padded to the preset."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = max(preset.vocab_size, len(tokenizer))
    vocab = -(-vocab // 64) * 64
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        num_key_value_heads=preset.num_key_value_heads,
        max_position_embeddings=preset.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=preset.initializer_range,
    )
    torch.manual_seed(preset.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(torch.bfloat16)


@dataclass(frozen=True)
class Assets:
    model_dir: Path
    train_file: Path
    records: int
    parameters: int
    vocab_size: int
    tokenizer_vocab_size: int
    preset: ModelPreset

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model_dir"] = str(self.model_dir)
        data["train_file"] = str(self.train_file)
        return data


def build_assets(
    out_dir: Path, preset: ModelPreset, records: int, *, seed: int = 1234, min_items: int = 8, max_items: int = 200
) -> Assets:
    """Write ``<out_dir>/model`` (bf16 safetensors + tokenizer) and ``<out_dir>/train.jsonl``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = synthetic_records(records, seed=seed, min_items=min_items, max_items=max_items)
    train_file = write_jsonl(data, out_dir / "train.jsonl")
    tokenizer = build_tokenizer(data, preset.tokenizer_vocab_size)
    model = build_model(preset, tokenizer)
    model_dir = out_dir / "model"
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    vocab = model.config.vocab_size
    return Assets(
        model_dir=model_dir,
        train_file=train_file,
        records=len(data),
        parameters=sum(p.numel() for p in model.parameters()),
        vocab_size=vocab,
        tokenizer_vocab_size=len(tokenizer),
        preset=preset,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="bench")
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--min-items", type=int, default=8)
    parser.add_argument("--max-items", type=int, default=200)
    args = parser.parse_args(argv)
    assets = build_assets(
        Path(args.out_dir).resolve(),
        PRESETS[args.preset],
        args.records,
        min_items=args.min_items,
        max_items=args.max_items,
    )
    print(json.dumps(assets.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
