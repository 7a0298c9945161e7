"""A small tidy table (one row per run, one column per measured quantity) without pandas.

The experiments of :mod:`convexnn.overparam.experiments` return a :class:`Table`: its rows are plain
dicts, :meth:`Table.column` gives a numpy array for plotting, :meth:`Table.group` aggregates over
seeds, and :meth:`Table.to_csv` writes the CSV that ``convexnn lab`` saves.
"""

import csv

import numpy as np

__all__ = ["Table", "loglog_slope"]


class Table:
    """Rows of measurements with the same keys, plus a dict of derived figures.

    Parameters
    ----------
    rows : list of dict
        One dict per run; every row should have the same keys.
    name : str, default=''
        The experiment that produced it (selects the plot in :mod:`convexnn.overparam.plots`).
    meta : dict or None
        Figures derived from the rows (fitted slopes, curves to plot, the settings used).
    """

    def __init__(self, rows, name="", meta=None):
        self.rows = [dict(r) for r in rows]
        self.name = name
        self.meta = {} if meta is None else dict(meta)

    @property
    def columns(self):
        """Column names in the order they first appear."""
        names = []
        for row in self.rows:
            names.extend(k for k in row if k not in names)
        return names

    def column(self, name):
        """The values of one column, ndarray of shape (n_rows,) (float where possible)."""
        if name not in self.columns:
            raise ValueError(f"name must be one of the columns {self.columns}, got {name!r}.")
        values = [r.get(name) for r in self.rows]
        try:
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        except (TypeError, ValueError):
            return np.array(values, dtype=object)

    def where(self, **conditions):
        """The rows whose columns equal the given values, as a new Table."""
        rows = [r for r in self.rows if all(r.get(k) == v for k, v in conditions.items())]
        return Table(rows, self.name, self.meta)

    def group(self, by, value, *, reduce=np.nanmean):
        """Aggregate ``value`` over the rows sharing the same ``by``.

        Returns
        -------
        keys : ndarray of shape (n_groups,)
            Sorted distinct values of ``by``.
        values : ndarray of shape (n_groups,)
            ``reduce`` of ``value`` within each group.
        """
        keys, values = self.column(by), self.column(value)
        distinct = sorted(set(keys.tolist()))
        reduced = [reduce(values[keys == k]) if np.any(np.isfinite(values[keys == k])) else np.nan for k in distinct]
        return np.array(distinct), np.array(reduced, dtype=float)

    def to_csv(self, path):
        """Write the rows to ``path`` as CSV (header: :attr:`columns`)."""
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def to_string(self, digits=4):
        """The rows as aligned text."""
        def cell(v):
            if isinstance(v, (float, np.floating)):
                return f"{v:.{digits}g}"
            return "-" if v is None else str(v)

        head = self.columns
        body = [[cell(r.get(c)) for c in head] for r in self.rows]
        widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [head] + body]
        return "\n".join([lines[0], "-" * len(lines[0])] + lines[1:])

    def __str__(self):
        return self.to_string()

    def __repr__(self):
        return f"Table(name={self.name!r}, n_rows={len(self.rows)}, columns={self.columns})"

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def loglog_slope(x, y):
    """Least-squares slope of ``log y`` against ``log x`` (the exponent ``b`` in ``y ~ x^b``).

    Parameters
    ----------
    x, y : array-like of shape (n_points,)
        Positive values; pairs with a non-finite or non-positive entry are ignored.

    Returns
    -------
    float
        NaN when fewer than two usable points remain.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])
