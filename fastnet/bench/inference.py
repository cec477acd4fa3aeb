"""Prediction and online-learning sections: one-row latencies and bulk predict_proba.

Both libraries' ``MLPClassifier`` get the same arguments and one
``partial_fit`` epoch (the classes given), so they hold the same
architecture when timed; speed, not accuracy, is measured here.  One
thread: fastnet ``n_jobs=1``, one BLAS thread.
"""
from threadpoolctl import threadpool_limits

from ..kernels import FORWARD_BLOCK_ROWS
from .data import repeat_rows
from .gemms import blas_gemms
from .report import faster_text
from .roofline import Work, fastnet_live_share
from .settings import CLASSES, DIGITS_HIDDEN, INFERENCE_HIDDEN, INFERENCE_ROWS, Architecture
from .timing import interleaved_median_call_seconds, interleaved_min_seconds, quiet, timed

LATENCY = "latency, one row"
PREDICT_PROBA = f"predict_proba, {INFERENCE_ROWS} rows"
LATENCY_METHODS = ("predict", "predict_proba", "partial_fit")
# the predict_proba row of fastnet's GEMMs alone (gemms.py)
GEMMS_ALONE = "GEMMs alone"
# rows the predict_proba networks are fitted on: only the weights' shapes matter there
FIT_ROWS = 1000


def fitted_pair(hidden, X, y):
    """{"fastnet": model, "scikit-learn": model}, alike, after one partial_fit epoch."""
    import fastnet
    from sklearn import neural_network as sklearn_mlp

    models = {"fastnet": fastnet.MLPClassifier(hidden_layer_sizes=hidden, random_state=0,
                                               n_jobs=1),
              "scikit-learn": sklearn_mlp.MLPClassifier(hidden_layer_sizes=hidden,
                                                        random_state=0)}
    for model in models.values():
        quiet(lambda: model.partial_fit(X, y, classes=CLASSES))
    return models


def one_row_call(model, method, X, y):
    """``call(i)``: ``model.method`` on row i (cycling through X), labels for partial_fit."""
    rows = [X[i:i + 1] for i in range(len(X))]
    if method == "partial_fit":
        labels = [y[i:i + 1] for i in range(len(y))]
        return lambda i: model.partial_fit(rows[i % len(rows)], labels[i % len(rows)])
    bound_method = getattr(model, method)
    return lambda i: bound_method(rows[i % len(rows)])


def latency_section(report, digits, budget):
    """Median µs per call on one row: predict, predict_proba, MLPClassifier.partial_fit."""
    X_train, _, y_train, _ = digits
    architecture = Architecture(X_train.shape[1], DIGITS_HIDDEN)
    with threadpool_limits(limits=1, user_api="blas"):
        models = fitted_pair(DIGITS_HIDDEN, X_train, y_train)
        for method in LATENCY_METHODS:
            # in turns of 100 calls (timing.interleaved_median_call_seconds)
            calls = {tool: one_row_call(model, method, X_train, y_train)
                     for tool, model in models.items()}
            us = {tool: 1e6 * seconds for tool, seconds in
                  interleaved_median_call_seconds(calls, budget.latency_calls).items()}
            measurement = f"{LATENCY}, digits {architecture}"
            setting = f"{method}, median of {budget.latency_calls}"
            report.latency(measurement, "fastnet", setting, us["fastnet"],
                           key=(LATENCY, method, "fastnet"))
            report.latency(measurement, "scikit-learn", setting, us["scikit-learn"],
                           faster_text(us["scikit-learn"], us["fastnet"]),
                           key=(LATENCY, method, "scikit-learn"))


def predict_proba_section(report, X, y, budget):
    """predict_proba on INFERENCE_ROWS rows of a 784-512-512-10 network, float64."""
    architecture = Architecture(X.shape[1], INFERENCE_HIDDEN)
    X_rows = repeat_rows(X, INFERENCE_ROWS)
    measurement = f"{PREDICT_PROBA}, {architecture}"
    work = Work.inference(architecture, "float64", rows=INFERENCE_ROWS)
    # fastnet predicts in blocks of FORWARD_BLOCK_ROWS rows, one after another
    share = fastnet_live_share(X_rows, architecture, FORWARD_BLOCK_ROWS, shuffle=False)
    own_work = Work.inference(architecture, "float64", rows=INFERENCE_ROWS, live_share=share)
    if share < 1:
        report.note_live_inputs(measurement, share)
    with threadpool_limits(limits=1, user_api="blas"):
        models = fitted_pair(INFERENCE_HIDDEN, X[:FIT_ROWS], y[:FIT_ROWS])
        # the tools take turns, one call each (timing.interleaved_min_seconds),
        # and with them the GEMMs fastnet runs, alone (gemms.py)
        measures = {tool: timed(lambda model=model: model.predict_proba(X_rows))
                    for tool, model in models.items()}
        measures[GEMMS_ALONE] = timed(blas_gemms(architecture.units, INFERENCE_ROWS,
                                                 FORWARD_BLOCK_ROWS, share))
        seconds = interleaved_min_seconds(measures, budget.inference_repeats,
                                          at_least_seconds=0)
    us = {tool: s / INFERENCE_ROWS * 1e6 for tool, s in seconds.items()}
    for tool in models:
        comparison = "" if tool == "fastnet" else faster_text(us[tool], us["fastnet"])
        report.throughput(measurement, tool, us[tool],
                          own_work if tool == "fastnet" else work, 1, comparison,
                          key=(PREDICT_PROBA, tool), gemm=True)
    report.throughput(measurement, GEMMS_ALONE, us[GEMMS_ALONE], own_work, 1,
                      f"{us[GEMMS_ALONE] / us['fastnet']:.0%} of fastnet's time",
                      ", fastnet's GEMMs through BLAS", key=(PREDICT_PROBA, GEMMS_ALONE),
                      gemm=True)
