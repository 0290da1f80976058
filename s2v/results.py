"""Results of the harness: the per-run records, their summary, tables, and a computed conclusion.

:class:`CompareResults` is what :func:`s2v.compare.compare` returns: records (one per image,
realisation and method), the per-method summary (mean ± std), and writers for Markdown, CSV
and JSON; in Python it converts to a :class:`pandas.DataFrame` (:meth:`CompareResults.to_dataframe`)
and shows as a table in a notebook; :func:`load_results` reads a written ``results.json`` back. :func:`conclude` applies a :class:`Rule` stated in advance
to such tables and names the winner, so that a study's conclusion is computed, not typed.

This module imports no denoiser, region or plotting code; pandas is imported only by the
``to_dataframe`` methods.
"""

from __future__ import annotations

import csv
import difflib
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from s2v.utils import atomic_write_text

__all__ = ["METRIC_COLUMNS", "CONVENTIONS", "CompareResults", "summarise", "load_results", "Rule",
           "Conclusion", "conclude"]

#: Summary columns: record key, table header, number format.
METRIC_COLUMNS = (
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("ssim", "SSIM", "{:.4f}"),
    ("bmode_psnr", "B-mode PSNR (dB)", "{:.2f}"),
    ("bmode_ssim", "B-mode SSIM", "{:.4f}"),
    ("point_fwhm", "point FWHM ×", "{:.2f}"),
    ("enl", "ENL", "{:.2f}"),
    ("speckle_snr", "speckle SNR", "{:.2f}"),
    ("cnr", "CNR", "{:.3f}"),
    ("gcnr", "gCNR", "{:.3f}"),
    ("ratio_mean", "ratio mean", "{:.3f}"),
    ("ratio_var", "ratio var", "{:.3f}"),
    ("epi", "EPI", "{:.3f}"),
    ("runtime_s", "time (s)", "{:.3g}"),
    ("runtime_s_per_mpix", "s/MPix", "{:.3g}"),
)
CONVENTIONS = ("PSNR/SSIM on amplitude (peak data_range, default the maximum of the ground-truth "
               "amplitude); B-mode PSNR/SSIM on the 60 dB log-compressed display (ground-truth "
               "maximum at 0 dB); point FWHM x = median over point targets of the estimate's -6 dB "
               "envelope width over the ground truth's (1 = no blur); CNR, gCNR and speckle SNR on amplitude; ENL and ratio image on "
               "intensity; EPI on amplitude against the ground truth, else the noisy image; "
               "mean ± std (ddof=0) over images and realisations")
RECORD_KEYS = ("image", "realisation", "method", "looks", "height", "width") + tuple(
    key for key, _, _ in METRIC_COLUMNS)


def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _nan_to_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summarise(records: list[dict], methods: Sequence[str]) -> list[dict]:
    """Per method: ``method``, ``n`` and ``<metric>_mean`` / ``<metric>_std`` over its records.

    NaN (a metric that does not apply) is left out of the statistics; inf (the ENL of a
    constant region) is kept and shows. The std is the population std (ddof=0).
    """
    summary = []
    for method in methods:
        rows = [r for r in records if r["method"] == method]
        entry = {"method": method, "n": len(rows)}
        for key, _, _ in METRIC_COLUMNS:
            values = np.array([r[key] for r in rows], dtype=np.float64)
            values = values[~np.isnan(values)]
            entry[f"{key}_mean"] = float(values.mean()) if values.size else math.nan
            entry[f"{key}_std"] = float(values.std()) if values.size else math.nan
        summary.append(entry)
    return summary


@dataclass
class CompareResults:
    """Outcome of :func:`s2v.compare.compare`.

    Attributes
    ----------
    records : list of dict
        One per (image, realisation, method): keys ``image``, ``realisation``, ``method``,
        ``looks``, ``height``, ``width`` and the metric keys of :data:`METRIC_COLUMNS`
        (NaN where a metric does not apply, e.g. PSNR without ground truth).
    summary : list of dict
        One per method, in run order: ``method``, ``n`` and ``<metric>_mean`` / ``<metric>_std``
        (population std over images and realisations).
    regions : dict
        ``{image_name: {"homogeneous": [...], "pairs": [...], "source": {...}}}`` as used;
        JSON-ready, the same content as ``regions.json``.
    out_dir : Path
        Where everything was written.
    figures : dict
        ``{image_name: {"montage": Path, "ratio": Path, "profile": Path}}``.
    files : dict
        ``{"markdown", "summary_csv", "records_csv", "json", "regions"}`` to paths.
    skipped : list of str
        Files of a folder data set that could not be read, with the reason.
    config : dict
        The settings of the run.
    """

    records: list[dict]
    summary: list[dict]
    regions: dict
    out_dir: Path
    figures: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def figure_paths(self) -> list[Path]:
        """Every figure written, image by image."""
        return [path for per_image in self.figures.values() for path in per_image.values()]

    def _table(self, image: str | None) -> tuple[list[str], list[list[str]]]:
        """Headers and formatted ``mean ± std`` cells of the summary (or of one image)."""
        summary = self.summary
        if image is not None:
            rows = [r for r in self.records if r["image"] == image]
            if not rows:
                raise ValueError(f"no image '{image}' in these results; images: "
                                 f"{', '.join(dict.fromkeys(r['image'] for r in self.records))}")
            summary = summarise(rows, list(dict.fromkeys(r["method"] for r in rows)))
        # Columns without a single value (PSNR without ground truth, ...) are left out.
        columns = [c for c in METRIC_COLUMNS
                   if any(not math.isnan(row[f"{c[0]}_mean"]) for row in summary)]
        body = []
        for row in summary:
            cells = [str(row["method"]), str(row["n"])]
            for key, _, fmt in columns:
                mean, std = row[f"{key}_mean"], row[f"{key}_std"]
                cells.append("—" if math.isnan(mean)
                             else f"{fmt.format(mean)} ± {fmt.format(std)}")
            body.append(cells)
        return ["method", "n"] + [c[1] for c in columns], body

    def table_markdown(self, image: str | None = None) -> str:
        """The summary as a markdown table, ``mean ± std`` per cell.

        Parameters
        ----------
        image : str, optional
            Only this image (mean ± std over its realisations); default all images.
        """
        headers, body = self._table(image)
        lines = ["| " + " | ".join(headers) + " |", "|---|---:|" + "---:|" * (len(headers) - 2)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"

    def table_html(self, image: str | None = None) -> str:
        """The summary as an HTML table (the cells of :meth:`table_markdown`)."""
        headers, body = self._table(image)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
                       for cells in body)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: the summary table, with the images and conventions."""
        images = list(dict.fromkeys(r["image"] for r in self.records))
        shown = ", ".join(html.escape(str(n)) for n in images[:10]) + (
            ", ..." if len(images) > 10 else "")
        return (f"<p><b>Comparison</b> on {len(images)} image(s): {shown}</p>"
                + self.table_html()
                + f"<p><small>Conventions: {html.escape(CONVENTIONS)}.</small></p>")

    def report_markdown(self) -> str:
        """The whole report: the summary, then one table per image when there are several."""
        images = list(dict.fromkeys(r["image"] for r in self.records))
        parts = [f"# Comparison: {', '.join(self.config.get('methods', []))}\n",
                 f"All images ({len(images)}):\n", self.table_markdown()]
        if len(images) > 1:
            parts += [f"## {name}\n\n{self.table_markdown(name)}" for name in images]
        parts.append(f"Conventions: {CONVENTIONS}.\n")
        return "\n".join(parts)

    def to_dataframe(self, *, per_image: bool = False):
        """The summary (or, with ``per_image``, every record) as a :class:`pandas.DataFrame`.

        The summary frame is indexed by ``method`` (run order) with the columns of
        ``summary.csv``: ``n``, ``<metric>_mean``, ``<metric>_std``; the per-image frame has
        one row per (image, realisation, method) with the columns of ``records.csv``. NaN where
        a metric does not apply. Requires pandas.
        """
        import pandas as pd

        if per_image:
            return pd.DataFrame(self.records, columns=list(RECORD_KEYS))
        columns = ["method", "n"] + [f"{key}_{stat}" for key, _, _ in METRIC_COLUMNS
                                     for stat in ("mean", "std")]
        return pd.DataFrame(self.summary, columns=columns).set_index("method")

    def to_csv(self, path, *, per_image: bool = False) -> Path:
        """Write the per-method summary (or, with ``per_image``, every record) as CSV."""
        rows = self.records if per_image else self.summary
        keys = list(RECORD_KEYS) if per_image else ["method", "n"] + [
            f"{key}_{stat}" for key, _, _ in METRIC_COLUMNS for stat in ("mean", "std")]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if _is_nan(row.get(k)) else row[k] for k in keys})
        return atomic_write_text(Path(path), buffer.getvalue())

    def to_json(self, path) -> Path:
        """Write configuration, summary, records, regions and figure paths as JSON (NaN -> null)."""
        def clean(rows):
            return [{k: _nan_to_none(v) for k, v in row.items()} for row in rows]

        payload = {
            "config": self.config,
            "summary": clean(self.summary),
            "records": clean(self.records),
            "regions": self.regions,
            "figures": {n: {k: str(p) for k, p in f.items()} for n, f in self.figures.items()},
            "skipped": self.skipped,
        }
        return atomic_write_text(Path(path), json.dumps(payload, indent=1) + "\n")


def load_results(path) -> CompareResults:
    """Read back the results a run of :func:`s2v.compare.compare` wrote (``s2v compare``, ``s2v study``).

    Parameters
    ----------
    path : str or Path
        A ``results.json`` file, or the run's folder holding one (e.g. ``results/synthetic``).

    Returns
    -------
    CompareResults
        Records, summary, regions, figure paths, skipped files and configuration as written;
        ``out_dir`` is the file's folder and ``files`` lists the run's files found there.
        Non-finite metrics were written as null and come back as NaN (an infinite ENL too).

    Raises
    ------
    FileNotFoundError
        No ``results.json`` at ``path``.
    ValueError
        The file is not a harness result (its keys are named).

    Examples
    --------
    >>> results = load_results("results/ultrasound_simulated")  # doctest: +SKIP
    >>> results.to_dataframe()  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file (written by s2v compare / s2v study)")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a results file ({exc})") from None
    missing = [k for k in ("config", "summary", "records") if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise ValueError(f"{path}: not a results file of s2v compare (missing {', '.join(missing)})")

    def numbers(rows, keys):
        return [{k: math.nan if k in keys and v is None else v for k, v in row.items()}
                for row in rows]

    metrics = {key for key, _, _ in METRIC_COLUMNS}
    stats = {f"{key}_{stat}" for key in metrics for stat in ("mean", "std")}
    names = {"markdown": "results.md", "summary_csv": "summary.csv", "records_csv": "records.csv",
             "json": "results.json", "regions": "regions.json"}
    return CompareResults(
        records=numbers(payload["records"], metrics), summary=numbers(payload["summary"], stats),
        regions=payload.get("regions", {}), out_dir=path.parent,
        figures={image: {kind: Path(p) for kind, p in paths.items()}
                 for image, paths in payload.get("figures", {}).items()},
        files={key: path.parent / name for key, name in names.items()
               if (path.parent / name).is_file()},
        skipped=payload.get("skipped", []), config=payload["config"])


# --------------------------------------------------------------------------- conclusion

_DIRECTIONS = {"max": "higher is better", "min": "lower is better"}


@dataclass(frozen=True)
class Rule:
    """A decision rule, stated before the numbers are seen, that :func:`conclude` applies.

    The winner is, among the methods not in ``exclude`` whose every ``within`` column on the
    check table lies in its closed interval, the one with the lowest mean rank over the
    ``rank_by`` columns of the ranked table. Ranks are taken among those eligible methods
    only: 1 is best, ties share the average rank, a missing value (NaN) ranks last. Equal mean
    ranks are broken by the rank on the first ``rank_by`` column, then by table order.

    Parameters
    ----------
    rank_by : dict
        ``{column: "max" | "min"}``, in order: ``"max"`` when higher is better. A column
        name is looked up as given, else with ``_mean`` appended (so ``"psnr"`` finds the
        ``psnr_mean`` of a summary table).
    within : dict, optional
        ``{column: (low, high)}`` no-reference checks, e.g. ``{"ratio_mean": (0.95, 1.05)}``.
    exclude : tuple of str
        Rows that are references, not candidates (default the noisy input).
    ranked_on, checked_on : str
        What the two tables are, for the rule's text.

    Examples
    --------
    >>> Rule({"psnr": "max"}, within={"ratio_mean": (0.95, 1.05)}).rank_by
    {'psnr': 'max'}
    """

    rank_by: Mapping[str, str]
    within: Mapping[str, tuple] = field(default_factory=dict)
    exclude: tuple = ("noisy",)
    ranked_on: str = "the ranked table"
    checked_on: str = "the check table"

    def __post_init__(self):
        if not self.rank_by:
            raise ValueError("Rule: rank_by needs at least one column")
        bad = {k: v for k, v in self.rank_by.items() if v not in _DIRECTIONS}
        if bad:
            raise ValueError(f"Rule: rank_by directions must be 'max' or 'min', got {bad}")
        for column, bounds in self.within.items():
            if len(bounds) != 2 or not float(bounds[0]) <= float(bounds[1]):
                raise ValueError(f"Rule: within['{column}'] must be (low, high) with low <= high, "
                                 f"got {bounds!r}")
        object.__setattr__(self, "exclude", tuple(self.exclude))

    @property
    def text(self) -> str:
        """The rule in words, as it is applied."""
        ranked = ", ".join(f"{c} ({_DIRECTIONS[d]})" for c, d in self.rank_by.items())
        checks = " and ".join(f"{c} in [{float(lo):g}, {float(hi):g}]"
                              for c, (lo, hi) in self.within.items())
        among = "the methods" + (f" other than {', '.join(self.exclude)}" if self.exclude else "")
        if checks:
            among += f" whose {checks} on {self.checked_on}"
        return (f"Among {among}, the winner has the best (lowest) mean rank over {ranked} on "
                f"{self.ranked_on}. Ranks among the eligible methods, 1 = best; ties share the "
                "average rank; a missing value ranks last; equal mean ranks go to the better "
                f"rank on {next(iter(self.rank_by))}, then to table order.")


@dataclass
class Conclusion:
    """What :func:`conclude` found.

    Attributes
    ----------
    winner : str or None
        The winning method, None when no method is eligible.
    ranks : list of dict
        One row per candidate, eligible ones first by mean rank: ``method``, the ranked values
        (``<column>``) and their ranks (``<column> rank``), the checked values
        (``<column> (check)``), ``mean rank``, ``eligible`` and ``why not`` (the failed check).
    rule : str
        The rule's text.
    """

    winner: str | None
    ranks: list
    rule: str

    def to_dataframe(self):
        """The ranks table as a :class:`pandas.DataFrame` indexed by method (requires pandas)."""
        import pandas as pd

        return pd.DataFrame(self.ranks).set_index("method")

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        def cell(value):
            if isinstance(value, (bool, np.bool_)):
                return "yes" if value else "no"
            if isinstance(value, (float, np.floating)):
                return "—" if math.isnan(value) else f"{value:.4g}"
            return str(value)

        headers = list(self.ranks[0]) if self.ranks else ["method"]
        return headers, [[cell(row[h]) for h in headers] for row in self.ranks]

    def to_markdown(self) -> str:
        """The rule, the winner and the ranks table, in markdown."""
        headers, body = self._cells()
        lines = [f"Rule: {self.rule}\n",
                 f"Winner: **{self.winner}**\n" if self.winner else "Winner: none eligible\n",
                 "| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        headers, body = self._cells()
        winner = html.escape(self.winner) if self.winner else "none eligible"
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
                       for cells in body)
        return (f"<p><b>Winner: {winner}</b></p><p>{html.escape(self.rule)}</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")


def _rows(table, what: str) -> dict[str, dict]:
    """``{method: row}`` from results, a DataFrame or a list of summary rows, in table order."""
    if isinstance(table, CompareResults):
        rows = table.summary
    elif hasattr(table, "to_dict") and hasattr(table, "columns"):  # a pandas DataFrame
        frame = table if "method" in table.columns else table.rename_axis("method").reset_index()
        rows = frame.to_dict("records")
    elif isinstance(table, Sequence) and all(isinstance(r, Mapping) for r in table):
        rows = list(table)
    else:
        raise ValueError(f"{what} must be CompareResults, a DataFrame or a list of summary rows, "
                         f"got {type(table).__name__}")
    if not all("method" in row for row in rows):
        raise ValueError(f"{what}: every row needs a 'method'")
    methods = [str(row["method"]) for row in rows]
    repeated = sorted({m for m in methods if methods.count(m) > 1})
    if repeated:
        raise ValueError(f"{what} has repeated methods {repeated}; conclude on a summary "
                         "(one row per method)")
    return {m: dict(row) for m, row in zip(methods, rows)}


def _column(rows: dict[str, dict], name: str, what: str) -> str:
    columns = list(dict.fromkeys(k for row in rows.values() for k in row if k != "method"))
    for candidate in (name, f"{name}_mean"):
        if candidate in columns:
            return candidate
    close = difflib.get_close_matches(name, columns, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"{what} has no column '{name}' (nor '{name}_mean'){hint} "
                     f"(columns: {', '.join(columns)})")


def _value(row: Mapping | None, column: str) -> float:
    value = None if row is None else row.get(column)
    return math.nan if value is None else float(value)


def conclude(table, rule: Rule, *, checks=None) -> Conclusion:
    """Apply ``rule`` to a results table and name the winner.

    Parameters
    ----------
    table : CompareResults, pandas.DataFrame or list of dict
        The table to rank (e.g. held-out simulations): one row per method, with a ``method``
        column or indexed by method (:meth:`CompareResults.to_dataframe`).
    rule : Rule
        The rule, stated in advance.
    checks : same kinds as ``table``, optional
        The table on which ``rule.within`` is checked (e.g. real data without ground truth);
        default ``table`` itself. A method missing from it is not eligible.

    Returns
    -------
    Conclusion
        ``winner``, ``ranks`` (the table of ranks) and ``rule`` (text).

    Raises
    ------
    ValueError
        For a column of the rule that its table lacks (with close matches), or a table with
        repeated methods.

    Examples
    --------
    >>> rows = [{"method": "a", "psnr": 20.0}, {"method": "b", "psnr": 22.0}]
    >>> conclude(rows, Rule({"psnr": "max"})).winner
    'b'
    """
    from scipy.stats import rankdata

    rows = _rows(table, "table")
    check_rows = rows if checks is None else _rows(checks, "checks")
    ranked = {name: _column(rows, name, "table") for name in rule.rank_by}
    checked = {name: _column(check_rows, name, "checks") for name in rule.within}
    candidates = [m for m in rows if m not in rule.exclude]
    why_not = {}
    for method in candidates:
        for name, (low, high) in rule.within.items():
            value = _value(check_rows.get(method), checked[name])
            if method not in check_rows:
                why_not[method] = f"not in {rule.checked_on}"
            elif not float(low) <= value <= float(high):
                why_not[method] = f"{name} {value:.4g} outside [{float(low):g}, {float(high):g}]"
            if method in why_not:
                break
    eligible = [m for m in candidates if m not in why_not]

    out = {m: {"method": m} for m in candidates}
    for name, column in ranked.items():
        sign = -1.0 if rule.rank_by[name] == "max" else 1.0
        keys = [sign * _value(rows[m], column) for m in eligible]
        # Missing values rank last (and tie with each other).
        ranks = rankdata([math.inf if math.isnan(k) else k for k in keys], method="average")
        by_method = dict(zip(eligible, ranks.tolist()))
        for m in candidates:
            out[m][name] = _value(rows[m], column)
            out[m][f"{name} rank"] = by_method.get(m, math.nan)
    for name, column in checked.items():
        for m in candidates:
            out[m][f"{name} (check)"] = _value(check_rows.get(m), column)
    first = f"{next(iter(ranked))} rank"
    for m in candidates:
        ranks = [out[m][f"{name} rank"] for name in ranked]
        out[m]["mean rank"] = float(np.mean(ranks)) if m in eligible else math.nan
        out[m]["eligible"] = m not in why_not
        out[m]["why not"] = why_not.get(m, "")
    order = sorted(candidates, key=lambda m: (
        m in why_not, out[m]["mean rank"] if m in eligible else math.inf,
        out[m][first] if m in eligible else math.inf, candidates.index(m)))
    winner = order[0] if eligible else None
    return Conclusion(winner=winner, ranks=[out[m] for m in order], rule=rule.text)
