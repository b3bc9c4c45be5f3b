"""Check generated markdown with a real parser: markdown-it-py with its GFM table rule.

`tables(text)` returns every table the parser finds, as lists of rows of rendered cell
texts (header row first); `assert_tables(text, expected)` checks that the text holds
that many tables and that every row of each has as many cells as its header.
"""

from __future__ import annotations

from markdown_it import MarkdownIt


def tables(text: str) -> list[list[list[str]]]:
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    found: list[list[list[str]]] = []
    row: list[str] | None = None
    for k, tok in enumerate(tokens):
        if tok.type == "table_open":
            found.append([])
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("th_open", "td_open"):
            inline = tokens[k + 1]
            row.append(inline.content if inline.type == "inline" else "")
        elif tok.type == "tr_close":
            found[-1].append(row)
    return found


def assert_tables(text: str, expected: int | None = None) -> list[list[list[str]]]:
    """Every pipe-table block of `text` parses as a table with whole rows; returns them."""
    found = tables(text)
    blocks = sum(1 for k, line in enumerate(text.splitlines()) if line.startswith("|")
                 and (k == 0 or not text.splitlines()[k - 1].startswith("|")))
    assert len(found) == blocks, f"{blocks} pipe blocks but {len(found)} tables parsed"
    if expected is not None:
        assert len(found) == expected
    for t in found:
        width = len(t[0])
        assert all(len(r) == width for r in t), [len(r) for r in t]
        # markdown-it drops surplus cells and pads missing ones: count the source's cells too
    for block in _blocks(text):
        widths = {_cells(line) for line in block}
        assert len(widths) == 1, f"rows with different cell counts {sorted(widths)}: {block[0][:80]}"
    return found


def _blocks(text: str) -> list[list[str]]:
    out, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _cells(line: str) -> int:
    """Cells of a GFM table row: split on pipes not escaped by a backslash."""
    count, escaped = 0, False
    for ch in line.strip()[1:-1]:
        if ch == "|" and not escaped:
            count += 1
        escaped = ch == "\\" and not escaped
    return count + 1
