"""Typed redaction policy (which PII kinds are replaced before text is stored, logged or cached)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

# National id detectors by registry name (implemented in pipeline/pii/numbers.py, NATIONAL_IDS).
# A behaviour change to a detector gets a new name; old names keep working.
NATIONAL_ID_DETECTORS = ("it_codice_fiscale", "cn_resident_id", "ir_national_code", "de_tax_id", "fr_nir", "es_dni")


class RedactionConfig(BaseModel):
    """Which kinds of PII are replaced by typed placeholders.

    Attributes:
        phone_regions: ISO 3166 regions whose national formats count as phone numbers (numbers
            written with + or 00 are recognised for every country).
        national_ids: national id detectors to run, by registry name; empty turns them off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    emails: bool = True
    phones: bool = True
    cards: bool = True
    ibans: bool = True
    national_id_numbers: bool = True
    names: bool = True
    addresses: bool = True
    phone_regions: tuple[str, ...] = ("US", "GB", "IT", "DE", "FR", "CN", "IR")
    national_ids: tuple[str, ...] = ("it_codice_fiscale", "cn_resident_id", "ir_national_code")

    @field_validator("national_ids")
    @classmethod
    def _known_detectors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [n for n in v if n not in NATIONAL_ID_DETECTORS]
        if bad:
            raise ValueError(f"unknown national id detector(s) {bad}; known: {list(NATIONAL_ID_DETECTORS)}")
        return v

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import phonenumbers  # the library's own list of regions it has metadata for

        v = tuple(r.upper() for r in v)
        bad = [r for r in v if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ValueError(f"unknown phone region(s) {bad}; use ISO 3166 alpha-2 codes such as 'IT', 'CN'")
        return v
