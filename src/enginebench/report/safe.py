"""Text from a results document, made inert for where it is printed: a terminal (no
control sequences, no rich markup), a markdown table, a spreadsheet (no formulas), JSON.
Every string the report layer prints goes through one of these."""

import re

from rich.text import Text

# C0 (tab, newline and carriage return included), DEL, C1 (ESC's 8-bit forms), and the
# bidirectional overrides and isolates that reorder what a reader sees
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# what the JSON text may carry raw (C0 is always escaped by the JSON writer)
JSON_RAW = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# markdown: the cell separator, backslash, HTML, links and images, code spans
MD_SPECIAL = re.compile(r"([\\|<>\[\]`])")
# a spreadsheet reads a cell starting with one of these as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def plain(value: object) -> str:
    """`value` as one line of text with every control character gone: tab, newline and
    carriage return become a space, the others are removed."""
    return CONTROL.sub(lambda m: " " if m[0] in "\t\n\r" else "", str(value))


def term(value: object) -> Text:
    """For a rich console or table: control characters stripped, never read as markup."""
    return Text(plain(value))


def md(value: object) -> str:
    """For a markdown table cell or line: control characters stripped, `|` and the
    characters that start HTML, links or code escaped."""
    return MD_SPECIAL.sub(r"\\\1", plain(value))


def csv_cell(value: object) -> object:
    """For a CSV cell: numbers (and None, as empty) as they are; any other value as one line
    of text, with a `'` before it where a spreadsheet would read a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    text = str(value)
    line = plain(text)
    if text.startswith(FORMULA_START) or line.lstrip().startswith(FORMULA_START):
        return "'" + line
    return line


def csv_row(values: list[object]) -> list[object]:
    return [csv_cell(v) for v in values]


def json_text(text: str) -> str:
    """JSON text with DEL, C1 and bidirectional controls written as \\u escapes (the
    writer escapes C0 itself): the same document, printable on a terminal."""
    return JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
