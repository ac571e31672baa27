"""The ``indrnn`` command: every tool under one name, and ``indrnn app`` on the user's folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from indrnn import catalog, cli
from indrnn.assets import app_dir

ROOT = Path(__file__).resolve().parents[1]


def test_every_tool_is_a_subcommand_with_its_own_help(capsys):
    for name in [*cli.TOOLS, "app"]:
        try:
            status = cli.main([name, "--help"])
        except SystemExit as exited:  # argparse's own exit after printing the help
            status = exited.code
        assert status == 0, name
        assert f"usage: indrnn {name}" in capsys.readouterr().out


def test_an_unknown_command_names_the_choices(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["bogus"])
    assert exited.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert cli.main([]) == 2


def test_a_subcommand_runs_the_module_and_returns_its_status(capsys):
    assert cli.main(["evaluate", str(ROOT / "models" / "basicmotions_indrnn"), "--slice"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_the_app_command_lists_the_folders_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(catalog.EXTRA_MODELS_ENV, "/already/there")
    command, env = cli.app_command(["mine", "~/theirs"], 8600, "127.0.0.1")
    assert env[catalog.EXTRA_MODELS_ENV].split(os.pathsep) == [
        "/already/there", str(tmp_path / "mine"), str(Path("~/theirs").expanduser())]
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(app_dir() / "app.py")
    assert command[-4:] == ["--server.port", "8600", "--server.address", "127.0.0.1"]


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "indrnn"
    result = subprocess.run([script, "--help"], capture_output=True, text=True, check=True)
    assert "export-hub" in result.stdout and "app" in result.stdout
