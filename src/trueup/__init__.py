"""trueup: trustworthy developer-portal catalog data.

Sources observe intent (git, catalog files) and actual state (clusters,
Terraform); the assembler merges those observations into Backstage entities with
field-level provenance; checks attach findings; the store keeps every revision;
sinks hand the result to Backstage and to people. See docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
