"""The members of a run's ensembles as ``fit`` builds them: each member's ``--param`` settings and its pipeline.

``--param key=value`` applies to every member, ``head.key=value`` to the members of one head and
``head:tag.key=value`` to one member (``spo_mlp:wide``); the more specific key wins.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping

from clapmos.embed.errors import ClapmosError
from clapmos.heads.inputs.frame_inputs import ClipVectors
from clapmos.heads.registry import HEAD_NAMES, head_spec, make_head, member_head

if TYPE_CHECKING:
    from clapmos.heads.runs.run import RunConfig


def member_settings(params: Mapping[str, Any], member: str) -> dict[str, tuple[str, Any]]:
    """``name -> (how it was given, value)`` of the ``--param`` settings that apply to ensemble ``member``.

    ``key=value`` applies to every member, ``head.key=value`` to the members of one head and
    ``head:tag.key=value`` to one member; the more specific key wins, whatever the order given.

    >>> member_settings({"lr": 0.1, "svr.C": 1, "svr:b.C": 2, "mlp.lr": 0.5}, "svr:b")
    {'lr': ('--param lr=0.1', 0.1), 'C': ('--param svr:b.C=2', 2)}
    """
    levels: list[dict[str, tuple[str, Any]]] = [{}, {}, {}]
    for key, value in params.items():
        scope, dot, name = key.partition(".")
        given = (f"--param {key}={shown_value(value)}", value)
        if not dot:
            levels[0][key] = given
        elif scope == member and scope != member_head(member):
            levels[2][name] = given
        elif scope == member_head(member):
            levels[1][name] = given
        elif member_head(scope) not in HEAD_NAMES:
            raise ClapmosError(f"--param {key}: {scope!r} is not a head name ({', '.join(HEAD_NAMES)}) or a member head:tag")
    return {**levels[0], **levels[1], **levels[2]}


def member_params(config: RunConfig, member: str) -> dict[str, Any]:
    """The ``--param`` values that apply to ``member`` (see :func:`clapmos.heads.runs.validation.member_settings`)."""
    return {name: value for name, (_, value) in member_settings(config.params, member).items()}


def member_pipelines(config: RunConfig, target: str, layout) -> list[tuple[str, Any]]:
    """The ``(member name, head pipeline)`` pairs ``fit_run`` fits for ``target`` on a store of this ``layout``.

    Settings out of range are refused by :meth:`RunConfig.check` (``clapmos.heads.runs.validation``), naming the
    option, before anything is fitted.
    """
    members = []
    frames = config.reads_frames
    for head in config.members(target):
        spec = head_spec(member_head(head))
        params = member_params(config, head)
        settable = spec.build().get_params()
        if spec.listener_ratings and config.screening_tau is not None and "screening_tau" in settable:
            params.setdefault("screening_tau", config.screening_tau)
        if config.device is not None and "device" in settable and "device" not in params:
            params["device"] = config.device
        if "use_text" in settable and "use_text" not in params:  # frame heads read text where the blocks would
            params["use_text"] = bool(layout[0][2]) and bool(config.text_blocks(target))
        blocks = config.blocks(target) if spec.reads_blocks else None
        model = make_head(head, blocks=blocks, target=target, random_state=config.random_state, layout=layout, **params)
        if frames and spec.inputs == "vectors":  # beside frame heads, a clip-vector head reads Frames.vectors
            model.steps.insert(0, ("clip_vectors", ClipVectors()))
        members.append((head, model))
    return members


def shown_value(value: Any) -> str:
    """A value as the user typed it (``--param key=value`` values are read as JSON)."""
    if isinstance(value, str):
        return value
    return json.dumps(list(value) if isinstance(value, tuple) else value)
