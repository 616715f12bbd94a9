"""Cards from the Hugging Face Hub (``hf://org/name``, ``hf://datasets/org/name``), through
``huggingface_hub`` (the ``tosguard[hub]`` extra). Only the card file is downloaded."""

from __future__ import annotations

from ..errors import Diagnostic, Span, UsageError
from .document import ImportInputError


def download_card(given: str) -> tuple[str, str]:
    """The local path of the card ``given`` names, and its Hub id."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise UsageError(
            Diagnostic(
                "usage-missing-extra",
                f"reading `{given}` from the Hugging Face Hub needs huggingface_hub",
                Span("<arguments>"),
                "pip install 'tosguard[hub]', or download the card and import the file",
            )
        ) from None
    ref = given.removeprefix("hf://").strip("/")
    repo_type = "model"
    if ref.startswith("datasets/"):
        repo_type, ref = "dataset", ref.removeprefix("datasets/")
    if ref.count("/") != 1:
        raise UsageError(
            Diagnostic(
                "usage-arguments",
                f"`{given}` is not `hf://org/name` or `hf://datasets/org/name`",
                Span("<arguments>"),
                "name a repository, e.g. hf://deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
            )
        )
    try:
        path = hf_hub_download(ref, "README.md", repo_type=repo_type)
    except Exception as exc:  # network, missing repo, gated repo: all said the same way
        raise ImportInputError(
            Diagnostic(
                "import-hub",
                f"cannot download the card of `{given}`: {type(exc).__name__}: {exc}",
                Span(given),
                "check the name and the network, or download the card and import the file",
            )
        ) from None
    return path, ref
