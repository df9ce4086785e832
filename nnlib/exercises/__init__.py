"""Checkers for the notebooks' exercises.

Each exercise in a notebook has a cell where the learner writes an answer and
a cell that calls a checker from here. A checker never raises on a wrong or
unfinished answer: it returns a :class:`Verdict` that says what is right or
what to look at, so the notebook still runs top to bottom. One module per
notebook:

- :mod:`nnlib.exercises.unstable` (01), :mod:`nnlib.exercises.inputs` (02),
  :mod:`nnlib.exercises.targets` (03), :mod:`nnlib.exercises.batchnorm` (04).

Import the one you need, e.g. ``from nnlib.exercises import unstable as ex``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one answer.

    Attributes
    ----------
    correct : bool
    message : str
        One or two sentences for the learner: why it is right, or what is off.
    """

    correct: bool
    message: str

    def __bool__(self):
        return self.correct

    def __repr__(self):
        return ("correct: " if self.correct else "not yet: ") + self.message


def not_a_function(answer, call):
    """A "not yet" Verdict if ``answer`` is not callable, else None.

    Parameters
    ----------
    answer : object
        What the learner passed to a checker.
    call : str
        How the checker calls it, e.g. ``"to_original(z, mean, scale)"``.
    """
    if callable(answer):
        return None
    return Verdict(False, f"expected a function {call}, got {type(answer).__name__}")


def attempt(check, *args, **kwargs):
    """Run ``check(*args, **kwargs)``; an answer that raises (e.g. still a stub) becomes a "not yet" verdict.

    Returns
    -------
    Verdict
    """
    try:
        return check(*args, **kwargs)
    except NotImplementedError:
        return Verdict(False, "the answer is still a stub (it raises NotImplementedError): write your code and run the cell again")
    except Exception as exc:  # noqa: BLE001 - a learner's bug is reported, not raised
        return Verdict(False, f"your code raised {type(exc).__name__}: {exc}")


__all__ = ["Verdict", "attempt", "not_a_function"]
