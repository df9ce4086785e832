"""The exercise checkers' shared parts (each notebook's checkers are tested in tests/test_exercises_*.py)."""

from nnlib.exercises import Verdict, attempt


def test_a_stub_or_a_crash_is_a_verdict_not_an_exception():
    def stub():
        raise NotImplementedError

    def crash():
        return 1 / 0

    assert not attempt(stub) and "stub" in repr(attempt(stub))
    assert not attempt(crash) and "ZeroDivisionError" in attempt(crash).message
    ok = attempt(lambda: Verdict(True, "fine"))
    assert ok and repr(ok) == "correct: fine"
