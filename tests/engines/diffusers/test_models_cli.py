"""`openkling models`: list, pull from a loopback stand-in of the hub, check; then the app,
with the profile, renders a task with the pulled weights."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.server import cli

pytest.importorskip("torch")
pytest.importorskip("diffusers")

PROFILE = """
[models."kling-v1"]
engine = "diffusers"
family = "wan"
weights = "{weights}"
repo = "Wan-AI/tiny-wan"
device = "cpu"
dtype = "float32"
steps = 2
fps = 4
resolution = {{ std = {{ "16:9" = [48, 32] }} }}

[models."kling-v1-6"]
engine = "synthetic"
"""


def run_models(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``openkling models ARGS`` in its own process: huggingface_hub reads HF_ENDPOINT at import."""
    return subprocess.run(
        [sys.executable, "-m", "openkling", "models", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def hub_repo(tiny_weights, tmp_path) -> Path:
    """The tiny Wan as a hub repo holds it: plus files the pipeline does not load."""
    repo = tmp_path / "repo"
    shutil.copytree(tiny_weights("wan"), repo)
    (repo / "examples").mkdir()
    (repo / "examples" / "demo.mp4").write_bytes(b"\0" * 1000)
    model = repo / "transformer" / "diffusion_pytorch_model.safetensors"
    shutil.copy(model, model.with_name("diffusion_pytorch_model.fp16.safetensors"))
    (repo / "text_encoder" / "pytorch_model.bin").write_bytes(b"\0" * 1000)
    return repo


@pytest.mark.slow  # pulls in subprocesses, then a render
def test_pull_from_the_hub_then_serve(hub_repo, tmp_path, app_factory):
    from hub import Hub

    weights = tmp_path / "weights"
    profile = tmp_path / "profiles.toml"
    profile.write_text(PROFILE.format(weights=weights))
    with Hub({"Wan-AI/tiny-wan": hub_repo}) as hub:
        env = {
            "HF_ENDPOINT": hub.endpoint,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HOME": str(tmp_path / "hf-home"),
            "OPENKLING_PROFILES_FILE": str(profile),
            "OPENKLING_DATA_DIR": str(tmp_path / "data"),
        }
        listed = run_models("list", env=env)
        assert listed.returncode == 0, listed.stderr
        assert f"kling-v1\tdiffusers/wan\tt2v\t{weights}\tmissing\tWan-AI/tiny-wan" in listed.stdout
        assert "kling-v1-6\tsynthetic" in listed.stdout
        checked = run_models("check", env=env)
        assert checked.returncode == 1
        assert checked.stdout.strip() == f"kling-v1 (t2v): {weights}: no such directory"

        pulled = run_models("pull", "kling-v1", env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert "kling-v1: done" in pulled.stderr
        got = sorted(
            p.relative_to(weights).as_posix()
            for p in weights.rglob("*")
            if p.is_file() and ".cache" not in p.parts
        )
        wanted = [f for f in hub.files("Wan-AI/tiny-wan") if "examples" not in f]
        wanted = [f for f in wanted if not f.endswith((".bin", ".fp16.safetensors"))]
        assert got == wanted
        for name in got:
            assert (weights / name).read_bytes() == (hub_repo / name).read_bytes()

        # resumable: a download cut off halfway is taken up again (from its last whole 10 MB
        # chunk: this file is smaller, so from its start); a second run fetches only what is
        # missing
        name = "transformer/diffusion_pytorch_model.safetensors"
        model = weights / name
        full = model.read_bytes()
        model.unlink()
        (weights / ".cache" / "huggingface" / "download" / f"{name}.metadata").unlink()
        hub.downloads.clear()
        hub.cut.add(name)
        again = run_models("pull", "--all", "--quiet", env=env)
        assert again.returncode == 0, again.stderr
        assert [file for file, _ in hub.downloads] == [name, name]
        assert model.read_bytes() == full

        listed = run_models("list", env=env)
        assert f"kling-v1\tdiffusers/wan\tt2v\t{weights}\ton disk\tWan-AI/tiny-wan" in listed.stdout
        checked = run_models("check", env=env)
        assert checked.returncode == 0, checked.stdout
        assert "weights ok" in checked.stdout

        # a repo the hub does not have: one clear line, exit 1, no folder left behind
        absent = tmp_path / "absent"
        other = tmp_path / "other.toml"
        other.write_text(
            f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "wan"\n'
            f'weights = "{absent}"\nrepo = "Wan-AI/absent"\n'
        )
        failed = run_models("pull", "kling-v1", env={**env, "OPENKLING_PROFILES_FILE": str(other)})
        assert failed.returncode == 1
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: kling-v1: download failed: 404 Client Error.")
        assert "Wan-AI/absent/resolve/main/model_index.json" in last
        assert not absent.exists()

    server = app_factory(env={"OPENKLING_PROFILES_FILE": str(profile)}, socket=True)
    body = {"model_name": "kling-v1", "prompt": "a red fox runs", "duration": "5"}
    response = server.request("POST", "/v1/videos/text2video", json=body)
    assert response.status_code == 200, response.text
    task = server.wait_task(response.json()["data"]["task_id"], timeout=180)
    assert task["task_status"] == "succeed", task.get("task_status_msg")
    video = httpx.get(task["task_result"]["videos"][0]["url"], timeout=30).content
    assert video[4:8] == b"ftyp"


def test_check_names_each_problem(tiny_weights, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_weights("wan"), broken)
    shutil.rmtree(broken / "vae")
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    profile = tmp_path / "profiles.toml"
    table = '[models."{}"]\nengine = "diffusers"\nfamily = "wan"\nweights = "{}"\n'
    profile.write_text(
        table.format("kling-v1", broken)
        + table.format("kling-v1-5", empty)
        + table.format("kling-v1-6", tiny_weights("wan"))
    )
    env = {"OPENKLING_PROFILES_FILE": str(profile)}
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli("models", "check", data_dir=tmp_path / "data", env=env)
    assert failed.value.returncode == 1, failed.value.stderr
    assert sorted(failed.value.stdout.splitlines()) == sorted(
        [
            f"kling-v1 (t2v): {broken / 'vae'}: missing (AutoencoderKLWan, listed in "
            "model_index.json)",
            f"kling-v1 (t2v): {broken / 'transformer'}: no weights file (*.safetensors) "
            "(WanTransformer3DModel)",
            f"kling-v1-5 (t2v): {empty}: no model_index.json (not a diffusers pipeline directory)",
        ]
    )
    listed = cli("models", "list", data_dir=tmp_path / "data", env=env).stdout
    assert f"kling-v1\tdiffusers/wan\tt2v\t{broken}\tmissing\n" in listed
    assert f"kling-v1-6\tdiffusers/wan\tt2v\t{tiny_weights('wan')}\ton disk\n" in listed


def test_pull_without_a_repo_says_so_and_writes_nothing(tmp_path):
    weights = tmp_path / "weights"
    profile = tmp_path / "profiles.toml"
    profile.write_text(
        f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "wan"\nweights = "{weights}"\n'
    )
    env = {"OPENKLING_PROFILES_FILE": str(profile)}
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli("models", "pull", "kling-v1", data_dir=tmp_path / "data", env=env)
    assert "kling-v1: the profile names no repo to pull from" in failed.value.stderr
    assert 'add repo = "owner/name"' in failed.value.stderr
    with pytest.raises(subprocess.CalledProcessError) as failed:
        cli("models", "pull", "kling-v2", data_dir=tmp_path / "data", env=env)
    assert "not in the profile: kling-v2" in failed.value.stderr
    assert not weights.exists()


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('repo = "no-slash"', 'repo must be a hub repo id like "Wan-AI/'),
        ("repo = 3", "repo must be a hub repo id"),
        ('revision = "v1"', 'revision needs "repo"'),
        ('repo = "a/b"\nrevision = ""', "revision must be a branch, tag or commit"),
    ],
)
def test_a_bad_repo_key_is_refused_at_startup(profile_settings, keys, message):
    from openkling.engines.profiles import ProfileError, load_profiles

    settings = profile_settings(
        f'[models."kling-v1"]\nengine = "diffusers"\nfamily = "wan"\nweights = "w"\n{keys}\n'
    )
    with pytest.raises(ProfileError, match=message.replace("(", r"\(")):
        load_profiles(settings.profiles_file)


def test_repo_needs_weights(profile_settings):
    from openkling.engines.profiles import ProfileError, load_profiles

    settings = profile_settings(
        '[models."kling-v1"]\nengine = "diffusers"\nfamily = "wan"\nrepo = "a/b"\n'
        'i2v = { weights = "i", family = "wan" }\n'
    )
    with pytest.raises(ProfileError, match='repo needs "weights"'):
        load_profiles(settings.profiles_file)
