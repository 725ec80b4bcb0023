"""Small, dependency-free SVG charts for the metrics page (no JavaScript)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape


def bars(
    title: str,
    data: list[tuple[str, float]],
    width: int = 560,
    bar_h: int = 18,
    color: str = "#3b6ea5",
    colors: Mapping[str, str] | None = None,
    css_class: str = "",
    legend: bool = False,
) -> str:
    """A horizontal bar chart: one labelled bar per (label, value). `colors` gives a label its own
    colour; `legend` adds a text legend (label, colour swatch, value), so no reading depends on
    colour alone."""
    cls = f' class="{escape(css_class)}"' if css_class else ""
    if not data:
        return (
            f'<figure{cls}><figcaption>{escape(title)}</figcaption><p class="muted">No data yet.</p></figure>'
        )
    top = max(v for _, v in data) or 1.0
    label_w, gap = 170, 6
    height = len(data) * (bar_h + gap) + gap
    rows = []
    for i, (label, value) in enumerate(data):
        y = gap + i * (bar_h + gap)
        w = max(1.0, (width - label_w - 60) * value / top)
        fill = (colors or {}).get(label, color)
        rows.append(
            f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{fill}" '
            f'data-label="{escape(label)}"><title>{escape(label)}: {value:g}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 5}">{value:g}</text>'
        )
    key = ""
    if legend:
        key = (
            '<ul class="legend">'
            + "".join(
                f'<li><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" rx="2" '
                f'fill="{(colors or {}).get(label, color)}"/></svg> '
                f"{escape(label)}: {value:g}</li>"
                for label, value in data
            )
            + "</ul>"
        )
    return (
        f"<figure{cls}><figcaption>{escape(title)}</figcaption>"
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-size="12" font-family="system-ui, sans-serif">{"".join(rows)}</svg>{key}</figure>'
    )
