"""The result table: rows, their bounds, the figures the targets quote, and formatting."""
from dataclasses import dataclass

import numpy as np

COLUMNS = ("measurement", "tool", "setting", "result", "GFLOP/s", "GB/s", "% of bound",
           "comparison")


def significant(value, digits=3):
    """``value`` to ``digits`` significant digits, without an exponent."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - int(np.floor(np.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def threads_text(threads):
    return f"{threads} thread" + ("s" if threads > 1 else "")


def faster_text(slow, fast, subject="fastnet"):
    """``'fastnet 12.3× faster'`` (or slower) for two timings of the same work."""
    ratio = slow / fast
    if ratio >= 1:
        return f"{subject} {significant(ratio)}× faster".lstrip()
    return f"{subject} {significant(1 / ratio)}× slower".lstrip()


@dataclass(frozen=True)
class Figure:
    """A measured figure the targets summary quotes."""

    us: float
    unit: str                 # "µs/sample" or "µs/call"
    share: float = None       # of the bound, for throughput rows
    binds: str = None         # what sets that bound
    gflops: float = None      # the work's GFLOP/s at this figure, for throughput rows
    fastest_gemm: tuple = None  # (GFLOP/s, name) of the fastest GEMM measured in the run

    def __str__(self):
        return f"{significant(self.us)} {self.unit}"


@dataclass
class Row:
    """One line of the result table."""

    measurement: str
    tool: str
    setting: str
    result: str
    gflops: str = ""
    gbps: str = ""
    bound: str = ""
    comparison: str = ""

    def cells(self):
        return (self.measurement, self.tool, self.setting, self.result, self.gflops, self.gbps,
                self.bound, self.comparison)


class Report:
    """Rows of the table, the roofline they are set against, notes, and named figures.

    ``figures`` maps a key — a tuple naming section, data, tool and dtype —
    to a ``Figure``; the targets summary reads them.
    """

    def __init__(self, roofline):
        self.roofline = roofline
        self.rows = []
        self.notes = []
        self.figures = {}

    def throughput(self, measurement, tool, us, work, threads, comparison="", note="", key=None,
                   gemm=False):
        """Add a µs-per-sample row with GFLOP/s, GB/s of weight traffic and % of its bound.

        ``work`` (a ``roofline.Work``) says what one sample costs; ``gemm``
        says the tool runs it as GEMMs, so its figure also carries the
        fastest GEMM measured in the run.
        """
        bound = self.roofline.bound(work, threads)
        share = bound.seconds * 1e6 / us
        self.rows.append(Row(
            measurement, tool, f"{work.dtype}, {threads_text(threads)}{note}",
            str(Figure(us, "µs/sample")), significant(work.flops / (us * 1e3)),
            significant(work.bytes / (us * 1e3)), f"{significant(100 * share, 2)} % {bound.binds}",
            comparison))
        if key is not None:
            self.figures[key] = Figure(
                us, "µs/sample", share, bound.binds, work.flops / (us * 1e3),
                self.roofline.fastest_gemm(work.dtype, threads) if gemm else None)

    def note_live_inputs(self, measurement, share):
        """Say that fastnet's row of a measurement counts its first-layer work
        on live inputs only (roofline.live_input_share)."""
        self.notes.append(
            f"{measurement}: fastnet's first-layer GEMMs leave out the inputs zero "
            f"throughout a batch and do {share:.0%} of that layer's work on these inputs; "
            "its row's GFLOP/s and bound count that work, the peers' rows the whole")

    def latency(self, measurement, tool, setting, us, comparison="", key=None):
        """Add a µs-per-call row (a latency: no bound, Python overhead dominates)."""
        figure = Figure(us, "µs/call")
        self.rows.append(Row(measurement, tool, setting, str(figure), comparison=comparison))
        if key is not None:
            self.figures[key] = figure


def format_table(columns, rows, markdown=False):
    """Rows of cells as a fixed-width text table, or as a Markdown table.

    A first cell equal to the previous row's is left blank, so groups stand out.
    """
    cells = [tuple(columns)]
    for previous, row in zip([None, *rows], rows):
        same_group = previous is not None and previous[0] == row[0]
        cells.append(("" if same_group else row[0], *row[1:]))
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in cells]
        lines.insert(1, "|" + "|".join("---" for _ in columns) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
