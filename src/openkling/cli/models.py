"""`openkling models`: list the profile's models and their weights, pull the weights from the
model hub, and check a profile against the disk without starting a server."""

from __future__ import annotations

import sys

import click

from ..engines.profile_fields import ProfileError
from ..engines.profiles import Profiles


def _profiles() -> Profiles:
    from ..config import Settings
    from ..engines.profiles import load_profiles

    settings = Settings()
    if settings.profiles_file is None:
        raise click.ClickException(
            "no deployment profile: set OPENKLING_PROFILES_FILE (see docs/gpu-deployment.md)"
        )
    try:
        return load_profiles(settings.profiles_file)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def models() -> None:
    """The models of the deployment profile (OPENKLING_PROFILES_FILE) and their weights."""


@models.command("list")
def list_models() -> None:
    """Each model: its engine, its weights directories and whether they are on disk."""
    from ..engines.weights import layout_problems, model_dirs

    profiles = _profiles()
    for name, model in profiles.models.items():
        dirs = model_dirs(name, model)
        if not dirs:
            click.echo(f"{name}\t{model.engine}\t-\t(no weights)")
        for d in dirs:
            state = "on disk" if not layout_problems(d.path) else "missing"
            source = f"\t{d.repo}" + (f"@{d.revision}" if d.revision else "") if d.repo else ""
            family = f"{model.engine}/{model.family}" if model.family else model.engine
            click.echo(f"{name}\t{family}\t{d.role}\t{d.path}\t{state}{source}")


@models.command()
@click.argument("names", nargs=-1)
@click.option("--all", "pull_all", is_flag=True, help="Every model whose profile names a repo.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def pull(names: tuple[str, ...], pull_all: bool, quiet: bool) -> None:
    """Download the weights of NAMES (or --all) from the hub repo their profile names.

    Only the files the pipeline loads; resumable (run it again after an interruption);
    HF_ENDPOINT and HF_TOKEN are honoured."""
    from ..engines.weights import model_dirs
    from ..engines.weights import pull as download

    if bool(names) == pull_all:
        raise click.UsageError("give model names or --all (not both)")
    profiles = _profiles()
    unknown = [n for n in names if n not in profiles.models]
    if unknown:
        raise click.UsageError(
            f"not in the profile: {', '.join(unknown)}; "
            f"the profile has: {', '.join(profiles.models) or 'no models'}"
        )
    targets = []
    for name in names or tuple(profiles.models):
        main_dir = [d for d in model_dirs(name, profiles.models[name]) if d.role == "t2v"]
        if not main_dir or main_dir[0].repo is None:
            if not pull_all:
                raise click.ClickException(
                    f'{name}: the profile names no repo to pull from: add repo = "owner/name" '
                    f'to [models."{name}"]'
                )
            click.echo(f"{name}: skipped (no repo in the profile)", err=True)
            continue
        targets.append(main_dir[0])
    for target in targets:
        click.echo(f"{target.model}: {target.repo} -> {target.path}", err=True)
        try:
            download(target, progress=not quiet)
        except Exception as exc:  # noqa: BLE001  # the hub's errors: one line, then stop
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise click.ClickException(f"{target.model}: download failed: {reason}") from None
        click.echo(f"{target.model}: done", err=True)


@models.command()
def check() -> None:
    """Check every weights directory of the profile: exit 1 with one line per problem."""
    from ..engines.weights import layout_problems, weights_dirs

    profiles = _profiles()
    dirs = weights_dirs(profiles)
    problems = [f"{d.model} ({d.role}): {p}" for d in dirs for p in layout_problems(d.path)]
    for line in problems:
        click.echo(line)
    if problems:
        sys.exit(1)
    click.echo(f"{profiles.source}: {len(profiles.models)} model(s), weights ok")
