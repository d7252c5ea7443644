"""The models table as text: Markdown (``**best**``, ``†``) and LaTeX booktabs
(``\\textbf``, ``$^\\dagger$``), from :func:`.paper_table.build`'s long table."""
from __future__ import annotations

import math

from . import stats

TESTS = {"wilcoxon": "Wilcoxon signed-rank test", "t": "paired t-test"}
NAMES = {"recall": "Recall", "ndcg": "NDCG", "precision": "Precision", "hit": "HR"}
TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_",
               "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
               "^": r"\textasciicircum{}"}


def tex(text: str) -> str:
    return "".join(TEX_SPECIAL.get(c, c) for c in str(text))


def column_name(col, with_list: bool) -> str:
    if col.metric == "time_to_target_s":
        return "time to target (s)"
    if col.metric == "samples_per_s":
        return "samples/s"
    name, _, k = col.metric.partition("@")
    text = f"{NAMES.get(name, name)}@{k}"
    return f"{col.list_} {text}" if with_list else text


def _spec(metric: str, mean: float) -> str:
    if metric == "samples_per_s":
        return ",.0f"
    if metric == "time_to_target_s":
        return ".1f" if mean >= 10 else ".2f"
    return ".4f"


def number(cell: dict, pm: str) -> str:
    """``mean ± std``; a time to target some seeds missed says how many reached it."""
    if not math.isfinite(cell["mean"]):
        return "not reached" if cell["metric"] == "time_to_target_s" and cell["runs"] else ""
    spec = _spec(cell["metric"], cell["mean"])
    text = format(cell["mean"], spec)
    if math.isfinite(cell["std"]):
        text += f"{pm}{format(cell['std'], spec)}"
    if cell["n"] < cell["runs"]:
        text += f" ({cell['n']}/{cell['runs']})"
    return text


def _grid(table, rows, cols) -> list:
    """[[cell dict per column] per row], in table order."""
    cells = table.to_dict("records")
    return [[cells[c * len(rows) + r] for c in range(len(cols))] for r in range(len(rows))]


def _listed(cols) -> set:
    """Data sets whose columns need the list named (they have warm/cold columns)."""
    return {c.data for c in cols if c.list_ in ("warm", "cold")}


def to_markdown(table, rows, cols, rows_key: str) -> str:
    listed = _listed(cols)
    head = [rows_key] + [f"{c.data} {column_name(c, c.data in listed)}" for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(cols) + "|"]
    for row, cells in zip(rows, _grid(table, rows, cols)):
        texts = []
        for cell in cells:
            text = number(cell, " ± ")
            text = f"**{text}**" if cell["best"] and text else text
            texts.append((text or "–") + ("†" if cell["significant"] else ""))
        lines.append("| " + " | ".join([row] + texts) + " |")
    return "\n".join(lines) + "\n"


def to_latex(table, rows, cols, rows_key: str, foot: list) -> str:
    listed = _listed(cols)
    spans = []  # (data, first column, last column), 1-based after the row label
    for i, col in enumerate(cols, start=2):
        if spans and spans[-1][0] == col.data:
            spans[-1][2] = i
        else:
            spans.append([col.data, i, i])
    lines = [r"% needs \usepackage{booktabs}", r"\begin{tabular}{l" + "r" * len(cols) + "}",
             r"\toprule",
             " & ".join([""] + [rf"\multicolumn{{{b - a + 1}}}{{c}}{{{tex(d)}}}"
                                for d, a, b in spans]) + r" \\",
             " ".join(rf"\cmidrule(lr){{{a}-{b}}}" for _, a, b in spans),
             " & ".join([tex(rows_key)] + [tex(column_name(c, c.data in listed))
                                           for c in cols]) + r" \\",
             r"\midrule"]
    for row, cells in zip(rows, _grid(table, rows, cols)):
        texts = []
        for cell in cells:
            text = number(cell, " $\\pm$ ")  # digits, commas and "(2/3)": nothing to escape
            text = rf"\textbf{{{text}}}" if cell["best"] and text else text
            texts.append((text or "--") + (r"$^\dagger$" if cell["significant"] else ""))
        lines.append(" & ".join([tex(row)] + texts) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"] + [f"% {line}" for line in foot]
    return "\n".join(lines) + "\n"


def footer(table, rows, split: str, notes: list, alpha: float = stats.ALPHA,
           test: str = "wilcoxon") -> list:
    """n per row, what a cell is, the test and its alpha, and what was not tested."""
    counts = table.groupby(["row", "data"], sort=False)["runs"].max()
    per_row = []
    for row in rows:
        by_data = counts[row]
        per_row.append(f"{row} " + ", ".join(f"{n} on {d}" for d, n in by_data.items() if n))
    return [f"n (seeds) per row: {'; '.join(per_row)}.",
            f"Cells: mean ± std over seeds, {split} split; bold: the best mean per metric "
            f"column. †: the best beats the runner-up by a two-sided {TESTS[test]} "
            "over users (each user's value averaged over a row's seeds), Holm-corrected over "
            f"the columns tested, alpha {alpha:g}.",
            "Notes: " + "; ".join(notes) + "."]
