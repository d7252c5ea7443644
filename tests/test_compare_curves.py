"""``curves.png``: val metric against wall seconds, one panel per (model, data) table."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from graphrec.reporting.compare import main
from graphrec.reporting.plot import _mean_band
from test_compare import write_groups, write_run

BLUE = np.array([31, 119, 180]) / 255  # matplotlib's first line colour (tab:blue)


def colour_share(png, rgb, tol=0.02) -> float:
    image = imread(png)[..., :3]
    return float((np.abs(image - rgb).max(-1) < tol).mean())


def test_curves_png_has_a_panel_per_table_lines_and_the_target(tmp_path, capsys):
    sweep = write_groups(tmp_path)
    main([str(sweep), "--target", "0.15", "--out", str(tmp_path / "grouped")])
    main([str(sweep), "--target", "0.15", "--all", "--out", str(tmp_path / "pooled")])
    grouped, pooled = tmp_path / "grouped" / "curves.png", tmp_path / "pooled" / "curves.png"
    assert grouped.read_bytes().startswith(b"\x89PNG")
    assert imread(grouped).shape[1] == 3 * imread(pooled).shape[1]  # three tables, one pooled
    assert colour_share(grouped, BLUE) > 0.001  # curves are drawn, not only axes
    out = capsys.readouterr().out
    assert out.count("\n== ") == 4


def test_curves_need_the_clock_and_draw_the_target_line(tmp_path):
    """Old runs (no wall_s) give an empty panel; the dashed target line is black."""
    old, new = tmp_path / "old", tmp_path / "new"
    write_run(old / "0", old=True)
    write_run(new / "0")
    for folder in (old, new):
        main([str(folder), "--target", "0.15"])
    assert colour_share(new / "curves.png", BLUE) > 0.001
    assert colour_share(old / "curves.png", BLUE) == 0  # nothing on the clock to draw
    write_run(tmp_path / "plain" / "0")
    main([str(tmp_path / "plain")])  # no target anywhere: no dashed line
    with_line = colour_share(new / "curves.png", np.zeros(3), tol=0.05)
    without = colour_share(tmp_path / "plain" / "curves.png", np.zeros(3), tol=0.05)
    assert with_line > without


def test_mean_band_over_seeds_on_a_common_grid():
    curves = [(np.array([1.0, 2.0, 4.0]), np.array([0.1, 0.2, 0.4])),
              (np.array([1.5, 3.0, 5.0]), np.array([0.0, 0.5, 0.6]))]
    grid, mean, low, high = _mean_band(curves)
    assert grid.tolist() == [1.5, 2.0, 3.0, 4.0]  # where both runs have a value
    assert mean[0] == pytest.approx((0.15 + 0.0) / 2)
    assert low[-1] == pytest.approx(0.4) and high[-1] == pytest.approx(0.55)  # at 4 s
