"""The stored form of an observation: its canonical JSON text and that text's digest.

:class:`ReadEncoder` encodes the observations of one read for
:func:`trueup.store.observations.apply_read`. The text is
``json_text(observation.to_json(), canonical=True)`` and the digest its sha256,
as they always were (a stored row is compared with a new read by digest, so
they never change); but the text of ``observed_at``, which every observation of
a read mostly shares, is made once for all of them and handed to ``to_json``,
and the ref's text is made once for the payload and the row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trueup.errors import StoreError
from trueup.model.observation import Observation, Snapshot
from trueup.store.engine import JSONText, json_text


@dataclass(slots=True)
class Encoded:
    """One observation as stored."""

    observation: Observation
    part: str
    digest: str
    text: JSONText
    ref: str  # str(observation.ref)


class ReadEncoder:
    """Encodes the observations of one read; refuses naive times and values JSON cannot hold."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._time: datetime | None = None  # the last observed_at met, checked aware
        self._time_text = ""

    def __call__(self, observation: Observation) -> Encoded:
        ref = str(observation.ref)
        try:
            text = json_text(self.to_document(observation, ref), canonical=True)
        except (TypeError, ValueError) as error:
            raise StoreError(
                f"observation of {observation.ref} in {self.snapshot.source}/"
                f"{self.snapshot.scope} cannot be stored: {error}"
            ) from error
        digest = hashlib.sha256(text.encode()).hexdigest()
        return Encoded(observation, observation.part or "", digest, text, ref)

    def to_document(self, observation: Observation, ref: str) -> dict[str, Any]:
        """``observation.to_json()``, ``ref`` being ``str(observation.ref)``."""
        provenance = observation.provenance
        observed_at = provenance.observed_at
        if observed_at is not self._time:
            if observed_at.tzinfo is None or observed_at.utcoffset() is None:
                raise StoreError(
                    f"observation of {observation.ref} in {self.snapshot.source}/"
                    f"{self.snapshot.scope} has a naive observed_at; times must be aware (UTC)"
                )
            self._time, self._time_text = observed_at, observed_at.isoformat()
        return observation.to_json(ref, self._time_text)
