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
compare with, and — where a system cannot be reproduced exactly on frozen clip
embeddings — what it does instead.

>>> sorted(RECIPES)
['astar-distribution', 'astar-frames', 'ensemble-svr', 'moescore', 'musiceval-baseline', 'spo-clapscore', 'xacle2027-baseline']
>>> apply_recipe("xacle2027-baseline", {"embedders": ["spectral"], "params": {"mlp.max_epochs": 5}}, {"embedders", "params"})["params"]["mlp.max_epochs"]
5
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clapmos.embed.errors import ClapmosError


@dataclass(frozen=True)
class Recipe:
    """A published system as fit settings.

    Attributes
    ----------
    name : str
    reproduces : str
        The system, in a few words.
    source : str
        Where it was published (and the section of METHODS.md that restates it).
    figure : str
        The published figure to compare with.
    settings : mapping
        :class:`~clapmos.heads.runs.run.RunConfig` fields.
    instead : str
        What the recipe does where the published system cannot be reproduced on
        frozen clip embeddings ("" when it is reproduced as published).
    fixed : mapping
        Fields an explicit option may not change, with the reason.
    """

    name: str
    reproduces: str
    source: str
    figure: str
    settings: Mapping[str, Any]
    instead: str = ""
    fixed: Mapping[str, str] = field(default_factory=dict)

    @property
    def members(self) -> list[str]:
        return list(self.settings.get("heads", []))

    def member_embedders(self) -> dict[str, list[str]]:
        """Members that read only some embedders (``features__embedders``), and which."""
        found = {}
        for key, value in self.settings.get("params", {}).items():
            scope, _, name = key.partition(".")
            if name == "features__embedders":
                found[scope] = list(value)
        return found


_MUSICEVAL_AFFINE = {
    "mlp.hidden_sizes": (256, 64),
    "mlp.activation": "identity",
    "mlp.dropout": 0.0,
    "mlp.loss": "l1",
    "mlp.target_scaling": "none",
    "mlp.optimizer": "sgd",
    "mlp.lr": 5e-4,
    "mlp.momentum": 0.9,
    "mlp.weight_decay": 0.0,
    "mlp.batch_size": 64,
    "mlp.max_epochs": 300,
    "mlp.patience": 20,
    "mlp.monitor": "loss",
    "mlp.scale": "passthrough",
}

_XACLE2027_MLP = {
    "mlp.hidden_sizes": (1024, 256),
    "mlp.activation": "relu",
    "mlp.dropout": (0.3, 0.0),
    "mlp.loss": "clipped_mse",
    "mlp.tau": 0.25,
    "mlp.pairwise_weight": 0.5,
    "mlp.margin": 0.1,
    "mlp.class_balance": "published",
    "mlp.beta": 0.99,
    "mlp.target_scaling": (5.0, 5.0),
    "mlp.optimizer": "adam",
    "mlp.lr": 2e-5,
    "mlp.weight_decay": 0.0,
    "mlp.batch_size": 12,
    "mlp.drop_last": True,
    "mlp.max_epochs": 20,
    "mlp.patience": 10,
    "mlp.monitor": "srcc",
    "mlp.scale": "passthrough",
    "mlp.features__unit_norm": True,
}

_SPO_COSINE = {
    "cosine.optimizer": "adam",
    "cosine.lr": 1e-4,
    "cosine.lr_schedule": "cosine",
    "cosine.max_epochs": 50,
    "cosine.batch_size": 32,
    "cosine.pairwise_weight": 0.5,
    "cosine.margin": 0.1,
}

_ENSEMBLE_SVR = {
    "svr.C": 0.5,
    "svr.gamma": "scale",
    "svr.target_scaling": (5.0, 5.0),
    "svr:a.epsilon": 0.08,
    "svr:a.features__embedders": ("m2d",),
    "svr:a.features__blocks": ("audio", "text", "cosine", "angular", "l1", "l2"),
    "svr:b.epsilon": 0.02,
    "svr:b.features__embedders": ("clap",),
    "svr:b.features__blocks": ("audio", "text", "l1"),
}

_ASTAR = {
    "dist.n_bins": 20,
    "dist.sigma": 0.25,
    "dist.score_range": (1.0, 5.0),
    "dist:onehot.sigma": 0.0,
    "coral.n_bins": 20,
    "coral.score_range": (1.0, 5.0),
}

_ASTAR_BINS = {"output": "distribution", "n_bins": 20, "sigma": 0.25, "score_range": (1.0, 5.0)}
_ASTAR_FRAMES = {
    **{f"attn_mlp.{key}": value for key, value in _ASTAR_BINS.items()},
    **{f"xattn.{key}": value for key, value in _ASTAR_BINS.items()},
    "attn_mlp.n_layers": 2,
    "attn_mlp:onehot.sigma": 0.0,
}

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in [
        Recipe(
            name="musiceval-baseline",
            reproduces="MusicEval baseline (AudioMOS 2025 Track 1 reference): affine layers on CLAP, L1, SGD",
            source="MusicEval (ICASSP 2025) baseline; METHODS.md §2",
            figure="dev system SRCC 0.882 overall / 0.796 textual (utterance 0.761 / 0.581)",
            settings={
                "embedders": ["clap"],
                "heads": ["mlp"],
                "features": {"overall": ["audio"], "textual": ["audio", "text"]},
                "params": _MUSICEVAL_AFFINE,
            },
            instead=(
                "The baseline fine-tuned CLAP together with its heads and fed it 16 kHz audio without resampling; here "
                "CLAP is frozen (the store's embeddings, resampled to 48 kHz) and each target's affine stack "
                "(512→256→64→1 on audio for overall, 1024→256→64→1 on audio+text for textual, no activations, raw MOS, "
                "L1, SGD lr 5e-4 momentum 0.9, batch 64) is trained on its own (with a frozen encoder, the summed L1 of "
                "the two heads trains them independently), as a 5-fold ensemble early-stopped (patience 20 on "
                "validation L1) on 10% of each fold's training rows instead of the dev split; max_epochs, not "
                "published, is 300."
            ),
        ),
        Recipe(
            name="xacle2027-baseline",
            reproduces="XACLE 2027 official baseline: M2D-CLAP audio+text into an MLP, class-balanced clipped MSE + pairwise",
            source="second XACLE challenge (2027) official baseline; METHODS.md §5",
            figure="validation SRCC 0.5844 (LCC 0.5995, KTAU 0.4186, MSE 3.6368); test SRCC 0.5648",
            settings={"embedders": ["m2d"], "heads": ["mlp"], "features": ["audio", "text"], "random_state": 42, "params": _XACLE2027_MLP},
            instead=(
                "Network, targets ((y - 5)/5), loss (class-balanced clipped MSE τ 0.25 with the published 1/B quirk + "
                "0.5 × class-balanced pairwise, β 0.99), optimiser (Adam 2e-5, batch 12, drop last, 20 epochs, "
                "patience 10 on validation SRCC) and seed 42 are as published, on unit-normalised frozen M2D-CLAP "
                "embeddings. The published model is one network trained on the train split and early-stopped on the "
                "validation split; here it is a 5-fold ensemble on the training split, each fold model early-stopped "
                "on 10% of its training rows, its fold models averaged."
            ),
        ),
        Recipe(
            name="spo-clapscore",
            reproduces="SPO-CLAPScore (XACLE, 6th place): z = a·cos(audio, text) + b on SPO listener targets",
            source="SPO-CLAPScore (XACLE 2026); METHODS.md §3",
            figure="test SRCC 0.6142",
            settings={"embedders": ["m2d"], "heads": ["cosine"], "screening_tau": 5.0, "random_state": 3, "params": _SPO_COSINE},
            instead=(
                "SPO-CLAPScore fine-tuned the M2D-CLAP audio encoder; on frozen embeddings only the affine map "
                "z = a·cos + b is trained (from the published start (10·cos - μ_g)/σ_g; rating screening τ 5, "
                "per-listener z targets, MSE + 0.5 × pairwise, Adam 1e-4 on a cosine schedule, 50 epochs, batch 32, "
                "seed 3), so the ranking, hence SRCC, is the zero-shot cosine's, and early stopping reads the "
                "validation loss instead of SRCC. Predictions are mapped back to the 0-10 scale (μ_g + σ_g·z), "
                "which the submission did not do."
            ),
        ),
        Recipe(
            name="ensemble-svr",
            reproduces="XACLE second place (EnsembleSVR): RBF SVRs on CLAP embeddings + proximity features, blended, clipped",
            source="XACLE 2026 second place; METHODS.md §5",
            figure="test SRCC 0.638 (LCC 0.685, KTAU 0.460, MSE 2.826)",
            settings={
                "embedders": ["m2d", "clap"],
                "heads": ["svr:a", "svr:b"],
                "stack": True,
                "stack_method": "nnls",
                "clip": [0.0, 10.0],
                "params": _ENSEMBLE_SVR,
            },
            instead=(
                "The published SVR A read M2D-CLAP, MS-CLAP and MGA-CLAP blocks and SVR B LAION-CLAP audio+text+L1 plus "
                "Whisper features; clapmos has no MS-CLAP, MGA-CLAP or Whisper embedders, so svr:a (ε 0.08) reads the "
                "m2d embedder's audio, text, cosine, angular, L1 and L2 blocks and svr:b (ε 0.02) the clap embedder's "
                "audio, text and L1 (add embedders with --param svr:a.features__embedders=[...]). Both: Normalizer, "
                "StandardScaler, RBF SVR C 0.5, γ 'scale', targets (y - 5)/5. The non-negative blend weights are "
                "fitted on out-of-fold predictions (NNLS) instead of in-sample ones (TNC), L1/L2 maxima are learnt on "
                "the training rows instead of per split, and each SVR is a 5-fold ensemble; the blend is clipped to [0, 10]."
            ),
            fixed={"features": "its two SVRs read their own blocks; change them with --param svr:a.features__blocks=[...]"},
        ),
        Recipe(
            name="astar-distribution",
            reproduces="AudioMOS 2025 Track-1 winner's heads: distribution over 20 bins (Gaussian, one-hot) and CORAL, stacked",
            source="AudioMOS 2025 Track 1 winner; METHODS.md §5",
            figure="test system SRCC 0.991 overall / 0.952 textual",
            settings={
                "embedders": ["clap"],
                "heads": ["dist", "dist:onehot", "coral"],
                "features": {"overall": ["audio"], "textual": ["audio", "text"]},
                "stack": True,
                "stack_method": "ridge",
                "params": _ASTAR,
            },
            instead=(
                "The winner ran Transformer layers and attentive pooling over frozen MuQ frames (overall) and "
                "RoBERTa text tokens cross-attending to them (textual), and stacked 8 such models with Ridge on their "
                "concatenated bin distributions. On clip embeddings this recipe trains three MLP heads on the store's "
                "clap embeddings (audio for overall; audio and text for textual): dist (20 bins on [1, 5], Gaussian "
                "σ 0.25, KL), dist:onehot (σ 0) and coral (20 bins), each a 5-fold ensemble, stacked by Ridge(alpha=1) "
                "on their out-of-fold expected scores rather than on the bin distributions."
            ),
        ),
        Recipe(
            name="astar-frames",
            reproduces="AudioMOS 2025 Track-1 winner's architecture: attention over frozen frame tokens, distribution heads, stacked",
            source="AudioMOS 2025 Track 1 winner; METHODS.md §5-6",
            figure="test system SRCC 0.991 overall / 0.952 textual",
            settings={
                "embedders": ["clap"],
                "heads": ["attn_mlp", "attn_mlp:onehot", "xattn"],
                "features": {"overall": ["audio"], "textual": ["audio", "text"]},
                "stack": True,
                "stack_method": "ridge",
                "params": _ASTAR_FRAMES,
            },
            instead=(
                "The winner read frozen MuQ frames (25 per second) and RoBERTa text tokens; clapmos has no MuQ embedder, "
                "so this recipe reads the store's frame tokens of clap (embed --frames: HTSAT's feature map, 3.2 per "
                "second) and the prompt's clip-level text vector. attn_mlp runs 2 Transformer encoder layers (the "
                "number is not published) over the tokens, then attentive pooling and an MLP, with a distribution "
                "output (20 bins on [1, 5], Gaussian σ 0.25, KL), reading the text vector too for textual; "
                "attn_mlp:onehot the same with one-hot targets (σ 0); xattn lets the text vector (not the text tokens) "
                "query the audio tokens, with the same distribution output. Three models instead of 8, each a 5-fold "
                "ensemble, stacked by Ridge(alpha=1) on their out-of-fold expected scores rather than on the bin "
                "distributions, fitted on the training split instead of dev."
            ),
        ),
        Recipe(
            name="moescore",
            reproduces="XACLE 2026 winner (MoEScore): one expert per encoder, a per-input gating network weighing their scores",
            source="MoEScore (XACLE 2026 winner, arXiv 2601.06829); METHODS.md §8",
            figure="test SRCC 0.6402 (validation: one CLAP expert 0.626-0.630, three 0.648, four 0.668)",
            settings={"embedders": ["m2d", "clap"], "heads": ["moe"], "features": ["audio", "text", "cosine"]},
            instead=(
                "Published: experts on LAION-CLAP, MGA-CLAP and M2D-CLAP features plus a BEATs + RoBERTa cross-attention "
                "expert, and a gating network weighing the experts' outputs per input. clapmos has no MGA-CLAP, BEATs or "
                "RoBERTa-token embedders, so this recipe has two experts, m2d and clap (each an MLP on that embedder's "
                "audio, text and cosine blocks), and a linear softmax gate on all the blocks, trained jointly. Not "
                "published (clapmos's moe defaults): the experts' and gate's layers (one hidden layer of 64; linear "
                "gate), the loss (MSE on standardised targets, plus 0.1 x each expert's own MSE), optimiser and "
                "schedule (AdamW 1e-3, batch 64, up to 100 epochs, early stopping on validation SRCC) and the seed; "
                "a 5-fold ensemble instead of one model."
            ),
        ),
    ]
}


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
    """Everything about one recipe: what it reproduces, its settings as options, and what it does instead."""
    item = recipe(name)
    lines = [f"{item.name}: {item.reproduces}", f"source: {item.source}", f"published: {item.figure}", "settings:"]
    for key, value in item.settings.items():
        if key == "params":
            lines += [f"  --param {k}={json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in value.items()]
        elif isinstance(value, bool):
            lines.append(f"  --{'stack' if value else 'average'}" if key == "stack" else f"  {_option(key)} {value}")
        else:
            lines.append(f"  {_option(key)} {_shown(value)}")
    if item.instead:
        lines += ["", item.instead]
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ";".join(f"{k}={','.join(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
