"""`python -m cl_assets.cli`: the `cl` command."""

from cl_assets.cli import main

main()
