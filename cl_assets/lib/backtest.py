"""Policy backtests: one history replayed under several retrain policies, compared side by side."""

from __future__ import annotations

import io


def summarize(played: dict) -> dict:
    """Mean prequential accuracy / ROC AUC and retrains of one replay, with the per-batch series."""
    summary = played["summary"]
    return {
        "mean_accuracy": summary["mean_accuracy"],
        "mean_roc_auc": summary["mean_roc_auc"],
        "retrains": summary["retrains"],
        "batches": summary["batches"],
        "elapsed_s": summary["elapsed_s"],
        "accuracy": [b["metrics"]["accuracy"] if b["metrics"] else None for b in played["batches"]],
        "roc_auc": [b["metrics"]["roc_auc"] if b["metrics"] else None for b in played["batches"]],
        "retrained_at": [i for i, b in enumerate(played["batches"]) if b["retrain_triggered"]],
    }


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def table(results: dict[str, dict]) -> str:
    width = max([14, *map(len, results)])  # `auto:NAME=VALUE` labels are long
    head = f"{'policy':<{width}} {'mean accuracy':>14} {'mean ROC AUC':>13} {'retrains':>9}"
    rows = [
        f"{name:<{width}} {_fmt(r['mean_accuracy']):>14} {_fmt(r['mean_roc_auc']):>13} {r['retrains']:>9}"
        for name, r in results.items()
    ]
    return "\n".join([head, "-" * len(head), *rows])


def plot(results: dict[str, dict], title: str = "") -> bytes:
    """PNG: prequential accuracy over batches, one line per policy, retrains marked."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    fig = Figure(figsize=(10, 4.5))
    ax = fig.subplots()
    styles = ["-", "--", ":", "-."]
    for n, (name, r) in enumerate(results.items()):
        xs = [i for i, v in enumerate(r["accuracy"]) if v is not None]
        ys = [r["accuracy"][i] for i in xs]
        # policies that keep the same champions draw the same line: the styles keep each visible
        (line,) = ax.plot(
            xs,
            ys,
            linestyle=styles[n % len(styles)],
            linewidth=2.4 - 0.5 * (n % 3),
            marker=".",
            label=f"{name} ({r['retrains']} retrains, mean {_fmt(r['mean_accuracy'])})",
        )
        marks = [i for i in r["retrained_at"] if r["accuracy"][i] is not None]
        ax.scatter(marks, [r["accuracy"][i] for i in marks], color=line.get_color(), marker="^", s=40, zorder=3)
    ax.set_xlabel("batch")
    ax.set_ylabel("prequential accuracy")
    ax.set_title(f"retrain policies{': ' + title if title else ''} (triangles: retrains)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()
