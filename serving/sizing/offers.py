"""Instance types AWS does not sell On-Demand in a region: how sizing words their rejection and pin note.

Recommendation mode skips such (type, region) pairs and lists each in ``rejected`` with
:func:`rejection_reason`; an explicit pin is still sized (for capacity held through an ODCR or an EC2
Capacity Block), with :func:`pin_note` first in the notes and no cost (the catalog has no list price).
"""

from __future__ import annotations

from serving.catalog.hardware import Availability, InstanceSpec, availability

PIN_NOTE_PREFIX = "NOT SOLD ON-DEMAND"
"""First words of the note a plan on an unsold (type, region) pair carries."""


def unsold(instance: InstanceSpec | None, region: str | None) -> Availability | None:
    """The availability of ``instance`` in ``region`` when AWS does not sell it On-Demand there; else None."""
    if instance is None or region is None:
        return None
    found = availability(instance.type, region)
    return found if found is not None and not found.offered else None


def rejection_reason(av: Availability) -> str:
    """Why recommendation mode skips the pair, e.g. "not sold On-Demand in eu-central-1 (price list
    2026-11-23); use a Capacity Block/ODCR or another region"."""
    if av.purchase == "capacity-blocks":
        return f"{av.describe()}; pin it only with a Capacity Block, or use another instance type"
    return f"{av.describe()}; use a Capacity Block/ODCR or another region"


def pin_note(av: Availability) -> str:
    """The note of a plan sized on an explicitly pinned, unsold pair."""
    held = (
        "an EC2 Capacity Block"
        if av.purchase == "capacity-blocks"
        else "an On-Demand Capacity Reservation or an EC2 Capacity Block"
    )
    return (
        f"{PIN_NOTE_PREFIX}: {av.instance_type}: {av.describe()}. Sized because it was pinned: run it "
        f"only on capacity you hold ({held}); the catalog has no list price for it, so the plan's costs "
        "are unknown"
    )
