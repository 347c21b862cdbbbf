"""The Yin-Yang data set: class rule against the geometry, balance, determinism, errors."""

import jax
import numpy as np
import pytest

from dynapse2.datasets import YIN_YANG_CLASSES, yin_yang, yin_yang_class


def test_class_rule_on_landmarks_of_the_figure():
    # r_big = 0.5: disc centre (0.5, 0.5); dots at (0.25, 0.5) and (0.75, 0.5), radius 0.1.
    points = {
        (0.25, 0.5): 2,  # centre of the left dot
        (0.75, 0.5): 2,  # centre of the right dot
        (0.5, 0.95): 1,  # top of the disc, far from the right half-disc: yin
        (0.5, 0.05): 0,  # bottom of the disc: yang
        (0.25, 0.3): 1,  # inside the left small half-disc (d_left = 0.2 <= 0.25), off its dot
        (0.75, 0.7): 0,  # inside the right small half-disc, off its dot: yang
        (0.95, 0.4): 0,  # right edge below the centre line, outside the right half-disc: yang
    }
    xy = np.array(list(points))
    assert yin_yang_class(xy[:, 0], xy[:, 1]).tolist() == list(points.values())
    assert YIN_YANG_CLASSES == ("yang", "yin", "dot")


def test_class_areas_match_the_closed_form():
    # Areas (r_big = R, r_small = r): each dot pi r^2; yin and yang split the rest of the
    # disc in halves by symmetry (the figure is point-symmetric about the centre).
    r_small, r_big = 0.1, 0.5
    g = np.linspace(0.0, 1.0, 1201)
    x, y = np.meshgrid(g, g)
    inside = np.hypot(x - 0.5, y - 0.5) <= 0.5
    c = yin_yang_class(x[inside], y[inside])
    cell = (g[1] - g[0]) ** 2
    area = np.bincount(c, minlength=3) * cell
    dots = 2 * np.pi * r_small**2
    half = (np.pi * r_big**2 - dots) / 2
    np.testing.assert_allclose(area, [half, half, dots], rtol=2e-3)


def test_points_follow_the_rule_lie_in_the_disc_and_carry_the_mirror():
    points, y = yin_yang(301, key=0)
    assert points.shape == (301, 4) and points.dtype == np.float32
    assert y.shape == (301,) and y.dtype == np.int32
    xy = points[:, :2].astype(np.float64)
    assert (np.hypot(xy[:, 0] - 0.5, xy[:, 1] - 0.5) <= 0.5 + 1e-6).all()
    np.testing.assert_allclose(points[:, 2:], 1.0 - points[:, :2], atol=1e-7)
    np.testing.assert_array_equal(yin_yang_class(xy[:, 0], xy[:, 1]), y)
    assert sorted(np.bincount(y).tolist()) == [100, 100, 101]


def test_balanced_by_rejection_and_uniform_within_a_class():
    # Within the dot class the points are uniform over the two dots: half in each (binomial,
    # n = 1000: std 16, the margin 100 is six standard deviations).
    points, y = yin_yang(3000, key=1)
    assert np.bincount(y).tolist() == [1000, 1000, 1000]
    dots = points[y == 2]
    assert abs(int((dots[:, 0] < 0.5).sum()) - 500) < 100


def test_radii_are_parameters():
    points, y = yin_yang(60, key=2, r_small=0.2, r_big=1.0)
    xy = points[:, :2].astype(np.float64)
    assert (np.hypot(xy[:, 0] - 1.0, xy[:, 1] - 1.0) <= 1.0 + 1e-6).all()
    np.testing.assert_array_equal(yin_yang_class(xy[:, 0], xy[:, 1], 0.2, 1.0), y)


def test_same_key_same_points_other_key_other_points():
    a = yin_yang(50, key=jax.random.PRNGKey(4))
    b = yin_yang(50, key=jax.random.PRNGKey(4))
    c = yin_yang(50, key=jax.random.PRNGKey(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n_samples=2), "yin_yang: n_samples = 2 must be an integer >= 3"),
        (dict(n_samples=10, r_big=0.0), r"yin_yang: r_big = 0.0 must be in \(0, inf\]"),
        (dict(n_samples=10, r_small=0.2), r"yin_yang: r_small = 0.2 must be in \(0, 0.125\]"),
        (dict(n_samples=10, key=-1), "yin_yang: key = -1 must be a jax.random key or an int"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    kwargs.setdefault("key", 0)
    with pytest.raises(ValueError, match=message):
        yin_yang(**kwargs)
