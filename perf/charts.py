"""The run's pictures (matplotlib, PNG and SVG): hptd against tgtd per workload (IOPS and CPU per I/O),
latency percentiles, and the history across saved runs (hptd's IOPS and its ratio to tgtd)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMATS = ("png", "svg")
COLORS = {"tgt": "#8c8c8c", "hpt": "#1f77b4", "hpt2": "#ff7f0e", "hptt": "#9467bd", "hpt2t": "#8c564b",
          "rbd-bench": "#2ca02c"}
NAMES = {"tgt": "tgtd", "hpt": "hptd", "hpt2": "hptd, 2 workers", "hptt": "hptd, a thread per connection",
         "hpt2t": "hptd, 2 workers, a thread per connection", "rbd-bench": "rbd bench (ceiling)"}
PERCENTILES = ("50", "90", "99", "99.9", "99.99")  # of fio's completion latency percentiles
Info = dict[str, Any]


def _e2e(doc: dict[str, Any]) -> dict[str, dict[str, Info]]:
    """group -> target -> extra_info, for the end-to-end benchmarks of one run document."""
    groups: dict[str, dict[str, Info]] = {}
    for bench in doc.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if {"target", "workload", "mode", "sessions", "iops"} <= set(info) and info["mode"] != "micro":
            group = f"{info['workload']}\n{info['mode']}, {info['sessions']} sess."
            groups.setdefault(group, {})[info["target"]] = info
    return groups


def _save(fig: Any, directory: Path, name: str) -> list[Path]:
    paths = []
    for fmt in FORMATS:
        path = directory / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, bbox_inches="tight")
        paths.append(path)
    return paths


def _bars(ax: Any, groups: dict[str, dict[str, Info]], key: str, label: str) -> None:
    names = list(groups)
    targets = [t for t in COLORS if any(t in g for g in groups.values())]
    width = 0.8 / max(len(targets), 1)
    for i, target in enumerate(targets):
        xs = [n + (i - (len(targets) - 1) / 2) * width for n in range(len(names))]
        ys = [groups[g].get(target, {}).get(key, 0.0) for g in names]
        ax.bar(xs, ys, width, label=NAMES[target], color=COLORS[target])
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel(label)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)


def throughput(plt: Any, doc: dict[str, Any], directory: Path, stem: str) -> list[Path]:
    groups = _e2e(doc)
    if not groups:
        return []
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6, 1.6 * len(groups)), 7), sharex=True)
    _bars(top, groups, "iops", "IOPS (median; higher is better)")
    _bars(bottom, groups, "cpu_us_per_io", "target CPU µs per I/O (lower is better)")
    top.set_title(f"hptd and tgtd, run of {doc.get('datetime', '?')}")
    paths = _save(fig, directory, f"{stem}-throughput")
    plt.close(fig)
    return paths


def latency(plt: Any, doc: dict[str, Any], directory: Path, stem: str) -> list[Path]:
    groups = _e2e(doc)
    if not groups:
        return []
    cols = min(4, len(groups))
    rows = (len(groups) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.5 * cols, 3 * rows), squeeze=False)
    for ax, (group, by_target) in zip(axes.flat, groups.items(), strict=False):
        for target, info in by_target.items():
            pct = {k: v for k, v in info.get("latency_ms", {}).items() if k in PERCENTILES}
            if pct:  # rbd bench reports none
                ax.plot(list(pct), list(pct.values()), marker="o", label=NAMES.get(target, target),
                        color=COLORS.get(target))
        ax.set_title(group.replace("\n", ", "), fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("percentile", fontsize=8)
        ax.set_ylabel("completion latency ms", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.tight_layout()
    paths = _save(fig, directory, f"{stem}-latency")
    plt.close(fig)
    return paths


def history(plt: Any, runs: list[dict[str, Any]], directory: Path, stem: str) -> list[Path]:
    """hptd's IOPS per group across the runs, and its ratio to tgtd in the same run."""
    runs = [doc for doc in runs if _e2e(doc)]
    per_run = [_e2e(doc) for doc in runs]
    groups = sorted({g for run in per_run for g in run})
    if not groups:
        return []
    labels = [str(doc.get("datetime", "?"))[5:16].replace("T", " ") for doc in runs]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6, 0.8 * len(runs) + 4), 7), sharex=True)
    for group in groups:
        name = group.replace("\n", ", ")
        iops = [run.get(group, {}).get("hpt", {}).get("iops") for run in per_run]
        ratio = [_ratio(run.get(group, {})) for run in per_run]
        top.plot(range(len(runs)), [float("nan") if v is None else v for v in iops], marker="o", label=name)
        bottom.plot(range(len(runs)), ratio, marker="o", label=name)
    top.set_ylabel("hptd IOPS")
    bottom.set_ylabel("hptd / tgtd IOPS (same run)")
    bottom.axhline(1.0, color="black", linewidth=0.8)
    bottom.set_xticks(range(len(runs)), labels, rotation=45, fontsize=8)
    top.legend(fontsize=7)
    top.set_title(f"{len(runs)} saved run(s)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    paths = _save(fig, directory, f"{stem}-history")
    plt.close(fig)
    return paths


def _ratio(by_target: dict[str, Info]) -> float:
    hpt, tgt = by_target.get("hpt", {}).get("iops"), by_target.get("tgt", {}).get("iops")
    return hpt / tgt if hpt and tgt else float("nan")


CHARTS: tuple[Callable[[Any, dict[str, Any], Path, str], list[Path]], ...] = (throughput, latency)


def write(doc: dict[str, Any], runs: list[dict[str, Any]], directory: Path, stem: str) -> list[Path]:
    """Every picture of run ``doc`` (``runs``: the saved runs for the history, this one last) into
    ``directory`` as ``<stem>-<chart>.<png|svg>``; the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    paths = [p for chart in CHARTS for p in chart(plt, doc, directory, stem)]
    return paths + history(plt, runs, directory, stem)
