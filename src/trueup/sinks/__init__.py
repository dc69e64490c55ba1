"""Sinks: where assembled entities go (the Backstage feed, a folder of YAML files)."""
