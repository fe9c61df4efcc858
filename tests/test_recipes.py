"""Recipes: each one's settings against METHODS.md (architecture, loss, optimiser, target scaling), and ``fit --recipe``.

The settings are checked on the heads ``fit_run`` would build (``member_pipelines``) for a
store laid out like the real one (M2D-CLAP 768 | 768, LAION-CLAP 512 | 512), networks
built by fitting zero epochs on random rows of that width.
"""

from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.preprocessing import Normalizer, StandardScaler
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.errors import ClapmosError
from clapmos.heads import (
    AttentionMLPRegressor,
    CoralRegressor,
    CrossAttentionRegressor,
    DistributionRegressor,
    SpoCosineRegressor,
    SvrRegressor,
    TorchMLPRegressor,
)
from clapmos.heads.nn.losses import XACLE_CLASS_EDGES
from clapmos.heads.nn.training import seed_from
from clapmos.heads.runs.recipes import RECIPES, apply_recipe, recipe
from clapmos.heads.runs.run import RunConfig, member_pipelines

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small networks: see conftest
M2D, CLAP = ("m2d", 768, 768), ("clap", 512, 512)


def config_of(name: str, **explicit) -> RunConfig:
    defaults = {"embedders": ["clap"], "heads": ["spo_mlp"], "params": {}, "stack": True, "random_state": 0}
    return RunConfig(**apply_recipe(name, {**defaults, **explicit}, set(explicit)))


def members(name: str, target: str, layout) -> dict:
    return dict(member_pipelines(config_of(name), target, layout))


def network_of(pipeline, width: int) -> list[str]:
    """The layers of the model's network, built by a zero-epoch fit of a copy on ``width`` columns."""
    model = clone(pipeline.named_steps["model"]).set_params(max_epochs=0, validation_fraction=0)
    model.fit(np.random.default_rng(0).normal(size=(16, width)), np.linspace(0, 10, 16))
    return [repr(layer) for layer in model.module_]


def test_the_six_recipes_exist_with_a_source_and_a_published_figure():
    assert list(RECIPES) == ["musiceval-baseline", "xacle2027-baseline", "spo-clapscore", "ensemble-svr", "astar-distribution", "astar-frames", "moescore"]
    for item in RECIPES.values():
        assert item.reproduces and "METHODS.md" in item.source and "SRCC" in item.figure
    assert all(RECIPES[name].deviations for name in RECIPES)  # none is exact on frozen clip embeddings: each says what differs


def test_xacle2027_baseline_is_the_published_network_loss_optimiser_and_scaling():
    config = config_of("xacle2027-baseline")
    assert config.embedders == ["m2d"] and config.features == ["audio", "text"] and config.random_state == 42
    (name, pipeline), = member_pipelines(config, "alignment", (M2D,))
    assert name == "mlp" and pipeline.named_steps["scale"] == "passthrough"
    features = pipeline.named_steps["features"]
    assert features.unit_norm is True and features.blocks == ("audio", "text")
    model = pipeline.named_steps["model"]
    assert isinstance(model, TorchMLPRegressor)
    assert network_of(pipeline, 1536) == [
        "Linear(in_features=1536, out_features=1024, bias=True)", "ReLU()", "Dropout(p=0.3, inplace=False)",
        "Linear(in_features=1024, out_features=256, bias=True)", "ReLU()", "Linear(in_features=256, out_features=1, bias=True)",
    ]
    # targets (y - 5) / 5, predictions 5 y' + 5
    assert model.target_scaling == (5.0, 5.0)
    # loss: 1.0 x class-balanced clipped MSE (tau 0.25, the published 1/B quirk) + 0.5 x class-balanced pairwise (margin 0.1)
    loss, _ = model._regression_loss(np.zeros((3, 1)))
    assert (loss.kind, loss.tau, loss.pairwise_weight, loss.margin, loss.class_weighting) == ("clipped_mse", 0.25, 0.5, 0.1, "published")
    assert model.beta == 0.99 and model.class_edges is None and XACLE_CLASS_EDGES[:3] == (-1, 1, 2)
    # Adam lr 2e-5, batch 12 with the last one dropped, 20 epochs, patience 10 on validation SRCC
    options = model._training_options()
    optimizer = options.make_optimizer(torch.nn.Linear(2, 1).parameters())
    assert type(optimizer) is torch.optim.Adam and optimizer.defaults["lr"] == 2e-5 and optimizer.defaults["weight_decay"] == 0
    assert (options.batch_size, options.drop_last, options.max_epochs, options.patience, options.monitor) == (12, True, 20, 10, "srcc")


@pytest.mark.parametrize(("target", "width"), [("overall", 512), ("textual", 1024)])
def test_musiceval_baseline_is_affine_layers_with_l1_and_sgd(target, width):
    config = config_of("musiceval-baseline")
    (_, pipeline), = member_pipelines(config, target, (CLAP,))
    assert pipeline.named_steps["features"].blocks == (("audio",) if target == "overall" else ("audio", "text"))
    assert pipeline.named_steps["scale"] == "passthrough"
    assert network_of(pipeline, width) == [
        f"Linear(in_features={width}, out_features=256, bias=True)", "Identity()",
        "Linear(in_features=256, out_features=64, bias=True)", "Identity()", "Linear(in_features=64, out_features=1, bias=True)",
    ]
    model = pipeline.named_steps["model"]
    assert (model.loss, model.dropout, model.target_scaling) == ("l1", 0.0, "none")
    options = model._training_options()
    optimizer = options.make_optimizer(torch.nn.Linear(2, 1).parameters())
    assert type(optimizer) is torch.optim.SGD and (optimizer.defaults["lr"], optimizer.defaults["momentum"]) == (5e-4, 0.9)
    assert (options.batch_size, options.patience, options.monitor) == (64, 20, "loss")


def test_spo_clapscore_is_the_cosine_map_with_screening_and_the_published_optimiser():
    config = config_of("spo-clapscore")
    assert (config.embedders, config.heads, config.screening_tau, config.random_state) == (["m2d"], ["cosine"], 5.0, 3)
    (_, pipeline), = member_pipelines(config, "alignment", (M2D,))
    model = pipeline.named_steps["model"]
    assert isinstance(model, SpoCosineRegressor)
    assert (model.optimizer, model.lr, model.lr_schedule, model.max_epochs, model.batch_size) == ("adam", 1e-4, "cosine", 50, 32)
    assert (model.pairwise_weight, model.margin, model.screening_tau) == (0.5, 0.1, 5.0)
    # early stopping on validation SRCC with patience 20, last batches dropped (the authors' code), z start 10·cos
    assert (model.monitor, model.patience, model.drop_last, model.score_top) == ("srcc", 20, True, 10.0)
    assert model.drop_unscreened is True  # clips with a single rating, or emptied by screening, are dropped


def test_ensemble_svr_is_two_rbf_svrs_on_proximity_features_blended_non_negatively_and_clipped():
    config = config_of("ensemble-svr")
    assert config.stack and config.stack_method == "nnls" and config.clip == [0.0, 10.0]
    built = members("ensemble-svr", "alignment", (M2D, CLAP))
    assert list(built) == ["svr:a", "svr:b"]
    for name, epsilon, embedder, blocks in [
        ("svr:a", 0.08, "m2d", ("audio", "text", "cosine", "angular", "l1", "l2")),
        ("svr:b", 0.02, "clap", ("audio", "text", "l1")),
    ]:
        pipeline = built[name]
        assert [type(pipeline.named_steps[s]) for s in ("normalize", "scale")] == [Normalizer, StandardScaler]
        model = pipeline.named_steps["model"]
        assert isinstance(model, SvrRegressor)
        assert (model.C, model.gamma, model.epsilon, tuple(model.target_scaling)) == (0.5, "scale", epsilon, (5.0, 5.0))
        features = pipeline.named_steps["features"]
        assert tuple(features.embedders) == (embedder,) and tuple(features.blocks) == blocks


def test_astar_distribution_is_gaussian_one_hot_and_coral_heads_over_20_bins_stacked_by_ridge():
    config = config_of("astar-distribution")
    assert config.stack and config.stack_method == "ridge"
    built = members("astar-distribution", "overall", (CLAP,))
    assert list(built) == ["dist", "dist:onehot", "coral"]
    gaussian, onehot, coral = (built[name].named_steps["model"] for name in built)
    assert isinstance(gaussian, DistributionRegressor) and isinstance(coral, CoralRegressor)
    assert (gaussian.n_bins, gaussian.sigma, onehot.sigma, coral.n_bins) == (20, 0.25, 0.0, 20)
    gaussian.set_params(max_epochs=0, validation_fraction=0).fit(np.zeros((4, 3)), np.array([2.0, 3.0, 3.5, 4.0]))
    np.testing.assert_allclose(gaussian.bin_centers_[0], np.linspace(1, 5, 20))
    assert built["dist"].named_steps["features"].blocks == ("audio",)


@pytest.mark.parametrize(("target", "branch"), [("overall", "attn_mlp"), ("textual", "xattn")])
def test_astar_frames_is_attention_over_frame_tokens_with_distribution_outputs_stacked_by_ridge(target, branch):
    """Overall: attention pooling over the audio tokens alone; textual: the text queries the audio tokens."""
    config = config_of("astar-frames")
    assert config.embedders == ["clap"] and config.stack and config.stack_method == "ridge"
    built = {name: pipeline.named_steps["model"] for name, pipeline in members("astar-frames", target, (CLAP,)).items()}
    assert list(built) == [branch, f"{branch}:onehot"]
    gaussian, onehot = built.values()
    assert isinstance(gaussian, {"attn_mlp": AttentionMLPRegressor, "xattn": CrossAttentionRegressor}[branch])
    for model in built.values():
        assert (model.output, model.n_bins, tuple(model.score_range)) == ("distribution", 20, (1.0, 5.0))
    assert (gaussian.sigma, onehot.sigma) == (0.25, 0.0)
    if branch == "attn_mlp":
        assert gaussian.n_layers == onehot.n_layers == 2
        assert gaussian.use_text is False and onehot.use_text is False  # the published overall branch reads no text
    assert config.needs_text("overall") is False and config.needs_text("textual") is True


def _normalised(text: str) -> str:
    return " ".join(text.replace("**", "").split())


def test_every_published_value_a_recipe_shows_is_quoted_from_methods():
    """`clapmos recipes NAME` shows each setting's published value: a quote of METHODS.md, or a description in parentheses."""
    from pathlib import Path

    methods = _normalised((Path(__file__).resolve().parents[2] / "shared" / "docs" / "METHODS.md").read_text())
    for item in RECIPES.values():
        assert len(item.comparison) >= 8, item.name
        for row in item.comparison:
            quoted = row.published.startswith("(") and row.published.endswith(")")
            assert quoted or _normalised(row.published) in methods, (item.name, row.name, row.published)
            assert row.ours, (item.name, row.name)


# every setting METHODS.md §2, §3 and §5 states, as the value the recipe's heads are built with
PUBLISHED = {
    "musiceval-baseline": {"mlp.hidden_sizes": (256, 64), "mlp.activation": "identity", "mlp.dropout": 0.0, "mlp.loss": "l1",
                           "mlp.target_scaling": "none", "mlp.optimizer": "sgd", "mlp.lr": 5e-4, "mlp.momentum": 0.9,
                           "mlp.batch_size": 64, "mlp.patience": 20, "mlp.monitor": "loss"},
    "xacle2027-baseline": {"mlp.hidden_sizes": (1024, 256), "mlp.activation": "relu", "mlp.dropout": (0.3, 0.0), "mlp.loss": "clipped_mse",
                           "mlp.tau": 0.25, "mlp.pairwise_weight": 0.5, "mlp.margin": 0.1, "mlp.class_balance": "published",
                           "mlp.beta": 0.99, "mlp.target_scaling": (5.0, 5.0), "mlp.optimizer": "adam", "mlp.lr": 2e-5,
                           "mlp.batch_size": 12, "mlp.drop_last": True, "mlp.max_epochs": 20, "mlp.patience": 10,
                           "mlp.monitor": "srcc", "mlp.keep_initial": False, "mlp.features__unit_norm": True, "random_state": 42},
    "spo-clapscore": {"cosine.optimizer": "adam", "cosine.lr": 1e-4, "cosine.lr_schedule": "cosine", "cosine.max_epochs": 50,
                      "cosine.batch_size": 32, "cosine.pairwise_weight": 0.5, "cosine.margin": 0.1, "cosine.monitor": "srcc",
                      "cosine.patience": 20, "cosine.drop_last": True, "cosine.drop_unscreened": True, "cosine.score_top": 10.0,
                      "screening_tau": 5.0, "random_state": 3},
    "ensemble-svr": {"svr.C": 0.5, "svr.gamma": "scale", "svr:a.epsilon": 0.08, "svr:b.epsilon": 0.02, "svr.target_scaling": (5.0, 5.0),
                     "clip": [0.0, 10.0]},
    "astar-distribution": {"dist.n_bins": 20, "dist.sigma": 0.25, "dist.score_range": (1.0, 5.0), "dist:onehot.sigma": 0.0,
                           "coral.n_bins": 20, "stack_method": "ridge"},
    "astar-frames": {"attn_mlp.n_bins": 20, "attn_mlp.sigma": 0.25, "xattn.sigma": 0.25, "attn_mlp:onehot.sigma": 0.0,
                     "xattn:onehot.sigma": 0.0, "attn_mlp.score_range": (1.0, 5.0), "stack_method": "ridge"},
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_every_setting_equals_the_value_methods_states(name):
    settings = RECIPES[name].settings
    for key, published in PUBLISHED[name].items():
        ours = settings["params"][key] if "." in key else settings[key]
        assert ours == published, (name, key, ours, published)


def test_explicit_options_override_the_recipe_and_params_merge():
    config = config_of("xacle2027-baseline", embedders=["clap"], params={"mlp.lr": 1e-3, "dropout": 0.5}, cv=3)
    assert config.embedders == ["clap"] and config.cv == 3 and config.recipe == "xacle2027-baseline"
    assert config.params["mlp.lr"] == 1e-3 and config.params["mlp.batch_size"] == 12
    (_, pipeline), = member_pipelines(config, "alignment", (CLAP,))
    assert pipeline.named_steps["model"].lr == 1e-3
    assert pipeline.named_steps["model"].dropout == 0.5  # yours wins, though the recipe's mlp.dropout is more specific
    assert "mlp.dropout" not in config.params


def test_a_plain_param_overrides_every_member_setting_of_the_recipe():
    config = config_of("astar-frames", params={"sigma": 0.5, "attn_mlp.n_layers": 1})
    built = {name: pipeline.named_steps["model"] for name, pipeline in member_pipelines(config, "overall", (CLAP,))}
    assert [model.sigma for model in built.values()] == [0.5, 0.5]  # attn_mlp:onehot's sigma 0 too
    assert built["attn_mlp"].n_layers == built["attn_mlp:onehot"].n_layers == 1


def test_extra_heads_join_the_recipe_with_their_own_defaults():
    config = config_of("xacle2027-baseline", heads=["mlp", "ridge"])
    built = dict(member_pipelines(config, "alignment", (M2D,)))
    assert built["mlp"].named_steps["model"].loss == "clipped_mse" and "scale" in built["ridge"].named_steps


@pytest.mark.parametrize(
    ("name", "explicit", "message"),
    [
        ("xacle2027-baseline", {"heads": ["ridge"]}, "made of --head mlp; --head ridge drops mlp"),
        ("ensemble-svr", {"features": ["audio"]}, "--features cannot be honoured: its two SVRs read their own blocks"),
        ("ensemble-svr", {"embedders": ["m2d"]}, "member svr:b reads the clap embedder"),
        ("musiceval-baseline", {"screening_tau": 5.0}, "--screening-tau screens listener ratings, but none of its heads"),
        ("whisper-svr", {}, "--recipe 'whisper-svr' does not exist; choose one of musiceval-baseline"),
    ],
)
def test_options_a_recipe_cannot_honour_are_refused_naming_them(name, explicit, message):
    with pytest.raises(ClapmosError, match=message):
        config_of(name, **explicit)


def test_a_member_pointed_at_another_embedder_is_honoured():
    config = config_of("ensemble-svr", embedders=["m2d"], params={"svr:b.features__embedders": ["m2d"]})
    assert config.params["svr:b.features__embedders"] == ["m2d"]
    assert recipe("ensemble-svr").member_embedders() == {"svr:a": ["m2d"], "svr:b": ["clap"]}


# ----------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from clapmos.embed.corpora import read_corpus
    from clapmos.embed.corpora.demo import make_demo_corpus
    from clapmos.embed.engines.runner import embed_corpus
    from clapmos.embed.store import FeatureStore

    folder = tmp_path_factory.mktemp("recipes")
    make_demo_corpus(folder / "corpus", n_clips=60, seed=0)
    store = FeatureStore.create(folder / "demo" / "store.zarr", read_corpus("musiceval", folder / "corpus"))
    embed_corpus(store, "spectral", progress=False, frames=True)
    return folder / "demo"


def run(args: str):
    return CliRunner().invoke(cli.app, shlex.split(args), catch_exceptions=False)


def test_the_recipes_command_lists_name_source_and_figure():
    result = run("recipes")
    assert result.exit_code == 0
    for item in RECIPES.values():
        assert item.name in result.output and item.figure in result.output
    detail = run("recipes xacle2027-baseline")
    assert "--param mlp.class_balance=\"published\"" in detail.output and "5-fold ensemble" in detail.output
    assert "| seed | seed 42 | 42: the model of --cv 1" in detail.output
    for name, item in RECIPES.items():  # every setting, with its published value, ours and why
        shown = " ".join(run(f"recipes {name}").output.split())
        for row in item.comparison:
            assert " ".join(f"| {row.name} | {row.published} | {row.ours} | {row.why or '-'} |".split()) in shown
    assert run("recipes nope").exit_code == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--recipe nope", "--recipe 'nope' does not exist"),
        ("--recipe xacle2027-baseline --embedder spectral --head ridge", "drops mlp"),
        ("--recipe ensemble-svr --embedder spectral", "reads the m2d embedder"),
        ("--recipe xacle2027-baseline --embedder spectral --param mlp.tau=-1", "--param mlp.tau=-1: The 'tau' parameter of TorchMLPRegressor must be a float in the range [0.0, inf)"),
        ("--recipe astar-distribution --embedder spectral --param dist.n_bins=1", "--param dist.n_bins=1: The 'n_bins' parameter of DistributionRegressor must be an int in the range [2, 1000]"),
    ],
)
def test_bad_recipe_input_exits_2_with_one_message_and_writes_nothing(demo_store, options, message):
    out = demo_store / "refused"
    result = run(f"fit --store {demo_store / 'store.zarr'} --out {out} {options}")
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not out.exists()


def test_a_recipe_runs_end_to_end_with_overrides_and_records_itself(demo_store):
    out = demo_store / "xacle2027"
    result = run(
        f"fit --store {demo_store / 'store.zarr'} --recipe xacle2027-baseline --embedder spectral --target overall "
        f"--cv 2 --param mlp.max_epochs=2 --eval-split dev --no-plots --out {out}"
    )
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "xacle2027-baseline" and config["random_state"] == 42 and config["cv"] == 2
    assert config["params"]["mlp.max_epochs"] == 2 and config["params"]["mlp.loss"] == "clipped_mse"
    predicted = run(f"predict --model {out} --store {demo_store / 'store.zarr'} --split dev --out {demo_store / 'p.csv'}")
    assert predicted.exit_code == 0, predicted.output


def test_the_frames_recipe_runs_end_to_end_on_frame_tokens(demo_store):
    out = demo_store / "astar-frames"
    quick = " ".join(f"--param {head}.{setting}" for head in ("attn_mlp", "xattn") for setting in ("d_model=16", "n_heads=2", "max_epochs=2"))
    result = run(f"fit --store {demo_store / 'store.zarr'} --recipe astar-frames --embedder spectral --cv 2 {quick} --eval-split dev --no-plots --out {out}")
    assert result.exit_code == 0, result.output
    assert "| attn_mlp:onehot | overall |" in result.output and "| xattn | textual |" in result.output
    assert "| xattn | overall |" not in result.output and "| attn_mlp | textual |" not in result.output
    assert json.loads((out / "provenance.json").read_text())["frames"]["spectral"]["frame_rate"] == 5.0


def test_the_svr_blend_runs_end_to_end_clipped_to_its_range(demo_store):
    out = demo_store / "svr"
    result = run(
        f"fit --store {demo_store / 'store.zarr'} --recipe ensemble-svr --embedder spectral --target overall --cv 2 "
        f"--param 'svr:a.features__embedders=[\"spectral\"]' --param 'svr:b.features__embedders=[\"spectral\"]' "
        f"--clip 2,4 --no-plots --out {out}"
    )
    assert result.exit_code == 0, result.output
    import pandas as pd

    oof = pd.read_csv(out / "oof_predictions.csv")
    assert oof["overall_pred"].between(2, 4).all() and {"overall_pred_svr:a", "overall_pred_svr:b"} <= set(oof.columns)


def test_the_readmes_demo_recipe_commands_run(demo_store, monkeypatch):
    """The README's "reproduce, then beat" demo block, verbatim, on a smaller demo store."""
    from tests.test_readme import code_blocks, commands

    block = next(b for b in code_blocks("bash") if "--recipe" in b and "demo/store.zarr" in b)
    monkeypatch.chdir(demo_store.parent)
    for command in commands(block):
        result = CliRunner().invoke(cli.app, shlex.split(command)[1:], catch_exceptions=False)
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert "per head (out-of-fold)" in result.output and "| svr |" in result.output


def test_features_per_target_and_tagged_members_from_the_command_line(demo_store):
    store, out = demo_store / "store.zarr", demo_store / "per-target"
    result = run(f"fit --store {store} --embedder spectral --head ridge,ridge:strong --param ridge:strong.model__alphas=[1000.0,3000.0] "
                 f"--features 'overall=audio;textual=audio,text,l2' --cv 2 --no-plots --out {out}")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["features"] == {"overall": ["audio"], "textual": ["audio", "text", "l2"]}
    assert config["heads"] == ["ridge", "ridge:strong"]
    for options, message in [
        ("--head ridge --features overall=audio", "--features names blocks for overall but not for target(s) textual"),
        ("--head ridge --features audio,melody", "--features: unknown or empty block(s) melody"),
        ("--head ridge,ridge", "a second member of one head needs a tag: svr:a,svr:b"),
        ("--head ridge --features 'overall=;textual=audio'", "expected TARGET=BLOCKS;TARGET=BLOCKS"),
    ]:
        refused = run(f"fit --store {store} --embedder spectral {options} --out {demo_store / 'refused'}")
        assert refused.exit_code == 2 and message in " ".join(refused.output.split()), options


def test_a_single_model_run_trains_with_the_published_seed_and_records_it(demo_store):
    """--cv 1: the published protocol's one model, seeded with 42 itself; config.json records each model's seed."""
    out, folds = demo_store / "xacle2027-single", demo_store / "xacle2027-folds"
    common = f"fit --store {demo_store / 'store.zarr'} --recipe xacle2027-baseline --embedder spectral --target overall --param mlp.max_epochs=1 --no-plots"
    result = run(f"{common} --cv 1 --eval-split dev --out {out}")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model_seeds"] == {"overall": {"mlp": [42]}} and config["cv"] == 1
    assert run(f"{common} --cv 2 --seeds 2 --out {folds}").exit_code == 0
    assert json.loads((folds / "config.json").read_text())["model_seeds"] == {"overall": {"mlp": [42, 42, 43, 43]}}
    from clapmos.heads.runs.run import load_run

    (pipeline,) = load_run(out).models["overall"].models_["mlp"]
    model = pipeline.named_steps["model"]
    assert model.random_state == 42 and seed_from(model.random_state) == 42  # torch is seeded with 42 itself
    assert "no out-of-fold scores" in result.output and (out / "eval").is_dir() and not (out / "cv").exists()


@pytest.mark.parametrize(
    ("head_targets", "targets", "message"),
    [
        ({"xattn": ["textual"]}, None, "head_targets names xattn, not a member of --head ridge,mlp"),
        ({"ridge": ["textual"], "mlp": ["textual"]}, None, "target(s) overall: none of --head ridge,mlp is fitted for it"),
    ],
)
def test_members_limited_to_targets_must_exist_and_leave_no_target_without_a_head(demo_store, head_targets, targets, message):
    from clapmos.embed.store import FeatureStore

    config = RunConfig(embedders=["spectral"], heads=["ridge", "mlp"], head_targets=head_targets, targets=targets)
    with pytest.raises(ClapmosError, match=re.escape(message)):
        config.check(FeatureStore.open(demo_store / "store.zarr"))
    assert RunConfig(embedders=["spectral"], heads=["ridge", "mlp"], head_targets={"mlp": ["textual"]}).members("overall") == ["ridge"]
