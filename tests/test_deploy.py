"""The systemd unit in deploy/ is one systemd accepts, as installed from this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "homelog.service"
INSTALLED_AT = "/opt/homelog"


def _systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing: .ci/run installs Debian's systemd package")
        pytest.skip("systemd-analyze is missing (apt-get install systemd)")
    return tool


def test_systemd_unit_verifies(tmp_path):
    """`systemd-analyze verify` finds nothing to say: no unknown key, no missing command."""
    tool = _systemd_analyze()
    text = UNIT.read_text()
    assert INSTALLED_AT in text
    # The unit names the checkout's place on a server; here the checkout is ROOT (its .venv
    # holds the real flask and gunicorn the unit starts).
    unit = tmp_path / "homelog.service"
    unit.write_text(text.replace(INSTALLED_AT, str(ROOT)))
    result = subprocess.run(
        [tool, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_systemd_unit_runs_what_make_run_runs():
    """The service migrates, then serves with the repository's gunicorn settings, as a user."""
    lines = UNIT.read_text().splitlines()
    settings = dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")
    assert settings["ExecStartPre"].endswith(".venv/bin/flask --app wsgi db upgrade")
    assert settings["ExecStart"].endswith(".venv/bin/gunicorn -c gunicorn.conf.py wsgi:app")
    assert (ROOT / "gunicorn.conf.py").is_file() and (ROOT / "wsgi.py").is_file()
    assert settings["User"] == "homelog" and settings["Type"] == "notify"
