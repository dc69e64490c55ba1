"""Sources: connectors that read scopes and hand back snapshots or failures."""
