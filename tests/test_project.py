"""The project's own promises: CI runs the README's test command, the CLI answers --help."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_setup_demo_and_test_commands():
    demo, tests = _readme_commands()[:2]
    assert "torch==2.13.0" in demo and demo.endswith("news-cluster demo")
    assert "torch==2.13.0" in tests and "pytest" in tests and "HF_HUB_OFFLINE=1" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_every_command_has_help():
    for cmd in ("run", "dedup", "groups", "explain", "export", "stories", "timeline", "recluster",
                "evaluate", "demo", "serve"):
        out = subprocess.run([sys.executable, "-m", "clustering.cli", cmd, "--help"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "Usage" in out.stdout, cmd
