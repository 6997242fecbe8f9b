"""Build a tiny Llama model and tokenizer for tests, locally and deterministically.

Run ``python -m clara_trainer.testing.make_tiny_model <out_dir>`` (or this module) to
write ``config.json``, ``model.safetensors`` and the tokenizer files (with a chat
template) to ``<out_dir>``. The weights are random (seeded); the byte-level BPE
tokenizer is trained on a fixed built-in text, so every run writes the same model.
Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

# ChatML-style template; a system prompt is optional. `add_generation_prompt`
# opens an assistant turn, as real chat templates do.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Text the tokenizer is trained on: English prose, digits, the prompt formats the
# trainer renders and the patterns the tests train on.
_TOKENIZER_CORPUS = [
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.",
    "Below is an instruction that describes a task, paired with an input that provides further context.",
    "### Instruction:\n### Input:\n### Response:\n",
    "system\nuser\nassistant\nYou are a helpful assistant.",
    "The quick brown fox jumps over the lazy dog. A stitch in time saves nine.",
    "Clara turns a team's documents into fine-tuning datasets and trains adapters on its own GPUs.",
    "Question: What comes after the letter A? Answer: The letter B comes after A.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z",
    "Translate to German: good morning -> guten Morgen; thank you -> danke schoen.",
    "red green blue yellow orange purple black white",
    "one two three four five six seven eight nine ten",
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
]


@dataclass(frozen=True)
class TinyModelSpec:
    """Sizes of the tiny model; the defaults keep a CPU training step in milliseconds."""

    vocab_size: int = 512
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    initializer_range: float = 0.2
    seed: int = 0


def build_tokenizer(vocab_size: int):
    """Train a byte-level BPE tokenizer on the built-in corpus and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

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
    tokenizer.train_from_iterator(_TOKENIZER_CORPUS * 4, trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS_TOKEN)
    # Like Llama: the tokenizer prepends BOS when asked to add special tokens.
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
        model_max_length=1024,
        padding_side="right",
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_model(spec: TinyModelSpec, tokenizer):
    """A randomly initialised (seeded) LlamaForCausalLM sized by ``spec``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        # Larger than the usual 0.02 so the (frozen) output head can express confident
        # predictions: a LoRA adapter then visibly lowers the loss within a few dozen steps.
        initializer_range=spec.initializer_range,
    )
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def write_tiny_model(out_dir: str | Path, spec: TinyModelSpec | None = None) -> Path:
    """Write the tiny model and its tokenizer to ``out_dir`` and return the folder."""
    spec = spec or TinyModelSpec()
    target = Path(out_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(spec.vocab_size)
    model = build_model(spec, tokenizer)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clara_trainer.testing.make_tiny_model",
        description="Write a tiny random Llama model + tokenizer (with chat template) for tests.",
    )
    parser.add_argument("out_dir", help="folder to write the model to (created if missing)")
    args = parser.parse_args(argv)
    target = write_tiny_model(args.out_dir)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
