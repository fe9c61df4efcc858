"""A model folder in Hugging Face format (what ``hf download REPO --local-dir DIR`` writes), read offline.

Shared by ``hf-clap`` and ``hf-audio``: the folder is checked before transformers sees
it (``config.json`` of the expected kind, weight files present), weights are loaded
with ``from_pretrained(local_files_only=True)`` and the load report turned into one
error when weights are missing or mis-shaped (transformers would otherwise initialise
them at random and only log it), and the store records the folder's ``config.json``
and the sha256 of its weight files. transformers is imported only when a model is loaded.

>>> import json, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "config.json").write_text(json.dumps({"model_type": "whisper"}))
>>> _ = (folder / "model.safetensors").write_bytes(b"0")
>>> read_config(folder, "--model-path")["model_type"]
'whisper'
>>> [p.name for p in weight_files(folder, "--model-path")]
['model.safetensors']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clapmos.embed.errors import ClapmosError, listing
from clapmos.embed.files import require_folder

log = logging.getLogger(__name__)
WEIGHT_PATTERNS = ("model.safetensors", "model-*-of-*.safetensors", "pytorch_model.bin", "pytorch_model-*-of-*.bin")
#: Where transformers finds a feature extractor's settings: its own file, or a processor's
#: (``Processor.save_pretrained`` writes ``processor_config.json``); ``from_pretrained`` reads either.
EXTRACTOR_FILES = ("preprocessor_config.json", "processor_config.json")


def extractor_file(folder: Path) -> Path | None:
    """The folder's feature-extractor settings file (:data:`EXTRACTOR_FILES`, in that order), or ``None``.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> extractor_file(folder) is None
    True
    >>> _ = (folder / "processor_config.json").write_text("{}")
    >>> extractor_file(folder).name
    'processor_config.json'
    """
    return next((folder / name for name in EXTRACTOR_FILES if (folder / name).is_file()), None)


def model_folder(path: str | Path | None, flag: str, what: str, where: str) -> Path:
    """``path`` as a :class:`Path` if it is a folder; else an error saying what to pass and where to get it."""
    if path is None:
        raise ClapmosError(f"{flag} is required: {what}. {where}")
    return require_folder(path, what, where, flag=flag)


def read_config(folder: Path, flag: str) -> dict[str, Any]:
    """The folder's ``config.json`` as a dict (an error naming the folder when it is missing or not JSON)."""
    path = folder / "config.json"
    if not path.is_file():
        raise ClapmosError(f"{flag} {folder}: no config.json: not a Hugging Face model folder.")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ClapmosError(f"{flag} {path}: not valid JSON ({error}).") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise ClapmosError(f"{flag} {path}: no model_type: not a transformers model configuration.")
    return config


def weight_files(folder: Path, flag: str) -> list[Path]:
    """The weight files of the folder (safetensors preferred, as transformers does); an error when there are none."""
    for patterns in (WEIGHT_PATTERNS[:2], WEIGHT_PATTERNS[2:]):
        found = sorted(p for pattern in patterns for p in folder.glob(pattern) if p.is_file())
        if found:
            return found
    present = sorted(p.name for p in folder.iterdir())
    raise ClapmosError(
        f"{flag} {folder}: no weight file (model.safetensors or pytorch_model.bin); the folder holds:\n{listing(present, 8)}\n"
        "Download the whole model repository (`hf download REPO --local-dir FOLDER`)."
    )


def weights_identity(files: list[Path]) -> tuple[str, dict[str, str]]:
    """One sha256 for the weights (the file's own when there is one file), and each file's sha256."""
    from clapmos.embed.files import file_sha256

    each = {p.name: file_sha256(p) for p in files}
    if len(each) == 1:
        return next(iter(each.values())), each
    joined = "".join(f"{name} {digest}\n" for name, digest in sorted(each.items()))
    return hashlib.sha256(joined.encode()).hexdigest(), each


def config_sha256(folder: Path) -> str:
    """sha256 of the folder's ``config.json`` bytes."""
    return hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Keep transformers' load reports and progress bars off the terminal (clapmos reports problems itself)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_pretrained(model_class: Any, folder: Path, flag: str, allow_unexpected: bool, hint: str = "") -> Any:
    """``model_class.from_pretrained(folder)`` offline, in eval mode; an error when weights are missing or mis-shaped.

    ``allow_unexpected`` accepts weights the model does not use (a classification or
    CTC head on top of the encoder); missing ones would be random and are refused.
    """
    try:
        with quiet_transformers():
            model, info = model_class.from_pretrained(str(folder), local_files_only=True, output_loading_info=True)
    except Exception as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ClapmosError(f"{flag} {folder}: transformers could not load the model ({detail}). {hint}".rstrip()) from None
    problems = []
    for kind in ("missing_keys", "mismatched_keys") + (() if allow_unexpected else ("unexpected_keys",)):
        keys = sorted(str(k) for k in (info.get(kind) or ()))
        if keys:
            problems.append(f"{len(keys)} {kind.replace('_', ' ')}:\n{listing(keys, 4)}")
    if problems:
        raise ClapmosError(
            f"{flag} {folder}: the weights do not fit the model its config.json describes:\n" + "\n".join(problems) + f"\n{hint}".rstrip()
        )
    ignored = info.get("unexpected_keys") or ()
    if ignored:
        log.info("%s: %d weights not used by the encoder (a task head), e.g. %s", folder, len(ignored), sorted(ignored)[0])
    return model.float().eval()
