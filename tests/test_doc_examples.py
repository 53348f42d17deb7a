"""Every shell and Python example in README.md and docs/*.md runs as written against a real
`openkling serve` process, with the environment the first start prints (KLING_BASE_URL,
KLING_ACCESS_KEY, KLING_SECRET_KEY) and, in its working directory, the files the examples
name (photos, end frames, masks: see ``workdir``) and ``TASK_ID``, a finished task of the
account, as the page's earlier example defines it. The address the examples use for a server on this
machine, http://127.0.0.1:8000 (the default port), is the test server's.

Tagging: a block that cannot run here has an HTML comment on the line right above its fence,
``<!-- example: skip (why) -->``, e.g. ``(needs a GPU)`` or ``(talks to an outside host)``.
The reason is required. Indented blocks are command lines for a terminal (install, serve) and
are not run; only fenced ```bash / ```sh / ```shell / ```python blocks are."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from support import processes
from support.pictures import encode, gradient
from support.server import LiveServer

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python"}
FENCE = re.compile(r"^```(\w+)?\s*$")
SKIP = re.compile(r"^<!-- example: skip \((?P<why>[^)]+)\) -->$")


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    language: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def examples(path: Path) -> list[Example]:
    """The fenced shell and Python blocks of one page, with their skip tags."""
    found: list[Example] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start, language = index, (match.group(1) or "").lower()
        end = start + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        above = lines[start - 1].strip() if start else ""
        tag = SKIP.match(above)
        if language in LANGUAGES:
            found.append(
                Example(
                    page=str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name,
                    line=start + 1,
                    language=LANGUAGES[language],
                    code="\n".join(lines[start + 1 : end]) + "\n",
                    skip=tag.group("why") if tag else None,
                )
            )
        index = end + 1
    return found


ALL = [example for page in PAGES for example in examples(page)]


def test_the_extraction_sees_blocks_and_tags(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```bash\necho one\n```\n\n<!-- example: skip (needs a GPU) -->\n"
        "```python\nprint(2)\n```\n\n```json\n{}\n```\n\n    indented = 'not run'\n"
    )
    assert [(e.language, e.code, e.skip) for e in examples(page)] == [
        ("bash", "echo one\n", None),
        ("python", "print(2)\n", "needs a GPU"),
    ]
    assert len(ALL) > 10  # README.md and docs/ hold examples


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(data_dir=tmp_path_factory.mktemp("examples"), env={})
    live.start()
    live.account = live.new_account(credits=1_000_000, name="examples")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def task_id(server) -> str:
    created = server.request(
        "POST", "/v1/videos/text2video", json={"prompt": "a lighthouse in a storm"}
    )
    assert created.status_code == 200, created.text
    task = created.json()["data"]["task_id"]
    assert server.wait_task(task)["task_status"] == "succeed"
    return task


@pytest.fixture
def workdir(tmp_path):
    """The files examples name: a phone-sized photo (well over the argument list's limit when
    inlined) and an end frame."""
    (tmp_path / "photo.jpg").write_bytes(encode(gradient(1600, 1200, seed=3), "JPEG", quality=95))
    (tmp_path / "end.png").write_bytes(encode(gradient(1600, 1200, seed=4)))
    (tmp_path / "start.png").write_bytes(encode(gradient(1280, 720, seed=5)))
    for seed, name in enumerate(("cat.png", "cat-asleep.png", "harbour.png"), 6):
        (tmp_path / name).write_bytes(encode(gradient(720, 720, seed=seed)))
    # the harbour's masks: the lighthouse (left) stays still, the boat (low, left) moves
    lighthouse = np.zeros((720, 720), np.uint8)
    lighthouse[100:500, 380:520] = 255
    boat = np.zeros((720, 720), np.uint8)
    boat[40:140, 60:200] = 255
    (tmp_path / "lighthouse_mask.png").write_bytes(encode(lighthouse))
    (tmp_path / "boat_mask.png").write_bytes(encode(boat))
    return tmp_path


@pytest.mark.parametrize("example", ALL, ids=[e.id for e in ALL])
def test_the_example_runs_as_written(example: Example, server, workdir, task_id):
    if example.skip:
        pytest.skip(example.skip)
    env = {
        **os.environ,
        "KLING_BASE_URL": server.base_url,
        "KLING_ACCESS_KEY": server.access_key,
        "KLING_SECRET_KEY": server.secret_key,
        "OPENKLING_DATA_DIR": str(server.data_dir),
        "TASK_ID": task_id,
    }
    code = example.code.replace("http://127.0.0.1:8000", server.base_url)
    env.pop("KLING_API_KEY", None)
    if example.language == "bash":
        argv = ["bash", "-euo", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    proc = processes.spawn(
        argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        out, _ = proc.communicate(timeout=240)
    finally:
        processes.stop(proc)
    assert proc.returncode == 0, f"{example.id} failed ({proc.returncode}):\n{example.code}\n{out}"
