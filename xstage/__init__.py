"""xstage: a columnar warehouse for pretraining -> fine-tuning transfer studies.

The ground floor shared by every stage: ids, configs, lake paths, schemas, console. It imports
no stage and not the `runner` package above them (import-linter checks it in `make lint`).
Used by: every `xstage` command.
"""

__version__ = "0.1.0"
