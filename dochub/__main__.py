"""``python -m dochub``: the same command line as the ``dochub`` script."""

from dochub.cli import main

main()
