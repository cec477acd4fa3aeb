"""The ``fastnet`` command: ``fastnet digits`` (the main job) and ``fastnet bench``."""
import argparse
import sys
import time
import warnings


def digits(argv=None):
    """Train on scikit-learn's shipped digits; print test accuracy and training time."""
    parser = argparse.ArgumentParser(prog="fastnet digits", description=digits.__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from fastnet import Network

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=450, stratify=y, random_state=0)
    net = Network(hidden_layer_sizes=(100,), activation="relu", output_activation="softmax",
                  loss="cross_entropy", batch_size=1, learning_rate_init=0.01,
                  max_iter=args.epochs, random_state=0, n_jobs=args.n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X_train, np.eye(10)[y_train])
    seconds = time.perf_counter() - start
    accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    print(f"digits 64-100-10, per-sample SGD (batch_size=1), {net.n_iter_} epochs "
          f"on {len(X_train)} samples")
    print(f"test accuracy: {accuracy:.4f}")
    print(f"training time: {seconds:.3f} s "
          f"({seconds / net.n_iter_ * 1e3:.2f} ms per epoch, "
          f"{seconds / net.n_iter_ / len(X_train) * 1e6:.2f} us per sample)")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = {"digits": digits}
    if argv and argv[0] == "bench":
        from fastnet.bench import main as bench
        return bench(argv[1:])
    if not argv or argv[0] not in commands:
        print("usage: fastnet {digits,bench} [options]\n"
              "  digits  train on scikit-learn's digits, print accuracy and time\n"
              "  bench   fastnet vs scikit-learn, PyTorch and FANN")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
