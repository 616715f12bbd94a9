"""Sources suggested by what an input says about how its data was made.

Evidence that a dataset holds model outputs (a card's ``annotations_creators:
machine-generated``, a ``synthetic`` tag, Croissant's ``rai:dataCollectionType``, the Data
Provenance Initiative's "Model Generated") and the providers named with it become one
``model-output`` source per provider, linked from the dataset's ``derived_from``. Their kind,
provider and model are hints (``# declare:`` lines to confirm): a name in prose is not a
declaration, and a check never relies on one unconfirmed.
"""

from __future__ import annotations

import re

from .draft import Draft, DraftSource, Fact
from .providers import model_name_of, output_hints

_QUOTED = re.compile(r' "[^"]*"')
#: provider -> [(model name, where it was named)]
Mentions = dict[str, list[tuple[str, str]]]


def add_mentions(
    mentions: Mentions,
    text: str,
    first_line: int,
    name: str,
    label: str = "",
    at: str | None = None,
) -> None:
    """Add the outputs ``text`` of input ``name`` says it holds (its first line being
    ``first_line``), each with where it was said, as its hint's comment names it:
    ``name:line``, or ``at`` (a place of the input), then ``label`` (the key) and the words."""
    for mention in output_hints(text, first_line):
        place = at if at is not None else f"{name}:{mention.line}"
        where = f'{place} {label} "{mention.text}"' if label else f'{place} "{mention.text}"'
        mentions.setdefault(mention.provider, []).append((mention.name, where))


def suggest_generators(draft: Draft, source: DraftSource, mentions: Mentions, name: str) -> None:
    """The `model-output` sources ``mentions`` suggest for ``source``, each linked from its
    ``derived_from`` as a suggestion (see :func:`set_derived`)."""
    ids = [generator.id for generator, _ in generator_sources(draft, source, [], mentions, name)]
    set_derived(source, ids, [], ids)


def generator_sources(
    draft: Draft, dataset: DraftSource, evidence: list[str], mentions: Mentions, input_name: str
) -> list[tuple[DraftSource, str]]:
    """The `model-output` sources ``evidence`` and ``mentions`` suggest for ``dataset``, each
    with a text saying why."""
    if not mentions and not evidence:
        return []
    found: list[tuple[DraftSource, str]] = []
    base = dataset.id
    if not mentions:
        generator = draft.source(f"{dataset.ref}#generator", id_hint=f"{base}-generator")
        origin = "; ".join(evidence)
        generator.origin = f"hint: {origin}"
        generator.set("kind", Fact.hint("model-output", origin, "machine-generated text"))
        generator.set("provider", Fact.open("which model made it? the input does not say"))
        return [(generator, origin)]
    for provider, names in mentions.items():
        generator = draft.source(f"{dataset.ref}#{provider}", id_hint=f"{base}-{provider}")
        where = "; ".join(dict.fromkeys(w for _, w in names))
        short = "; ".join(dict.fromkeys(_QUOTED.sub("", w) for _, w in names))
        generator.origin = f"hint: {where}"
        generator.set("kind", Fact.hint("model-output", short, "the input says it is generated"))
        generator.set("provider", Fact.hint(provider, short))
        specific = list(dict.fromkeys(n for n, _ in names if model_name_of(n)))
        if len({n.lower() for n in specific}) == 1:
            generator.set("model", Fact.hint(specific[0], short))
        elif specific:
            generator.set(
                "model", Fact.open(f"the input names several models: {', '.join(specific)}")
            )
        found.append((generator, "; ".join([*evidence, short])))
    if len(mentions) > 1:
        draft.notes.append(
            f"{input_name} names outputs of {len(mentions)} providers "
            f"({', '.join(mentions)}): one source each; delete those that do not apply"
        )
    return found


def set_derived(
    source: DraftSource, derived: list[str], origins: list[str], suggested: list[str]
) -> None:
    """Set ``derived_from``: the parents an input names (``origins``) and the sources this
    import only suggests (``suggested``, which go when their suggestion is not confirmed)."""
    if not derived:
        return
    note = ""
    if suggested:
        shown = ", ".join(f"`{s}`" for s in suggested)
        note = f"{shown}: suggested below; remove with its source unless confirmed"
    source.set("derived_from", Fact.stated(derived, "; ".join(origins), note))
