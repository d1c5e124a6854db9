"""Resolve a stage's configs: `--set key=value` overrides, validation, and the config hash.

Used by: xstage train --set train.lr=1e-3 --set model.n_layer=1, and xstage sft --set sft.epochs=2.
Keys: `model.<field>` changes the scale; `train.<field>` / `sft.<field>` (or a bare `<field>`)
changes the recipe's section. Values are parsed with yaml.safe_load, then re-validated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import yaml
from pydantic import ValidationError

from xstage.config import ConfigError, RecipeConfig, ScaleConfig

Scalar = float | int | str | bool | None


def parse_overrides(pairs: Sequence[str]) -> dict[str, Scalar]:
    """`["train.lr=1e-3", ...]` -> `{"train.lr": 0.001}` (values through yaml.safe_load)."""
    parsed: dict[str, Scalar] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: expected key=value (e.g. train.lr=1e-3)")
        parsed[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return parsed


def apply_overrides(
    scale: ScaleConfig, recipe: RecipeConfig, overrides: Mapping[str, Scalar] | Sequence[str]
) -> tuple[ScaleConfig, RecipeConfig]:
    """New (scale, recipe) with overrides applied and re-validated; errors name the key."""
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    section = "train" if recipe.stage == "pretrain" else "sft"
    scale_data = scale.model_dump()
    section_data = getattr(recipe, section).model_dump()
    for key, value in overrides.items():
        prefix, dot, field = key.partition(".")
        if not dot:
            prefix, field = section, key
        if prefix == "model" and field in scale_data and field != "scale":
            scale_data[field] = value
        elif prefix == section and field in section_data:
            section_data[field] = value
        else:
            raise ConfigError(
                f"--set {key}: unknown key; use model.<{'|'.join(sorted(scale_data))}> or "
                f"{section}.<{'|'.join(sorted(section_data))}>"
            )
    try:
        new_scale = ScaleConfig.model_validate(scale_data)
        recipe_data = recipe.model_dump()
        recipe_data[section] = section_data
        new_recipe = RecipeConfig.model_validate(recipe_data)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"--set {dict(overrides)}: invalid result ({fields})") from None
    return new_scale, new_recipe


def config_hash(resolved: Mapping) -> str:
    """sha256 of the resolved config as canonical JSON (sorted keys)."""
    text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
