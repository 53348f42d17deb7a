"""Install lines are true as written: the README's test command is the one CI runs, the CPU
torch installer falls back when PyTorch's index cannot be reached, and every `pip install` of
openkling in the docs installs from a checkout (openkling is not on a package index)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from support.server import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
INSTALLER = ROOT / "scripts" / "install-cpu-torch.sh"


def readme_test_command() -> str:
    lines = [
        line.strip()
        for line in README.read_text().splitlines()
        if "install-cpu-torch.sh" in line and "pytest" in line
    ]
    assert len(lines) == 1, f"README must hold one test command line, found {lines}"
    return lines[0]


def test_ci_runs_the_readme_test_command_part_by_part() -> None:
    parts = [part.strip() for part in readme_test_command().split("&&")]
    assert parts[0] == "scripts/install-cpu-torch.sh"
    ci_lines = [line.split("  #")[0].strip() for line in CI_RUN.read_text().splitlines()]
    positions = []
    for part in parts:
        assert part in ci_lines, f".ci/run does not run {part!r} (the README's test command)"
        positions.append(ci_lines.index(part))
    assert positions == sorted(positions), ".ci/run runs the README's commands out of order"


def run_installer(index: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHON=sys.executable, TORCH_CPU_INDEX=index)
    return subprocess.run(
        ["bash", str(INSTALLER)], env=env, capture_output=True, text=True, timeout=300
    )


def test_cpu_torch_installer_falls_back_to_the_plain_pin_when_the_index_is_unreachable() -> None:
    done = run_installer(f"http://127.0.0.1:{free_port()}/whl/cpu")
    assert done.returncode == 0, done.stderr
    assert "cannot be reached; installing torch==2.13.0" in done.stderr
    import torch

    assert torch.__version__.split("+")[0] == "2.13.0"


def test_docs_install_openkling_from_a_checkout() -> None:
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    found = 0
    for page in pages:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            for command in re.findall(r"pip install[^`&;|\n]*", line):
                packages = [token.strip("'\"") for token in command.split()[2:]]
                assert not any(name.startswith("openkling") for name in packages), (
                    f"{page.name}:{number}: {command!r} installs openkling from an index"
                )
                found += "-e" in packages
    assert found >= 3
