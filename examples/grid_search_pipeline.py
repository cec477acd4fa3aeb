"""Model selection: a grid search over a scaler and fastnet's MLPClassifier.

fastnet's estimators are scikit-learn estimators, so they go into pipelines
and searches unchanged.  This script tunes the hidden-layer size and the
activation -- scikit-learn's 'relu' against fastnet's ``ELU(alpha=0.5)`` --
of a ``StandardScaler`` + ``MLPClassifier`` pipeline (per-sample SGD with
early stopping) on the digits by 3-fold cross-validation, running two fits
at a time (``n_jobs=2``), then scores the best pipeline on held-out images.

Run: python examples/grid_search_pipeline.py
"""
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastnet

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)

# n_jobs=1: each network trains on one thread, since the search already
# runs two fits side by side
pipeline = make_pipeline(
    StandardScaler(),
    fastnet.MLPClassifier(solver="sgd", batch_size=1, learning_rate_init=0.001,
                          max_iter=30, early_stopping=True, random_state=0, n_jobs=1))
grid = {
    "mlpclassifier__hidden_layer_sizes": [(32,), (64,)],
    "mlpclassifier__activation": ["relu", fastnet.ELU(alpha=0.5)],
}
search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2).fit(X_train, y_train)

for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    shown = {name.split("__")[1]: value for name, value in params.items()}
    print(f"cross-validated accuracy {score:.3f}  {shown}")
print(f"best: {search.best_params_}")
print(f"test accuracy of the best pipeline: {search.score(X_test, y_test):.3f}")
