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
why they differ (``clapmos recipes NAME``). A recipe is one entry of :data:`RECIPES`.

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
class Setting:
    """One setting of a recipe: the published value, ours, and why they differ (``""``: they do not).

    ``published`` quotes ``METHODS.md`` (a test finds every quote there); a value in
    parentheses describes what METHODS.md does not state in so many words.
    """

    name: str
    published: str
    ours: str
    why: str = ""


def same(name: str, published: str, ours: str = "as published") -> Setting:
    return Setting(name, published, ours)


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
    comparison : tuple of Setting
        Every setting: published, ours, and why they differ.
    fixed : mapping
        Fields an explicit option may not change, with the reason.
    """

    name: str
    reproduces: str
    source: str
    figure: str
    settings: Mapping[str, Any]
    comparison: tuple[Setting, ...] = ()
    fixed: Mapping[str, str] = field(default_factory=dict)

    @property
    def members(self) -> list[str]:
        return list(self.settings.get("heads", []))

    @property
    def deviations(self) -> list[Setting]:
        """The settings that differ from the published system."""
        return [row for row in self.comparison if row.why]

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
    "mlp.keep_initial": False,
    "mlp.scale": "passthrough",
    "mlp.features__unit_norm": True,
}

_SPO_COSINE = {
    "cosine.score_top": 10.0,
    "cosine.optimizer": "adam",
    "cosine.lr": 1e-4,
    "cosine.lr_schedule": "cosine",
    "cosine.max_epochs": 50,
    "cosine.batch_size": 32,
    "cosine.drop_last": True,
    "cosine.monitor": "srcc",
    "cosine.patience": 20,
    "cosine.drop_unscreened": True,
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
    "xattn:onehot.sigma": 0.0,
}

_FOLDS = "each fold model early-stops on 10% of its training rows"
_HELD_OUT = "the validation/dev split stays held out for evaluation (fit --eval-split)"
_ENSEMBLE_WHY = "fold models give honest out-of-fold scores and an uncertainty; --cv 1 trains the single published model"
_ASTAR_SHARED = (
    Setting("encoder", "Frozen MuQ (music SSL, 1024-d frames at 25 Hz, 24 kHz input) and frozen RoBERTa-base",
            "the store's clap clip embeddings (512-d audio and text)", "clapmos has no MuQ embedder"),
    same("bins", "K = 20 bins with centres c_k = linspace(1, 5, 20)"),
    same("Gaussian targets", "p_k ∝ exp(−(s − c_k)²/(2σ²)), σ = 0.25"),
    same("loss", "loss KL(p ‖ q) averaged over the batch"),
    same("prediction", "Prediction: Σ_k q_k·c_k"),
)

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
            comparison=(
                Setting("encoder", "the whole CLAP model was fine-tuned together with the heads", "CLAP frozen: the store's clap embeddings",
                        "clapmos trains heads on embeddings computed once"),
                Setting("audio input", "cropped to the first 480,000 samples, and fed to CLAP **without resampling**",
                        "every 10 s window, resampled to 48 kHz, embeddings averaged",
                        "unresampled 16 kHz audio plays music 3× fast (METHODS.md §2); the windows' mean covers the whole clip"),
                same("overall head", "Overall head: audio embedding only, three linear layers 512 → 256 → 64 → 1"),
                same("textual head", "Textual head: audio and text embeddings concatenated, 1024 → 256 → 64 → 1"),
                same("layers", "No activations between the layers (each head is an affine map), no dropout, raw MOS targets"),
                Setting("loss", "L1 loss per head, summed", "L1 per head, each target's head trained on its own",
                        "with a frozen encoder the summed L1 of two heads trains them independently: the same optimum"),
                same("optimiser", "SGD lr 5e-4, momentum 0.9; batch 64"),
                Setting("early stopping", "early stopping with patience 20 on validation L1", f"patience 20 on validation L1; {_FOLDS}", _HELD_OUT),
                Setting("max epochs", "(not published)", "300", "a bound is needed; early stopping ends training before it"),
                Setting("protocol", "(one model)", "5-fold ensemble", _ENSEMBLE_WHY),
            ),
        ),
        Recipe(
            name="xacle2027-baseline",
            reproduces="XACLE 2027 official baseline: M2D-CLAP audio+text into an MLP, class-balanced clipped MSE + pairwise",
            source="second XACLE challenge (2027) official baseline; METHODS.md §5",
            figure="validation SRCC 0.5844 (LCC 0.5995, KTAU 0.4186, MSE 3.6368); test SRCC 0.5648",
            settings={"embedders": ["m2d"], "heads": ["mlp"], "features": ["audio", "text"], "random_state": 42, "params": _XACLE2027_MLP},
            comparison=(
                same("features", "frozen M2D-CLAP 2025 audio and text embeddings (768-d each), each L2-normalised"),
                same("network", "Linear(1536→1024), ReLU, Dropout 0.3, Linear(1024→256), ReLU, then Linear(256→1)"),
                same("targets", "y' = (average_score − 5)/5"),
                same("loss", "Loss = 1.0 × ClippedMSE + 0.5 × Pairwise, both \"class-balanced\" with β = 0.99"),
                same("clipped MSE", "the term equals (1/B) × mean_i(1[|ŷ_i − y_i| > τ] · e_i)"),
                same("pairwise", "Pairwise (margin 0.1)"),
                Setting("class counts", "n_c = number of training clips in the clip's bin", "clips of the rows the model is fitted on in the bin",
                        "a fold model counts its fold's rows (--cv 1: the whole training split)"),
                same("optimiser", "Adam lr 2e-5, batch 12 (drop last), 20 epochs"),
                Setting("early stopping", "early stop patience 10 on validation SRCC, best checkpoint by validation SRCC",
                        f"patience 10 on validation SRCC, best trained epoch (keep_initial false); {_FOLDS}", _HELD_OUT),
                same("seed", "seed 42", "42: the model of --cv 1, and every fold model of the first repetition (config.json model_seeds)"),
                Setting("protocol", "(one model trained on train, early-stopped on validation)", "5-fold ensemble on the training split", _ENSEMBLE_WHY),
            ),
        ),
        Recipe(
            name="spo-clapscore",
            reproduces="SPO-CLAPScore (XACLE, 6th place): z = a·cos(audio, text) + b on SPO listener targets",
            source="SPO-CLAPScore (XACLE 2026); METHODS.md §3",
            figure="test SRCC 0.6142",
            settings={"embedders": ["m2d"], "heads": ["cosine"], "screening_tau": 5.0, "random_state": 3, "params": _SPO_COSINE},
            comparison=(
                Setting("encoder", "audio encoder fine-tuned", "M2D-CLAP frozen: only the affine map z = a·cos + b trains",
                        "clapmos trains heads on embeddings computed once; the ranking, hence SRCC, is the zero-shot cosine's"),
                same("model", "the cosine of M2D-CLAP audio and text embeddings mapped affinely into z-space (10·cos − μ_g)/σ_g",
                     "from that start (score_top 10)"),
                same("screening", "τ = 5 in the published run. Applied to train and validation."),
                same("unscreenable clips", "a single rating is kept only if at least one *other* rating of the same clip lies within τ of it",
                     "clips with a single rating, or emptied by screening, dropped (drop_unscreened)"),
                same("targets", "The clip target is the mean of its ratings' z"),
                same("validation targets", "Splits whose listeners are unseen (validation, test) are mapped with the global statistics",
                     "validation rows screened and mapped with the training μ_g, σ_g"),
                same("loss", "1.0 × MSE(ŷ, y) + 0.5 × pairwise term"),
                same("margin", "margin m = 0.1"),
                same("batch", "(batch 32)", "32, drop last"),
                same("optimiser", "Adam lr 1e-4, cosine schedule, 50 epochs"),
                Setting("early stopping", "early stop on validation SRCC", f"validation SRCC, ties by validation loss, patience 20; {_FOLDS}", _HELD_OUT),
                same("seed", "seed 3", "3: the model of --cv 1, and every fold model of the first repetition"),
                Setting("output", "Submission wrote 10·cos, i.e. it never mapped z back", "μ_g + σ_g·z on the 0–10 scale",
                        "so that MSE is meaningful (SRCC unaffected), as METHODS.md advises"),
                Setting("protocol", "(one model)", "5-fold ensemble", _ENSEMBLE_WHY),
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
            comparison=(
                Setting("SVR A inputs", "SVR A: [M2D-CLAP, MS-CLAP, MGA-CLAP] blocks above",
                        "svr:a: m2d audio, text, cosine, angular, L1, L2", "clapmos has no MS-CLAP or MGA-CLAP embedder"),
                Setting("SVR B inputs", "SVR B: LAION-CLAP audio + text + L1, plus Whisper features", "svr:b: clap audio, text, L1",
                        "no Whisper features by default (add an embedder with --param svr:b.features__embedders=[...])"),
                Setting("distance maxima", "each divided by its maximum", "maxima learnt on the training rows",
                        "the published code took them over whichever split it transformed; an estimator learns them in fit"),
                same("preprocessing", "Preprocessing: `Normalizer()` (unit rows) then `StandardScaler()`"),
                same("SVR", "RBF kernel, C = 0.5, γ = \"scale\", ε = 0.08 (A) and 0.02 (B)"),
                same("targets", "Targets (y − 5)/5"),
                Setting("blend", "w fitted by TNC to minimise training RMSE", "non-negative weights, no intercept, fitted by NNLS on out-of-fold predictions",
                        "in-sample RBF-SVR predictions overfit, so their weights would be too; non-negative (the published TNC had no bounds) "
                        "keeps a member from being subtracted"),
                same("clip", "clipped to [0, 10]"),
                Setting("protocol", "(one model per SVR)", "each SVR a 5-fold ensemble", "the blend needs out-of-fold predictions"),
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
            comparison=(
                *_ASTAR_SHARED,
                Setting("network", "Overall branch: Transformer layers over the audio frames, attentive pooling, MLP",
                        "MLPs on clip embeddings: audio for overall, audio and text for textual", "clip embeddings only (astar-frames reads frames)"),
                same("one-hot variant", "(one-hot variant: the nearest bin)", "dist:onehot (σ 0)"),
                same("CORAL", "CORAL variant: K − 1 binary tasks", "coral (20 bins)"),
                Setting("models", "Final submission: 8 such models", "3 heads, each a 5-fold ensemble", "one model per head type; add heads to taste"),
                Setting("stacking", "stacked by a Ridge(alpha=1) (or LightGBM) meta-model on their concatenated bin distributions",
                        "Ridge(alpha=1) on their expected scores", "CVEnsemble stacks the members' scores, not their distributions"),
                Setting("stacked on", "fitted on the dev split", "out-of-fold predictions of the training split", _HELD_OUT),
            ),
        ),
        Recipe(
            name="astar-frames",
            reproduces="AudioMOS 2025 Track-1 winner's architecture: attention over frozen frame tokens, distribution heads, stacked",
            source="AudioMOS 2025 Track 1 winner; METHODS.md §5-6",
            figure="test system SRCC 0.991 overall / 0.952 textual",
            settings={
                "embedders": ["clap"],
                "heads": ["attn_mlp", "attn_mlp:onehot", "xattn", "xattn:onehot"],
                "head_targets": {"attn_mlp": ["overall"], "attn_mlp:onehot": ["overall"], "xattn": ["textual"], "xattn:onehot": ["textual"]},
                "features": {"overall": ["audio"], "textual": ["audio", "text"]},
                "stack": True,
                "stack_method": "ridge",
                "params": _ASTAR_FRAMES,
            },
            comparison=(
                Setting("encoder", "Frozen MuQ (music SSL, 1024-d frames at 25 Hz, 24 kHz input) and frozen RoBERTa-base",
                        "clap frame tokens (HTSAT's feature map, 3.2 per second; embed --frames)", "clapmos has no MuQ embedder"),
                Setting("overall branch", "Overall branch: Transformer layers over the audio frames, attentive pooling, MLP",
                        "attn_mlp and attn_mlp:onehot on the audio tokens only, 2 encoder layers", "the number of layers is not published"),
                Setting("textual branch", "Textual branch: the text tokens cross-attend to the audio frames",
                        "xattn and xattn:onehot: the prompt's text vector queries the audio tokens",
                        "the store keeps one text vector per prompt, not its tokens"),
                *_ASTAR_SHARED[1:],
                same("one-hot variant", "(one-hot variant: the nearest bin)", "attn_mlp:onehot, xattn:onehot (σ 0)"),
                Setting("models", "Final submission: 8 such models", "2 per target, each a 5-fold ensemble", "one model per target type"),
                Setting("stacking", "stacked by a Ridge(alpha=1) (or LightGBM) meta-model on their concatenated bin distributions",
                        "Ridge(alpha=1) on their expected scores", "CVEnsemble stacks the members' scores, not their distributions"),
                Setting("stacked on", "fitted on the dev split", "out-of-fold predictions of the training split", _HELD_OUT),
            ),
        ),
        Recipe(
            name="moescore",
            reproduces="XACLE 2026 winner (MoEScore): one expert per encoder, a per-input gating network weighing their scores",
            source="MoEScore (XACLE 2026 winner, arXiv 2601.06829); METHODS.md §8",
            figure="test SRCC 0.6402 (validation: one CLAP expert 0.626-0.630, three 0.648, four 0.668)",
            settings={"embedders": ["m2d", "clap"], "heads": ["moe"], "features": ["audio", "text", "cosine"]},
            comparison=(
                Setting("experts", "experts on LAION-CLAP, MGA-CLAP and M2D-CLAP features plus a BEATs + RoBERTa cross-attention expert",
                        "two experts, m2d and clap: an MLP (one hidden layer of 64) on each embedder's audio, text and cosine blocks",
                        "clapmos has no MGA-CLAP, BEATs or RoBERTa-token embedders"),
                same("gate", "a gating network weighs the experts' outputs per input",
                     "a linear softmax gate on all the blocks, trained jointly with the experts"),
                Setting("network sizes", "(not published)", "one hidden layer of 64 per expert; a linear gate", "clapmos's moe defaults"),
                Setting("loss", "(not published)", "MSE on standardised targets, plus 0.1 x each expert's own MSE", "clapmos's moe defaults"),
                Setting("optimiser", "(not published)", "AdamW 1e-3, batch 64, up to 100 epochs, early stopping on validation SRCC",
                        "clapmos's moe defaults"),
                Setting("seed", "(not published)", "clapmos's default seed", "not published"),
                Setting("models", "(one model)", "a 5-fold ensemble", "clapmos's default --cv 5; --cv 1 trains one"),
                same("training data", "(the XACLE training split, its validation split held out)", "--split train, --eval-split validation"),
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
