import pytest

from calc import mean, median, mode, value_range, variance


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_rejects_empty():
    with pytest.raises(ValueError):
        mean([])


def test_median_odd_length():
    assert median([3, 1, 2]) == 2


def test_median_even_length():
    assert median([4, 1, 3, 2]) == 2.5


def test_mode_prefers_smallest_on_tie():
    assert mode([2, 2, 1, 1, 3]) == 1


def test_variance():
    assert variance([2, 4, 4, 4, 5, 5, 7, 9]) == 4


def test_value_range():
    assert value_range([5, -2, 7]) == 9
