"""``composer convert kubernetes``: the project as Kubernetes manifests (docs/kubernetes.md)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer


class Publish(enum.StrEnum):
    nodeport = "nodeport"
    loadbalancer = "loadbalancer"


def register(app: typer.Typer) -> None:
    convert_app = typer.Typer(
        name="convert", help="Write the project in another engine's format.", no_args_is_help=True
    )
    app.add_typer(convert_app, name="convert")

    @convert_app.command("kubernetes")
    def kubernetes(
        ctx: typer.Context,
        output: Annotated[
            str, typer.Option("--output", "-o", help="A folder for one file per object, or - for stdout.")
        ] = "-",
        namespace: Annotated[
            str | None, typer.Option("--namespace", help="Namespace of every object.")
        ] = None,
        version: Annotated[
            str, typer.Option("--kubernetes-version", help="Target Kubernetes version (1.25 to 1.37).")
        ] = "1.33",
        strict: Annotated[
            bool, typer.Option("--strict", help="Fail on anything that cannot be carried over.")
        ] = False,
        publish: Annotated[
            Publish, typer.Option("--publish", help="How published ports are exposed.")
        ] = Publish.nodeport,
        volume_size: Annotated[
            str, typer.Option("--volume-size", help="Size requested for each named volume.")
        ] = "1Gi",
        wait_image: Annotated[
            str, typer.Option("--wait-image", help="Image of the init containers that wait for a pod.")
        ] = "busybox:1.36",
        kubectl_image: Annotated[
            str | None, typer.Option("--kubectl-image", help="Image of those that wait for a Job.")
        ] = None,
    ) -> None:
        """Kubernetes manifests: workloads, Services, ConfigMaps, Secrets, claims, NetworkPolicies."""
        import sys

        from composer.cli.context import options
        from composer.convert.kubernetes import convert, file_name, render, to_yaml
        from composer.convert.options import KubeOptions, OptionError
        from composer.errors import ComposerError, SpecError, SpecIssue

        project = options(ctx).load()
        settings = KubeOptions(
            namespace=namespace, version=version, publish=publish.value, volume_size=volume_size,
            wait_image=wait_image, kubectl_image=kubectl_image,
        )  # fmt: skip
        try:
            result = convert(
                project.spec, settings, environment=project.environment, read_file=Path.read_bytes
            )
        except OptionError as error:
            raise ComposerError(str(error)) from None
        issues = [SpecIssue.at(project.locate(f.path), f.path, f.message, f.hint) for f in result.findings]
        if strict and issues:
            raise SpecError(issues)
        for issue in sorted(issues):
            sys.stderr.write(f"warning: {issue.render()}\n")
        if output == "-":
            sys.stdout.write(render(result.manifests))
            return
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
        for index, manifest in enumerate(result.manifests):
            (folder / file_name(manifest, index)).write_text(to_yaml(manifest))
        sys.stderr.write(f"wrote {len(result.manifests)} manifests to {folder}\n")
