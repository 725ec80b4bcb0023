"""Small, dependency-free SVG charts for the metrics page (no JavaScript)."""

from __future__ import annotations

from html import escape


def bars(
    title: str, data: list[tuple[str, float]], width: int = 560, bar_h: int = 18, color: str = "#3b6ea5"
) -> str:
    """A horizontal bar chart: one labelled bar per (label, value)."""
    if not data:
        return f'<figure><figcaption>{escape(title)}</figcaption><p class="muted">No data yet.</p></figure>'
    top = max(v for _, v in data) or 1.0
    label_w, gap = 170, 6
    height = len(data) * (bar_h + gap) + gap
    rows = []
    for i, (label, value) in enumerate(data):
        y = gap + i * (bar_h + gap)
        w = max(1.0, (width - label_w - 60) * value / top)
        rows.append(
            f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{color}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 5}">{value:g}</text>'
        )
    return (
        f"<figure><figcaption>{escape(title)}</figcaption>"
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'font-size="12" font-family="system-ui, sans-serif">{"".join(rows)}</svg></figure>'
    )
