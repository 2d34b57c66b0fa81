"""StationService: the one place that applies the rules and writes. Every face goes through it.

A scan: parse the payload (domain.codes) → read the serial → decide (domain.stages) → write the
transition and its event in one transaction → answer. The answer is given only after commit.
"""

from scanstation.service.checks import (
    AI82_CHARACTERS,
    SECONDARY_QR_LENGTH,
    SERIAL_DIGITS,
    SERIAL_MAX_LENGTH,
    new_secondary_qrs,
    normalise_gtin,
)
from scanstation.service.imports import ImportProblem, ImportReport
from scanstation.service.people import WRONG_PINS_BEFORE_LOCKOUT, AuthError, TokenInfo
from scanstation.service.setup import ServiceError, StationSetup
from scanstation.service.station import StationService
from scanstation.store.database import redacted_url
from scanstation.store.errors import StoreBusy, StoreError

__all__ = [
    "AI82_CHARACTERS",
    "SECONDARY_QR_LENGTH",
    "SERIAL_DIGITS",
    "SERIAL_MAX_LENGTH",
    "WRONG_PINS_BEFORE_LOCKOUT",
    "AuthError",
    "ImportProblem",
    "ImportReport",
    "ServiceError",
    "StationService",
    "StationSetup",
    "StoreBusy",
    "StoreError",
    "TokenInfo",
    "new_secondary_qrs",
    "normalise_gtin",
    "redacted_url",
]
