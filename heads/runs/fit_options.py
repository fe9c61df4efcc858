"""`clapmos fit`'s options read into :class:`~clapmos.heads.runs.run.RunConfig` values: head names, ``--param``
settings, per-target feature blocks, ``--clip``, and which fields the user typed (a recipe's settings yield to them)."""

from __future__ import annotations

from typing import Optional

import typer

from clapmos.embed.command_line import split_list
from clapmos.embed.errors import ClapmosError
from clapmos.heads.registry import HEAD_NAMES


def known_heads(value: str) -> None:
    """Refuse unknown head names in ``--head`` (``head`` or ``head:tag``) from the registry's name list alone."""
    from clapmos.heads.registry import member_head

    unknown = [h for h in split_list(value) or [] if member_head(h) not in HEAD_NAMES]
    if unknown:
        raise ClapmosError(f"--head {value}: unknown head(s) {', '.join(unknown)}; choose from {', '.join(HEAD_NAMES)}")



def parse_params(pairs: Optional[list[str]]) -> dict:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists, true/false/null).

    A JSON list stays a Python list (``alphas=[1e6]``): what scikit-learn's own settings expect
    (``RidgeCV`` writes its checked value back into a one-element ``alphas``, which a tuple refuses).
    """
    import json

    params = {}
    for pair in pairs or []:
        key, eq, raw = pair.partition("=")
        if not eq or not key:
            raise ClapmosError(f"--param {pair!r}: expected key=value, e.g. --param max_epochs=50 or --param spo_mlp.margin=0.2")
        try:
            value = json.loads(raw, parse_constant=_not_a_number)
        except json.JSONDecodeError:
            value = raw
        except ValueError as error:
            raise ClapmosError(f"--param {pair}: {error}") from None
        params[key.strip()] = value
    return params



def _not_a_number(name: str):
    raise ValueError(f"{name} is not a setting a head can use; give a finite number")



def parse_features(value: Optional[str]):
    """``audio,text`` (every target) or ``overall=audio;textual=audio,text`` (per target)."""
    if not value or "=" not in value:
        return split_list(value)
    features = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        target, eq, blocks = part.partition("=")
        if not eq or not target.strip() or not split_list(blocks):
            raise ClapmosError(f"--features {value!r}: expected TARGET=BLOCKS;TARGET=BLOCKS, e.g. overall=audio;textual=audio,text")
        features[target.strip()] = split_list(blocks)
    return features



def parse_clip(value: Optional[str]) -> Optional[list[float]]:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise ClapmosError(f"--clip {value!r}: expected LOW,HIGH, e.g. --clip 0,10") from None
    if not low < high:
        raise ClapmosError(f"--clip {value!r}: LOW must be below HIGH, e.g. --clip 0,10")
    return [low, high]



FIT_FIELDS = {
    "embedder": "embedders", "head": "heads", "features": "features", "target": "targets", "train_split": "train_split",
    "eval_split": "eval_split", "cv": "cv", "group": "group", "seeds": "seeds", "screening_tau": "screening_tau",
    "param": "params", "stack": "stack", "seed": "random_state", "stack_method": "stack_method", "clip": "clip",
}



def explicit_fields(ctx: typer.Context) -> set[str]:
    """The RunConfig fields whose options were typed (not left at their defaults)."""
    sources = {option: ctx.get_parameter_source(option) for option in FIT_FIELDS}  # typer's own copy of click's enum
    return {field for option, field in FIT_FIELDS.items() if sources[option] is not None and sources[option].name not in ("DEFAULT", "DEFAULT_MAP")}
