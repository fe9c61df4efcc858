"""Recipes: the published systems as named fit settings (``fit --recipe NAME``).

A recipe is a set of :class:`~clapmos.heads.runs.run.RunConfig` fields (embedders, heads, feature
blocks, head settings, ensemble options) written from ``METHODS.md`` §2, §3 and §5.
Options given explicitly on the command line override the recipe's: ``--param`` keys
are merged (yours win), any other option replaces the recipe's value. An option the
recipe cannot honour is refused with one message: a ``--head`` list that drops one of
the recipe's members, ``--embedder`` without an embedder a member reads,
``--screening-tau`` when no member uses listener ratings, or an option the recipe
fixes (``ensemble-svr``'s per-member ``--features``).

Each recipe says what it reproduces, where that was published, the published figure to
compare with, and every setting: its published value (quoted from METHODS.md), ours, and
why they differ (``clapmos recipes NAME``).

**Adding a recipe is one module and one line**: the module (beside this one) defines ``RECIPE``, a
:class:`~clapmos.heads.runs.recipes.base.Recipe`; the line is its entry in :data:`RECIPE_MODULES`.

>>> sorted(RECIPES)
['astar-distribution', 'astar-frames', 'ensemble-svr', 'moescore', 'musiceval-baseline', 'spo-clapscore', 'xacle2027-baseline']
>>> apply_recipe("xacle2027-baseline", {"embedders": ["spectral"], "params": {"mlp.max_epochs": 5}}, {"embedders", "params"})["params"]["mlp.max_epochs"]
5
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any

from clapmos.embed.errors import ClapmosError
from clapmos.heads.runs.recipes.base import Recipe, Setting, same

__all__ = ["RECIPES", "RECIPE_MODULES", "Recipe", "Setting", "apply_recipe", "describe", "merged_params", "recipe", "recipes_table", "same"]

#: One line per recipe: its name and the module that defines its ``RECIPE``.
RECIPE_MODULES: dict[str, str] = {
    "musiceval-baseline": "clapmos.heads.runs.recipes.musiceval_baseline",
    "xacle2027-baseline": "clapmos.heads.runs.recipes.xacle2027_baseline",
    "spo-clapscore": "clapmos.heads.runs.recipes.spo_clapscore",
    "ensemble-svr": "clapmos.heads.runs.recipes.ensemble_svr",
    "astar-distribution": "clapmos.heads.runs.recipes.astar_distribution",
    "astar-frames": "clapmos.heads.runs.recipes.astar_frames",
    "moescore": "clapmos.heads.runs.recipes.moescore",
}
RECIPES: dict[str, Recipe] = {name: importlib.import_module(module).RECIPE for name, module in RECIPE_MODULES.items()}


def recipe(name: str) -> Recipe:
    """The recipe ``name``; an unknown name is a :class:`ClapmosError` listing the known ones."""
    if name not in RECIPES:
        raise ClapmosError(f"--recipe {name!r} does not exist; choose one of {', '.join(RECIPES)} (see `clapmos recipes`)")
    return RECIPES[name]



def apply_recipe(name: str, values: Mapping[str, Any], explicit: set[str]) -> dict[str, Any]:
    """RunConfig fields: the recipe's settings, overridden by the ``explicit`` fields of ``values``.

    ``values`` holds every field as the command line gave it (defaults included);
    ``explicit`` names those the user typed. ``params`` are merged, the user's keys
    winning. Raises :class:`ClapmosError` for an explicit field the recipe cannot honour.
    """
    chosen = recipe(name)
    merged = dict(values)
    for key, value in chosen.settings.items():
        if key == "params":
            merged["params"] = merged_params(value, values.get("params") or {})
        elif key not in explicit:
            merged[key] = value
    for key, reason in chosen.fixed.items():
        if key in explicit:
            raise ClapmosError(f"--recipe {name}: {_option(key)} cannot be honoured: {reason}")
    if "heads" in explicit:
        dropped = [member for member in chosen.members if member not in merged["heads"]]
        if dropped:
            raise ClapmosError(
                f"--recipe {name} is made of --head {','.join(chosen.members)}; --head {','.join(merged['heads'])} drops "
                f"{', '.join(dropped)}. Add heads to the recipe's (--head {','.join([*chosen.members, 'ridge'])}), or drop --recipe."
            )
    if "embedders" in explicit:
        for member, needed in chosen.member_embedders().items():
            missing = [e for e in needed if e not in merged["embedders"]]
            if missing and f"{member}.features__embedders" not in (values.get("params") or {}):
                raise ClapmosError(
                    f"--recipe {name}: its member {member} reads the {', '.join(missing)} embedder(s), missing from "
                    f"--embedder {','.join(merged['embedders'])}. Add them, or point it elsewhere with "
                    f"--param {member}.features__embedders=[...]"
                )
    if "screening_tau" in explicit and merged.get("screening_tau") is not None:
        from clapmos.heads.registry import head_spec

        if not any("screening_tau" in head_spec(member).build().get_params() for member in merged["heads"]):
            raise ClapmosError(
                f"--recipe {name}: --screening-tau screens listener ratings, but none of its heads "
                f"({', '.join(merged['heads'])}) uses them. Drop --screening-tau, or add --head spo_mlp."
            )
    merged["recipe"] = name
    return merged



def merged_params(recipe_params: Mapping[str, Any], yours: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe's ``--param`` settings without those one of yours covers, then yours.

    Yours covers a recipe key of the same name at the same or a narrower scope: ``lr``
    covers ``mlp.lr`` and ``svr:a.lr``; ``svr.C`` covers ``svr:a.C``; so what you give
    wins even where the recipe is more specific.

    >>> merged_params({"mlp.lr": 0.1, "svr:a.C": 1, "svr:a.epsilon": 0.1}, {"lr": 0.5, "svr.C": 2})
    {'svr:a.epsilon': 0.1, 'lr': 0.5, 'svr.C': 2}
    """
    from clapmos.heads.registry import member_head

    def covered(key: str) -> bool:
        scope, dot, name = key.partition(".")
        return (name if dot else key) in yours or (dot and f"{member_head(scope)}.{name}" in yours)

    return {**{k: v for k, v in recipe_params.items() if not covered(k)}, **yours}



def _option(key: str) -> str:
    return {"heads": "--head", "embedders": "--embedder", "random_state": "--seed"}.get(key, "--" + key.replace("_", "-"))



def recipes_table() -> str:
    """The recipes as a Markdown table: name, what it reproduces, source, published figure."""
    lines = ["| recipe | reproduces | source | published figure |", "|---|---|---|---|"]
    for item in RECIPES.values():
        lines.append(f"| `{item.name}` | {item.reproduces} | {item.source} | {item.figure} |")
    return "\n".join(lines)



def describe(name: str) -> str:
    """Everything about one recipe: every setting (published, ours, why they differ), then its settings as options."""
    item = recipe(name)
    lines = [f"{item.name}: {item.reproduces}", f"source: {item.source}", f"published: {item.figure}", ""]
    lines += ["| setting | published | ours | why they differ |", "|---|---|---|---|"]
    lines += [f"| {row.name} | {row.published} | {row.ours} | {row.why or '-'} |" for row in item.comparison]
    lines += ["", "as options:"]
    for key, value in item.settings.items():
        if key == "params":
            lines += [f"  --param {k}={json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in value.items()]
        elif key == "head_targets":
            lines.append("  members per target (no option): " + "; ".join(f"{k} → {','.join(v)}" for k, v in value.items()))
        elif isinstance(value, bool):
            lines.append(f"  --{'stack' if value else 'average'}" if key == "stack" else f"  {_option(key)} {value}")
        else:
            lines.append(f"  {_option(key)} {_shown(value)}")
    return "\n".join(lines)



def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ";".join(f"{k}={','.join(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
