"""The configuration loader: policy defaults, TOML overrides, the environment, and one clear error per broken file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError

CPH = ZoneInfo("Europe/Copenhagen")


def load(tmp_path: Path, toml: str | None = "", **env: str) -> Settings:
    environ = {"SUPPORTBOT_DATA": str(tmp_path / "data"), **env}
    if toml is not None:
        path = tmp_path / "supportbot.toml"
        path.write_text(toml, encoding="utf-8")
        environ["SUPPORTBOT_CONFIG"] = str(path)
    return load_settings(environ)


def test_defaults_are_the_policy(tmp_path: Path) -> None:
    settings = load(tmp_path)
    workday, friday = (time(8), time(16)), (time(8), time(15))
    assert settings.hours.timezone == CPH
    assert settings.hours.week == (workday, workday, workday, workday, friday, None, None)
    assert settings.hours.holidays_country == "DK"
    assert settings.hours.closed_days == frozenset()
    assert settings.costs.currency == "DKK"
    assert settings.costs.oncall_fee == Decimal("1000.00")
    assert settings.costs.surcharge_percent == 100
    assert settings.cases.review_minutes == 60
    assert settings.provider.phone == "+45 7021 1813"
    assert settings.provider.email == "support@oo.dk"
    assert (settings.host, settings.port, settings.start_at) == ("127.0.0.1", 3978, None)
    assert settings.data_dir == tmp_path / "data"
    assert settings.oncall.max_reminders == 6
    assert settings.oncall.keep_posts == timedelta(days=7)
    assert (settings.team_channel.slack_channel, settings.team_channel.slack_team) == ("", "")


def test_on_call_upkeep_and_the_slack_team_channel_from_the_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [oncall]
        max_reminders = 0
        keep_posts_days = 30
        [team_channel]
        slack_channel = "C0TEAM"
        slack_team = "T0PROVIDER"
        """,
    )
    assert settings.oncall.max_reminders == 0
    assert settings.oncall.keep_posts == timedelta(days=30)
    assert (settings.team_channel.slack_channel, settings.team_channel.slack_team) == ("C0TEAM", "T0PROVIDER")


def test_no_config_file_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no supportbot.toml here
    settings = load(tmp_path, toml=None)
    assert settings.config_path is None
    assert settings.costs.oncall_fee == Decimal("1000.00")


def test_supportbot_toml_in_the_working_folder_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("supportbot.toml").write_text("[costs]\nsurcharge_percent = 50\n", encoding="utf-8")
    assert load(tmp_path, toml=None).costs.surcharge_percent == 50


def test_a_toml_file_overrides_the_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [hours]
        friday = "08:00-14:00"
        saturday = "10:00-12:00"
        holidays_country = ""
        closed_days = ["2026-12-24", "2026-12-31"]

        [costs]
        oncall_fee = "1250.50"
        surcharge_percent = 50
        """,
    )
    assert settings.hours.week[4] == (time(8), time(14))
    assert settings.hours.week[5] == (time(10), time(12))
    assert settings.hours.week[0] == (time(8), time(16))  # untouched keys keep their default
    assert settings.hours.holidays_country == ""
    assert settings.hours.closed_days == {date(2026, 12, 24), date(2026, 12, 31)}
    assert settings.costs.oncall_fee == Decimal("1250.50")
    assert settings.costs.surcharge_percent == 50
    assert settings.costs.currency == "DKK"


def test_a_rota_and_customers_from_the_file(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
        [oncall]
        rotation = [{ primary = "morten", backup = "sara" }, { primary = "sara" }]
        [[oncall.technicians]]
        id = "morten"
        name = "Morten"
        slack = { team = "T1", user = "U1" }
        [[oncall.technicians]]
        id = "sara"
        name = "Sara"
        language = "en"
        teams = { tenant = "tenant-1", user = "29:abc" }
        """,
    )
    rota = settings.oncall
    assert [(w.primary, w.backup) for w in rota.rotation] == [("morten", "sara"), ("sara", None)]
    assert rota.technician("morten").slack.user == "U1"  # type: ignore[union-attr]
    assert rota.technician("sara").language == "en"  # type: ignore[union-attr]


def test_customers_keep_cases_private_unless_they_share_them(tmp_path: Path) -> None:
    toml = '[[customers]]\nname = "A"\n[[customers]]\nname = "B"\nshare_cases = true\n'
    assert [c.share_cases for c in load(tmp_path, toml).customers] == [False, True]
    assert [c.share_cases for c in load(tmp_path, "").customers] == [False]


def test_supportbot_now_is_local_time_without_an_offset(tmp_path: Path) -> None:
    assert load(tmp_path, SUPPORTBOT_NOW="2026-11-28T22:30").start_at == datetime(2026, 11, 28, 22, 30, tzinfo=CPH)
    with_offset = load(tmp_path, SUPPORTBOT_NOW="2026-11-28T21:30Z").start_at
    assert with_offset == datetime(2026, 11, 28, 22, 30, tzinfo=CPH)
    assert with_offset.utcoffset() == timedelta(0)  # type: ignore[union-attr]
    assert with_offset.tzinfo == UTC  # type: ignore[union-attr]


def test_port_and_host_from_the_environment(tmp_path: Path) -> None:
    settings = load(tmp_path, PORT="8080", HOST="0.0.0.0")
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)


@pytest.mark.parametrize("port", ["eighty", "-1", "65536", "80.5"])
def test_a_bad_port_names_the_variable(tmp_path: Path, port: str) -> None:
    with pytest.raises(ConfigError, match=r"PORT.*0-65535"):
        load(tmp_path, PORT=port)


def test_a_bad_supportbot_now_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"SUPPORTBOT_NOW.*ISO-8601"):
        load(tmp_path, SUPPORTBOT_NOW="saturday night")


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as error:
        load_settings({"SUPPORTBOT_CONFIG": str(missing)})
    assert str(missing) in str(error.value)
    assert "SUPPORTBOT_CONFIG" in str(error.value)


def test_a_file_that_is_not_text_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "supportbot.toml"
    path.write_bytes(b"\xff\xfe[hours]\n")
    with pytest.raises(ConfigError, match="cannot be read") as error:
        load_settings({"SUPPORTBOT_CONFIG": str(path)})
    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("[hours\nmonday = 1", "line 1", "not valid TOML"),
        ('[costs]\nsurcharge_percent = "100"', "costs.surcharge_percent", "must be a whole number"),
        ("[costs]\nsurcharge_percent = true", "costs.surcharge_percent", "must be a whole number"),
        ("[costs]\nsurcharge_percent = -5", "costs.surcharge_percent", "must be a whole number above -1"),
        ('[costs]\noncall_fee = "a lot"', "costs.oncall_fee", "must be an amount"),
        ('[costs]\noncall_fee = "-1000"', "costs.oncall_fee", "must be an amount"),
        ("[cases]\nreview_minutes = 0", "cases.review_minutes", "above 0"),
        ("[kosts]\noncall_fee = 1", "kosts", "not a known section"),
        ('hours = "08-16"', "hours", "must be a table"),
        ("[hours]\nmonday = 8", "hours.monday", "must be a string"),
        ('[hours]\nmonday = "8 til 16"', "hours.monday", "opening hours like"),
        ('[hours]\nfriday = "16:00-08:00"', "hours.friday", "opening hours like"),
        ('[hours]\ntuesday = "08:00-25:00"', "hours.tuesday", "opening hours like"),
        ('[hours]\ntimezone = "Europe/Kobenhavn"', "hours.timezone", "IANA time zone"),
        ('[hours]\nclosed_days = ["24-12-2026"]', "hours.closed_days", "dates like"),
        ('[hours]\nclosed_days = "2026-12-24"', "hours.closed_days", "must be a list"),
        ('[hours]\nholidays_country = "Danmark"', "hours.holidays_country", "country"),
        ('[hours]\nmondag = "08:00-16:00"', "hours.mondag", "not a known key"),
        ("[costs]\nsurcharge = 50", "costs.surcharge", "not a known key"),
        ('[[oncall.technicians]]\nid = "x"\nnmae = "X"', "oncall.technicians[0].nmae", "not a known key"),
        ('[oncall]\nrotation = [{ primary = "vagt", backpu = "vagt2" }]', "oncall.rotation[0].backpu", "not a known"),
        ('[[customers]]\nname = "A/S"\nagrement = true', "customers[0].agrement", "not a known key"),
        (
            '[hours]\nmonday = ""\ntuesday = ""\nwednesday = ""\nthursday = ""\nfriday = ""',
            "hours",
            "never open",
        ),
        ('[oncall]\nrotation = [{ primary = "bob" }]', "oncall.rotation[0].primary", "'bob', who is not in"),
        ('[oncall]\nrotation = [{ primary = "vagt", backup = "eve" }]', "oncall.rotation[0].backup", "'eve'"),
        ('[oncall]\nrotation = ["vagt"]', "oncall.rotation[0]", "must be a table"),
        ('[oncall]\nhandover_day = "mandag"', "oncall.handover_day", "weekday in English"),
        ('[oncall]\nhandover_time = "8 o\'clock"', "oncall.handover_time", "a time like"),
        (
            '[oncall]\noverrides = [{ start = "2026-12-24T16:00", end = "2026-12-24T08:00", primary = "vagt" }]',
            "oncall.overrides[0].end",
            "after start",
        ),
        ('[[oncall.technicians]]\nid = "x"\nname = "X"\nlanguage = "de"', "oncall.technicians", "language"),
        ('[[customers]]\nname = "A/S"\nslack_teams = "T1"', "customers[0].slack_teams", "must be a list"),
        ('[[customers]]\nname = "A/S"\nshare_cases = "ja"', "customers[0].share_cases", "true or false"),
        ("[oncall]\nmax_reminders = -1", "oncall.max_reminders", "must be a whole number above -1"),
        ('[oncall]\nmax_reminders = "6"', "oncall.max_reminders", "must be a whole number"),
        ("[oncall]\nkeep_posts_days = 0", "oncall.keep_posts_days", "above 0"),
        ("[team_channel]\nslack_team = 1", "team_channel.slack_team", "must be a string"),
        ('[team_channel]\nslack_workspace = "T1"', "team_channel.slack_workspace", "not a known key"),
    ],
)
def test_a_broken_file_names_file_key_and_problem(tmp_path: Path, toml: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, toml)
    message = str(error.value)
    assert message.startswith(str(tmp_path / "supportbot.toml") + ":")
    assert key in message
    assert problem in message
    assert "\n" not in message.strip()


def test_technician_ids_must_be_unique(tmp_path: Path) -> None:
    toml = '[[oncall.technicians]]\nid = "a"\nname = "A"\n[[oncall.technicians]]\nid = "a"\nname = "B"\n'
    with pytest.raises(ConfigError, match=r"\[oncall\.technicians\] names technician id 'a' more than once"):
        load(tmp_path, toml)
