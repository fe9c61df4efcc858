"""Facts about the challenges' file formats that both reading corpora and scoring need.

The corpus readers (``clapmos.embed.corpora``) and the evaluation stage (truth files and
submissions, ``evaluation``) name clips, targets and columns the same way; they take
these names from here.

>>> MUSICEVAL_PREFIX + "S002_P044", MUSICEVAL_TARGETS, XACLE_TARGET
('audiomos2025-track1-S002_P044', ['overall', 'textual'], 'alignment')
"""

from __future__ import annotations

# MusicEval / AudioMOS 2025 Track 1 (DATA.md §1)
MUSICEVAL_PREFIX = "audiomos2025-track1-"  # clip ids: <prefix><system>_<prompt>
MUSICEVAL_TARGETS = ["overall", "textual"]  # answer.txt columns OVERALL, TEXTUAL
MUSICEVAL_SCORE_RANGE = (1.0, 5.0)

# XACLE (DATA.md §2)
XACLE_TARGET = "alignment"
XACLE_NAME_COLUMNS = ("wav_file_name", "wave_file_name")  # the dataset README spells it both ways
XACLE_SCORE_RANGE = (0.0, 10.0)

# SongEval / ICASSP 2026 ASAE challenge (DATA.md §4): data key -> target, 1–5 scale
SONGEVAL_KEYS = {
    "Coherence": "coherence", "Memorability": "memorability", "Naturalness": "naturalness",
    "Clarity": "clarity", "Musicality": "musicality",
}
SONGEVAL_TARGETS = list(SONGEVAL_KEYS.values())  # the site's order
SONGEVAL_SCORE_RANGE = (1.0, 5.0)
#: Top-Tier Accuracy thresholds (rules of 2025-11-15): a song is "top" at or above them
SONGEVAL_TOP_TIER = {"coherence": 4.0, "memorability": 3.75, "naturalness": 4.0, "clarity": 3.75, "musicality": 4.0}
#: Track 2 .scp column orders: the baseline's result.json order (default) and the site's list
SONGEVAL_ORDERS = {
    "baseline": ["coherence", "musicality", "memorability", "clarity", "naturalness"],
    "site": ["coherence", "memorability", "naturalness", "clarity", "musicality"],
}

# Audiobox Aesthetics axes / AudioMOS 2025 Track 2 (DATA.md §5): file key -> target, ratings 0–10
AUDIOBOX_KEYS = {"Production_Quality": "PQ", "Production_Complexity": "PC", "Content_Enjoyment": "CE", "Content_Usefulness": "CU"}
AUDIOBOX_TARGETS = list(AUDIOBOX_KEYS.values())
AUDIOBOX_SCORE_RANGE = (0.0, 10.0)
TRACK2_PREFIX = "audiomos2025-track2-"
