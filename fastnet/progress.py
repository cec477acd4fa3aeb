"""What a fit shows while it trains, by ``verbose``:

- ``False`` / 0: nothing;
- ``True`` / 1: a progress bar (tqdm, on stderr) per ``fit``: epochs done,
  the last epoch's loss and validation score, and progress inside an epoch
  when an epoch is long enough to watch; L-BFGS shows its iterations.  A
  ``partial_fit`` call (one epoch) prints scikit-learn's line instead;
- 2 or more: scikit-learn's lines, as its MLP prints them with
  ``verbose=True`` ("Iteration 3, loss = 0.25...", "Validation score: ...",
  the stopping messages) -- the drop-ins' exact scikit-learn output.
"""
import sys


def shows_lines(verbose, incremental=False):
    """Whether scikit-learn's printed lines are wanted."""
    return bool(verbose) and (verbose is not True and verbose >= 2 or incremental)


class Progress:
    """The progress display of one fit/partial_fit call."""

    def __init__(self, verbose, max_iter, incremental=False, unit="epoch"):
        self.lines = shows_lines(verbose, incremental)
        self.bar = None
        if verbose and not self.lines:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=max_iter, unit=unit, file=sys.stderr, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total} {unit}s "
                                       "[{elapsed}<{remaining}{postfix}]")
        self._shown = 0.0
        self._postfix = {}

    def within_epoch(self, epochs_done, fraction):
        """Part of an epoch is trained: epochs_done whole ones plus fraction."""
        if self.bar is not None:
            self._move_to(epochs_done + fraction)

    def epoch_end(self, n_iter, loss):
        """An epoch is done (scikit-learn's "Iteration" line in that mode)."""
        if self.lines:
            print("Iteration %d, loss = %.8f" % (n_iter, loss))
        elif self.bar is not None:
            self._move_to(n_iter)
            self._postfix["loss"] = f"{loss:.4g}"
            self.bar.set_postfix(self._postfix, refresh=False)

    def validated(self, score):
        """The epoch's validation score (early stopping)."""
        if self.lines:
            print("Validation score: %f" % score)
        elif self.bar is not None:
            self._postfix["validation"] = f"{score:.4g}"
            self.bar.set_postfix(self._postfix, refresh=False)

    def note(self, text):
        """A stopping message: under the bar, or as scikit-learn prints it."""
        if self.lines:
            print(text)
        elif self.bar is not None:
            self.bar.write(text, file=sys.stderr)

    @property
    def iterations(self):
        """Whole epochs (or iterations) shown so far."""
        return int(self._shown)

    def _move_to(self, position):
        self.bar.update(max(0.0, position - self._shown))
        self._shown = max(self._shown, position)

    def close(self):
        if self.bar is not None:
            self.bar.close()
