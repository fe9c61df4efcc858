"""Runs that travel: a run folder from a Hugging Face Hub repository (or a local path), and a run pushed to one.

A run folder is a model repository as it is: ``config.json``, ``provenance.json``,
``model/<target>/`` (skops, safetensors and LightGBM text, with their sha256 in ``model.json``),
the reports and the model card ``README.md`` (:mod:`clapmos.heads.runs.model_card`).
:func:`run_folder` gives a local folder for a path, or for a repository id through
``huggingface_hub.snapshot_download`` (its cache, its offline mode ``HF_HUB_OFFLINE=1``, its
token); what is downloaded is then loaded by :func:`clapmos.heads.runs.run.load_run`, which
checks every file's hash and trusts only the types of the run's heads, as for a local run.
:func:`push_run` checks the run the same way, writes its model card when it has none, and
uploads the folder in one commit (``dry_run`` lists what would be uploaded and stops there).

>>> run_folder("no/such-run", local_files_only=True)  # doctest: +ELLIPSIS
Traceback (most recent call last):
clapmos.embed.errors.ClapmosError: no/such-run: not a run folder here, and not in the Hugging Face Hub cache ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clapmos.embed.errors import ClapmosError
from clapmos.heads.runs.folder import is_run_folder
from clapmos.heads.runs.model_card import CARD, write_model_card

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SKIPPED = (".*", "**/.*", "**/__pycache__/**")  # hidden files (staging leftovers) are never uploaded


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise ClapmosError("runs on the Hugging Face Hub need huggingface_hub: pip install 'clapmos[hub]'") from None
    return huggingface_hub


def run_folder(path_or_repo_id: str | Path, revision: str | None = None, cache_dir: str | Path | None = None,
               local_files_only: bool | None = None, token: str | bool | None = None) -> Path:
    """A local run folder for ``path_or_repo_id``: the folder itself, or a Hub repository's snapshot.

    A repository (``org/name``) is downloaded into the Hugging Face cache (``cache_dir``,
    default ``HF_HUB_CACHE``) at ``revision``, or found there when offline
    (``local_files_only``, or ``HF_HUB_OFFLINE=1``).
    """
    path = Path(path_or_repo_id).expanduser()
    if path.exists():
        if not is_run_folder(path):
            raise ClapmosError(f"{path} is not a clapmos run folder (no config.json and provenance.json). Pass a folder written by `fit --out`.")
        return path
    text = str(path_or_repo_id)
    if not REPO_ID.match(text):
        raise ClapmosError(f"{text}: no such run folder, and not a Hub repository id (org/name).")
    hub = _hub()
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        folder = Path(hub.snapshot_download(text, revision=revision, cache_dir=cache_dir, local_files_only=bool(local_files_only),
                                            token=token))
    except (LocalEntryNotFoundError, FileNotFoundError):
        raise ClapmosError(
            f"{text}: not a run folder here, and not in the Hugging Face Hub cache"
            f"{f' ({cache_dir})' if cache_dir else ''} while offline. Connect (unset HF_HUB_OFFLINE) or download it first."
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise ClapmosError(f"{text}: no such repository or revision on the Hub ({type(error).__name__}); check the name, and your token for a private one.") from None
    except (HfHubHTTPError, OSError) as error:
        raise ClapmosError(f"{text}: could not download it from the Hub ({error}).") from None
    if not is_run_folder(folder):
        raise ClapmosError(f"{text}: the repository holds no clapmos run (no config.json and provenance.json at its top).")
    return folder


@dataclass
class PushPlan:
    """What :func:`push_run` uploads (or, with ``dry_run``, would upload)."""

    folder: Path
    repo_id: str
    files: list[str] = field(default_factory=list)
    card_written: bool = False
    url: str | None = None  # the commit's URL, once uploaded


def push_run(folder: str | Path, repo_id: str, private: bool = False, revision: str | None = None,
             commit_message: str | None = None, token: str | bool | None = None, dry_run: bool = False) -> PushPlan:
    """Upload the run ``folder`` to the Hub model repository ``repo_id`` (created when absent) in one commit.

    The run is loaded first (hashes and trusted types checked: a damaged run is never
    published); a run without a model card gets one (``README.md``, titled ``repo_id``).
    """
    from clapmos.heads.runs.fitted import load_run

    folder = Path(folder)
    if not REPO_ID.match(repo_id):
        raise ClapmosError(f"{repo_id}: a Hub repository id is org/name (letters, digits, '-', '_', '.').")
    if not is_run_folder(folder):
        raise ClapmosError(f"{folder} is not a clapmos run folder (no config.json and provenance.json). Pass a folder written by `fit --out`.")
    load_run(folder)
    plan = PushPlan(folder, repo_id)
    if not (folder / CARD).is_file():
        write_model_card(folder, repo_id)
        plan.card_written = True
    plan.files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts))
    if dry_run:
        return plan
    hub = _hub()
    api = hub.HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model", revision=revision,
                                   commit_message=commit_message or f"clapmos run {folder.name}", ignore_patterns=list(SKIPPED))
    except Exception as error:  # the network, the token, the Hub: all the user's to fix, none a bug here
        raise ClapmosError(f"push to {repo_id} failed: {error}. Check your token (`hf auth login`) and the repository name.") from None
    plan.url = str(getattr(commit, "commit_url", commit))
    return plan
