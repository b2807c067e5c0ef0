"""Map channel, source and metadata to a touchpoint and a journey stage (rules in configs/)."""

from __future__ import annotations

from configs import MappingConfig


def assign_touchpoint(channel: str, source: str, explicit: str | None, source_default: str | None,
                      text: str, mapping: MappingConfig) -> tuple[str, str]:
    """(touchpoint, journey_stage).

    Precedence: the record's own touchpoint field, then the source's configured touchpoint, then
    the first matching rule (channel/source filters, then keywords in the text), then the default.
    Unknown touchpoint names keep their name and get the journey stage "other".
    """
    tp = explicit or source_default
    if tp is None:
        low = text.lower()
        for rule in mapping.rules:
            if rule.channel and rule.channel != channel:
                continue
            if rule.source and rule.source != source:
                continue
            if rule.keywords and not any(k.lower() in low for k in rule.keywords):
                continue
            tp = rule.touchpoint
            break
    tp = (tp or mapping.default_touchpoint).strip().lower()
    return tp, mapping.stages.get(tp, "other")
