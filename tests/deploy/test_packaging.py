"""A plain (non-editable) install works: the wheel carries every file the engine reads
through importlib.resources or a package path (policy, GX suites, templates, Alembic
scripts), and the package-data entries of pyproject.toml match real files."""

from __future__ import annotations

import glob
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include"


def test_package_data_entries_match_real_files():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]
    for package, patterns in package_data.items():
        folder = PACKAGE.joinpath(*package.split("."))
        for pattern in patterns:
            assert glob.glob(str(folder / pattern)), f"{package}: {pattern} matches no file"


def test_the_wheel_runs_without_the_source_tree(tmp_path):
    uv = Path(sys.executable).with_name("uv")
    built = subprocess.run([str(uv), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("bdcwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("bdcwatch/config/policy.yaml", "bdcwatch/sources/expectations/bdc_zs.json",
                     "bdcwatch/reports/templates/unit_digest.html.j2", "bdcwatch/store/migrations/env.py",
                     "bdcwatch/store/migrations/versions/0001_initial_schema.py"):
        assert expected in names, expected
    target = tmp_path / "site"
    installed = subprocess.run([str(uv), "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    probe = f"""
import bdcwatch, pathlib
assert pathlib.Path(bdcwatch.__file__).is_relative_to({str(target)!r}), bdcwatch.__file__
from bdcwatch.config.policy import load_policy
from bdcwatch.reports.common import render_template
from bdcwatch.sources.gate import load_suite_json
from bdcwatch.store.migrate import head_revision, make_engine, migrate
from bdcwatch.sources.schema import SOURCE_TABLES
assert load_policy().units
for table in SOURCE_TABLES:
    assert load_suite_json(table)["expectations"], table
assert "<html" in render_template("quarantine_report.html.j2", subject="s", rows=[], dag_id="d", run_id="r")
assert migrate(make_engine("sqlite:///{tmp_path / 'supervision.db'}")) == head_revision()
print("ok")
"""
    # The installed copy comes first on the path; dependencies come from this environment.
    env = {"PYTHONPATH": str(target), "PATH": str(Path(sys.executable).parent)}
    ran = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0 and ran.stdout.strip().endswith("ok"), ran.stderr[-3000:]
