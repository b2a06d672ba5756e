"""How the stack runs Terraform: which CLI, and where the AWS provider comes from.

`make up` creates the cloud resources with Terraform whenever it can, as the design says; the
boto3 bootstrap (lakehouse/resources.py) is the fallback only when no Terraform can run, and says
why. Terraform can run when a CLI is at hand (terraform or tofu on PATH, or the tofu that
`make terraform-offline` builds) and the provider can be installed from one of two places:

- the offline filesystem mirror `make terraform-offline` builds into .cache/terraform/providers,
  used whenever it exists (it is what machines without the registry have), and
- the public registry, on a machine that reaches it (a laptop with internet): no offline build,
  the provider is downloaded once into a plugin cache beside the mirror.

The CLI configuration written for `make tf-*` names exactly one of them, so a machine with a
mirror never reaches out, and one without never waits for a mirror that is not there.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lakehouse.config import REPO_ROOT

TF_CACHE = REPO_ROOT / ".cache" / "terraform"
MIRROR = TF_CACHE / "providers"
PLUGIN_CACHE = TF_CACHE / "plugin-cache"
BUILT_TOFU = TF_CACHE / "bin" / "tofu"
# Terraform's service discovery document: what `terraform init` asks the registry first.
REGISTRY_DISCOVERY_URL = "https://registry.terraform.io/.well-known/terraform.json"

ProviderSource = Literal["mirror", "registry"]


@dataclass(frozen=True)
class TerraformSetup:
    """What `make tf-apply` would use here, or why it cannot run (`source` is None)."""

    cli: str | None
    source: ProviderSource | None
    reason: str

    @property
    def usable(self) -> bool:
        return self.cli is not None and self.source is not None


def find_cli(built: Path = BUILT_TOFU) -> str | None:
    """terraform on PATH, else tofu on PATH, else the tofu `make terraform-offline` built."""
    found = shutil.which("terraform") or shutil.which("tofu")
    return found or (str(built) if built.exists() else None)


def mirror_built(mirror: Path = MIRROR) -> bool:
    """True when the mirror holds an AWS provider binary for Terraform's registry name."""
    return any(mirror.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws_v*"))


def registry_reachable(url: str = REGISTRY_DISCOVERY_URL, timeout: float = 5.0) -> bool:
    """True when the registry's discovery document answers; a machine without internet fails fast."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


def detect(
    *, mirror: Path = MIRROR, built: Path = BUILT_TOFU, registry_url: str = REGISTRY_DISCOVERY_URL
) -> TerraformSetup:
    """The CLI and provider source `make tf-apply` will use, mirror before registry."""
    cli = find_cli(built)
    if cli is None:
        return TerraformSetup(None, None, "no terraform or tofu on PATH (make terraform-offline builds tofu)")
    if mirror_built(mirror):
        return TerraformSetup(cli, "mirror", f"{cli}, AWS provider from the offline mirror {mirror}")
    if registry_reachable(registry_url):
        return TerraformSetup(cli, "registry", f"{cli}, AWS provider from registry.terraform.io")
    return TerraformSetup(
        cli,
        None,
        "registry.terraform.io is unreachable and there is no offline provider mirror "
        "(make terraform-offline builds one)",
    )


def cli_config(source: ProviderSource, mirror: Path = MIRROR, plugin_cache: Path = PLUGIN_CACHE) -> str:
    """The CLI configuration (TF_CLI_CONFIG_FILE) that installs the provider from `source` only."""
    lines = ["disable_checkpoint = true"]
    if source == "mirror":
        lines += [
            "provider_installation {",
            "  filesystem_mirror {",
            f'    path    = "{mirror}"',
            '    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]',
            "  }",
            "}",
        ]
    else:
        lines += [
            f'plugin_cache_dir = "{plugin_cache}"',
            "provider_installation {",
            "  direct {}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def write_cli_config(path: Path, setup: TerraformSetup) -> None:
    """Write the configuration for `setup`; the plugin cache must exist before `terraform init`."""
    if setup.source is None:
        raise RuntimeError(f"Terraform cannot run here: {setup.reason}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if setup.source == "registry":
        PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(cli_config(setup.source))


def main(argv: list[str] | None = None) -> int:
    description = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m ops.stack.terraform", description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("cli-config", help="write the CLI configuration for make tf-*")
    config.add_argument("path", type=Path)
    commands.add_parser("status", help="say which CLI and provider source make tf-apply would use")
    arguments = parser.parse_args(argv)

    setup = detect()
    if arguments.command == "status":
        print(f"terraform: {'usable' if setup.usable else 'not usable'}: {setup.reason}")
        return 0 if setup.usable else 1
    try:
        write_cli_config(arguments.path, setup)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"terraform: {setup.reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
