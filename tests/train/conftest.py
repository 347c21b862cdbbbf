"""Fixtures of the training tests: a small, fast task."""

import pytest
from train_helpers import small_task_of


@pytest.fixture(scope="session")
def small_task():
    """:func:`train_helpers.small_task_of` at seed 0: 48 samples of 2-class frozen noise."""
    return small_task_of(0)
