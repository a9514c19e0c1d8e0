"""The report as plain text for a terminal: each table under its title, columns aligned, numbers to the right."""

from __future__ import annotations

from adapters.reports.tables import Table

GAP = "  "


def render(title: str, subtitle: str, tables: list[Table]) -> str:
    lines = [title, subtitle]
    for table in tables:
        lines += ["", table.title, "-" * len(table.title), *_rows(table)]
        if table.note:
            lines.append(table.note)
    return "\n".join(lines)


def _rows(table: Table) -> list[str]:
    rows = [table.heads, *table.rows] if any(table.heads) else list(table.rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.heads))]
    lines = []
    if table.groups:
        cells, column = [], 0
        for label, span in table.groups:
            width = sum(widths[column : column + span]) + len(GAP) * (span - 1)
            cells.append(label.center(width, "-" if label else " "))
            column += span
        lines.append(GAP.join(cells).rstrip())
    for row in rows:
        first, *rest = row
        lines.append(
            GAP.join(
                [first.ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(rest, widths[1:], strict=True))]
            ).rstrip()
        )
    return lines
