"""`supportbot report`: the hand-built cases kept through the ports, read back beside nothing; text, CSV and page."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

import pytest

from adapters.cli import main
from adapters.reports.rows import COLUMNS
from adapters.storage.embedded import EmbeddedStorage
from tests.report_cases import hand_built, store


def seed(folder: Path) -> None:
    async def run() -> None:
        storage = EmbeddedStorage(folder)
        try:
            await store(storage, hand_built())
        finally:
            await storage.close()

    asyncio.run(run())


def test_the_report_in_danish_names_the_figures(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(data)
    assert main(["report", "--from", "2026-11-23", "--to", "2026-12-05"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Rapport over supportsager\n2026-11-23 til og med 2026-12-05. Lavet ")
    lines = out.splitlines()
    assert any(line.split() == ["Sager", "6"] for line in lines)
    assert any(line.split() == ["Vagten", "tilkaldt", "3"] for line in lines)
    assert "Gebyrer accepteret                      1 × 1.000,00 kr. = 1.000,00 kr." in lines
    assert any(
        line.split()[:3] == ["Intet", "internet", "på"] and line.split()[-3:] == ["2", "2", "2"] for line in lines
    )
    # Morten: 6 and 25 min to acknowledge (median 15.5 rounds to 0:16), resolved one case in 40 min.
    assert any(line.split() == ["morten", "2", "0:16", "0:25", "0:25", "1", "0:40", "0:40", "0:40"] for line in lines)
    assert any(line.split() == ["Alle", "3", "0:14", "0:25", "0:25", "2", "0:50", "1:00", "1:00"] for line in lines)
    assert any(line.split() == ["Backup", "1"] for line in lines) and any(
        line.split() == ["Alle", "teknikere", "1"] for line in lines
    )
    assert any(line.split() == ["Kan", "ikke", "printe", "Andet", "1"] for line in lines)


def test_english_with_lang_and_a_customer_in_any_letter_case(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(data)
    assert main(["report", "--lang", "en", "--customer", "BIOKUBE A/S"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Support cases report\nAll cases, customer: BIOKUBE A/S. Made ")
    assert any(line.split() == ["Cases", "2"] for line in out.splitlines())


def test_the_csv_has_one_row_per_case_and_parses_back(data: Path, tmp_path: Path) -> None:
    seed(data)
    target = tmp_path / "sager.csv"
    assert main(["report", "--to", "2026-12-05", "--csv", str(target)]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == COLUMNS and [r["number"] for r in rows] == [str(n) for n in range(10001, 10007)]
    night = rows[3]  # 10004: the fee accepted, escalated to everyone, corrected
    assert night["created_at"] == "2026-11-29T03:00+01:00" and night["week"] == "2026-W48"
    assert (night["category"], night["triaged_as"], night["triage_corrected"]) == ("other", "printing_down", "true")
    assert (night["fee_accepted"], night["fee"], night["surcharge"], night["escalated_to"]) == (
        "true",
        "1000.00",
        "true",
        "everyone",
    )
    assert (night["acknowledged_by"], night["minutes_to_acknowledge"], night["minutes_to_resolve"]) == (
        "morten",
        "25.0",
        "",
    )
    linked = rows[5]
    assert (linked["paged"], linked["minutes_to_acknowledge"], linked["surcharge"]) == ("false", "", "false")


def test_the_page_is_written_whole_with_its_charts(data: Path, tmp_path: Path) -> None:
    seed(data)
    target = tmp_path / "rapport.html"
    assert main(["report", "--html", str(target)]) == 0
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert page.count("<svg") == 2 and "Sager pr. uge efter kategori" in page
    assert (
        not re.search(r"(src|href)=\"(?!#)", page) and "<script" not in page and not re.search(r"url\((?!#)", page)
    ), "nothing to fetch"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--from", "2026-13-01"], "'2026-13-01' is not a date; write it as YYYY-MM-DD"),
        (["report", "--from", "2026-12-05", "--to", "2026-12-01"], "--from 2026-12-05 er efter --to 2026-12-01."),
        (["report", "--customer", "Akme"], "Ingen sager har kunden 'Akme'. Kunder med sager: Acme A/S, Biokube A/S."),
        (["report", "--csv", "/nonexistent/folder/x.csv"], "Kan ikke skrive /nonexistent/folder/x.csv: No such file"),
    ],
)
def test_bad_input_gets_one_clear_line(
    data: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    seed(data)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    assert code == 2 and message in capsys.readouterr().err


def test_no_cases_yet_says_so_and_creates_no_data_folder(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 0
    assert "Der er ingen sager i perioden." in capsys.readouterr().out and not data.exists()
