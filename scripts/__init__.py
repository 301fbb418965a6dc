"""The ``paddock`` command line: thin commands that parse flags, call ``serving/`` and print."""
