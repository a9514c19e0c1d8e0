"""The report as one self-contained HTML page: its tables and two SVG charts inline, no script, nothing
fetched, so the file opens offline and the inbox can serve it under a strict Content-Security-Policy."""

from __future__ import annotations

from html import escape

from adapters.reports.tables import Table, Words, tables
from bot.report import Report

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:70rem;
padding:0 1rem;color:#1d2430}
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;margin:2rem 0 .5rem}.sub{color:#566;margin:.2rem 0 1rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.3rem 0}
th,td{padding:.25rem .7rem;border-bottom:1px solid #dde3ea}
th{text-align:left;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th.group{text-align:center;border-bottom:2px solid #9aa8b8}.note{color:#566;font-size:.9rem}
.notice{background:#fff3cd;border:1px solid #e0c36a;padding:.5rem .8rem}
figure{margin:1rem 0}svg{max-width:100%;height:auto}
form{display:flex;gap:.8rem;align-items:end;flex-wrap:wrap;margin:1rem 0}label{display:grid;font-size:.85rem}
.back{display:inline-block;margin-bottom:.8rem}
@media (max-width:40rem){body{margin:1rem auto;font-size:14px}th,td{padding:.25rem .4rem}}
"""
# The page holds no script and loads nothing: inline styles (ours and the SVGs') are all it needs.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def render(
    report: Report, words: Words, *, made: str, form_action: str | None = None, back: str = "", notice: str = ""
) -> str:
    """The page; `form_action` adds a form to pick the period and a way back (the inbox serves the page
    there), and `notice` says above it what was wrong with the period asked for (the page then shows the
    default one). A wide table scrolls by itself, so the page fits a phone."""
    # Imported here: matplotlib costs some 40 MB resident that a process never gives back, and `bot serve`
    # imports this module for the inbox's report route whether anybody opens the report or not.
    from adapters.reports import charts

    say = words.say
    parts = [
        f'<!doctype html><html lang="{words.lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(say('title'))}</title><style>{STYLE}</style></head><body>",
        f'<a class="back" href="{escape(back)}">{escape(say("page.back"))}</a>' if back else "",
        f"<h1>{escape(say('title'))}</h1>",
        f'<p class="sub">{escape(words.period(report))}. {escape(say("made", moment=made))}</p>',
    ]
    if notice:
        parts.append(f'<p class="notice" role="alert">{escape(notice)}</p>')
    if form_action is not None:
        parts.append(_form(report, words, form_action))
    if not report.cases:
        parts.append(f"<p>{escape(say('none'))}</p>")
    parts += [_table(table) for table in tables(report, words)]
    if report.weeks:
        parts += [
            f"<h2>{escape(say('charts.title'))}</h2>",
            f'<figure id="cases-per-week">{charts.cases_per_week(report, words)}</figure>',
            f'<figure id="acknowledge-per-week">{charts.acknowledge_per_week(report, words)}</figure>',
        ]
    parts.append(f'<p class="note">{escape(say("page.csv"))}</p></body></html>')
    return "\n".join(parts)


def _table(table: Table) -> str:
    rows = [f'<h2>{escape(table.title)}</h2><div class="scroll"><table>']
    if table.groups:
        cells = "".join(
            f'<th colspan="{span}" class="group">{escape(label)}</th>' if label else f'<th colspan="{span}"></th>'
            for label, span in table.groups
        )
        rows.append(f"<tr>{cells}</tr>")
    if any(table.heads):
        first, *rest = table.heads
        rows.append(f"<tr><th>{escape(first)}</th>{''.join(f'<th class=n>{escape(h)}</th>' for h in rest)}</tr>")
    for first, *rest in table.rows:
        rows.append(f"<tr><td>{escape(first)}</td>{''.join(f'<td class=n>{escape(c)}</td>' for c in rest)}</tr>")
    rows.append("</table></div>")
    if table.note:
        rows.append(f'<p class="note">{escape(table.note)}</p>')
    return "".join(rows)


def _form(report: Report, words: Words, action: str) -> str:
    p = report.period
    fields = (
        ("from", "date", p.start.isoformat() if p.start else ""),
        ("to", "date", p.end.isoformat() if p.end else ""),
        ("customer", "text", p.customer or ""),
    )
    inputs = "".join(
        f'<label>{escape(words.say(f"page.{name}"))}<input name="{name}" type="{kind}" value="{escape(value)}"></label>'
        for name, kind, value in fields
    )
    return (
        f'<form method="get" action="{escape(action)}">{inputs}<button>{escape(words.say("page.show"))}</button></form>'
    )
