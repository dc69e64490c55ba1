"""The ``terraform`` source: Terraform state v4 as actual state (SPEC 4.3).

:class:`TerraformSource` reads states from local files, S3 (or any
S3-compatible server) and HTTP state backends
(:mod:`~trueup.sources.terraform.backends`), validates them
(:mod:`~trueup.sources.terraform.state`), keeps rollbacks and conflicts out
(:mod:`~trueup.sources.terraform.lineage`), withholds every sensitive value
(:mod:`~trueup.sources.terraform.sensitive`) and turns each managed resource
instance into a Resource observation (:mod:`~trueup.sources.terraform.mapping`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trueup.lazy import lazy_attributes

if TYPE_CHECKING:
    from trueup.sources.terraform.source import TerraformSource

__all__ = ["TerraformSource"]

# Imported on first use: loading the plugin entry point must not import the terraform source.
__getattr__ = lazy_attributes(
    __name__,
    {
        "TerraformSource": "trueup.sources.terraform.source",
    },
)
