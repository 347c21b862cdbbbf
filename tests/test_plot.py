"""Each figure is rendered with Agg to a file and its content checked."""

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from dynapse2 import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _render(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=40)
    assert path.stat().st_size > 1000
    return fig


def _texts(fig):
    out = []
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    return out


def test_raster_points_match_spikes(tmp_path):
    s = np.zeros((50, 6))
    s[[3, 10, 10, 49], [0, 2, 5, 1]] = 1
    fig = _render(plot.raster(s, dt=1e-3, title="t"), tmp_path, "raster")
    (ax,) = fig.axes
    offsets = ax.collections[0].get_offsets()
    assert offsets.shape == (4, 2)
    np.testing.assert_allclose(sorted(offsets[:, 0]), [0.003, 0.010, 0.010, 0.049])
    assert ax.get_xlabel() == "time (s)" and ax.get_xlim() == (0, 0.05)
    with pytest.raises(ValueError, match="expected \\(T, n\\)"):
        plot.raster(np.zeros(5))


def test_traces_one_panel_per_present_key(tmp_path):
    rec = {"imem": np.full((1, 20, 3), 1e-12), "iampa": np.full((1, 20, 3), 2e-12)}
    fig = _render(plot.traces(rec, neurons=(0, 2)), tmp_path, "traces")
    assert len(fig.axes) == 2  # inmda etc. are absent
    assert [ax.get_ylabel() for ax in fig.axes] == ["imem (A)", "iampa (A)"]
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="none of the keys"):
        plot.traces({"x": np.zeros((3, 1))})


def test_synapse_responses_lines_and_labels(tmp_path):
    t = np.arange(100)
    resp = {"AMPA": 1e-9 * np.exp(-t / 10) + 1e-12, "GABA": 2e-9 * np.exp(-t / 20) + 1e-12}
    fig = _render(plot.synapse_responses(resp, dt=1e-3), tmp_path, "syn")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["AMPA", "GABA"]
    np.testing.assert_allclose(ax.lines[1].get_xdata()[-1], 0.099)
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="expected \\(T,\\)"):
        plot.synapse_responses({"x": np.zeros((3, 2))})


def test_fi_curve_mean_and_band(tmp_path):
    i = np.linspace(0, 4e-9, 9)
    rates = np.stack([10 * i * 1e9, 12 * i * 1e9], axis=1)  # (9, 2)
    fig = _render(plot.fi_curve(i, rates, label="mismatch"), tmp_path, "fi")
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_xdata(), i * 1e9)
    np.testing.assert_allclose(line.get_ydata(), 11 * i * 1e9)
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1
    assert ax.get_xlabel() == "input current (nA)"
    # a second curve on the same axes
    plot.fi_curve(i, rates[:, 0], ax=ax, label="one")
    assert len(ax.lines) == 2
    with pytest.raises(ValueError, match="expected"):
        plot.fi_curve(i, rates[:3])


def test_histograms_panels_and_stats(tmp_path):
    rng = np.random.default_rng(0)
    v = {"tau_mem": rng.normal(0.02, 0.002, 500), "rate": rng.normal(30, 6, 500)}
    fig = _render(plot.histograms(v, bins=20, unit={"tau_mem": "s"}), tmp_path, "hist")
    assert len(fig.axes) == 2
    assert sum(p.get_height() for p in fig.axes[0].patches) == 500
    assert len(fig.axes[0].patches) == 20
    assert fig.axes[0].get_xlabel() == "tau_mem (s)"
    assert "CV" in fig.axes[1].get_title()


def test_training_history_all_keys(tmp_path):
    h = {
        "loss": [1.0, 0.6, 0.3],
        "val_loss": [1.1, 0.7, 0.5],
        "accuracy": [0.3, 0.7, 0.9],
        "val_accuracy": [0.25, 0.6, 0.8],
    }
    fig = _render(plot.training_history(h), tmp_path, "hist_all")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    for ax in fig.axes:
        assert [line.get_label() for line in ax.lines] == ["train", "validation"]
        np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), h["val_accuracy"])


def test_training_history_tolerates_missing_keys(tmp_path):
    fig = _render(plot.training_history({"loss": [3, 2, 1, 0.5]}), tmp_path, "hist_loss")
    (ax,) = fig.axes
    assert len(ax.lines) == 1 and ax.get_ylabel() == "loss"
    fig = plot.training_history({"val_accuracy": [0.5, 0.9]})
    assert [ax.get_ylabel() for ax in fig.axes] == ["accuracy"]
    with pytest.raises(ValueError, match="none of"):
        plot.training_history({"lr": [1e-3]})


def test_weight_quantization_scatter_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1, (10, 8)) * (rng.random((10, 8)) < 0.5)
    wq = np.round(w * 2) / 2
    core = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    fig = _render(plot.weight_quantization(w, wq, core), tmp_path, "wq")
    a0, a1 = fig.axes
    assert a0.collections[0].get_offsets().shape[0] == int(((w != 0) | (wq != 0)).sum())
    bars = a1.patches
    assert len(bars) == 2
    for c, bar in enumerate(bars):
        cols = core == c
        expected = np.linalg.norm(w[:, cols] - wq[:, cols]) / np.linalg.norm(w[:, cols])
        np.testing.assert_allclose(bar.get_height(), 100 * expected)
    # given errors are drawn as they are; typed weights accepted
    wt = np.abs(rng.normal(0, 1, (5, 4, 4)))
    fig = plot.weight_quantization(wt, wt, error=[0.1])
    assert [b.get_height() for b in fig.axes[1].patches] == [pytest.approx(10.0)]
    with pytest.raises(ValueError, match="share the shape"):
        plot.weight_quantization(w, wq[:, :3])


class _Setting:  # an object with attributes, like hardware.ParameterSetting
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_bias_table_rows_and_cells(tmp_path):
    rows = [
        {
            "core": 0,
            "name": "Itau_mem",
            "bg_name": "SOIF_LEAK_N",
            "coarse": 1,
            "fine": 20,
            "current": 5.2e-12,
            "requested": 5.3e-12,
        },
        _Setting(name="Idc", coarse=0, fine=0, current=5e-13),
    ]
    fig = _render(plot.bias_table(rows), tmp_path, "bias")
    (ax,) = fig.axes
    (table,) = ax.tables
    cells = table.get_celld()
    n_cols = len(plot.BIAS_TABLE_COLUMNS)
    assert len(cells) == 3 * n_cols  # header + 2 rows
    assert [cells[0, j].get_text().get_text() for j in range(n_cols)] == list(
        plot.BIAS_TABLE_COLUMNS
    )
    row1 = [cells[1, j].get_text().get_text() for j in range(n_cols)]
    assert row1[:4] == ["0", "Itau_mem [SOIF_LEAK_N]", "1", "20"]
    assert row1[6] == f"{0.1 / 5.3:.2%}"
    row2 = [cells[2, j].get_text().get_text() for j in range(n_cols)]
    assert row2[0] == "-" and row2[4] == "-" and row2[6] == "-"
    # an object with .settings (like ParameterTable)
    fig = plot.bias_table(_Setting(settings=rows[:1]))
    assert len(fig.axes[0].tables[0].get_celld()) == 2 * n_cols
    with pytest.raises(ValueError, match="lacks"):
        plot.bias_table([{"coarse": 1}])


def test_placement_cells_counts_and_panels(tmp_path):
    # 300 neurons: layer 0 (200) fills chip 0 core 0 then core 1; layer 1 (100) on chip 1 core 3
    chip = np.array([0] * 200 + [1] * 100)
    core = np.array([0] * 150 + [1] * 50 + [3] * 100)
    group = np.array([0] * 200 + [1] * 100)
    fig = _render(
        plot.placement(chip, core, group, group_names=["hidden", "output"], n_chips=3),
        tmp_path,
        "placement",
    )
    assert len(fig.axes) == 3
    img0 = fig.axes[0].images[0].get_array()
    placed = ~np.ma.getmaskarray(np.ma.masked_invalid(img0))
    assert placed.sum() == 200 and placed[:16, :16].sum() == 150 and placed[:16, 16:].sum() == 50
    img1 = np.asarray(fig.axes[1].images[0].get_array(), dtype=float)
    assert np.nansum(img1[16:, 16:] == 1) == 100 and np.isnan(img1[:16]).all()
    assert np.isnan(np.asarray(fig.axes[2].images[0].get_array(), dtype=float)).all()
    texts = _texts(fig)
    assert "core 0\n150" in texts and "core 1\n50" in texts and "core 3\n100" in texts
    assert "chip 1: 100 neurons" in texts
    assert sum(isinstance(p, Rectangle) for p in fig.axes[0].patches) == 4
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["hidden", "output"]
    with pytest.raises(ValueError, match="a core holds 256"):
        plot.placement(np.zeros(257, int), np.zeros(257, int))
    with pytest.raises(ValueError, match="core indices"):
        plot.placement([0], [4])


def test_placement_takes_a_mapper_placement(tmp_path):
    from dynapse2 import DynapSim, Linear, Sequential
    from dynapse2.hardware import map_network

    net = Sequential(
        Linear((3, 300), weight=np.ones((3, 300))),
        DynapSim(300),
        Linear((300, 5), key=jax.random.PRNGKey(0)),
        DynapSim(5),
    )
    pl = map_network(net, prune=True).placement
    assert pl.locate(1, 4) == (int(pl.chip[304]), int(pl.core[304]), int(pl.neuron[304]))
    with pytest.raises(IndexError, match="no neuron 9 in population 1"):
        pl.locate(1, 9)
    fig = plot.placement(pl)
    fig.savefig(tmp_path / "p.png")
    direct = plot.placement(pl.chip, pl.core, group=pl.layer, n_chips=pl.n_chips)
    assert len(fig.axes) == len(direct.axes)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == [t.get_text() for t in direct.legends[0].get_texts()]
    assert len(labels) == 2


def test_training_history_of_a_history():
    from dynapse2.train import History

    h = History(loss=[1.0, 0.5], accuracy=[0.5, 0.75])  # no validation: empty lists skipped
    fig = plot.training_history(h)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)
    fig = plot.training_history({"loss": [1.0, None, 0.5]})  # History.to_dict writes NaN as None
    assert len(fig.axes[0].get_lines()[0].get_ydata()) == 3
