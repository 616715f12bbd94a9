"""The pydantic classes of a manifest, format 1: the manifest, its organization, the model
trained, and its sources."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .fields import (
    Count,
    Country,
    Distribution,
    Flag,
    Id,
    IsoDate,
    Platform,
    Purpose,
    Route,
    Service,
    SourceKind,
    Traces,
    Use,
    check_version,
    limited,
)
from .references import reference_problems

_CONFIG = ConfigDict(extra="forbid", frozen=True)


class Organization(BaseModel):
    """The organization that runs the pipeline."""

    model_config = _CONFIG

    name: str | None = None
    country: Country | None = None
    owned_from: Country | None = None
    verified_with: Annotated[list[Id], limited("verified_with")] | None = None
    agreements: Annotated[list[str], limited("agreements")] | None = None
    monthly_active_users: Count | None = None


class TrainedModel(BaseModel):
    """The model the pipeline trains."""

    model_config = _CONFIG

    name: str | None = None
    purpose: Purpose | None = None
    distribution: Distribution | None = None
    commercial: Flag | None = None
    attributions: Annotated[list[str], limited("attributions")] | None = None
    downstream_licenses: Annotated[list[str], limited("downstream_licenses")] | None = None


class Access(BaseModel):
    """How a source's outputs were obtained."""

    model_config = _CONFIG

    route: Route | None = None
    platform: Platform | None = None
    from_country: Country | None = None


class Interval(BaseModel):
    """When a source was collected; ``from`` and ``to`` are inclusive and each optional."""

    model_config = _CONFIG

    from_: IsoDate | None = Field(default=None, alias="from")
    to: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise PydanticCustomError(
                "manifest-invalid-value",
                "the interval ends before it starts: `from` is {start}, `to` is {end}",
                {
                    "start": self.from_.isoformat(),
                    "end": self.to.isoformat(),
                    "help": "swap `from` and `to`",
                },
            )
        return self


class Source(BaseModel):
    """One data source of the pipeline."""

    model_config = _CONFIG

    id: Annotated[str, Field(min_length=1)]
    kind: SourceKind | None = None
    provider: Id | None = None
    model: str | None = None
    service: Service | None = None
    access: Access | None = None
    collected: Interval | None = None
    records: Count | None = None
    reasoning_traces: Traces | None = None
    #: The outputs include results grounded in a search service (e.g. Grounding with Google
    #: Search), which some terms forbid training on.
    grounded: Flag | None = None
    use: Annotated[list[Use], limited("use")] | None = None
    license: str | None = None
    derived_from: Annotated[list[str], limited("derived_from")] | None = None


class Manifest(BaseModel):
    """A usage manifest, format 1."""

    model_config = _CONFIG

    tosguard: Annotated[Literal[1], BeforeValidator(check_version)]
    organization: Organization | None = None
    model: TrainedModel | None = None
    # fail_fast: validation stops at the first invalid source (a valid manifest costs the
    # same); parse_manifest looks for the others piece by piece, with bounded memory.
    sources: Annotated[list[Source], Field(fail_fast=True)]
    facts: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Manifest:
        # parse_manifest runs these checks on the raw data, with positions, and says so.
        if info.context and info.context.get("references_checked"):
            return self
        problem = next(reference_problems([(s.id, s.derived_from) for s in self.sources]), None)
        if problem is not None:
            code, message, _, help, _ = problem
            raise PydanticCustomError(code, "{message}", {"message": message, "help": help()})
        return self
