"""The vectorised exponentials of the activations (fastnet/_kernels/vmath.h),
on every build, against numpy: errors in units in the last place (ulp) over
the whole range of each function, and the special values exactly.
"""
import numpy as np
import pytest

PARAMS = {"logistic": (1.0, 1.0, 0.0), "elu": (1.0, 0.0, 0.0)}


def reference(name, x):
    """numpy's value of each activation in float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "exp":
            return np.exp(x)
        if name == "tanh":
            return np.tanh(x)
        if name == "logistic":   # 1 / (1 + e^-x), stably (1.8)
            e = np.exp(-np.abs(x))
            return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        if name == "elu":
            return np.where(x > 0, x, np.expm1(x))
    raise KeyError(name)


def samples(name, rng):
    """Uniform over the function's useful range, near zero, and tiny magnitudes."""
    wide = {"exp": (-745, 709.7), "tanh": (-25, 25), "logistic": (-750, 750),
            "elu": (-50, 5)}[name]
    return np.concatenate([rng.uniform(*wide, 100_000), rng.uniform(-1e-3, 1e-3, 20_000),
                           -(10 ** rng.uniform(-300, 0, 5_000)),
                           10 ** rng.uniform(-300, 0, 5_000)])


def activate(build, name, z):
    z = z.copy()
    build.activate(int(getattr(build.Activation, name.upper())),
                   np.array(PARAMS.get(name, (0.0, 0.0, 0.0))), z)
    return z


def ulps(got, want):
    """|got - want| in units in the last place of want (0 where they are equal)."""
    spacing = np.spacing(np.abs(want))
    with np.errstate(invalid="ignore"):   # inf - inf where both overflowed
        err = np.abs(got.astype(np.float64) - want.astype(np.float64)) / spacing.astype(np.float64)
    return np.where(got == want, 0.0, err)


@pytest.mark.parametrize("name, max_ulps", [("exp", 1), ("tanh", 1), ("logistic", 2),
                                            ("elu", 1)])
def test_float64_within_ulps_of_numpy(build, name, max_ulps):
    x = samples(name, np.random.default_rng(0))
    errors = ulps(activate(build, name, x), reference(name, x))
    assert errors.max() <= max_ulps
    assert errors.mean() < 0.3      # mostly correctly rounded


@pytest.mark.parametrize("name", ["exp", "tanh", "logistic", "elu"])
def test_float32_rounds_the_double_result(build, name):
    # float32 layers compute in double and round once when storing
    x = samples(name, np.random.default_rng(1)).astype(np.float32)
    with np.errstate(over="ignore"):
        want = reference(name, x.astype(np.float64)).astype(np.float32)
    assert ulps(activate(build, name, x), want).max() <= 1


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 17])
def test_every_length_including_the_tail(build, n):
    x = np.linspace(-3, 3, n)
    assert ulps(activate(build, "tanh", x), np.tanh(x)).max() <= 1
    assert ulps(activate(build, "exp", x), np.exp(x)).max() <= 1


@pytest.mark.parametrize("name", ["exp", "tanh", "logistic", "elu"])
def test_each_element_gets_the_bits_it_gets_alone(build, name):
    """Arrays of every length up to four vectors: the last vector overlaps
    the one before it, and each element must still be mapped once, from its
    own input, to the bits a one-element call gives it."""
    x = np.random.default_rng(3).uniform(-4, 4, 33)
    for n in range(1, 34):
        alone = np.array([activate(build, name, x[i:i + 1])[0] for i in range(n)])
        np.testing.assert_array_equal(activate(build, name, x[:n]), alone)


def test_special_values(build):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 709.78, 709.79, -745.2, -744.0, 1e-320])
    got = activate(build, "exp", x)
    assert got[0] == np.inf and got[1] == 0 and np.isnan(got[2]) and got[3] == 1
    assert got[5] == np.inf and got[6] == 0 and got[8] == 1   # e^tiny = 1
    assert got[7] > 0 and ulps(got[[4, 7]], np.exp(x[[4, 7]])).max() <= 1   # near the ends
    t = activate(build, "tanh", x)
    assert list(t[[0, 1, 3, 4, 6]]) == [1, -1, 0, 1, -1] and np.isnan(t[2])
    assert t[8] == 1e-320                                      # tanh x = x for tiny x
    s = activate(build, "logistic", x)
    assert list(s[[0, 1, 3, 4, 6]]) == [1, 0, 0.5, 1, 0] and np.isnan(s[2])
    e = activate(build, "elu", x)
    assert list(e[[0, 1, 3, 6]]) == [np.inf, -1, 0, -1] and np.isnan(e[2])


def test_softmax_sums_to_one_and_matches_numpy(build):
    z = np.random.default_rng(2).normal(scale=30, size=1001)
    got = activate(build, "softmax", z)
    want = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(got, want, rtol=4e-16 * 20, atol=0)
    assert got.sum() == pytest.approx(1, abs=1e-14)


def test_activate_checks_its_parameters(build):
    with pytest.raises(ValueError, match="three parameters"):
        build.activate(int(build.Activation.TANH), np.zeros(2), np.zeros(3))
