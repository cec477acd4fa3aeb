"""Single-row and few-row calls take a fast path through validation that
keeps every check: the same results, errors and warnings as the full path
(scikit-learn's validate_data) and as scikit-learn's own MLP."""
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.preprocessing import LabelBinarizer

import fastnet

X, y = load_digits(return_X_y=True)
X = X[:200] / 16
y = y[:200]
REGRESSION_Y = X @ np.linspace(-1, 1, 64)


def fitted(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "classifier":
            return fastnet.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5,
                                         random_state=0).fit(X, y)
        if kind == "binary":
            return fastnet.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5,
                                         random_state=0).fit(X, y % 2)
        if kind == "regressor":
            return fastnet.MLPRegressor(hidden_layer_sizes=(16,), max_iter=5,
                                        random_state=0).fit(X, REGRESSION_Y)
        return fastnet.Network(hidden_layer_sizes=(16,), max_iter=5,
                               random_state=0).fit(X, REGRESSION_Y)


@pytest.mark.parametrize("kind", ["classifier", "binary", "regressor", "network"])
def test_plain_and_converted_inputs_predict_alike(kind):
    """A plain ndarray (fast path) and the same rows as a list of lists or a
    Fortran-ordered array (the full path) give identical predictions."""
    est = fitted(kind)
    for rows in (X[:1], X[:7], X):
        want = est.predict(rows.tolist())
        np.testing.assert_array_equal(est.predict(rows), want)
        np.testing.assert_array_equal(est.predict(np.asfortranarray(rows)), want)
        if hasattr(est, "predict_proba"):
            np.testing.assert_array_equal(est.predict_proba(rows),
                                          est.predict_proba(rows.tolist()))


@pytest.mark.parametrize("bad, message", [
    (np.full((1, 64), np.nan), "Input X contains NaN"),
    (np.full((1, 64), np.inf), "Input X contains infinity"),
    (X[:1, :3], "X has 3 features, but MLPClassifier is expecting 64 features"),
    (np.empty((0, 64)), "0 sample"),
])
def test_bad_rows_keep_scikit_learns_errors(bad, message):
    est = fitted("classifier")
    with pytest.raises(ValueError, match=message):
        est.predict(bad)
    with pytest.raises(ValueError, match=message):
        SkClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X, y).predict(bad)


def test_feature_name_warning_survives():
    """A model fitted on a DataFrame warns, as scikit-learn's does, when it
    predicts on an ndarray (no feature names)."""
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = fastnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=2,
                                    random_state=0).fit(frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X[:1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(frame.iloc[:1])


def test_partial_fit_labels_that_are_their_positions():
    """Labels 0 .. K-1 are their own positions in classes_ (a range check
    instead of a search): every integer dtype trains as float labels (which
    are searched) do, and a label outside the range is refused as unknown."""
    def fitted(labels):
        est = fastnet.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
        est.partial_fit(X[:20], y[:20], classes=np.arange(10))
        return est.partial_fit(X[20:60], labels)

    searched = fitted(y[20:60].astype(float))
    for dtype in (np.int64, np.int32, np.uint8):
        est = fitted(y[20:60].astype(dtype))
        np.testing.assert_array_equal(est._params, searched._params)
    for label in (-1, 10):
        bad = y[20:60].copy()
        bad[7] = label
        with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
            fitted(bad)


def test_partial_fit_fast_path_keeps_label_and_shape_checks():
    est = fastnet.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(X[:20], y[:20], classes=np.arange(10))
    est.partial_fit(X[:1], y[:1])                       # known label
    est.partial_fit(X[:1], y[:1].astype(float))         # the same label as a float
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(X[:1], np.array([11]))
    with pytest.raises(ValueError, match="Input y contains NaN|Unknown label type"):
        est.partial_fit(X[:1], np.array([np.nan]))
    with pytest.warns(DataConversionWarning):
        est.partial_fit(X[:2], y[:2].reshape(-1, 1))
    with pytest.raises(ValueError, match="X has 63 features"):
        est.partial_fit(X[:1, :63], y[:1])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_single_row_stream_follows_scikit_learn(solver):
    """200 partial_fit calls of one row each, with an int random_state (which
    scikit-learn reseeds on every call): the same weights as scikit-learn's."""
    params = dict(hidden_layer_sizes=(12,), solver=solver, random_state=0,
                  learning_rate_init=0.01)
    ours, theirs = fastnet.MLPClassifier(**params), SkClassifier(**params)
    for est in (ours, theirs):
        est.partial_fit(X[:10], y[:10], classes=np.arange(10))
        for i in range(10, 200):
            est.partial_fit(X[i:i + 1], y[i:i + 1])
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-10)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)


@pytest.mark.parametrize("classes", [np.arange(10), np.array([3, 7]), np.array(["a", "b", "c"])])
def test_decoding_is_label_binarizers(classes):
    """The written-out decoding equals LabelBinarizer.inverse_transform on
    random outputs, exact ties and values at the 0.5 threshold included."""
    rng = np.random.default_rng(0)
    binarizer = LabelBinarizer().fit(classes)
    est = fastnet.MLPClassifier()
    est._label_binarizer, est.classes_ = binarizer, binarizer.classes_
    width = 1 if len(classes) == 2 else len(classes)
    Y = rng.uniform(size=(500, width))
    Y[::7] = 0.5                           # ties, and the threshold itself
    Y[::11, :1] = np.nextafter(0.5, 1)
    np.testing.assert_array_equal(est._decode_targets(Y), binarizer.inverse_transform(
        Y.ravel() if width == 1 else Y))


@pytest.mark.parametrize("classes", [np.arange(10), np.arange(10) * 3 - 7, np.array([3, 7])])
def test_label_positions_one_hot_is_label_binarizers(classes):
    """partial_fit's targets from the positions _label_positions finds (one
    lookup for the check and the one-hot rows) are LabelBinarizer's; a label
    outside classes_ finds no positions."""
    rng = np.random.default_rng(1)
    est = fastnet.MLPClassifier()
    est._label_binarizer = LabelBinarizer().fit(classes)
    est.classes_ = est._label_binarizer.classes_
    labels = rng.choice(classes, size=300)
    positions = est._label_positions(labels)
    np.testing.assert_array_equal(classes[positions], labels)
    np.testing.assert_array_equal(est._one_hot(labels, positions=positions),
                                  est._label_binarizer.transform(labels).astype(bool))
    np.testing.assert_array_equal(est._one_hot(labels), est._one_hot(labels, positions=positions))
    assert est._label_positions(np.append(labels, classes.max() + 1)) is None
    assert est._label_positions(np.append(labels, classes.min() - 1)) is None


def test_fresh_random_state_is_check_random_states():
    """Reseeding a generator made from an int seed leaves the state a new
    RandomState(seed) starts in (the Gaussian cache included); a RandomState
    given by the user is returned untouched, and never reseeded later."""
    from sklearn.utils import check_random_state

    from fastnet.seeding import fresh_random_state

    made = fresh_random_state(5)
    made.standard_normal()        # leaves half of a Gaussian pair cached
    made.randint(100, size=50)
    again = fresh_random_state(5, made)
    assert again is made
    expected = np.random.RandomState(5)
    for got, want in zip(again.get_state(), expected.get_state()):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again.standard_normal(9), expected.standard_normal(9))
    assert fresh_random_state(6, made) is made        # another int seed: reseeded too
    np.testing.assert_array_equal(made.permutation(20),
                                  check_random_state(6).permutation(20))

    users = np.random.RandomState(3)
    users.randint(10)
    state = users.get_state()[1].copy()
    assert fresh_random_state(users, made) is users
    assert fresh_random_state(3, users) is not users          # not made here: a new one
    np.testing.assert_array_equal(users.get_state()[1], state)
    assert isinstance(fresh_random_state(None), np.random.RandomState)
    with pytest.raises(ValueError, match="Seed must be between"):
        fresh_random_state(-1, made)


def test_int_seed_partial_fit_stream_reseeds_one_generator():
    """Multi-row partial_fit calls with an int random_state shuffle every call
    as scikit-learn does (a fresh RandomState each call) while fastnet
    reseeds one generator; a user's RandomState keeps being drawn from."""
    params = dict(hidden_layer_sizes=(12,), batch_size=16, random_state=0,
                  learning_rate_init=0.01)
    ours, theirs = fastnet.MLPClassifier(**params), SkClassifier(**params)
    for est in (ours, theirs):
        est.partial_fit(X[:50], y[:50], classes=np.arange(10))
    generator = ours._random_state
    for start in range(50, 200, 50):
        for est in (ours, theirs):
            est.partial_fit(X[start:start + 50], y[start:start + 50])
    assert ours._random_state is generator
    for got, want in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-10)

    users = np.random.RandomState(0)
    est = fastnet.MLPClassifier(hidden_layer_sizes=(12,), batch_size=16, random_state=users)
    est.partial_fit(X[:50], y[:50], classes=np.arange(10))
    drawn = users.get_state()[2]
    est.partial_fit(X[50:100], y[50:100])
    assert est._random_state is users and users.get_state()[2] != drawn


def test_minibatch_fit_holds_blas_to_one_thread_and_gives_it_back(monkeypatch):
    """While a minibatch fit trains, every BLAS library runs on one thread
    (another thread count may sum a GEMM's entries in another order); the
    counts are given back afterwards, also when fits nest."""
    from threadpoolctl import threadpool_limits

    libraries = fastnet.threads._blas_libraries()
    seen = []
    train = fastnet.training._Epochs.train

    def watching(self, *args):
        seen.append([library.num_threads for library in libraries])
        return train(self, *args)

    monkeypatch.setattr(fastnet.training._Epochs, "train", watching)
    with threadpool_limits(limits=2, user_api="blas"):
        before = [library.num_threads for library in libraries]
        if set(before) == {1}:
            pytest.skip("BLAS runs one thread at most here: no limit to take")
        est = fastnet.MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with fastnet.threads.single_threaded_blas(True):   # an outer user
                est.fit(X, y)
                assert [library.num_threads for library in libraries] == [1] * len(libraries)
            assert [library.num_threads for library in libraries] == before
            est.fit(X, y)
        assert [library.num_threads for library in libraries] == before
    assert seen and all(counts == [1] * len(libraries) for counts in seen)


def test_pickles_and_model_files_hold_a_plain_random_state(tmp_path):
    """The reseeded generator leaves as a plain RandomState in its state, and
    a model loaded from a file or a pickle goes on exactly as the original."""
    import pickle

    est = fastnet.MLPClassifier(hidden_layer_sizes=(12,), batch_size=16, random_state=0)
    est.partial_fit(X[:50], y[:50], classes=np.arange(10))
    fastnet.save(est, tmp_path / "model.fastnet")
    copies = [pickle.loads(pickle.dumps(est)), fastnet.load(tmp_path / "model.fastnet")]
    for copy in copies:
        assert type(copy._random_state) is np.random.RandomState
        np.testing.assert_array_equal(copy._random_state.get_state()[1],
                                      est._random_state.get_state()[1])
    for model in [est] + copies:
        model.partial_fit(X[50:100], y[50:100])
    for copy in copies:
        for got, want in zip(copy.coefs_, est.coefs_):
            np.testing.assert_array_equal(got, want)
