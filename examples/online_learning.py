"""Online learning: a classifier that learns from a stream, one chunk at a time.

The 8x8 digit images of scikit-learn arrive in chunks of 50, as from a
sensor or a queue.  Each chunk is first predicted (the model has never seen
it, so this is an honest test) and then learnt with ``partial_fit``: one
pass of per-sample SGD over the chunk.  The running accuracy over everything
predicted so far rises as the stream goes on; the last lines score the model
on the images held out of the stream.

Run: python examples/online_learning.py
"""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastnet

CHUNK = 50

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixel intensities 0..16 to [0, 1]
X_stream, X_test, y_stream, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0)

model = fastnet.MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", batch_size=1,
                              learning_rate_init=0.01, random_state=0)
classes = np.unique(y)  # partial_fit must know every class from the first chunk
correct = predicted = 0
for i, start in enumerate(range(0, len(X_stream), CHUNK)):
    X_chunk, y_chunk = X_stream[start:start + CHUNK], y_stream[start:start + CHUNK]
    if i > 0:  # test, then train: the model has not seen this chunk yet
        correct += np.sum(model.predict(X_chunk) == y_chunk)
        predicted += len(y_chunk)
    model.partial_fit(X_chunk, y_chunk, classes=classes)
    if i % 5 == 4:
        print(f"{start + len(y_chunk):5d} samples streamed: "
              f"running accuracy {correct / predicted:.3f}")

print(f"accuracy on {len(y_test)} held-out images: {model.score(X_test, y_test):.3f}")
