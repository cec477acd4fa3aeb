"""Tables for the command line: CSV and Parquet files, scikit-learn's data sets.

A table is a pandas DataFrame with one row per sample; one column is the
target, the others the (numeric) features.  Every problem with the data
raises ``DataError`` with a message that names the file and the column.
"""
import os

import numpy as np

# scikit-learn's shipped data sets, by the name the command line takes;
# each one's frame ends in its 'target' column.
BUILTIN = {
    "digits": "load_digits",
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
}
PARQUET_SUFFIXES = (".parquet", ".pq")
# A numeric target of integers with at most this many distinct values is
# taken as class labels (digits, ratings); anything else is regressed.
MAX_INFERRED_CLASSES = 20


class DataError(ValueError):
    """The data cannot be used as given; the message says why."""


def read_table(source):
    """The table named by ``source``: a data set name, or a CSV or Parquet file.

    Parameters
    ----------
    source : str
        'digits', 'iris', 'wine', 'breast_cancer', 'diabetes', or a path;
        files ending in .parquet or .pq are Parquet, others CSV with a header
        row.

    Returns
    -------
    frame : pandas.DataFrame
    """
    import pandas as pd

    if source in BUILTIN and not os.path.exists(source):
        import sklearn.datasets
        return getattr(sklearn.datasets, BUILTIN[source])(as_frame=True).frame
    if not os.path.exists(source):
        raise DataError(f"{source}: no such file (nor a built-in data set: "
                        f"{', '.join(BUILTIN)})")
    if os.path.isdir(source):
        raise DataError(f"{source}: is a directory, not a data file")
    try:
        if source.lower().endswith(PARQUET_SUFFIXES):
            frame = pd.read_parquet(source)
        else:
            frame = pd.read_csv(source)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise DataError(f"{source}: cannot read it as "
                        f"{'Parquet' if source.lower().endswith(PARQUET_SUFFIXES) else 'CSV'}"
                        f" ({_first_line(err)})") from None
    if frame.shape[0] == 0:
        raise DataError(f"{source}: the file has no rows")
    return frame


def target_column(frame, source, target=None):
    """The target column's name: ``target`` if given (it must exist), else the last."""
    if target is None:
        return frame.columns[-1]
    if target not in frame.columns:
        raise DataError(f"{source}: no column {target!r} (columns: {format_names(frame.columns)})")
    return target


def features(frame, source, names):
    """The feature columns ``names`` of ``frame`` as float64, checked.

    Every column must exist, be numeric (or boolean) and have no missing
    values."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: no column {format_names(missing)} (the model's features: "
                        f"{format_names(names)})")
    for name in names:
        column = frame[name]
        if not _is_numeric(column):
            example = column.dropna().iloc[0] if column.notna().any() else None
            raise DataError(f"{source}: feature column {name!r} is not numeric (e.g. "
                            f"{example!r}); encode it as numbers or drop it")
        if column.isna().any():
            raise DataError(f"{source}: feature column {name!r} has "
                            f"{int(column.isna().sum())} missing values")
    if not names:
        raise DataError(f"{source}: no feature columns besides the target")
    return frame[list(names)].astype(np.float64)


def target_values(frame, source, name, task=None):
    """The target column as a numpy array, checked for ``task``."""
    column = frame[name]
    if column.isna().any():
        raise DataError(f"{source}: target column {name!r} has "
                        f"{int(column.isna().sum())} missing values")
    if task == "regress" and not _is_numeric(column):
        raise DataError(f"{source}: target column {name!r} is not numeric, so it cannot "
                        "be regressed (use --task classify)")
    if _is_numeric(column):
        return column.to_numpy()
    return column.astype(str).to_numpy(dtype=object)


def infer_task(y):
    """('classify' or 'regress', why) for a target column's values."""
    if y.dtype == object or y.dtype == bool:
        return "classify", "non-numeric labels" if y.dtype == object else "boolean labels"
    values = np.unique(y)
    if np.all(np.mod(values, 1) == 0) and len(values) <= MAX_INFERRED_CLASSES:
        return "classify", f"{len(values)} distinct integer values"
    if np.all(np.mod(values, 1) == 0):
        return "regress", (f"{len(values)} distinct integer values, more than "
                           f"{MAX_INFERRED_CLASSES}")
    return "regress", "numeric values"


def _is_numeric(column):
    import pandas as pd
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def format_names(names, limit=8):
    """Column names for a message: quoted, the first ``limit`` of them."""
    names = [str(name) for name in names]
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
