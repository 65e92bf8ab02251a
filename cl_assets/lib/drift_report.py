"""A batch's drift, for a person: features ranked by how far they moved, where (which slices), and a plot."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from cl_assets.lib import drift, markdown

LABELS = {
    drift.TABLE: "(whole table)",
    drift.PREDICTION: "(prediction scores)",
    drift.LOW_CONFIDENCE: "(low confidence)",
}


def _label(feature: str) -> str:
    return LABELS.get(feature, feature)


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-batch rows, most moved first: by effect relative to its threshold."""
    overall = frame[frame["slice"] == drift.ALL].copy()
    overall["moved"] = overall["effect"] / overall["threshold"]
    return overall.sort_values("moved", ascending=False, na_position="last")


def slice_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """effect / threshold per feature (rows) and slice (columns); > 1 is past the threshold."""
    parts = frame[frame["slice"] != drift.ALL]
    if parts.empty:
        return pd.DataFrame()
    table = parts.assign(moved=parts["effect"] / parts["threshold"]).pivot_table(
        index="feature", columns="slice", values="moved", aggfunc="max"
    )
    return table.loc[table.max(axis=1).sort_values(ascending=False).index]


def render_markdown(batch_id: str, frame: pd.DataFrame) -> str:
    top = ranked(frame)
    drifted = top[top["drifted"]]
    lines = [
        f"### Drift of batch `{batch_id}`",
        "",
        f"{len(drifted)} of {len(top)} tests drifted"
        + (": " + ", ".join(_label(f) for f in drifted["feature"]) if len(drifted) else "")
        + ". Ranked by effect / threshold (PSI; domain AUC for the whole table).",
        "",
        markdown.table(
            top.assign(feature=top["feature"].map(_label))[
                ["feature", "method", "statistic", "p_value", "psi", "wasserstein", "js", "linf", "unseen_share"]
                + ["effect", "threshold", "drifted"]
            ]
        ),
    ]
    matrix = slice_matrix(frame)
    if not matrix.empty:
        shown = matrix.rename(index=_label).round(2).reset_index()
        lines += ["", "#### By slice (effect / threshold; above 1 is past the threshold)", "", markdown.table(shown)]
    return "\n".join(lines)


def plot(batch_id: str, frame: pd.DataFrame) -> bytes:
    """PNG: effect over threshold per test (whole batch), and per slice as a heat map."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    top = ranked(frame).iloc[::-1]
    matrix = slice_matrix(frame)
    height = 0.3 * len(top) + 1.4
    fig = Figure(figsize=(10 if not matrix.empty else 6, height), dpi=72)
    ax = fig.add_axes((0.22, 0.9 / height, 0.33 if not matrix.empty else 0.74, 1 - 1.4 / height))
    ratio = (top["effect"] / top["threshold"]).fillna(0).clip(lower=0, upper=5)
    colors = np.where(top["drifted"], "#d62728", np.where(ratio >= 1, "#ff7f0e", "#1f77b4"))
    ax.barh([_label(f) for f in top["feature"]], ratio, color=colors)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("effect / threshold (red: drifted)")
    ax.set_title(f"batch {batch_id}")
    if not matrix.empty:
        ax2 = fig.add_axes((0.72, 0.9 / height, 0.26, 1 - 1.4 / height))
        shown = matrix.iloc[::-1]
        ax2.imshow(shown.to_numpy(dtype=float), aspect="auto", cmap="Reds", vmin=0, vmax=2)
        ax2.set_yticks(range(len(shown)), [_label(f) for f in shown.index], fontsize=8)
        ax2.set_xticks(range(len(shown.columns)), shown.columns, rotation=30, ha="right", fontsize=8)
        ax2.set_title("by slice (darker: further past the threshold)", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
