"""Print README's result tables from a study folder (what `make demo` writes), so README's
numbers are copied by a script rather than by hand.

    python scripts/readme_tables.py results > /tmp/tables.md

One compact markdown table per data set (the columns a reader compares; every column is in
``results/<set>/summary.csv``) and, for the ultrasound conclusion, the ranks of every method
*without* the rule's real-data check next to the rule's own winner (a sensitivity reading:
the rule itself is :data:`s2v.study.CONCLUSION_RULE`, applied by ``s2v study``).

    python scripts/readme_tables.py results --model-cards

rewrites, in every ``s2v_checkpoint/<name>/MODEL_CARD.md``, the section between the markers
``<!-- study:begin -->`` and ``<!-- study:end -->`` (appended when absent): the model's rows
of each study table next to the noisy input and the best classical method of that table, and
the software versions the numbers were measured with.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

TABLES = {
    "ultrasound_simulated": ("Simulated ultrasound, unseen phantoms and probes (mean over images)",
                             ["bmode_psnr", "bmode_ssim", "psnr", "gcnr", "point_fwhm", "enl",
                              "ratio_mean", "runtime_s_per_mpix"]),
    "ultrasound_real": ("Real ultrasound, no ground truth (mean over images)",
                        ["gcnr", "enl", "ratio_mean", "ratio_var", "epi", "runtime_s_per_mpix"]),
    "synthetic": ("Single-look synthetic protocol, Set12 01-10",
                  ["psnr", "ssim", "bmode_psnr", "ratio_mean", "ratio_var", "runtime_s_per_mpix"]),
    "sar": ("Real SAR, no ground truth", ["enl", "gcnr", "ratio_mean", "ratio_var", "epi",
                                          "runtime_s_per_mpix"]),
}
HEADERS = {"bmode_psnr": "B-mode PSNR (dB)", "bmode_ssim": "B-mode SSIM", "psnr": "amplitude PSNR (dB)",
           "ssim": "SSIM", "gcnr": "gCNR", "point_fwhm": "point FWHM ×", "enl": "ENL",
           "ratio_mean": "ratio mean", "ratio_var": "ratio var", "epi": "EPI",
           "runtime_s_per_mpix": "s/MPix"}
DIGITS = {"bmode_psnr": 2, "psnr": 2, "bmode_ssim": 3, "ssim": 3, "gcnr": 3, "point_fwhm": 2, "enl": 1,
          "ratio_mean": 3, "ratio_var": 3, "epi": 2, "runtime_s_per_mpix": 1}


def summary_rows(folder: Path) -> list[dict]:
    with open(folder / "summary.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _value(row: dict, column: str) -> float:
    text = row.get(f"{column}_mean", "")
    return float(text) if text not in ("", None) else math.nan


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| method | " + " | ".join(HEADERS[c] for c in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = _value(row, column)
            cells.append("—" if math.isnan(value) else f"{value:.{DIGITS[column]}f}")
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def unchecked_ranks(simulated: list[dict], rule) -> list[tuple[str, float]]:
    """Mean rank of every candidate over the rule's ranked columns, with no eligibility check."""
    candidates = [r for r in simulated if r["method"] not in rule.exclude]
    means = {r["method"]: 0.0 for r in candidates}
    for column, direction in rule.rank_by.items():
        values = {r["method"]: _value(r, column) for r in candidates}
        ordered = sorted(values, key=lambda m: (math.isnan(values[m]),
                                                -values[m] if direction == "max" else values[m]))
        position = 0
        while position < len(ordered):  # ties share the average rank, as in the rule
            tied = [m for m in ordered[position:] if values[m] == values[ordered[position]]] \
                if not math.isnan(values[ordered[position]]) else [ordered[position]]
            for method in tied:
                means[method] += (position + 1 + position + len(tied)) / 2 / len(rule.rank_by)
            position += len(tied)
    return sorted(means.items(), key=lambda item: item[1])


#: The study's method name of each shipped model folder.
CARD_METHODS = {"synthetic-L1": "s2v:synthetic-L1", "synthetic-L1-supervised": "s2v:synthetic-L1-supervised",
                "ultrasound": "s2v:ultrasound", "ultrasound-bmode": "s2v:ultrasound-bmode",
                "ultrasound-noshuffle": "s2v:ultrasound-noshuffle",
                "sar": "s2v:sar", "apbsn": "apbsn"}
#: Table columns where a higher value is better, to pick the best classical method of a table.
_RANK_COLUMN = {"ultrasound_simulated": "bmode_psnr", "ultrasound_real": "enl", "synthetic": "psnr",
                "sar": "enl"}
CARD_BEGIN, CARD_END = "<!-- study:begin -->", "<!-- study:end -->"


def software_versions() -> str:
    """One line of the versions that matter for reproducing a number."""
    import platform
    from importlib import metadata

    names = ["s2v", "numpy", "scipy", "scikit-image", "keras", "tensorflow", "bm3d"]
    parts = [f"Python {platform.python_version()}"]
    for name in names:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)


def card_section(results: Path, method: str, date: str) -> str:
    """The model's measured rows in every study table that holds it, with references."""
    classical = {"lee", "frost", "srad", "obnlm", "nlm_log", "bm3d_log", "kuan", "boxcar", "median"}
    blocks = []
    for name, (title, columns) in TABLES.items():
        folder = results / name
        if not (folder / "summary.csv").is_file():
            continue
        rows = summary_rows(folder)
        mine = [r for r in rows if r["method"] == method]
        if not mine:
            continue
        rank = _RANK_COLUMN[name]
        others = [r for r in rows if r["method"] in classical and not math.isnan(_value(r, rank))]
        best = max(others, key=lambda r: _value(r, rank), default=None)
        chosen = [r for r in rows if r["method"] == "noisy"] + ([best] if best else []) + mine
        blocks.append(f"**{title}** (`results/{name}/`; best classical method by "
                      f"{HEADERS[rank]}: `{best['method'] if best else '—'}`)\n\n{table(chosen, columns)}")
    if not blocks:
        blocks.append("This model is not part of the study (`make demo`).")
    return "\n".join([
        CARD_BEGIN,
        f"## Measured in the study ({date}, `make demo`; copied by `scripts/readme_tables.py --model-cards`)",
        "",
        "\n\n".join(blocks),
        "",
        f"Software of these measurements: {software_versions()}. The versions a model was "
        "*trained* with are on the card's Software line where it has one (models shipped from "
        "2026-12-02 on); older cards did not record them. The pinned set is `constraints.txt`.",
        CARD_END, ""])


def update_model_cards(results: Path, checkpoints: Path, only=None) -> list[Path]:
    """Rewrite the study section of every shipped model card (or of the folders in ``only``).

    A card whose current section holds a study table that ``results`` lacks (a partial run,
    e.g. ``scripts/ultrasound_study.py``) is left as it is, so that no measured table is lost.
    Returns the cards written.
    """
    import datetime
    import re

    date = datetime.date.today().isoformat()
    written = []
    for folder, method in CARD_METHODS.items():
        card = checkpoints / folder / "MODEL_CARD.md"
        if not card.is_file() or (only and folder not in only):
            continue
        # The placeholder that cards had before measured numbers were copied into them.
        text = card.read_text()
        for placeholder in ("## Measured\nSee results/summary.md (make demo).\n",
                            "## Measured\nRun `make demo`, then `python scripts/readme_tables.py results "
                            "--model-cards` to copy the study numbers here.\n"):
            text = text.replace(placeholder, "")
        kept = [name for name in TABLES if f"(`results/{name}/`" in text
                and not (results / name / "summary.csv").is_file()]
        if kept:
            print(f"kept {card}: {results} lacks {', '.join(kept)}")
            continue
        section = card_section(results, method, date)
        pattern = re.compile(re.escape(CARD_BEGIN) + ".*?" + re.escape(CARD_END) + "\n?", re.S)
        text = pattern.sub(lambda _: section, text) if pattern.search(text) else \
            text.rstrip("\n") + "\n\n" + section
        card.write_text(text)
        written.append(card)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--model-cards", action="store_true",
                        help="rewrite the study section of the shipped model cards instead of printing")
    parser.add_argument("--only", nargs="*", help="with --model-cards: these model folders only")
    args = parser.parse_args(argv)
    if args.model_cards:
        root = Path(__file__).resolve().parent.parent / "s2v_checkpoint"
        for card in update_model_cards(args.results, root, args.only):
            print(f"updated {card}")
        return
    for name, (title, columns) in TABLES.items():
        folder = args.results / name
        if (folder / "summary.csv").is_file():
            print(f"#### {title} (`results/{name}/`)\n\n{table(summary_rows(folder), columns)}\n")
    simulated = args.results / "ultrasound_simulated"
    if (simulated / "summary.csv").is_file():
        from s2v.study import CONCLUSION_RULE

        ranks = unchecked_ranks(summary_rows(simulated), CONCLUSION_RULE)
        print("#### Mean rank over " + ", ".join(CONCLUSION_RULE.rank_by)
              + " on the simulated set, every method, without the real-data check\n")
        print("| method | mean rank |\n|---|---:|")
        print("\n".join(f"| {method} | {rank:.2f} |" for method, rank in ranks) + "\n")


if __name__ == "__main__":
    main()
