"""``python -m trueup`` runs the command line."""

from trueup.launch import entry

entry()
