"""Argparse types for the command lines: numbers that must be finite and in a range, refused in one line before any
work (``--score-threshold 2`` or ``--score-tol nan`` never reach a model load or a TensorRT build)."""
import argparse
import math


def _describe(low, high, low_open, high_open):
    """``'in [0, 1]'``, ``'> 0'``, ``'>= 0'``... for the error message."""
    if low is not None and high is not None:
        return 'in %s%g, %g%s' % ('(' if low_open else '[', low, high, ')' if high_open else ']')
    if low is not None:
        return '%s %g' % ('>' if low_open else '>=', low)
    if high is not None:
        return '%s %g' % ('<' if high_open else '<=', high)
    return 'that is finite'


def number(kind=float, low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type=`` callable: text -> ``kind`` (float or int), finite and within [low, high].

    ``low_open`` / ``high_open`` make the bound strict. Raises argparse.ArgumentTypeError (argparse prints
    ``error: argument --x: must be in [0, 1], got '2'`` and exits 2) for text that is not a number, NaN, +-inf or a
    value out of range.
    """
    wanted = 'an integer' if kind is int else 'a number'
    rule = _describe(low, high, low_open, high_open)

    def in_range(value):
        above = low is None or (value > low if low_open else value >= low)
        below = high is None or (value < high if high_open else value <= high)
        return math.isfinite(value) and above and below

    def convert(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            value = None
        if value is None or not in_range(value):
            raise argparse.ArgumentTypeError('must be %s %s, got %r' % (wanted, rule, text))
        return value

    convert.__name__ = kind.__name__   # argparse names the type in "invalid <name> value" messages
    return convert
