"""xstage: a columnar warehouse for pretraining -> fine-tuning transfer studies.

The ground floor shared by every stage: ids, configs, lake paths, schemas, console.
Used by: every `xstage` command.
"""

__version__ = "0.1.0"
