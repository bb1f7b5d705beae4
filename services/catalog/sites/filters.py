"""Query filters shared by the site list and the session search."""

from typing import Annotated

from fastapi import Depends, Query

from services.catalog.sites.schemas import Accessibility
from shared.errors import Unprocessable

_LONGEST = sum(len(feature.value) + 1 for feature in Accessibility)


async def _accessibility(
    accessibility: Annotated[
        str | None,
        Query(
            max_length=_LONGEST,
            description="Comma-separated accessibility features the site must ALL have: "
            + ", ".join(f"`{feature.value}`" for feature in Accessibility),
            examples=["step_free,hearing_loop"],
        ),
    ] = None,
) -> tuple[str, ...]:
    """`step_free,hearing_loop` -> ("hearing_loop", "step_free"); 422 for an unknown or empty tag."""
    if accessibility is None:
        return ()
    known = {feature.value for feature in Accessibility}
    tags = accessibility.split(",")
    unknown = [tag for tag in tags if tag not in known]
    if unknown:
        raise Unprocessable(
            f"Unknown accessibility features: {', '.join(map(repr, unknown))}", pointer="/query/accessibility"
        )
    return tuple(sorted(set(tags)))


AccessibilityDep = Annotated[tuple[str, ...], Depends(_accessibility)]
