"""laion-clap without downloads and without torchvision: importing it, and building ``CLAP_Module``.

laion-clap 1.1.7 reaches for the network or for missing packages in three places,
none of which its inference path needs:

1. ``import laion_clap`` imports torchvision (for training and image code). Where
   ``import torchvision`` fails, :func:`import_laion_clap` puts a stand-in module in
   ``sys.modules`` whose attributes refuse to be used, after asking transformers'
   cached ``is_torchvision_available()`` so that transformers keeps seeing no
   torchvision.
2. The same import builds three tokenizers from the Hugging Face hub at module level
   (used only by training code). During the import their ``from_pretrained`` reads
   the local cache only, so a machine without network never waits on retries;
   without a cache transformers returns a placeholder, as upstream does offline.
3. ``CLAP_Module(...)`` calls ``RobertaModel.from_pretrained('roberta-base')`` (a
   500 MB download that the checkpoint overwrites at once) and
   ``RobertaTokenizer.from_pretrained('roberta-base')``. :func:`build_clap_module`
   answers both locally: the text tower from roberta-base's configuration written
   here, the tokenizer from the caller.

Each redirection patches ``from_pretrained`` on the transformers class only while the
import or the constructor runs, and only for the name laion-clap asks for; any other
name goes to the original. This keeps the package's own ``CLAP_Module`` and its
embedding functions (which the equivalence tests compare against) instead of copying
its construction code.

>>> roberta_base_config().num_hidden_layers, roberta_base_config(layers=1).max_position_embeddings
(12, 514)
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

ROBERTA_BASE_VOCAB = 50265
TORCHVISION_MODULES = ("torchvision", "torchvision.datasets", "torchvision.transforms", "torchvision.ops", "torchvision.ops.misc")


def roberta_base_config(layers: int = 12, vocab_size: int = ROBERTA_BASE_VOCAB) -> Any:
    """roberta-base's configuration (as published with its weights), with ``layers`` encoder layers."""
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=768,
        num_hidden_layers=layers,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=514,
        type_vocab_size=1,
        initializer_range=0.02,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )


def import_laion_clap() -> types.ModuleType:
    """``import laion_clap`` with no hub access and, where needed, a torchvision stand-in."""
    if "laion_clap" in sys.modules:
        return sys.modules["laion_clap"]
    _ensure_torchvision_importable()
    from transformers import BartTokenizer, BertTokenizer, RobertaTokenizer

    with _local_files_only(BertTokenizer), _local_files_only(RobertaTokenizer), _local_files_only(BartTokenizer):
        return importlib.import_module("laion_clap")


def build_clap_module(tokenizer: Any, text_layers: int = 12, vocab_size: int = ROBERTA_BASE_VOCAB, device: str = "cpu") -> Any:
    """laion-clap's ``CLAP_Module`` (HTSAT-base, non-fusion, RoBERTa) with random weights, in eval mode.

    The text tower is built from :func:`roberta_base_config` and ``tokenizer`` becomes
    the module's tokenizer; nothing is downloaded. Load a checkpoint into ``.model`` next.
    """
    laion_clap = import_laion_clap()
    from transformers import RobertaModel, RobertaTokenizer

    config = roberta_base_config(text_layers, vocab_size)
    with (
        _answer_locally(RobertaModel, "roberta-base", lambda: RobertaModel(config)),
        _answer_locally(RobertaTokenizer, "roberta-base", lambda: tokenizer),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)
        module = laion_clap.CLAP_Module(enable_fusion=False, device=str(device), amodel="HTSAT-base", tmodel="roberta")
    return module.eval()


def _ensure_torchvision_importable() -> None:
    try:
        import torchvision  # noqa: F401
    except Exception as error:  # absent, or a build for another torch/CUDA that fails at import
        from transformers.utils.import_utils import is_torchvision_available

        is_torchvision_available()  # cached by transformers: answer before the stand-in exists
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        for name in TORCHVISION_MODULES:
            sys.modules[name] = _TorchvisionStandIn(name)
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, sys.modules[name])
        log.debug(
            "import torchvision failed (%s: %s); installed a stand-in module so that laion_clap imports "
            "(its non-fusion audio and text path never uses torchvision)",
            type(error).__name__,
            error,
        )


class _TorchvisionStandIn(types.ModuleType):
    """A module whose every attribute is a class that refuses to be instantiated."""

    def __getattr__(self, attr: str) -> type:
        if attr.startswith("__"):
            raise AttributeError(attr)
        qualified = f"{self.__name__}.{attr}"

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError(f"{qualified} is unavailable: torchvision is not installed (clapmos stand-in)")

        return type(attr, (), {"__init__": refuse, "__module__": self.__name__})


@contextlib.contextmanager
def _local_files_only(cls: type) -> Iterator[None]:
    original = cls.from_pretrained

    def from_pretrained(klass: type, *args: Any, **kwargs: Any) -> Any:
        return original(*args, **{**kwargs, "local_files_only": True})

    with _patched_from_pretrained(cls, from_pretrained):
        yield


@contextlib.contextmanager
def _answer_locally(cls: type, name: str, make: Callable[[], Any]) -> Iterator[None]:
    original = cls.from_pretrained

    def from_pretrained(klass: type, name_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        return make() if name_or_path == name else original(name_or_path, *args, **kwargs)

    with _patched_from_pretrained(cls, from_pretrained):
        yield


@contextlib.contextmanager
def _patched_from_pretrained(cls: type, function: Callable[..., Any]) -> Iterator[None]:
    had_own = "from_pretrained" in cls.__dict__
    saved = cls.__dict__.get("from_pretrained")
    cls.from_pretrained = classmethod(function)
    try:
        yield
    finally:
        if had_own:
            cls.from_pretrained = saved
        else:
            del cls.from_pretrained
