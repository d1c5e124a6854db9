"""Training commands without the root CLI, for torchrun (which needs a module to run).

Used by: torchrun --nproc_per_node 2 -m training train --scale tiny --mixture M [...]
         torchrun --nproc_per_node 2 -m training sft --run RUN_ID [...]
"""

from __future__ import annotations

import typer

from training.cli import register
from xstage.console import setup_logging

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
register(app)


@app.callback()
def main(verbose: bool = False, quiet: bool = False) -> None:
    """Set up logging as the root CLI does."""
    setup_logging(verbose, quiet)


if __name__ == "__main__":
    app()
