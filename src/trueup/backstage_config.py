"""The ``backstage:`` section of ``trueup.yaml`` and a git source's ``web:`` links.

Part of the configuration (:mod:`trueup.config` builds on these models): what
the feed may hold (SPEC 2, 6.1) and how entities link back to the file they
were declared in. :mod:`trueup.model.emission` turns ``backstage:`` into the
policy every descriptor parse and every publisher applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trueup.errors import ConfigError
from trueup.model.emission import CustomKind, EmissionPolicy, SchemaError
from trueup.parse.catalog_yaml import Document, DocumentError, load_documents
from trueup.path_policy import Refusal, read_file


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebLinksConfig(_Model):
    """How entities of a repository link back to their file (``backstage.io/source-location``,
    ``view-url``, ``edit-url``): a known host type, or URL templates for any other host.

    Templates may use ``{base}`` (the repository's web address, when known),
    ``{branch}``, ``{path}`` (the file) and ``{folder}`` (its folder, ending in ``/``).
    """

    host: Literal["github", "gitlab", "bitbucket-cloud", "bitbucket-server"] | None = None
    base: str | None = None  # the repository's web address when the clone URL does not tell
    source_location: str | None = None  # e.g. https://git.example.com/catalog/tree/{folder}
    view_url: str | None = None
    edit_url: str | None = None

    @field_validator("source_location", "view_url", "edit_url")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(base="b", branch="b", path="p", folder="f/")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"{value!r} may use only {{base}}, {{branch}}, {{path}} and {{folder}} ({exc})"
                ) from None
        return value


BUILTIN_KINDS = ("Component", "API", "Resource", "System", "Domain", "Group", "User")


class CustomKindConfig(_Model):
    """A kind of entity outside Backstage's built-ins, validated by its own JSON Schema.

    ``schema`` is a JSON Schema of the whole entity: a file (JSON or YAML,
    relative to this configuration) or the schema itself inline. Backstage needs
    a processor for the kind too, or it refuses the whole location.
    """

    kind: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9]{0,62}$")
    api_versions: list[str] = Field(min_length=1)  # e.g. [acme.io/v1alpha1]
    schema_: str | dict[str, Any] = Field(alias="schema")


class BackstageConfig(_Model):
    """What the feed may hold: only what the Backstage reading it accepts (SPEC 2, 6.1)."""

    kinds: list[str] = list(BUILTIN_KINDS)  # Template and custom kinds opt in
    custom_kinds: list[CustomKindConfig] = []
    # A catalog file larger than this is refused whole; generated catalogs run to tens of MB.
    max_file_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    # The most a $text/$json/$yaml placeholder may read.
    max_placeholder_bytes: int = Field(4 * 1024 * 1024, ge=1)

    @model_validator(mode="after")
    def _known_kinds(self) -> BackstageConfig:
        custom: dict[str, str] = {}
        for entry in self.custom_kinds:  # the policy keeps one per kind, any case
            if entry.kind.lower() in custom:
                raise ValueError(f"custom_kinds: {entry.kind!r} is listed twice")
            custom[entry.kind.lower()] = entry.kind
        known = {k.lower() for k in (*BUILTIN_KINDS, "Template")}
        for kind in self.kinds:
            if kind.lower() == "location":
                raise ValueError(
                    "kinds: Location entities are followed by the sources, never emitted"
                )
            if kind.lower() not in known and kind.lower() not in custom:
                raise ValueError(
                    f"kinds: {kind!r} is neither a built-in kind nor Template; a custom kind "
                    "needs a custom_kinds entry with its JSON Schema"
                )
        for lower, kind in custom.items():
            if lower in known:
                raise ValueError(f"custom_kinds: {kind!r} is a built-in kind")
        return self


def emission_policy(config: BackstageConfig) -> EmissionPolicy:
    """The policy ``backstage:`` describes, its custom kinds' schemas read and checked.

    Raises ConfigError naming the kind when a schema cannot be read or is no JSON Schema.
    """
    kinds = []
    for custom in config.custom_kinds:
        schema = custom.schema_ if isinstance(custom.schema_, dict) else _schema(custom)
        try:
            kinds.append(CustomKind(custom.kind, frozenset(custom.api_versions), schema))
        except SchemaError as exc:
            raise ConfigError(f"backstage.custom_kinds: {exc}") from None
    return EmissionPolicy(
        kinds=tuple(config.kinds),
        custom=tuple(kinds),
        max_file_bytes=config.max_file_bytes,
        max_placeholder_bytes=config.max_placeholder_bytes,
    )


_MAX_SCHEMA_BYTES = 4 * 1024 * 1024


def _schema(custom: CustomKindConfig) -> dict[str, Any]:
    """A custom kind's schema file: JSON, or YAML read with the catalog files' limits."""
    path = Path(str(custom.schema_))
    where = f"backstage.custom_kinds[{custom.kind}].schema {path}"
    data = read_file(path, max_bytes=_MAX_SCHEMA_BYTES)  # a regular file, capped
    if isinstance(data, Refusal):
        raise ConfigError(f"{where}: cannot be read: it {data.reason}")
    documents = load_documents(data, max_file_bytes=_MAX_SCHEMA_BYTES)
    if len(documents) != 1 or not isinstance(documents[0], Document):
        problem = documents[0] if documents else None
        reason = problem.message if isinstance(problem, DocumentError) else "no single document"
        raise ConfigError(f"{where}: is not one JSON or YAML mapping: {reason}")
    schema: dict[str, Any] = documents[0].value
    return schema
