"""``Frames`` behaves like a sequence of clips for scikit-learn; the store's layout never lets two blocks share a chunk."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.model_selection import GroupKFold, KFold, train_test_split
from sklearn.utils import _safe_indexing

from clapmos.embed.store.frames import Frames, block_layout, clip_capacities


def ragged(lengths, dim=3, seed=0) -> Frames:
    rng = np.random.default_rng(seed)
    sequences = [rng.normal(size=(n, dim)).astype(np.float32) for n in lengths]
    times = [np.arange(n, dtype=np.float32) * 0.5 for n in lengths]
    return Frames.from_list(sequences, times, text=rng.normal(size=(len(lengths), 2)), vectors=rng.normal(size=(len(lengths), 4)),
                            ids=np.array([f"clip{i}" for i in range(len(lengths))]))


def assert_same_clips(got: Frames, expected: list[np.ndarray]) -> None:
    assert len(got) == len(expected)
    for i, clip in enumerate(expected):
        np.testing.assert_array_equal(got.clip(i), clip)


@given(st.lists(st.integers(0, 6), min_size=1, max_size=12), st.data())
def test_indexing_by_integers_masks_and_slices_selects_those_clips(lengths, data):
    frames = ragged(lengths)
    clips = [frames.clip(i) for i in range(len(lengths))]
    rows = data.draw(st.lists(st.integers(0, len(lengths) - 1), max_size=15))
    assert_same_clips(frames[np.array(rows, dtype=int)], [clips[i] for i in rows])
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(lengths), max_size=len(lengths))))
    assert_same_clips(frames[mask], [c for c, keep in zip(clips, mask) if keep])
    assert_same_clips(frames[::2], clips[::2])
    picked = frames[np.array(rows, dtype=int)]
    assert picked.ids.tolist() == [f"clip{i}" for i in rows]
    np.testing.assert_array_equal(picked.text, frames.text[rows])
    np.testing.assert_array_equal(picked.vectors, frames.vectors[rows])
    assert [picked.clip_times(k).tolist() for k in range(len(rows))] == [frames.clip_times(i).tolist() for i in rows]


def test_len_shape_and_lengths_describe_clips_not_tokens():
    frames = ragged([3, 1, 4])
    assert len(frames) == 3 and frames.shape == (3, 3) and frames.lengths.tolist() == [3, 1, 4]
    assert frames.frame_dim == 3 and frames.text_dim == 2 and len(frames.values) == 8
    assert repr(frames) == "Frames(n_clips=3, frame_dim=3, tokens=8, text_dim=2, vectors_dim=4)"


def test_scikit_learn_slices_frames_like_rows_of_a_matrix():
    frames = ragged([2, 5, 1, 3, 4, 2])
    picked = _safe_indexing(frames, np.array([4, 0]))
    assert_same_clips(picked, [frames.clip(4), frames.clip(0)])
    train, test = train_test_split(frames, test_size=2, random_state=0)
    assert len(train) == 4 and len(test) == 2
    for splitter, groups in ((KFold(3), None), (GroupKFold(2), [0, 0, 1, 1, 2, 2])):
        for a, b in splitter.split(frames, groups=groups):
            assert len(frames[a]) + len(frames[b]) == len(frames)


def test_one_token_per_row_of_a_matrix():
    X = np.arange(12.0).reshape(4, 3)
    frames = Frames.from_matrix(X, text=np.ones((4, 2)))
    assert frames.lengths.tolist() == [1, 1, 1, 1]
    np.testing.assert_array_equal(frames.values, X)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Frames(np.zeros((3, 2)), np.array([0, 2])), "offsets must rise from 0 to the 3 tokens"),
        (lambda: Frames(np.zeros((3, 2)), np.array([0, 3]), text=np.zeros((2, 4))), "text has 2 rows for 1 clips"),
        (lambda: Frames(np.zeros(3), np.array([0, 3])), "must be 2-D"),
        (lambda: ragged([2, 2])[np.array([True])], "boolean index"),
        (lambda: ragged([2, 2])[np.array([2])], "out of range"),
    ],
)
def test_malformed_frames_and_indices_are_refused(make, message):
    with pytest.raises((ValueError, IndexError), match=message):
        make()


@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(1, 8), st.sampled_from([4, 16, 64]))
def test_every_block_starts_on_a_chunk_boundary_and_clips_never_overlap(capacities, rows_per_block, chunk):
    starts, total = block_layout(capacities, rows_per_block, chunk)
    capacities = np.asarray(capacities)
    ends = starts + capacities
    assert (starts[::rows_per_block] % chunk == 0).all()
    assert (starts[1:] >= ends[:-1]).all() and ends[-1] == total
    # slack only between blocks, less than one chunk each
    gaps = starts[1:] - ends[:-1]
    block_firsts = np.arange(len(capacities))[1:] % rows_per_block == 0
    assert (gaps[~block_firsts] == 0).all() and (gaps[block_firsts] < chunk).all()
    # chunks touched by different blocks are disjoint
    blocks = [(starts[i] // chunk, (ends[min(i + rows_per_block, len(ends)) - 1] - 1) // chunk) for i in range(0, len(capacities), rows_per_block)]
    assert all(first_b > last_a for (_, last_a), (first_b, _) in zip(blocks, blocks[1:]))
    assert (clip_capacities(starts, total) >= capacities).all()
