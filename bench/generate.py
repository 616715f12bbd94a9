"""Deterministic usage-manifest generator for the benchmarks.

The same ``(sources, seed, variant)`` always gives the same manifest text. Sources mix
providers (OpenAI, Meta, Anthropic, Google, DeepSeek, Mistral), services, licences, access
routes, countries (including ones outside OpenAI's supported list) and uses, so that most
clauses of the shipped library apply to some sources; a few per cent of sources leave a fact
undeclared, so the fail-closed (undetermined) path is exercised too.

    python bench/generate.py                      # (re)writes bench/data/manifest-20.yaml
    python bench/generate.py --sources 1000 --out /tmp/m.yaml

Variants (used by the Cedar agreement check) change the trained model or add a source:
``default``, ``internal-classifier`` (OpenAI Permitted Exception (a)), ``openai-fine-tuning``
(Permitted Exception (b): an OpenAI base model on OpenAI's fine-tuning service),
``llama-named`` (a model named "Llama…"), ``undeclared-kind`` (an OpenAI fine-tuning source
whose kind is undeclared, so Permitted Exception (b) is unknown: fail-closed semantics).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SEED = 20251122

SUPPORTED_COUNTRIES = (
    "US",
    "GB",
    "DE",
    "FR",
    "AE",
    "IN",
    "JP",
    "BR",
    "SG",
    "NO",
    "KR",
    "CA",
    "AU",
    "NG",
    "MX",
    "ES",
    "IT",
    "NL",
    "SE",
    "CH",
)
UNSUPPORTED_COUNTRIES = ("CN", "RU", "HK", "IR", "BY", "VE", "CU", "MO")
ROUTES = (("direct", 80), ("proxy", 8), ("shared-account", 5), ("automated-ui", 4), ("reseller", 3))
TRAINING_USES = ("pretraining", "fine-tuning", "distillation", "rlhf", "filtering", "rewriting")
FIRST_DAY, LAST_DAY = date(2024, 9, 1), date(2026, 6, 30)

ORGANIZATION = {
    "name": "Acme AI",
    "country": "AE",
    "owned_from": "AE",
    "verified_with": ["openai"],
    "agreements": [],
    "monthly_active_users": 120000,
}
MODELS = {
    "default": {
        "name": "acme-chat-7b",
        "purpose": "general-assistant",
        "distribution": "open-weights",
        "commercial": True,
        "attributions": ["Built with Llama"],
        "downstream_licenses": ["llama3.1"],
    },
    "internal-classifier": {
        "name": "ticket-router",
        "purpose": "classification",
        "distribution": "internal",
        "commercial": False,
        "attributions": [],
        "downstream_licenses": [],
    },
    "llama-named": {
        "name": "Llama-acme-chat-7b",
        "purpose": "general-assistant",
        "distribution": "open-weights",
        "commercial": True,
        "attributions": [],
        "downstream_licenses": [],
    },
}
VARIANTS = (
    "default",
    "internal-classifier",
    "openai-fine-tuning",
    "llama-named",
    "undeclared-kind",
)


# ---- source profiles --------------------------------------------------------------------------
def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _interval(rng: random.Random) -> dict:
    start = FIRST_DAY + timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days - 60))
    return {"from": start, "to": start + timedelta(days=rng.randrange(1, 60))}


def _uses(rng: random.Random) -> list[str]:
    if rng.random() < 0.15:
        return ["evaluation"]
    return sorted(rng.sample(TRAINING_USES, rng.choice((1, 1, 1, 2))))


def _country(rng: random.Random, unsupported_share: float = 0.08) -> str:
    pool = UNSUPPORTED_COUNTRIES if rng.random() < unsupported_share else SUPPORTED_COUNTRIES
    return rng.choice(pool)


def _output(rng: random.Random, provider: str, model: str, service: str) -> dict:
    return {
        "kind": "model-output",
        "provider": provider,
        "model": model,
        "service": service,
        "access": {"route": _weighted(rng, ROUTES), "from_country": _country(rng)},
        "collected": _interval(rng),
        "records": rng.randrange(100, 200_000),
        "reasoning_traces": rng.choice(("none", "none", "summarized")),
        "use": _uses(rng),
    }


def _openai_api(rng: random.Random) -> dict:
    service = _weighted(rng, (("api", 80), ("enterprise", 12), ("fine-tuning", 8)))
    model = rng.choice(("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "o4-mini"))
    return _output(rng, "openai", model, service)


def _openai_consumer(rng: random.Random) -> dict:
    source = _output(rng, "openai", "gpt-4o", "consumer-app")
    source["access"]["route"] = rng.choice(("direct", "automated-ui"))
    return source


def _llama_output(rng: random.Random) -> dict:
    model = rng.choice(
        ("Llama-3.1-70B-Instruct", "Llama-3.1-405B-Instruct", "Llama-3.3-70B-Instruct")
    )
    source = _output(rng, "meta", model, "open-weights")
    source["license"] = "llama3.3" if model.startswith("Llama-3.3") else "llama3.1"
    return source


def _llama_weights(rng: random.Random) -> dict:
    return {
        "kind": "model-weights",
        "provider": "meta",
        "model": "Llama-3.1-8B",
        "service": "open-weights",
        "records": 1,
        "use": ["fine-tuning"],
        "license": rng.choice(("llama3.1", "llama3.1", "Llama-3.1")),
    }


def _anthropic(rng: random.Random) -> dict:
    model = rng.choice(("claude-sonnet-4", "claude-opus-4", "claude-3-5-haiku"))
    service = _weighted(rng, (("api", 85), ("consumer-app", 10), ("enterprise", 5)))
    return _output(rng, "anthropic", model, service)


def _google(rng: random.Random) -> dict:
    model = rng.choice(("gemini-2.5-pro", "gemini-2.5-flash", "gemma-3-27b"))
    if model.startswith("gemma"):
        source = _output(rng, "google", model, "open-weights")
        source["license"] = "gemma"
        return source
    return _output(rng, "google", model, rng.choice(("api", "api", "consumer-app")))


def _open_weights_other(rng: random.Random) -> dict:
    provider, model, license = rng.choice(
        (
            ("deepseek", "DeepSeek-R1", "MIT"),
            ("mistral", "Mistral-Small-3.1", "Apache-2.0"),
            ("alibaba", "Qwen2.5-72B-Instruct", "Qwen"),
        )
    )
    source = _output(rng, provider, model, "open-weights")
    source["license"] = license
    return source


def _dataset(rng: random.Random) -> dict:
    license = rng.choice(("Apache-2.0", "CC-BY-4.0", "MIT", "CC-BY-NC-4.0", "llama3.1"))
    return {
        "kind": "dataset",
        "service": "third-party",
        "collected": _interval(rng),
        "records": rng.randrange(1_000, 5_000_000),
        "use": _uses(rng),
        "license": license,
    }


def _web_or_human(rng: random.Random) -> dict:
    return {
        "kind": rng.choice(("web-crawl", "human")),
        "collected": _interval(rng),
        "records": rng.randrange(1_000, 10_000_000),
        "use": _uses(rng),
    }


PROFILES: tuple[tuple[str, Callable[[random.Random], dict], int], ...] = (
    ("openai-api", _openai_api, 30),
    ("openai-chat", _openai_consumer, 4),
    ("llama-out", _llama_output, 15),
    ("llama-weights", _llama_weights, 2),
    ("anthropic", _anthropic, 12),
    ("google", _google, 10),
    ("open-weights", _open_weights_other, 6),
    ("dataset", _dataset, 12),
    ("corpus", _web_or_human, 9),
)

# Facts a source may leave undeclared. `provider`, `kind` and `service` are always declared:
# they decide OpenAI's Permitted Exception (b) ("any source where provider is openai, kind is
# model-weights and service is fine-tuning") for every source at once, so an unknown there makes
# the whole competing-models clause undetermined (the `undeclared-kind` variant shows it).
OPTIONAL_FACTS = ("from_country", "route", "use", "collected", "records", "reasoning_traces")


def _drop_a_fact(rng: random.Random, source: dict) -> None:
    fact = rng.choice(OPTIONAL_FACTS)
    if fact in ("from_country", "route"):
        if "access" in source:
            source["access"].pop(fact, None)
        return
    source.pop(fact, None)


def make_source(rng: random.Random, index: int, earlier: list[str]) -> dict:
    profiles, builders, weights = zip(*PROFILES, strict=True)
    position = rng.choices(range(len(profiles)), weights)[0]
    source = {"id": f"{profiles[position]}-{index:06d}", **builders[position](rng)}
    if source["kind"] == "dataset" and earlier and rng.random() < 0.3:
        source["derived_from"] = [rng.choice(earlier)]
    if rng.random() < 0.06:
        _drop_a_fact(rng, source)
    return source


# ---- manifests --------------------------------------------------------------------------------
def generate(sources: int, seed: int = DEFAULT_SEED, variant: str = "default") -> dict:
    """A manifest (as plain data: dates are ``date`` objects) with ``sources`` sources."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    rng = random.Random(f"{seed}:{sources}")
    items: list[dict] = []
    for index in range(sources):
        items.append(make_source(rng, index, [s["id"] for s in items[-50:]]))
    if variant in ("openai-fine-tuning", "undeclared-kind") and items:
        items[-1] = _openai_fine_tuning_base(declare_kind=variant == "openai-fine-tuning")
    return {
        "tosguard": 1,
        "organization": dict(ORGANIZATION),
        "model": dict(MODELS.get(variant, MODELS["default"])),
        "sources": items,
        "facts": {"generator": f"bench/generate.py seed={seed} variant={variant}"},
    }


def _openai_fine_tuning_base(declare_kind: bool) -> dict:
    """The base model of OpenAI's Permitted Exception (b): an OpenAI model customised on
    OpenAI's fine-tuning service (without its kind, nobody can tell whether it is one)."""
    base = {
        "id": "openai-ft-base",
        "kind": "model-weights",
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "service": "fine-tuning",
        "use": ["fine-tuning"],
    }
    if not declare_kind:
        del base["kind"]
    return base


# ---- YAML text --------------------------------------------------------------------------------
def _scalar(value) -> str:
    """A YAML flow scalar; strings are double-quoted (JSON escapes are YAML escapes), so
    country codes such as ``NO`` stay strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | date):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_scalar(item)}" for key, item in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def _block(mapping: dict, indent: str) -> list[str]:
    return [f"{indent}{key}: {_scalar(value)}" for key, value in mapping.items()]


def to_yaml(manifest: dict) -> str:
    lines = [f"# {manifest['facts']['generator']}", f"tosguard: {manifest['tosguard']}"]
    for section in ("organization", "model"):
        lines.append(f"{section}:")
        lines.extend(_block(manifest[section], "  "))
    lines.append("sources:")
    for source in manifest["sources"]:
        first, *rest = _block(source, "    ")
        lines.append("  - " + first.lstrip())
        lines.extend(rest)
    lines.append("facts:")
    lines.extend(_block(manifest["facts"], "  "))
    return "\n".join(lines) + "\n"


def manifest_text(sources: int, seed: int = DEFAULT_SEED, variant: str = "default") -> str:
    return to_yaml(generate(sources, seed, variant))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--variant", choices=VARIANTS, default="default")
    parser.add_argument(
        "--out", type=Path, default=None, help="output file (default: bench/data/manifest-N.yaml)"
    )
    args = parser.parse_args()
    out = args.out or DATA_DIR / f"manifest-{args.sources}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(manifest_text(args.sources, args.seed, args.variant), encoding="utf-8")
    print(f"wrote {out} ({args.sources} sources, variant {args.variant})")


if __name__ == "__main__":
    main()
