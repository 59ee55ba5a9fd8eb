"""`python -m agentkeel.cli` runs the `keel` command."""

from agentkeel.cli.main import main

main()
