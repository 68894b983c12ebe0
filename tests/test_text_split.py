"""readers._text.split_delimited: the str.split path for quote-free text against the csv module."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvk_analysis.errors import InputError
from kvk_analysis.readers._text import _split_plain, split_delimited


def _reference(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """split_delimited before the str.split path (commit a5005a8), without the error."""
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    for fields in reader:
        start, line = line, reader.line_num + 1
        if any(f.strip() for f in fields):
            rows.append((start, fields))
    return rows


EDGE = [
    "",
    "\n",
    "a;b\n",
    "a;b",
    "a;b\r\n\r\nc;d\r\n",
    "h;k\n\n  \n;;\n ; \nx;y;\n",
    "a;b\n\n\n",
    "a;\u00a0;b\n\u2028;\x85\n\x0b;\x1c\n",  # not line ends for csv, nor for str.split("\n")
    "a\tb\n\tc\n",
    "a;b\rc;d\n",  # a lone \r ends a line for csv: the csv path
    'a;"b;c"\n',  # quotes: the csv path
    "a;\\;b\n",
    " a ; b \n",
]


@pytest.mark.parametrize("text", EDGE)
@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_same_rows_and_lines_as_csv(text, delimiter):
    assert split_delimited(text, delimiter, path="x.csv") == _reference(text, delimiter)


def test_plain_path_taken_only_for_text_csv_reads_plainly():
    assert _split_plain("a;b\r\nc;d\r\n", ";") == [(1, ["a", "b"]), (2, ["c", "d"])]
    for text in ('a;"b"\n', "a;b\rc\n", "a\0b\n"):
        assert _split_plain(text, ";") is None


def test_field_over_the_csv_limit_is_still_an_error():
    text = "a;b\n" + "x" * (csv.field_size_limit() + 1) + ";c\n"
    with pytest.raises(InputError) as info:
        split_delimited(text, ";", path="big.csv")
    assert info.value.row == 2 and "malformed CSV" in info.value.message


@settings(max_examples=400, deadline=None)
@given(
    text=st.text(alphabet="ab ;\t\n\r\u00a0\x0b\x1c\u2028\x85ø", max_size=40),
    delimiter=st.sampled_from([";", "\t"]),
)
def test_fuzz_same_as_csv(text, delimiter):
    assert split_delimited(text, delimiter, path="x.csv") == _reference(text, delimiter)


def test_garbage_collector_state_restored():
    import gc

    assert gc.isenabled()
    split_delimited("a;b\n", ";", path="x.csv")
    assert gc.isenabled()
    with pytest.raises(InputError):
        split_delimited("a\n" + "x" * (csv.field_size_limit() + 1) + "\n", ";", path="x.csv")
    assert gc.isenabled()
    gc.disable()
    try:
        split_delimited("a;b\n", ";", path="x.csv")
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
