"""``composer config``: validate the project, print it resolved, list names, print config hashes.

This verb is the fast path (``config -q`` in editors and CI): it imports only
the loader, never networkx, pyroute2 or httpx.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer


class ConfigFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("config")
    def config(
        ctx: typer.Context,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only validate; print nothing.")] = False,
        fmt: Annotated[ConfigFormat, typer.Option("--format", help="Output format.")] = ConfigFormat.yaml,
        services: Annotated[bool, typer.Option("--services", help="Print the service names.")] = False,
        networks: Annotated[bool, typer.Option("--networks", help="Print the network names.")] = False,
        volumes: Annotated[bool, typer.Option("--volumes", help="Print the volume names.")] = False,
        images: Annotated[bool, typer.Option("--images", help="Print the image of each service.")] = False,
        profiles: Annotated[
            bool, typer.Option("--profiles", help="Print the profiles the files name.")
        ] = False,
        variables: Annotated[
            bool, typer.Option("--variables", help="Print the variables the files use, with their defaults.")
        ] = False,
        environment: Annotated[
            bool, typer.Option("--environment", help="Print the environment used for interpolation.")
        ] = False,
        no_interpolate: Annotated[
            bool,
            typer.Option("--no-interpolate", help="Do not interpolate variables (implies --no-normalize)."),
        ] = False,
        no_normalize: Annotated[
            bool,
            typer.Option("--no-normalize", help="Print the merged files as written, not compose's form."),
        ] = False,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write to FILE instead of standard output.")
        ] = None,
        hash_of: Annotated[
            str | None,
            typer.Option("--hash", metavar="SERVICE", help="Print the config hash of SERVICE ('*': all)."),
        ] = None,
    ) -> None:
        """Validate the project file and print it in compose's normalised form."""
        from composer.cli.context import options

        opts = options(ctx)
        if variables or no_interpolate or (environment and not quiet):
            text = _unvalidated(opts, fmt, variables=variables, environment=environment)
            _emit(text, output)
            return
        project = opts.load()
        if quiet:
            return
        lines = _names(project, services=services, networks=networks, volumes=volumes, images=images)
        if profiles:
            lines += list(project.all_profiles)
        if lines or any((services, networks, volumes, images, profiles)):
            _emit("".join(f"{line}\n" for line in lines), output)
            return
        if hash_of is not None:
            _print_hashes(project, hash_of)
            return
        _emit(_render(project, fmt, normalize=not no_normalize, opts=opts), output)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        from composer.errors import ComposerError

        raise ComposerError(
            f"cannot write {output}: {error.strerror}", hint="check the folder exists"
        ) from None


def _names(project: object, **wanted: bool) -> list[str]:
    from composer.project.loader import LoadedProject

    assert isinstance(project, LoadedProject)
    spec = project.spec
    lines: list[str] = []
    for kind in ("services", "networks", "volumes"):
        if wanted[kind]:
            lines += list(getattr(spec, kind))
    if wanted["images"]:
        # compose names the image of a service it builds PROJECT-SERVICE
        lines += [
            svc.image or f"{project.name}-{name}" for name, svc in spec.services.items() if svc.rootfs is None
        ]
    return lines


def _unvalidated(opts: object, fmt: ConfigFormat, *, variables: bool, environment: bool) -> str:
    """--variables, --environment, --no-interpolate: from the merged files, before validation."""
    from composer.cli.context import GlobalOptions
    from composer.project.loader import load_raw_project

    assert isinstance(opts, GlobalOptions)
    raw = load_raw_project(
        opts.files, opts.project_directory, opts.env_files, opts.project_name, opts.profiles,
        interpolate=False,
    )  # fmt: skip
    if variables:
        return _variables(raw.data, fmt)
    if environment:
        return "".join(f"{key}={value}\n" for key, value in sorted(raw.environment.items()))
    from composer.project.normal_form import raw_form

    return _dump(raw_form(raw.data, raw.name), fmt)


def _variables(data: object, fmt: ConfigFormat) -> str:
    import json

    from composer.project.interpolate import variables_of_tree

    found = variables_of_tree(data)
    if fmt is ConfigFormat.json:
        table = {
            v.name: {
                "Name": v.name,
                "DefaultValue": v.default,
                "PresenceValue": v.alternate,
                "Required": v.required,
            }
            for v in found.values()
        }
        return json.dumps(table, indent=2) + "\n"
    rows = [("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE")]
    rows += [(v.name, str(v.required).lower(), v.default, v.alternate) for v in found.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in rows
    )


def _print_hashes(project: object, wanted: str) -> None:
    from composer.errors import ComposerError
    from composer.project.hashing import service_config_hash
    from composer.project.loader import LoadedProject

    assert isinstance(project, LoadedProject)
    names = list(project.spec.services) if wanted == "*" else [n.strip() for n in wanted.split(",")]
    unknown = [n for n in names if n not in project.spec.services]
    if unknown:
        raise ComposerError(f"no such service: {', '.join(unknown)}", hint="see `composer config --services`")
    for name in names:
        typer.echo(f"{name} {service_config_hash(project, name)}")


def _render(project: object, fmt: ConfigFormat, *, normalize: bool, opts: object) -> str:
    from composer.project.loader import LoadedProject

    assert isinstance(project, LoadedProject)
    if normalize:
        from composer.project.normal_form import normal_form

        return _dump(normal_form(project.spec, project.environment, project.project_directory), fmt)
    from composer.cli.context import GlobalOptions
    from composer.project.loader import load_raw_project
    from composer.project.normal_form import raw_form

    assert isinstance(opts, GlobalOptions)
    raw = load_raw_project(
        opts.files, opts.project_directory, opts.env_files, opts.project_name, opts.profiles
    )
    return _dump(raw_form(raw.data, raw.name), fmt)


def _dump(data: object, fmt: ConfigFormat) -> str:
    import json

    if fmt is ConfigFormat.json:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))
