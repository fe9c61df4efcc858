"""--threads default: the cores this process may use (affinity, cgroup quota), or CLAPMOS_THREADS."""

from __future__ import annotations

import os

import pytest

from clapmos.embed import threads


def test_the_default_is_the_affinity_capped_by_a_cgroup_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    quota = tmp_path / "cpu.max"
    assert threads.usable_cores(tmp_path / "absent") == 6  # no cgroup file: the affinity
    quota.write_text("max 100000\n")
    assert threads.usable_cores(quota) == 6  # no quota
    quota.write_text("250000 100000\n")
    assert threads.usable_cores(quota) == 3  # 2.5 CPUs of quota: 3 threads
    quota.write_text("50000 100000\n")
    assert threads.usable_cores(quota) == 1
    quota.write_text("900000 100000\n")
    assert threads.usable_cores(quota) == 6  # a quota above the affinity does not add cores


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), (" 2 ", 2)])
def test_one_environment_variable_sets_it(monkeypatch, value, expected):
    monkeypatch.setenv("CLAPMOS_THREADS", value)
    assert threads.default_threads() == expected


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_value_warns_and_uses_every_usable_core(monkeypatch, value):
    monkeypatch.setenv("CLAPMOS_THREADS", value)
    with pytest.warns(UserWarning, match="CLAPMOS_THREADS"):
        assert threads.default_threads() == threads.usable_cores()


def test_without_the_variable_it_is_every_usable_core(monkeypatch):
    monkeypatch.delenv("CLAPMOS_THREADS", raising=False)
    assert threads.default_threads() == threads.usable_cores()


def test_the_suite_runs_with_one_thread():
    assert threads.DEFAULT_THREADS == 1  # tests/conftest.py sets CLAPMOS_THREADS=1 before clapmos is imported
