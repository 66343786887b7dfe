"""The ``goodwill`` command: one Typer app, a module of commands per job.

Each module in ``COMMAND_MODULES`` exposes ``register(app)``; the core packages
never import Typer, so the library stays usable without the CLI.
"""

from __future__ import annotations

import importlib
import sys

import typer

from goodwill.errors import GoodwillError

COMMAND_MODULES = [
    "goodwill.cli.guard",
    "goodwill.cli.identity",
    "goodwill.cli.core",
    "goodwill.cli.lint",
    "goodwill.cli.understand",
    "goodwill.cli.promises",
    "goodwill.cli.measures",
    "goodwill.cli.rights",
    "goodwill.cli.serve",
]

app = typer.Typer(
    name="goodwill",
    help="Keep account of your bank of customer goodwill.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:
    """Entry point: run the app, and print our own errors as one line, never a traceback."""
    try:
        # Outside standalone mode click hands back typer.Exit's code instead of exiting.
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except GoodwillError as exc:
        from goodwill.cli.output import print_error

        print_error(exc)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
