import pytest

from bot.desk.throttle import SignInThrottle
from tests.auxil.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_name_gets_five_attempts_in_the_window_then_waits_until_the_oldest_leaves_it(clock):
    throttle = SignInThrottle(per_name=5, per_address=100, window_seconds=300, clock=clock)
    for _ in range(5):
        assert throttle.attempt("10.0.0.1", "alice") == 0
        clock.now += 10
    assert throttle.attempt("10.0.0.2", "alice") == pytest.approx(250)  # another address does not help
    assert throttle.attempt("10.0.0.1", "bob") == 0  # nor does it hurt another name
    clock.now += 249
    assert throttle.attempt("10.0.0.1", "alice") == pytest.approx(1)
    clock.now += 1
    assert throttle.attempt("10.0.0.1", "alice") == 0
    assert throttle.attempt("10.0.0.1", "alice") > 0  # the window slides: the next oldest still counts


def test_an_address_is_limited_across_names(clock):
    throttle = SignInThrottle(per_name=5, per_address=3, window_seconds=60, clock=clock)
    for name in ("a", "b", "c"):
        assert throttle.attempt("10.0.0.1", name) == 0
    assert throttle.attempt("10.0.0.1", "d") == pytest.approx(60)
    assert throttle.attempt("10.0.0.9", "d") == 0


def test_a_throttled_attempt_is_not_counted(clock):
    throttle = SignInThrottle(per_name=2, per_address=100, window_seconds=60, clock=clock)
    throttle.attempt("10.0.0.1", "alice")
    throttle.attempt("10.0.0.1", "alice")
    for _ in range(50):
        clock.now += 1
        assert throttle.attempt("10.0.0.1", "alice") > 0
    clock.now += 10
    assert throttle.attempt("10.0.0.1", "alice") == 0


def test_success_forgives_the_name_and_does_not_count_against_the_address(clock):
    throttle = SignInThrottle(per_name=2, per_address=2, window_seconds=60, clock=clock)
    assert throttle.attempt("10.0.0.1", "alice") == 0
    throttle.succeeded("10.0.0.1", "alice")
    for _ in range(10):  # ten agents behind one office address sign in, one after another
        assert throttle.attempt("10.0.0.1", "alice") == 0
        throttle.succeeded("10.0.0.1", "alice")


def test_memory_is_bounded_by_forgetting_the_oldest_keys(clock):
    throttle = SignInThrottle(per_name=1, per_address=10**9, window_seconds=60, max_keys=100, clock=clock)
    assert throttle.attempt("10.0.0.1", "alice") == 0
    assert throttle.attempt("10.0.0.1", "alice") > 0
    for n in range(500):
        throttle.attempt("10.0.0.1", f"made-up-{n}")
    assert len(throttle._attempts) <= 100
