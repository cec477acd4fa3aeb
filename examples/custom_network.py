"""A custom network: per-layer activations, a softmax output, saved and reloaded.

``fastnet.Network`` builds what scikit-learn's MLPs cannot: here two hidden
layers with their own activations -- tanh, then an ELU with alpha 0.5 -- and
a softmax output trained on one-hot targets with cross entropy, per sample.
The trained network is written with ``fastnet.save`` (a model file that
loading never unpickles), read back with ``fastnet.load``, and the two are
compared: the same predictions, and, since the file keeps the optimizer's
state, the same weights after one more epoch of training each.

Run: python examples/custom_network.py
"""
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastnet

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
one_hot = np.eye(10)[y_train]  # softmax + cross entropy learn one column per class

net = fastnet.Network(hidden_layer_sizes=(64, 32), activation=["tanh", fastnet.ELU(alpha=0.5)],
                      output_activation="softmax", loss="cross_entropy",
                      learning_rate_init=0.05, random_state=0)
net.fit(X_train, one_hot)
accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
print(f"trained {net.n_iter_} epochs per sample: test accuracy {accuracy:.3f}")

with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "digits.fastnet")
    fastnet.save(net, path, metadata={"classes": list(range(10))})
    print(f"saved {os.path.getsize(path) / 1024:.0f} KiB to {os.path.basename(path)}")
    loaded = fastnet.load(path)

print("loaded:", loaded.activation, "->", loaded.output_activation)
same = np.array_equal(loaded.predict(X_test), net.predict(X_test))
print(f"identical predictions after loading: {same}")

# one more epoch for each: the saved optimizer state and random generator
# make the loaded network train exactly as the original
net.partial_fit(X_train, one_hot)
loaded.partial_fit(X_train, one_hot)
same = all(np.array_equal(a, b) for a, b in zip(net.coefs_, loaded.coefs_))
print(f"identical weights after one more epoch each: {same}")
