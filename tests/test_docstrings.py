"""Every public object of fastnet is documented, and its examples run.

The public objects are the names in ``fastnet.__all__`` and, for classes,
their public methods defined in fastnet plus the estimator methods users
call (``PUBLIC_METHODS``; ``score`` is inherited from scikit-learn's mixins).

- The Examples section of every public docstring runs as a doctest
  (NORMALIZE_WHITESPACE | ELLIPSIS), with warnings turned into errors, so an
  example that stops converging or starts warning fails here.
- numpydoc's validator checks every public docstring for the errors in
  ``ENFORCED``: a docstring with a summary (GL08, SS01, SS03), a Parameters
  section that matches the signature and describes each entry (PR01, PR02,
  PR07), a Returns section where the callable returns something (RT01), and
  an Examples section (EX01, for the docstrings fastnet writes).
"""
import ast
import doctest
import inspect
import io
import warnings

import pytest

import fastnet

numpydoc_validate = pytest.importorskip("numpydoc.validate")

PUBLIC_METHODS = ("fit", "partial_fit", "predict", "predict_proba", "predict_log_proba",
                  "score")

ENFORCED = {
    "GL08": "the object has no docstring",
    "SS01": "no summary",
    "SS03": "the summary does not end with a period",
    "PR01": "parameters of the signature are not documented",
    "PR02": "documented parameters are not in the signature",
    "PR07": "a parameter has no description",
    "RT01": "no Returns section, but the callable returns something",
    "EX01": "no Examples section",
}

DOCTEST_FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _is_fastnets(obj):
    return getattr(obj, "__module__", "").split(".")[0] == "fastnet"


def public_objects():
    """{dotted name: object} of every public function, class and method."""
    found = {}
    for name in fastnet.__all__:
        obj = getattr(fastnet, name)
        found[f"fastnet.{name}"] = obj
        if not inspect.isclass(obj):
            continue
        for attr in dir(obj):
            member = getattr(obj, attr)
            if (not attr.startswith("_") and callable(member)
                    and (attr in PUBLIC_METHODS or _is_fastnets(member))):
                found[f"fastnet.{name}.{attr}"] = member
    return found


def documented_once():
    """{dotted name: object} with one name per docstring: ``fit`` is written
    once for the three estimators, so its examples run once."""
    names = {}
    for name, obj in public_objects().items():
        if _is_fastnets(obj):
            names.setdefault(id(inspect.unwrap(obj)), (name, obj))
    return dict(names.values())


def test_the_public_api_is_all_here():
    """Guards the collection: if it silently shrank, the tests below would
    pass vacuously."""
    names = set(public_objects())
    for expected in ("fastnet.Network.fit", "fastnet.MLPClassifier.partial_fit",
                     "fastnet.MLPRegressor.partial_fit", "fastnet.MLPClassifier.predict_proba",
                     "fastnet.MLPClassifier.predict_log_proba", "fastnet.Network.score",
                     "fastnet.to_onnx", "fastnet.DeadUnitsWarning", "fastnet.Logistic.params"):
        assert expected in names
    assert len(documented_once()) >= 19


@pytest.mark.parametrize("name", sorted(documented_once()))
def test_examples_run(name, tmp_path, monkeypatch):
    obj = documented_once()[name]
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
    assert tests and tests[0].examples, f"{name} has no examples"
    monkeypatch.chdir(tmp_path)  # whatever an example writes goes there
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    report = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for test in tests:
            runner.run(test, out=report.write)
    _close_figures()
    assert runner.failures == 0, report.getvalue()


def _close_figures():
    """plot_loss_curve's example draws a figure; pyplot keeps it open."""
    plt = __import__("sys").modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.mark.parametrize("name", sorted(public_objects()))
def test_numpydoc(name):
    errors = {code: message for code, message in numpydoc_validate.validate(name)["errors"]
              if code in ENFORCED}
    if not _is_fastnets(public_objects()[name]):
        errors.pop("EX01", None)  # scikit-learn's text (score), not ours to extend
    assert not errors, f"{name}: {errors}"


@pytest.mark.parametrize("estimator", [fastnet.Network, fastnet.MLPClassifier,
                                       fastnet.MLPRegressor], ids=lambda c: c.__name__)
def test_documented_defaults_are_the_signature_s(estimator):
    """Every parameter's documented default is the one its __init__ has."""
    from numpydoc.docscrape import ClassDoc

    documented = {p.name: p.type for p in ClassDoc(estimator)["Parameters"]}
    signature = inspect.signature(estimator.__init__).parameters
    assert set(documented) == set(signature) - {"self"}
    for name, kind in documented.items():
        assert ", default=" in kind, f"{name}: {kind!r} names no default"
        shown = kind.rsplit(", default=", 1)[1]
        assert ast.literal_eval(shown) == signature[name].default, (name, shown)
    assert "{shared" not in estimator.__doc__
