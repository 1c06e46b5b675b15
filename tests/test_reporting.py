"""The house style's Markdown tables (``sim.reporting.markdown_table``)."""

from __future__ import annotations

import pytest

from sim.reporting import markdown_table


def test_markdown_table_aligns_each_column_as_asked() -> None:
    lines = markdown_table(["a", "b", "c"], [["1", "2", "3"]], "lrc")
    assert lines == ["| a | b | c |", "|---|--:|:-:|", "| 1 | 2 | 3 |"]
    assert markdown_table(["a"], [])[1] == "|---|"  # left by default


@pytest.mark.parametrize("align", ["lx", "l", "lrr"])
def test_markdown_table_refuses_an_alignment_it_cannot_draw(align: str) -> None:
    with pytest.raises(ValueError, match="one of l, r, c for each of 2 columns"):
        markdown_table(["a", "b"], [], align)
