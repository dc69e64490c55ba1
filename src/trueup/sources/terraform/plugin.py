"""The ``terraform`` source plugin, named by the ``trueup.sources`` entry point ``terraform``."""

from __future__ import annotations

from trueup.sources.base import Source, SourcePlugin, SourceSetup
from trueup.sources.terraform.config import TerraformSourceConfig


def create(config: TerraformSourceConfig, setup: SourceSetup) -> Source:
    from trueup.sources.terraform.source import TerraformSource

    return TerraformSource(config)


PLUGIN = SourcePlugin(
    config=TerraformSourceConfig,
    create=create,
    summary="Terraform state v4 from files, S3 or HTTP backends (actual)",
)
