"""The page's two charts as inline SVG, drawn by matplotlib without pyplot (no GUI backend, no global state)."""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from adapters.reports.tables import Words
from bot.categories import Category
from bot.report import Report

SIZE = (9.0, 3.6)  # inches; the page scales the SVG to its width
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}  # the same page for the same figures
MANY_WEEKS = 16  # more week labels than this are turned upright to fit
# Text stays text (smaller, sharp, searchable) and ids are the same on every run.
SVG_SETTINGS = {"svg.fonttype": "none", "svg.hashsalt": "supportbot-report", "font.size": 9}


def cases_per_week(report: Report, words: Words) -> str:
    """Stacked bars: each week's cases, one colour per category."""
    weeks = list(report.weeks)
    figure, axes = _figure(words.say("charts.cases_per_week"), words.say("charts.cases"), words, weeks)
    bottom = [0] * len(weeks)
    colours = matplotlib.colormaps["tab10"]
    for i, category in enumerate(Category):
        counts = [report.weekly_categories[w].get(category, 0) for w in weeks]
        if any(counts):
            axes.bar(range(len(weeks)), counts, bottom=bottom, label=words.category(category), color=colours(i))
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _svg(figure)


def acknowledge_per_week(report: Report, words: Words) -> str:
    """Median and 90th percentile of the time to acknowledge, in minutes; weeks without pages left blank."""
    weeks = list(report.weeks)
    figure, axes = _figure(words.say("charts.acknowledge_per_week"), words.say("charts.minutes"), words, weeks)
    for key, marker in (("median", "o"), ("p90", "s")):
        values = [getattr(report.weekly_acknowledge[w], key) for w in weeks]
        minutes = [math.nan if v is None else v.total_seconds() / 60 for v in values]
        axes.plot(range(len(weeks)), minutes, marker=marker, label=words.say(f"charts.{key}"))
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _svg(figure)


def _figure(title: str, ylabel: str, words: Words, weeks: list[str]) -> tuple[Figure, Axes]:
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=SIZE, layout="constrained")
        axes = figure.add_subplot()
    axes.set_title(title, loc="left")
    axes.set_ylabel(ylabel)
    axes.set_xlabel(words.say("charts.week"))
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_xticks(range(len(weeks)), _labels(weeks), rotation=90 if len(weeks) > MANY_WEEKS else 0)
    return figure, axes


def _labels(weeks: list[str]) -> list[str]:
    """ "2026-W48" as "48"; a new year keeps its year ("2027-01") so the weeks stay in order and apart."""
    first_year = weeks[0][:4] if weeks else ""
    return [w[-2:] if w[:4] == first_year else f"{w[:4]}-{w[-2:]}" for w in weeks]


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    with matplotlib.rc_context(SVG_SETTINGS):
        figure.savefig(out, format="svg", metadata=NO_METADATA)
    svg = out.getvalue()
    return svg[svg.index("<svg") :]  # inline: without the XML declaration and doctype
