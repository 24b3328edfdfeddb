"""Charts as inline SVG, drawn on the server with pygal (no JavaScript, nothing fetched)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pygal
from pygal.style import Style

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2937",
    foreground_strong="#111827",
    foreground_subtle="#d1d5db",
    opacity=".9",
    opacity_hover="1",
    transition="0ms",
    colors=("#2563eb", "#0d9488", "#d97706", "#7c3aed", "#dc2626", "#0891b2"),
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    value_label_font_size=11,
    title_font_size=14,
    legend_font_size=12,
    guide_stroke_color="#eef0f3",
    major_guide_stroke_color="#e2e5ea",
    guide_stroke_dasharray="0",
    major_guide_stroke_dasharray="0",
)

_COMMON = {
    "style": STYLE,
    "disable_xml_declaration": True,
    "js": [],  # pygal's default loads a tooltip script from a CDN; the console works offline
    "show_legend": False,
    "explicit_size": False,
    "margin": 8,
    "spacing": 10,
}


# pygal embeds its configuration for its tooltip script; without that script it is dead
# weight, and the console's Content-Security-Policy would refuse the inline script anyway.
_SCRIPT = re.compile(r"<script\b.*?</script>|<!--.*?-->", re.DOTALL)


def _svg(chart: pygal.graph.graph.Graph) -> str:
    text: str = chart.render(is_unicode=True)
    return _SCRIPT.sub("", text)


def bars(title: str, rows: Sequence[tuple[str, float]], *,
         formatter: Callable[[float], str], height: int = 0) -> str:
    """A horizontal bar chart, largest first; each label carries its value (pygal's values
    printed on the bars overlap the labels of short bars)."""
    ordered = sorted(rows, key=lambda r: r[1], reverse=True)[:12]
    chart = pygal.HorizontalBar(
        **_COMMON, title=title, width=560, height=height or max(180, 60 + 34 * len(ordered)),
        value_formatter=formatter, show_x_guides=True, show_y_guides=False,
        x_labels_major_count=4, show_minor_x_labels=False, truncate_label=40,
        no_data_text="no usage yet")
    chart.x_labels = [f"{label}  {formatter(value)}" for label, value in reversed(ordered)]
    chart.add(title, [value for _, value in reversed(ordered)])
    return _svg(chart)


def line(title: str, labels: Sequence[str], values: Sequence[float], *,
         formatter: Callable[[float], str]) -> str:
    """A line over days (labels), every 7th label shown."""
    chart = pygal.Line(
        **_COMMON, title=title, width=1100, height=260, fill=True, dots_size=2.5,
        value_formatter=formatter, x_label_rotation=0, show_minor_x_labels=False,
        x_labels_major_every=7, truncate_label=-1, no_data_text="no usage yet",
        show_x_guides=False)
    chart.x_labels = [label[5:] for label in labels]
    chart.add(title, list(values))
    return _svg(chart)
