"""The `minutebook` command line."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="minutebook")
def main() -> None:
    """minutebook: a permissioned ledger of minutes, resolutions and member records."""


if __name__ == "__main__":
    main()
