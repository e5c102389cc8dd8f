"""The shared words: the sources' literal statuses are the vocabulary's, and stored values are plain strings."""

from __future__ import annotations

from enum import StrEnum
from typing import get_args

import pytest

from backend import vocabulary
from backend.db.models import StoredEnum
from backend.services import records, resilience


@pytest.mark.parametrize(
    ("literal", "enum"),
    [
        (records.DepartureStatus, vocabulary.DepartureStatus),
        (records.TrafficLevel, vocabulary.TrafficLevel),
        (resilience.CircuitState, vocabulary.CircuitState),
    ],
)
def test_the_sources_statuses_are_the_vocabulary(literal: object, enum: type[StrEnum]) -> None:
    assert set(get_args(literal)) == {member.value for member in enum}


def test_a_stored_enum_binds_its_string_and_reads_back_a_member() -> None:
    column = StoredEnum(vocabulary.TaskStatus, 16)
    stored = column.process_bind_param(vocabulary.TaskStatus.RUNNING, None)
    assert stored == "running"
    assert type(stored) is str
    assert column.process_result_value("running", None) is vocabulary.TaskStatus.RUNNING


def test_a_stored_value_this_release_does_not_know_reads_back_as_text() -> None:
    column = StoredEnum(vocabulary.WorkerStatus, 16)
    assert column.process_result_value("hibernating", None) == "hibernating"


def test_log_levels_carry_the_logging_numbers() -> None:
    import logging

    for level in vocabulary.LogLevel:
        assert level.number == logging.getLevelName(level.value)
