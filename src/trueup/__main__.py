"""``python -m trueup`` runs the command line."""

from trueup.cli import entry

entry()
