"""Record validation, prompt rendering, label masking, statistics and batching."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clara_trainer.data import (
    ALPACA_PROMPT_NO_INPUT,
    ALPACA_PROMPT_WITH_INPUT,
    IGNORE_INDEX,
    Encoder,
    PaddingCollator,
    TokenLengthStats,
    encode_datasets,
    parse_lines,
    read_records,
)
from clara_trainer.errors import DataError, ExitCode


def lines(*records: Any) -> list[str]:
    return [r if isinstance(r, str) else json.dumps(r) for r in records]


def data_error(raw_lines: list[str], record_format: str) -> DataError:
    with pytest.raises(DataError) as info:
        parse_lines(raw_lines, record_format, "train_file")
    assert info.value.exit_code == ExitCode.DATA_ERROR
    assert info.value.field == "train_file"
    return info.value


# --- validation -----------------------------------------------------------------------


def test_bad_json_names_its_line() -> None:
    error = data_error(lines({"text": "a"}, {"text": "b"}, '{"text": "c"', {"text": "d"}), "text")
    assert error.line == 3
    assert "line 3" in error.message and "invalid JSON" in error.message


@pytest.mark.parametrize(
    ("record", "record_format", "fragment"),
    [
        ({"instruction": "x", "input": ""}, "alpaca", "missing field 'output'"),
        ({"instruction": "", "input": "", "output": "y"}, "alpaca", "'instruction' is empty"),
        ({"instruction": "x", "input": 3, "output": "y"}, "alpaca", "'input' must be a string"),
        ({"prompt": "p"}, "completion", "missing field 'completion'"),
        ({"prompt": ["p"], "completion": "c"}, "completion", "'prompt' must be a string"),
        ({"body": "t"}, "text", "missing field 'text'"),
        ({"messages": []}, "chat", "'messages' is empty"),
        ({"messages": "hi"}, "chat", "must be an array"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "chat", "no assistant message"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "chat", "role must be one of"),
        ({"messages": [{"role": "assistant"}]}, "chat", "missing field messages[0].'content'"),
        ([1, 2], "text", "must be a JSON object"),
    ],
)
def test_malformed_records_are_refused_with_their_line(record: Any, record_format: str, fragment: str) -> None:
    good = {
        "alpaca": {"instruction": "i", "input": "", "output": "o"},
        "completion": {"prompt": "p", "completion": "c"},
        "text": {"text": "t"},
        "chat": {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
    }[record_format]
    error = data_error(lines(good, record), record_format)
    assert error.line == 2
    assert fragment in error.message


def test_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "train.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_records(empty, "text", "train_file")
    assert "empty" in info.value.message and info.value.line is None


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        read_records(tmp_path / "missing.jsonl", "text", "validation_file")
    assert info.value.field == "validation_file"


def test_extra_keys_and_blank_lines_are_ignored() -> None:
    records = parse_lines(
        lines({"text": "a", "id": 1, "metadata": {"k": "v"}, "source_chunk_ids": ["c1"]}, "", {"text": "b"}),
        "text",
        "train_file",
    )
    assert [(r.line, r.text) for r in records] == [(1, "a"), (3, "b")]


def test_alpaca_prompt_formats() -> None:
    with_input, without_input = parse_lines(
        lines(
            {"instruction": "Add", "input": "1 and 2", "output": "3"},
            {"instruction": "Greet", "input": "", "output": "Hello"},
        ),
        "alpaca",
        "train_file",
    )
    assert with_input.prompt == ALPACA_PROMPT_WITH_INPUT.format(instruction="Add", input="1 and 2")
    assert with_input.prompt.endswith("### Input:\n1 and 2\n\n### Response:\n")
    assert without_input.prompt == ALPACA_PROMPT_NO_INPUT.format(instruction="Greet")
    assert "### Input" not in without_input.prompt


# --- label masking ------------------------------------------------------------------------------


def labelled_text(tokenizer: Any, example: Any) -> str:
    return tokenizer.decode(
        [token for token, label in zip(example.input_ids, example.labels, strict=True) if label != IGNORE_INDEX]
    )


def prompt_length(example: Any) -> int:
    return next(i for i, label in enumerate(example.labels) if label != IGNORE_INDEX)


def test_alpaca_labels_only_the_response(tiny_tokenizer: Any) -> None:
    (record,) = parse_lines(lines({"instruction": "Say hi", "input": "", "output": "hello there"}), "alpaca", "f")
    example = Encoder(tiny_tokenizer, "alpaca", 512).encode(record)
    start = prompt_length(example)
    assert example.input_ids[0] == tiny_tokenizer.bos_token_id
    assert tiny_tokenizer.decode(example.input_ids[1:start]) == record.prompt
    assert all(label == IGNORE_INDEX for label in example.labels[:start])
    assert example.labels[start:] == example.input_ids[start:]
    assert labelled_text(tiny_tokenizer, example) == "hello there</s>"


def test_completion_labels_only_the_completion(tiny_tokenizer: Any) -> None:
    (record,) = parse_lines(lines({"prompt": "Q: one two three?\nA:", "completion": " four"}), "completion", "f")
    example = Encoder(tiny_tokenizer, "completion", 512).encode(record)
    start = prompt_length(example)
    assert tiny_tokenizer.decode(example.input_ids[:start]) == "<s>Q: one two three?\nA:"
    assert labelled_text(tiny_tokenizer, example) == " four</s>"


def test_text_labels_everything(tiny_tokenizer: Any) -> None:
    (record,) = parse_lines(lines({"text": "red green blue"}), "text", "f")
    example = Encoder(tiny_tokenizer, "text", 512).encode(record)
    assert example.labels[0] == IGNORE_INDEX  # the BOS the tokenizer adds
    assert example.labels[1:] == example.input_ids[1:]
    assert labelled_text(tiny_tokenizer, example) == "red green blue</s>"


def test_chat_labels_only_assistant_turns(tiny_tokenizer: Any) -> None:
    conversation = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "second question"},
            {"role": "assistant", "content": "second answer"},
        ]
    }
    (record,) = parse_lines(lines(conversation), "chat", "f")
    example = Encoder(tiny_tokenizer, "chat", 512).encode(record)
    full = tiny_tokenizer.apply_chat_template(conversation["messages"], tokenize=False)
    assert tiny_tokenizer.decode(example.input_ids) == full
    assert labelled_text(tiny_tokenizer, example) == "first answer<|im_end|>\nsecond answer<|im_end|>\n"
    # Every system/user token, and each assistant header, is masked.
    masked = tiny_tokenizer.decode(
        [token for token, label in zip(example.input_ids, example.labels, strict=True) if label == IGNORE_INDEX]
    )
    assert "first question" in masked and "second question" in masked and "You are terse." in masked
    assert "answer" not in masked
    assert masked.count("<|im_start|>assistant\n") == 2


def test_truncation_and_statistics(tiny_tokenizer: Any) -> None:
    records = parse_lines(
        lines({"prompt": "short", "completion": " yes"}, {"prompt": "p " * 40, "completion": " answer " * 20}),
        "completion",
        "train_file",
    )
    encoder = Encoder(tiny_tokenizer, "completion", 32)
    data = encode_datasets(encoder, records, None)
    assert all(len(e.input_ids) <= 32 for e in data.train)
    stats = data.stats
    assert stats is not None
    # The long record's answer starts after token 32: nothing left to train on, so it is skipped.
    assert stats.train_records == 1 and stats.skipped_records == 1 and stats.truncated_records == 1
    assert stats.token_length.max > 32 and stats.max_seq_length == 32


def test_no_trainable_record_is_a_data_error(tiny_tokenizer: Any) -> None:
    records = parse_lines(lines({"prompt": "p " * 40, "completion": " a"}), "completion", "train_file")
    with pytest.raises(DataError) as info:
        encode_datasets(Encoder(tiny_tokenizer, "completion", 16), records, None)
    assert "max_seq_length" in info.value.message


def test_percentiles_are_nearest_rank() -> None:
    stats = TokenLengthStats.of(list(range(1, 101)))
    assert (stats.min, stats.max, stats.mean, stats.p50, stats.p95) == (1, 100, 50.5, 50, 95)
    single = TokenLengthStats.of([7])
    assert (single.min, single.p50, single.p95) == (7, 7, 7)


def test_collator_pads_and_masks() -> None:
    batch = PaddingCollator(pad_token_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
