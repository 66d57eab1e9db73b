"""Bar-chart geometry: scale, stacking, side-by-side bars, axis labels."""

from __future__ import annotations

import pytest

from proxyapp.web.charts import HEIGHT, LEFT, RIGHT, TOP, WIDTH, Series, bar_chart, nice_top

BOTTOM = HEIGHT - 30  # the baseline
PLOT = BOTTOM - TOP


@pytest.mark.parametrize(("largest", "top"), [
    (0, 4), (1, 4), (3, 4), (4, 4), (5, 8), (9, 20), (17, 20), (21, 40), (399, 400), (401, 800), (1234, 2000),
])
def test_the_axis_top_is_four_whole_steps_of_1_2_or_5(largest, top):
    assert nice_top(largest) == top


def test_stacked_bars_sit_on_one_another_at_scale():
    chart = bar_chart(["d1", "d2"], [Series("ok", [2, 0], "fill-ok"), Series("bad", [1, 3], "fill-bad")])
    assert chart.top == 4
    first_ok, first_bad, second_bad = chart.bars  # the zero draws nothing
    assert first_ok.height == pytest.approx(PLOT / 2) and first_ok.y == pytest.approx(BOTTOM - PLOT / 2)
    assert first_bad.y + first_bad.height == pytest.approx(first_ok.y)  # on top of the first
    assert second_bad.height == pytest.approx(PLOT * 3 / 4) and second_bad.x > first_bad.x
    assert first_ok.x == first_bad.x and first_ok.width == first_bad.width
    assert (first_ok.css_class, first_bad.title) == ("fill-ok", "d1: bad 1")


def test_side_by_side_bars_share_a_slot_and_scale_to_the_larger():
    chart = bar_chart(["d1"], [Series("p50", [100], "a"), Series("p95", [300], "b")], stacked=False, unit=" ms")
    p50, p95 = chart.bars
    assert chart.top == 400 and p95.height == pytest.approx(PLOT * 3 / 4)
    assert p50.x + p50.width == pytest.approx(p95.x) and p50.y + p50.height == pytest.approx(BOTTOM)
    assert p95.title == "d1: p95 300 ms" and chart.y_ticks[-1].label == "400"


def test_bars_stay_inside_the_plot():
    values = [0, 5, 17, 3, 9] * 6
    chart = bar_chart([f"d{i}" for i in range(30)], [Series("n", values, "c")])
    assert all(LEFT <= bar.x and bar.x + bar.width <= WIDTH - RIGHT for bar in chart.bars)
    assert all(TOP <= bar.y and bar.y + bar.height <= BOTTOM + 0.01 for bar in chart.bars)
    assert len(chart.bars) == 24


def test_missing_values_draw_nothing_and_an_empty_chart_has_an_axis():
    chart = bar_chart(["d1", "d2"], [Series("p50", [None, None], "a")])
    assert chart.bars == [] and [tick.label for tick in chart.y_ticks] == ["0", "1", "2", "3", "4"]


def test_every_seventh_day_is_labelled_counting_back_from_the_newest():
    labels = [f"2026-03-{day:02d}" for day in range(1, 31)]
    chart = bar_chart(labels, [Series("n", [1] * 30, "c")], axis_labels=[f"{day} Mar" for day in range(1, 31)])
    assert [tick.label for tick in chart.x_ticks] == ["2 Mar", "9 Mar", "16 Mar", "23 Mar", "30 Mar"]
    assert chart.bars[0].title == "2026-03-01: n 1"
