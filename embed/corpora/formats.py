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
