"""The ``idnode`` command line: ``main`` parses the arguments and runs a command (cli/main.py); the
commands live beside it by subject; ``python -m resolver.cli`` runs it too (__main__.py)."""
