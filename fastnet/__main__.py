"""``python -m fastnet``: the ``fastnet`` command (see ``fastnet.cli``)."""
from fastnet.cli import main

if __name__ == "__main__":
    main()
