"""What a recipe is: a published system as fit settings (:class:`Recipe`), and each of its settings published vs ours (:class:`Setting`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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



#: why clapmos's protocol differs, shared by several recipes
FOLDS = "each fold model early-stops on 10% of its training rows"
HELD_OUT = "the validation/dev split stays held out for evaluation (fit --eval-split)"
ENSEMBLE_WHY = "fold models give honest out-of-fold scores and an uncertainty; --cv 1 trains the single published model"
