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
    DataPaths,
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

    name: str | None = Field(None, description="The organization's name.")
    country: Country | None = Field(
        None, description="Where the organization is established (ISO 3166-1 alpha-2)."
    )
    owned_from: Country | None = Field(
        None, description="The jurisdiction of its majority ownership (ISO 3166-1 alpha-2)."
    )
    verified_with: Annotated[list[Id], limited("verified_with")] | None = Field(
        None,
        description="Providers with whom the organization completed identity or organization "
        "verification (provider ids). Absent means none.",
    )
    agreements: Annotated[list[str], limited("agreements")] | None = Field(
        None,
        description="Ids of signed agreements or written authorizations that waive clauses "
        "(`tosguard policies --ids` lists them). Absent means none.",
    )
    monthly_active_users: Count | None = Field(
        None,
        description="The highest monthly count of active users in the period the terms look at.",
    )


class TrainedModel(BaseModel):
    """The model the pipeline trains."""

    model_config = _CONFIG

    name: str | None = Field(
        None, description="The model's name as released (some licences require a prefix)."
    )
    purpose: Purpose | None = Field(None, description="What the model is for.")
    distribution: Distribution | None = Field(
        None,
        description="How the model is made available: kept internal, served through an "
        "API, built into a product, or released as open weights.",
    )
    commercial: Flag | None = Field(None, description="Whether the model is used commercially.")
    attributions: Annotated[list[str], limited("attributions")] | None = Field(
        None, description="Notices the release displays, e.g. `Built with Llama`."
    )
    downstream_licenses: Annotated[list[str], limited("downstream_licenses")] | None = Field(
        None,
        description="Licences shipped with the release, whose terms and use restrictions bind "
        "its users (licence ids).",
    )


class Access(BaseModel):
    """How a source's outputs were obtained."""

    model_config = _CONFIG

    route: Route | None = Field(
        None,
        description="How requests reach the provider: directly, through a proxy or a "
        "reseller, a shared account, or an automated user interface.",
    )
    platform: Platform | None = Field(
        None, description="The cloud platform offering the provider's models, if any."
    )
    from_country: Country | None = Field(
        None,
        description="Where the requests leave from (ISO 3166-1 alpha-2); a proxy does not "
        "change it.",
    )


class Interval(BaseModel):
    """When a source was collected; ``from`` and ``to`` are inclusive and each optional."""

    model_config = _CONFIG

    from_: IsoDate | None = Field(
        default=None, alias="from", description="The first day of collection (YYYY-MM-DD)."
    )
    to: IsoDate | None = Field(None, description="The last day of collection (YYYY-MM-DD).")

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

    id: Annotated[str, Field(min_length=1)] = Field(
        description="A name for the source, unique in the manifest; findings name it."
    )
    kind: SourceKind | None = Field(None, description="What the source is.")
    provider: Id | None = Field(
        None, description="The provider whose model produced the data (a provider id)."
    )
    model: str | None = Field(None, description="The provider's model, e.g. `gpt-4o-mini`.")
    service: Service | None = Field(
        None,
        description="Through which of the provider's services the data was obtained; with "
        "the kind, it decides which terms govern the source.",
    )
    access: Access | None = Field(None, description="How the provider was reached.")
    collected: Interval | None = Field(
        None,
        description="When the data was collected: it selects the versions of the terms in "
        "force (the evaluation date when absent).",
    )
    records: Count | None = Field(None, description="How many records the source holds.")
    reasoning_traces: Traces | None = Field(
        None, description="Whether the data holds the model's reasoning, and in what form."
    )
    #: The outputs include results grounded in a search service (e.g. Grounding with Google
    #: Search), which some terms forbid training on.
    grounded: Flag | None = Field(
        None,
        description="The outputs include results grounded in a search service (e.g. "
        "Grounding with Google Search).",
    )
    use: Annotated[list[Use], limited("use")] | None = Field(
        None, description="What the pipeline does with the data."
    )
    license: str | None = Field(
        None,
        description="The licence of a dataset or of model weights (SPDX id, Hugging Face "
        "licence tag or the licence's name).",
    )
    derived_from: Annotated[list[str], limited("derived_from")] | None = Field(
        None, description="Ids of other sources of this manifest this one was produced from."
    )
    data: DataPaths | None = Field(
        None,
        description="The files of this source's data (paths, globs or directories, relative "
        "to the manifest), for `tosguard scan`; `check` does not read them.",
    )

    def data_paths(self) -> list[str]:
        """The paths and globs of :attr:`data`, as a list (empty when not declared)."""
        return list(self.data or ())


class Manifest(BaseModel):
    """A usage manifest, format 1."""

    model_config = _CONFIG

    tosguard: Annotated[Literal[1], BeforeValidator(check_version)] = Field(
        description="The manifest format version: 1."
    )
    organization: Organization | None = Field(
        None, description="The organization that runs the pipeline."
    )
    model: TrainedModel | None = Field(
        None, description="The model the pipeline trains (omit when it only builds data)."
    )
    # fail_fast: validation stops at the first invalid source (a valid manifest costs the
    # same); parse_manifest looks for the others piece by piece, with bounded memory.
    sources: Annotated[list[Source], Field(fail_fast=True)] = Field(
        description="The data the pipeline draws on."
    )
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form extension facts, read by custom policies as `facts.*`.",
    )

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
