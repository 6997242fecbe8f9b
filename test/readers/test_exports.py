"""Reads Clara's dataset exports with pyarrow and Hugging Face `datasets`.

The Jest suite test/datasets/exports.e2e-spec.ts writes the files and runs this module with
CLARA_EXPORTS_DIR set; the layout is ``<dir>/<format>/<variant>/train-00000-of-00001.<ext>``
(variant ``meta`` with the metadata columns, ``plain`` without) and
``<dir>/<format>/expected.json`` holding the records Clara stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest

EXPORTS = Path(os.environ.get("CLARA_EXPORTS_DIR", ""))
FORMATS = ("chat", "alpaca", "completion", "text")
FIELDS = {
    "chat": ["messages"],
    "alpaca": ["instruction", "input", "output"],
    "completion": ["prompt", "completion"],
    "text": ["text"],
}
METADATA = ["source_document_ids", "source_chunk_ids", "tags"]
VARIANTS = ("meta", "plain")

pytestmark = pytest.mark.skipif(not EXPORTS.is_dir(), reason="run through test/datasets/exports.e2e-spec.ts")


def expected(fmt: str, variant: str) -> list[dict]:
    rows = json.loads((EXPORTS / fmt / "expected.json").read_text(encoding="utf-8"))
    columns = FIELDS[fmt] + (METADATA if variant == "meta" else [])
    return [{c: row[c] for c in columns} for row in rows]


def path(fmt: str, variant: str, ext: str) -> str:
    return str(EXPORTS / fmt / variant / f"train-00000-of-00001.{ext}")


def from_csv(fmt: str, rows: list[dict]) -> list[dict]:
    """CSV carries messages and the metadata lists as JSON text."""
    decoded = []
    for row in rows:
        row = dict(row)
        for column in ("messages", *METADATA):
            if column in row:
                row[column] = json.loads(row[column])
        for column in FIELDS[fmt]:
            if column != "messages" and row[column] is None:
                row[column] = ""  # readers turn an empty CSV cell into null
        decoded.append(row)
    return decoded


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
class TestPyarrow:
    def test_parquet(self, fmt: str, variant: str) -> None:
        table = pq.read_table(path(fmt, variant, "parquet"))
        assert table.column_names == list(expected(fmt, variant)[0].keys())
        if fmt == "chat":
            messages = table.schema.field("messages").type
            assert pa.types.is_list(messages) or pa.types.is_large_list(messages)
            element = messages.value_type
            assert pa.types.is_struct(element)
            assert [(f.name, f.type) for f in element] == [("role", pa.string()), ("content", pa.string())]
        if variant == "meta":
            assert pa.types.is_list(table.schema.field("tags").type)
        assert table.to_pylist() == expected(fmt, variant)

    def test_jsonl(self, fmt: str, variant: str) -> None:
        table = pa_json.read_json(path(fmt, variant, "jsonl"))
        assert table.to_pylist() == expected(fmt, variant)

    def test_csv(self, fmt: str, variant: str) -> None:
        options = pa_csv.ParseOptions(newlines_in_values=True)
        convert = pa_csv.ConvertOptions(strings_can_be_null=False, column_types={c: pa.string() for c in FIELDS[fmt] + METADATA})
        table = pa_csv.read_csv(path(fmt, variant, "csv"), parse_options=options, convert_options=convert)
        assert from_csv(fmt, table.to_pylist()) == expected(fmt, variant)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("builder", "ext"), [("json", "jsonl"), ("csv", "csv"), ("parquet", "parquet")])
def test_hugging_face_datasets(fmt: str, variant: str, builder: str, ext: str, tmp_path: Path) -> None:
    from datasets import Features, List, Value, load_dataset

    kwargs = {}
    if builder == "csv":
        # Keep every column a string: pandas would otherwise guess types and empty cells become NaN.
        kwargs["features"] = Features({c: Value("string") for c in FIELDS[fmt] + (METADATA if variant == "meta" else [])})
        kwargs["keep_default_na"] = False
    ds = load_dataset(builder, data_files={"train": path(fmt, variant, ext)}, split="train", cache_dir=str(tmp_path), **kwargs)
    rows = ds.to_list()
    if builder == "csv":
        rows = from_csv(fmt, rows)
    assert len(rows) == len(expected(fmt, variant))
    assert rows == expected(fmt, variant)
    if fmt == "chat" and builder != "csv":
        feature = ds.features["messages"]
        assert isinstance(feature, List)
        assert feature.feature == {"role": Value("string"), "content": Value("string")}
