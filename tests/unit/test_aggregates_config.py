"""DTHUB_SUPPRESSION_K: default 3, configurable, never below 2."""
from __future__ import annotations

import pytest

from adapter.config import Config, config_from_env


def test_default_k_is_three():
    assert config_from_env({}).suppression_k == 3


def test_k_is_configurable():
    assert config_from_env({"DTHUB_SUPPRESSION_K": "5"}).suppression_k == 5


@pytest.mark.parametrize("raw", ["1", "0", "-2"])
def test_k_below_two_is_refused(raw):
    with pytest.raises(ValueError, match="DTHUB_SUPPRESSION_K"):
        config_from_env({"DTHUB_SUPPRESSION_K": raw})
    with pytest.raises(ValueError):
        Config(suppression_k=int(raw))
