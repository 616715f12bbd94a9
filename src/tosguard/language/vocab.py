"""The policy language's vocabularies (the manifest's own live in
:mod:`tosguard.manifest.model`)."""

TOPICS = (
    "competing-models",
    "distillation",
    "reverse-engineering",
    "automated-extraction",
    "circumvention",
    "geography",
    "identity-verification",
    "reasoning-traces",
    "account-sharing",
    "resale",
    "naming-attribution",
    "restriction-passthrough",
    "non-commercial",
    "user-threshold",
)

KINDS = ("prohibition", "obligation", "permission")
SCOPES = ("source", "model", "organization")
SEVERITIES = ("error", "warning", "info")

# Statuses in report order: the one place they are spelled and ordered.
STATUSES = ("violated", "undetermined", "satisfied", "not_applicable")
STATUS_ORDER = {status: number for number, status in enumerate(STATUSES)}
# What `--fail-on` may name: a status, or `warning` (a violated clause of lower severity).
FAIL_ON = ("violated", "undetermined", "warning")

# Manifest roots a condition may name; `source` is the subject (or the quantified source).
PATH_ROOTS = ("source", "model", "organization", "facts")

PROVIDER_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google",
    "meta": "Meta",
    "deepseek": "DeepSeek",
    "alibaba": "Alibaba",
    "mistral": "Mistral AI",
    "xai": "xAI",
}
