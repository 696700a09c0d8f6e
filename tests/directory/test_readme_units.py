"""The README's systemd units and cron lines work as written.

An operator copies them: a unit without ``[Install]`` cannot be enabled, one unit reading
another settings file than the other reaches another database, and a cron line that
names ``directory`` bare finds no such command in cron's empty environment. Each unit is
checked by ``systemd-analyze verify`` (every line systemd would refuse or ignore is
reported; the only complaint allowed is that ``/srv/directory`` is not this machine's),
and by its sections and keys.
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_UNIT = re.compile(r"^# /etc/systemd/system/(\S+)\n", re.M)
ENV_FILE = "/srv/directory/directory.env"
COMMAND = "/srv/directory/.venv/bin/directory"


def readme_units() -> dict[str, str]:
    """Each unit file the README shows, by name (a block may hold several)."""
    units: dict[str, str] = {}
    for _lang, block in _FENCED.findall(README.read_text("utf-8")):
        parts = _UNIT.split(block)
        for name, text in zip(parts[1::2], parts[2::2], strict=True):
            units[name] = text
    return units


def readme_cron_lines() -> list[str]:
    return [
        line
        for lang, block in _FENCED.findall(README.read_text("utf-8"))
        if lang == "cron"
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]


def _parsed(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def test_the_readme_shows_the_server_and_refresh_units() -> None:
    assert set(readme_units()) == {
        "directory.service", "directory-refresh.service", "directory-refresh.timer",
    }  # fmt: skip


def test_systemd_accepts_the_readme_units(tmp_path: Path) -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze (Debian's systemd) is needed"
    for name, text in readme_units().items():
        (tmp_path / name).write_text(text, "utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    said = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and f"Command {COMMAND} is not executable" not in line
    ]
    assert said == []


def test_the_server_unit_can_be_enabled_restarts_and_follows_the_database() -> None:
    unit = _parsed(readme_units()["directory.service"])
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Service"]["Restart"] == "on-failure"
    for key in ("After", "Wants"):
        assert {"postgresql.service", "network-online.target"} <= set(unit["Unit"][key].split())
    assert unit["Service"]["User"] == "directory"
    timer = _parsed(readme_units()["directory-refresh.timer"])
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_every_unit_reads_one_settings_file_and_runs_absolute_commands() -> None:
    services = {n: _parsed(t) for n, t in readme_units().items() if n.endswith(".service")}
    for name, unit in services.items():
        assert unit["Service"]["EnvironmentFile"] == ENV_FILE, name
        assert unit["Service"]["WorkingDirectory"] == "/srv/directory", name
        for key in ("ExecStart", "ExecReload"):
            if key in unit["Service"]:
                assert shlex.split(unit["Service"][key])[0] == COMMAND, (name, key)


def test_cron_lines_name_the_user_the_command_and_the_settings() -> None:
    """`15 2 * * * directory refresh …` was "directory: not found" under cron, and its
    log in /var/log, which the directory user cannot write."""
    lines = readme_cron_lines()
    assert len(lines) >= 3
    for line in lines:
        words = shlex.split(line)
        assert words[5] == "directory", line  # /etc/cron.d: the user it runs as
        assert words[6:9] == [COMMAND, "-e", ENV_FILE], line
        log = words[words.index(">>") + 1]
        assert log.startswith("/var/log/directory/"), line
