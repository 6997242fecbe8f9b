"""Training data: read and validate JSONL records, render prompts, tokenize with label masks.

Reading and validating (``read_records``) is pure Python so a malformed file fails fast,
before torch or transformers are imported. Tokenizing (``encode_records``) needs the
tokenizer. Labels are ``-100`` (ignored by the loss) on every prompt token; see
``apps/trainer/README.md`` for the prompt formats.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import DataError

IGNORE_INDEX = -100
CHAT_ROLES = ("system", "user", "assistant")

ALPACA_PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_PROMPT_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)

# Used for `chat` records when the base model's tokenizer has no chat template.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# --- records ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class Record:
    """One validated record; ``line`` is its 1-based line number in the file."""

    line: int
    source: str = "train_file"  # the job field of the file it came from
    messages: tuple[ChatMessage, ...] = ()  # chat
    prompt: str = ""  # alpaca (rendered) and completion
    answer: str = ""  # alpaca output / completion
    text: str = ""  # text


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


class _LineContext:
    def __init__(self, field_name: str, line: int) -> None:
        self.field_name = field_name
        self.line = line

    def fail(self, problem: str) -> DataError:
        return DataError(f"{self.field_name} line {self.line}: {problem}", field=self.field_name, line=self.line)

    def string(self, obj: dict[str, Any], key: str, *, allow_empty: bool = False, where: str = "") -> str:
        label = f"{where}{key!r}" if where else repr(key)
        if key not in obj:
            raise self.fail(f"missing field {label}")
        value = obj[key]
        if not isinstance(value, str):
            raise self.fail(f"field {label} must be a string, got {_describe(value)}")
        if not allow_empty and not value.strip():
            raise self.fail(f"field {label} is empty")
        return value


def _parse_chat(obj: dict[str, Any], ctx: _LineContext) -> Record:
    if "messages" not in obj:
        raise ctx.fail("missing field 'messages'")
    raw_messages = obj["messages"]
    if not isinstance(raw_messages, list):
        raise ctx.fail(f"field 'messages' must be an array, got {_describe(raw_messages)}")
    if not raw_messages:
        raise ctx.fail("field 'messages' is empty")
    messages = []
    for index, raw in enumerate(raw_messages):
        where = f"messages[{index}]."
        if not isinstance(raw, dict):
            raise ctx.fail(f"messages[{index}] must be an object, got {_describe(raw)}")
        role = ctx.string(raw, "role", where=where)
        if role not in CHAT_ROLES:
            raise ctx.fail(f"messages[{index}].role must be one of {', '.join(CHAT_ROLES)}, got {role!r}")
        messages.append(ChatMessage(role=role, content=ctx.string(raw, "content", where=where)))
    if not any(m.role == "assistant" for m in messages):
        raise ctx.fail("no assistant message: nothing to train on")
    return Record(line=ctx.line, source=ctx.field_name, messages=tuple(messages))


def _parse_alpaca(obj: dict[str, Any], ctx: _LineContext) -> Record:
    instruction = ctx.string(obj, "instruction")
    extra_input = ctx.string(obj, "input", allow_empty=True) if "input" in obj else ""
    output = ctx.string(obj, "output")
    template = ALPACA_PROMPT_WITH_INPUT if extra_input.strip() else ALPACA_PROMPT_NO_INPUT
    return Record(
        line=ctx.line,
        source=ctx.field_name,
        prompt=template.format(instruction=instruction, input=extra_input),
        answer=output,
    )


def _parse_completion(obj: dict[str, Any], ctx: _LineContext) -> Record:
    return Record(
        line=ctx.line, source=ctx.field_name, prompt=ctx.string(obj, "prompt"), answer=ctx.string(obj, "completion")
    )


def _parse_text(obj: dict[str, Any], ctx: _LineContext) -> Record:
    return Record(line=ctx.line, source=ctx.field_name, text=ctx.string(obj, "text"))


_PARSERS = {"chat": _parse_chat, "alpaca": _parse_alpaca, "completion": _parse_completion, "text": _parse_text}


def parse_lines(lines: Iterable[str], record_format: str, field_name: str) -> list[Record]:
    """Validate JSONL lines; blank lines are skipped but still counted for line numbers."""
    parse = _PARSERS[record_format]
    records: list[Record] = []
    for line_number, raw_line in enumerate(lines, start=1):
        if not raw_line.strip():
            continue
        ctx = _LineContext(field_name, line_number)
        try:
            obj = json.loads(raw_line)
        except json.JSONDecodeError as exc:
            raise ctx.fail(f"invalid JSON (column {exc.colno}): {exc.msg}") from None
        if not isinstance(obj, dict):
            raise ctx.fail(f"a record must be a JSON object, got {_describe(obj)}")
        records.append(parse(obj, ctx))
    if not records:
        raise DataError(f"{field_name} is empty: no records", field=field_name)
    return records


def read_records(path: Path, record_format: str, field_name: str) -> list[Record]:
    """Read and validate a JSONL file; raises :class:`DataError` naming the first bad line."""
    if not path.is_file():
        raise DataError(f"{field_name} not found: {path}", field=field_name)
    try:
        with path.open("r", encoding="utf-8") as handle:
            return parse_lines(handle, record_format, field_name)
    except UnicodeDecodeError as exc:
        raise DataError(f"{field_name} is not valid UTF-8: {exc.reason}", field=field_name) from None
    except OSError as exc:
        raise DataError(f"cannot read {field_name} {path}: {exc}", field=field_name) from None


# --- tokenization -------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A tokenized record: ``labels`` is ``input_ids`` with prompt tokens set to -100."""

    input_ids: list[int]
    labels: list[int]
    full_length: int  # length before truncation
    line: int

    @property
    def truncated(self) -> bool:
        return self.full_length > len(self.input_ids)


@dataclass(frozen=True)
class SpecialTokens:
    """What the tokenizer adds around a single sequence (e.g. BOS), and the EOS id."""

    leading: tuple[int, ...]
    eos_id: int | None

    @classmethod
    def of(cls, tokenizer: Any) -> SpecialTokens:
        probe = "a"
        with_special = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
        without = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
        leading: tuple[int, ...] = ()
        for start in range(len(with_special) - len(without) + 1):
            if with_special[start : start + len(without)] == without:
                leading = tuple(with_special[:start])
                break
        return cls(leading=leading, eos_id=tokenizer.eos_token_id)


class Encoder:
    """Turns records of one format into :class:`Example` objects."""

    def __init__(self, tokenizer: Any, record_format: str, max_seq_length: int) -> None:
        self.tokenizer = tokenizer
        self.record_format = record_format
        self.max_seq_length = max_seq_length
        self.special = SpecialTokens.of(tokenizer)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _eos(self) -> list[int]:
        return [] if self.special.eos_id is None else [self.special.eos_id]

    def segments(self, record: Record) -> list[tuple[str, bool]]:
        """The record as (text, trained-on) segments, in order."""
        if self.record_format == "text":
            return [(record.text, True)]
        if self.record_format in ("alpaca", "completion"):
            return [(record.prompt, False), (record.answer, True)]
        return self._chat_segments(record)

    def _render_chat(self, messages: Sequence[ChatMessage], add_generation_prompt: bool) -> str:
        conversation = [{"role": m.role, "content": m.content} for m in messages]
        return self.tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    def _chat_segments(self, record: Record) -> list[tuple[str, bool]]:
        try:
            full = self._render_chat(record.messages, add_generation_prompt=False)
            spans: list[tuple[int, int]] = []
            cursor = 0
            for index, message in enumerate(record.messages):
                if message.role != "assistant":
                    continue
                prefix = self._render_chat(record.messages[:index], add_generation_prompt=True)
                upto = self._render_chat(record.messages[: index + 1], add_generation_prompt=False)
                if full.startswith(upto) and upto.startswith(prefix) and len(prefix) >= cursor:
                    # The assistant turn: its content plus the template's end-of-turn text.
                    start, end = len(prefix), len(upto)
                else:
                    # Template is not prefix-stable (e.g. it rewrites earlier turns):
                    # train on the content as it appears in the full rendering.
                    start = full.find(message.content, cursor)
                    if start < 0:
                        raise ValueError("the chat template dropped an assistant message")
                    end = start + len(message.content)
                spans.append((start, end))
                cursor = end
        except DataError:
            raise
        except Exception as exc:  # jinja errors, template `raise_exception(...)`
            raise DataError(
                f"{record.source} line {record.line}: the chat template rejected the conversation: {exc}",
                field=record.source,
                line=record.line,
            ) from None
        segments: list[tuple[str, bool]] = []
        position = 0
        for start, end in spans:
            if start > position:
                segments.append((full[position:start], False))
            segments.append((full[start:end], True))
            position = end
        if position < len(full):
            segments.append((full[position:], False))
        return segments

    def encode(self, record: Record) -> Example:
        input_ids: list[int] = []
        labels: list[int] = []
        if self.record_format != "chat":
            # Chat templates write their own BOS; other formats get what the tokenizer adds.
            input_ids.extend(self.special.leading)
            labels.extend([IGNORE_INDEX] * len(self.special.leading))
        for text, trained in self.segments(record):
            ids = self._ids(text)
            input_ids.extend(ids)
            labels.extend(ids if trained else [IGNORE_INDEX] * len(ids))
        if self.record_format != "chat":
            eos = self._eos()
            input_ids.extend(eos)
            labels.extend(eos)  # learn to stop after the answer
        full_length = len(input_ids)
        limit = self.max_seq_length
        return Example(input_ids=input_ids[:limit], labels=labels[:limit], full_length=full_length, line=record.line)


# --- statistics -----------------------------------------------------------------------


def _percentile(sorted_values: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class TokenLengthStats:
    min: int
    max: int
    mean: float
    p50: int
    p95: int

    @classmethod
    def of(cls, lengths: Sequence[int]) -> TokenLengthStats:
        ordered = sorted(lengths)
        return cls(
            min=ordered[0],
            max=ordered[-1],
            mean=round(sum(ordered) / len(ordered), 2),
            p50=_percentile(ordered, 0.5),
            p95=_percentile(ordered, 0.95),
        )


@dataclass(frozen=True)
class DataStats:
    """Reported in the ``loading_data`` status event and in training_summary.json."""

    train_records: int
    validation_records: int
    token_length: TokenLengthStats  # of train records, before truncation
    truncated_records: int  # train records longer than max_seq_length
    skipped_records: int  # train records left with no trained-on token after truncation
    max_seq_length: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_records": self.train_records,
            "validation_records": self.validation_records,
            "token_length": vars(self.token_length).copy(),
            "truncated_records": self.truncated_records,
            "skipped_records": self.skipped_records,
            "max_seq_length": self.max_seq_length,
        }


@dataclass
class EncodedData:
    train: list[Example]
    validation: list[Example] = field(default_factory=list)
    stats: DataStats | None = None


def _trainable(example: Example) -> bool:
    return any(label != IGNORE_INDEX for label in example.labels)


def encode_datasets(encoder: Encoder, train: Sequence[Record], validation: Sequence[Record] | None) -> EncodedData:
    """Tokenize both splits, drop examples with nothing left to train on, compute stats."""
    train_examples = [encoder.encode(r) for r in train]
    kept = [e for e in train_examples if _trainable(e)]
    if not kept:
        raise DataError(
            "no train record has an answer token within max_seq_length "
            f"({encoder.max_seq_length}); raise hyperparameters.max_seq_length",
            field="train_file",
        )
    validation_examples = [e for e in (encoder.encode(r) for r in validation or []) if _trainable(e)]
    stats = DataStats(
        train_records=len(kept),
        validation_records=len(validation_examples),
        token_length=TokenLengthStats.of([e.full_length for e in train_examples]),
        truncated_records=sum(1 for e in train_examples if e.truncated),
        skipped_records=len(train_examples) - len(kept),
        max_seq_length=encoder.max_seq_length,
    )
    return EncodedData(train=kept, validation=validation_examples, stats=stats)


# --- batching ---------------------------------------------------------------------------


class ExampleDataset:
    """Map-style dataset over tokenized examples (what torch's DataLoader expects)."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self._examples = list(examples)

    def __len__(self) -> int:
        return len(self._examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        example = self._examples[index]
        return {"input_ids": example.input_ids, "labels": example.labels}


@dataclass(frozen=True)
class PaddingCollator:
    """Right-pads a batch to its longest example; padding is masked and labelled -100."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            longest = math.ceil(longest / self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids, labels, attention_mask = [], [], []
        for feature in features:
            padding = longest - len(feature["input_ids"])
            input_ids.append(feature["input_ids"] + [self.pad_token_id] * padding)
            labels.append(feature["labels"] + [IGNORE_INDEX] * padding)
            attention_mask.append([1] * len(feature["input_ids"]) + [0] * padding)
        return {
            "input_ids": torch.tensor(input_ids, dtype=torch.long),
            "labels": torch.tensor(labels, dtype=torch.long),
            "attention_mask": torch.tensor(attention_mask, dtype=torch.long),
        }
