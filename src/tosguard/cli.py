"""The command line: one function per subcommand, each a thin shell over :mod:`tosguard.api`.

Exit codes: 0 compliant, 1 not compliant or undetermined (per ``--fail-on``), 2 invalid input
or usage, 3 an internal error (a bug: please report it), 130 interrupted (``SIGINT``), 143
terminated (``SIGTERM``). Heavy modules are imported inside the
commands so that ``tosguard check`` starts fast.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from . import __version__
from .language.vocab import FAIL_ON

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3
#: Errors shown per manifest by `check` before the count of the rest (`--max-errors`).
DEFAULT_MAX_ERRORS = 50
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM, as shells report
ERROR_FORMATS = ("human", "plain", "json")
REPORT_FORMATS = ("text", "json", "markdown", "sarif", "junit", "github")
COLOR_CHOICES = ("auto", "always", "never")


def use_color(choice: str, output: str | None = None, stream=None) -> bool:
    """Whether to colour text: ``--color always|never`` decides; with ``auto``,
    ``$FORCE_COLOR`` (any non-empty value) turns colour on, then ``$NO_COLOR`` (any non-empty
    value, https://no-color.org) off, and otherwise colour is used only when writing to a
    terminal."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR"):
        return False
    if output not in (None, "-"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def _emit_diagnostics(error, error_format: str, max_errors: int | None = None) -> None:
    """Print the diagnostics of ``error`` on standard error: with ``max_errors``, the first
    that many, then one saying how many more there are."""
    from .errors import render_human, render_json, render_plain

    renderer = {"human": render_human, "plain": render_plain, "json": render_json}[error_format]
    click.echo(renderer(_shown_diagnostics(error, max_errors)), err=True)


def _emit_json_errors(errors: list, max_errors: int | None) -> None:
    """The diagnostics of several errors (one per invalid manifest) as one JSON document,
    each error's capped as :func:`_emit_diagnostics` caps them."""
    from .errors import render_json as errors_json

    diagnostics = []
    for error in errors:
        diagnostics += _shown_diagnostics(error, max_errors)
    click.echo(errors_json(diagnostics), err=True)


def _shown_diagnostics(error, max_errors: int | None) -> list:
    """The diagnostics of ``error``: with ``max_errors``, the first that many, then one
    saying how many more there are."""
    from .errors import TOO_MANY_HELP, capped

    if max_errors is None:
        return list(error.diagnostics)
    return capped(
        error.diagnostics,
        code_prefix=error.code_prefix,
        limit=max_errors,
        help=f"{TOO_MANY_HELP}; `--max-errors` shows more",
    )


def _write(
    text: str,
    output: str | None,
    inputs: Iterable[str | os.PathLike[str]] = (),
    color: bool | None = None,
) -> None:
    """Print ``text``, or write it to ``output`` through :mod:`tosguard.files`: refused when
    ``output`` is one of ``inputs`` (the files the command read), written atomically.
    ``color``: keep escape codes even when standard output is not a terminal."""
    if output is None or output == "-":
        click.echo(text, nl=False, color=color)
        return
    from .files import write_output

    write_output(output, text.encode("utf-8"), inputs)


def _write_chunks(
    chunks: Iterable[str],
    output: str | None,
    inputs: Iterable[str | os.PathLike[str]] = (),
    color: bool | None = None,
) -> None:
    """Like :func:`_write`, for text made piece by piece: each piece is written as it comes
    (into a temporary file that replaces ``output`` at the end), never held whole."""
    if output is None or output == "-":
        for batch in _batched(chunks):
            click.echo(batch, nl=False, color=color)
        return
    from .files import write_output

    write_output(output, (batch.encode("utf-8") for batch in _batched(chunks)), inputs)


def _batched(chunks: Iterable[str], size: int = 1 << 20) -> Iterator[str]:
    """``chunks`` joined into pieces of about ``size`` characters (fewer, larger writes)."""
    pending: list[str] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)


def _policy_inputs(policies: Iterable[str], extra: Iterable[str] = ()) -> Iterator[Path]:
    """The policy files a command reads (the shipped library when ``policies`` is empty), for
    the check that an output is none of them; walked only when the output exists."""
    from .engine.library import default_paths
    from .files import tree

    yield from tree([*(policies or default_paths()), *extra], (".tos",))


def _library(policies: tuple[str, ...], extra: tuple[str, ...]):
    """The library (``--policies``, else the shipped one) with the user's policies
    (``--extra-policies``) in their own namespace, through the one front end."""
    from .engine.frontend import load_policy_set

    return load_policy_set(
        list(policies) or None, list(extra), use_cache=not os.environ.get("TOSGUARD_NO_CACHE")
    )


class ByteSize(click.ParamType):
    """A size in bytes: ``67108864``, ``64M``, ``300MB``, ``2G`` (K, M, G: KiB, MiB, GiB)."""

    name = "size"
    _UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        number, unit = (text[:-1], text[-1]) if text[-1:] in ("K", "M", "G") else (text, "")
        if number.isdigit() and int(number) > 0:
            return int(number) * self._UNITS[unit]
        self.fail(f"`{value}` is not a size: write bytes, or a number with K, M or G", param, ctx)


error_format_option = click.option(
    "--error-format",
    type=click.Choice(ERROR_FORMATS),
    default="human",
    show_default=True,
    help="How to print errors in the input.",
)


def policies_option(help: str):
    """``--policies PATH`` (repeatable): the policy files a command reads instead of the
    shipped library; ``help`` says what for."""
    return click.option("--policies", "policies", multiple=True, metavar="PATH", help=help)


extra_policies_option = click.option(
    "--extra-policies",
    "extra",
    multiple=True,
    metavar="PATH",
    help="Your own policy file or directory, added to the library in a namespace of its own "
    "(repeatable).",
)


def config_options(command):
    """``--config`` and ``--isolated``: which configuration file a command reads."""
    command = click.option("--isolated", is_flag=True, help="Read no configuration file.")(command)
    return click.option(
        "--config",
        "config_path",
        metavar="FILE",
        help="The configuration file to read (default: the first .tosguard.toml, "
        "tosguard.toml or pyproject.toml with [tool.tosguard] from the working directory up).",
    )(command)


def report_options(command):
    """``--format``, ``--as-of``, ``--output`` and ``--color``, as `check` and `scan` take
    them (the format's default may come from the configuration file)."""
    for option in reversed(
        (
            click.option(
                "--format",
                "fmt",
                type=click.Choice(REPORT_FORMATS),
                help="Report format (default: text; github: workflow annotations for GitHub "
                "Actions).",
            ),
            as_of_option,
            click.option("--output", "-o", metavar="FILE", help="Write the report to FILE."),
            click.option(
                "--color",
                "color",
                type=click.Choice(COLOR_CHOICES),
                default="auto",
                show_default=True,
                help="Colour in text reports; auto: on a terminal, unless $NO_COLOR is set "
                "($FORCE_COLOR turns it on).",
            ),
        )
    ):
        command = option(command)
    return command


as_of_option = click.option(
    "--as-of",
    metavar="DATE",
    help="Evaluation date for sources with no `collected` dates (default: today).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tosguard")
def cli() -> None:
    """Check ML data pipelines against AI providers' terms of service.

    Declare a pipeline in a usage manifest (YAML or JSON), then run `tosguard check
    MANIFEST`: every finding cites the clause it rests on.
    """


@cli.command()
@click.argument("manifests", nargs=-1, required=True, metavar="MANIFEST...")
@policies_option("Policy file or directory to use instead of the shipped library (repeatable).")
@extra_policies_option
@report_options
@click.option(
    "--sarif-max-results",
    type=click.IntRange(1, 25_000),
    default=5000,
    show_default=True,
    help="Most results in a SARIF run; beyond it the clauses that fire most often are "
    "folded into one result each (GitHub accepts 25,000).",
)
@click.option(
    "--fail-on",
    type=click.Choice(list(FAIL_ON)),
    help="Lowest result that makes the exit code 1 (default: undetermined).",
)
@click.option(
    "--all", "include_all", is_flag=True, help="Also list satisfied and not-applicable results."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress on standard error: by default only on a terminal, and only once the "
    "check has run for a second; --progress shows every stage, --no-progress nothing.",
)
@click.option(
    "--max-errors",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_ERRORS,
    show_default=True,
    metavar="N",
    help="Show at most N errors per manifest, then how many more there are.",
)
@click.option(
    "--max-manifest-bytes",
    type=ByteSize(),
    default=None,
    metavar="SIZE",
    help="Refuse manifests larger than SIZE bytes (suffixes K, M, G: KiB, MiB, GiB; default 64M).",
)
@click.option(
    "--accept-unknown-ids",
    is_flag=True,
    envvar="TOSGUARD_ACCEPT_UNKNOWN_IDS",
    help="Report provider, licence, agreement and verification ids that no policy "
    "knows as warnings, not errors (also $TOSGUARD_ACCEPT_UNKNOWN_IDS=1).",
)
@click.option(
    "--baseline",
    metavar="FILE",
    help="Accepted risks: the findings this file lists are reported as accepted and do "
    "not fail the check; an expired or stale entry does.",
)
@click.option(
    "--write-baseline",
    metavar="FILE",
    help="Write a baseline accepting every current violated, undetermined and warning "
    "finding to FILE (print no report; exit 0).",
)
@click.option("--force", is_flag=True, help="Let --write-baseline replace an existing file.")
@config_options
@error_format_option
def check(**options) -> None:
    """Check usage manifests against the policy library.

    MANIFEST is a file, a directory (every .yaml, .yml and .json manifest under it, hidden
    directories skipped), a quoted glob pattern, or - for standard input. Options not given
    are read from the configuration file (.tosguard.toml, tosguard.toml or pyproject.toml's
    [tool.tosguard], found from the working directory up; see --config, --isolated).

    Exit status: 0 compliant, 1 not compliant or undetermined (see --fail-on), or a baseline
    entry expired or stale, 2 invalid input. When any manifest is invalid, no report file
    is written and no json, sarif, junit, markdown or github report is printed (text still shows the
    valid manifests' reports). --output never overwrites a manifest or policy file.
    """
    from .errors import reporting
    from .progress import Progress
    from .util import gc_paused

    progress, max_errors = options.pop("progress"), options["max_errors"]
    shown = sys.stderr.isatty() if progress is None else progress
    # no cyclic GC: a check builds millions of objects that hold no cycles and live until it
    # ends, and each collection would walk all of them (a third of the time of a large one)
    paused = gc_paused(kept=True)  # what a check builds lives until the process exits
    built: list = []  # the manifests and reports: kept to the end (see _leave)
    with paused, reporting(max_errors), Progress(shown, forced=bool(progress)) as stages:
        status = _check(stages, built=built, **options)
    _leave(status, sum(len(item.manifest.sources) for item in built if _is_loaded(item)))


def _is_loaded(item) -> bool:
    from .manifest.model import LoadedManifest

    return isinstance(item, LoadedManifest)


#: From this many sources checked, the process ends without freeing what it built.
QUICK_EXIT_SOURCES = 10_000
_process_entry = False  # set by main() when it runs as the process (the console script)


def _leave(status: int, sources: int) -> NoReturn:
    """Exit with ``status``. After a large check run as the process itself, the output is
    flushed and the process ends at once (``os._exit``): freeing the millions of objects of
    a large manifest and its report one by one took a third of a second at 100k sources,
    and the operating system frees them all at once. In process (tests, ``main(argv)``) it
    is an ordinary ``sys.exit``, and so it is under a profiler or a tracer (coverage), whose
    results are written at exit."""
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: coverage's sysmon core
    watched = (
        sys.getprofile() is not None
        or sys.gettrace() is not None
        or (monitoring is not None and any(monitoring.get_tool(i) for i in range(6)))
    )
    if _process_entry and sources >= QUICK_EXIT_SOURCES and not watched:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream: the ordinary exit reports it
        else:
            os._exit(status)
    sys.exit(status)


def _check(
    stages,
    *,
    built: list,
    manifests,
    policies,
    extra,
    fmt,
    as_of,
    output,
    color,
    sarif_max_results,
    fail_on,
    include_all,
    max_errors,
    max_manifest_bytes,
    accept_unknown_ids,
    baseline,
    write_baseline,
    force,
    config_path,
    isolated,
    error_format,
) -> int:
    from .api import check as run_check
    from .api import parse_date
    from .errors import TosguardError
    from .inputs import display_name, expand_manifests
    from .inputs import load as load_input

    config = _config(config_path, isolated, error_format)
    fmt = fmt or config.get("format", "text")
    fail_on = fail_on or config.get("fail-on", "undetermined")
    output = output or config.get("output")
    policies = policies or config.get("policies", ())
    extra = extra or config.get("extra-policies", ())
    baseline = baseline or config.get("baseline")
    day = parse_date(as_of)
    # the baseline is not a manifest of a directory (the report is: never written over one)
    # (the report is: it is refused as an output, never written over a manifest; docs/ci.md)
    manifests = expand_manifests(manifests, exclude=(baseline, write_baseline))
    if write_baseline is not None:
        _refuse_existing_baseline(write_baseline, force)
    accepting = _accepting(baseline, manifests, day, write_baseline)
    stages.stage("loading the policy library")
    library = _library(policies, extra)
    # a report is a whole document or nothing: with an invalid manifest, only text for people
    # on standard output still shows the reports of the valid ones
    partial_ok = fmt == "text" and output in (None, "-") and write_baseline is None
    styled = use_color(color, output)
    # (report, its loaded manifest for text, else None): the text of each report is made as
    # it is written, from its manifest's lines
    checked: list = []
    to_baseline: list = []
    reports, contexts, invalid = [], [], 0
    # with --error-format json, the errors of every manifest go out as one document, at the end
    held_errors: list = []
    for path in manifests:
        stages.stage(f"reading {display_name(path)}{_size_words(path)}")
        try:
            loaded = load_input(path, max_manifest_bytes)
        except TosguardError as error:
            stages.clear()
            if error_format == "json":
                held_errors.append(error)
            else:
                _emit_diagnostics(error, error_format, max_errors)
            invalid += 1
            continue
        if invalid and not partial_ok:
            continue  # nothing will be written: spare the evaluation, keep reading for errors
        count = len(loaded.manifest.sources)
        built.append(loaded)
        stages.stage(f"checking {count:,} source{'s' * (count != 1)} of {display_name(path)}")
        report = run_check(
            library,
            loaded,
            as_of=day,
            include_all=include_all,
            name=display_name(path),
            accept_unknown_ids=accept_unknown_ids,
        )
        if write_baseline is not None or accepting is not None:
            from .report.baseline import Checked

            one = Checked(report, [source.id for source in loaded.manifest.sources])
            if write_baseline is not None:
                to_baseline.append(one)
            elif accepting is not None:
                report = accepting.accept(one)
        reports.append(report)
        built.append(report)
        if fmt in ("markdown", "sarif", "junit"):  # they name sources by their ids
            from .report.context import ManifestContext

            contexts.append(ManifestContext.of(loaded))
        checked.append((report, loaded if fmt == "text" else None))
    if stages.live and output in (None, "-"):
        stages.close()  # the report goes to the terminal the progress line is on, maybe
    else:
        stages.stage("writing the report")
    if held_errors:
        _emit_json_errors(held_errors, max_errors)
    if invalid:
        if checked and partial_ok:
            _write_chunks(_text_chunks(checked, styled), output, color=styled or None)
        elif error_format == "human" and invalid < len(manifests):
            target = write_baseline or output
            where = f"`{target}`" if target not in (None, "-") else "standard output"
            what = "baseline" if write_baseline else "report"
            click.echo(
                f"\nno {what} written to {where}: {invalid} of {len(manifests)} "
                f"manifest{'s' * (len(manifests) != 1)} invalid",
                err=True,
            )
        return EXIT_INVALID
    if write_baseline is not None:
        _write_baseline(write_baseline, to_baseline, day, baseline, manifests, error_format)
        return EXIT_OK
    chunks: Iterable[str] | None = None
    if not reports:
        chunks = None
    elif fmt == "text":
        chunks = _text_chunks(checked, styled)
    elif fmt == "json":
        chunks = _json_chunks(reports)
    else:
        from .report.formats import render

        chunks = [
            render(fmt, reports, contexts, sarif_max_results=sarif_max_results, fail_on=fail_on)
        ]
    if chunks is not None:
        from itertools import chain

        read = chain(manifests, _policy_inputs(policies, extra), [baseline] if baseline else [])
        _write_chunks(chunks, output, read, color=styled or None)
    problems = accepting.problems() if accepting is not None else []
    if problems:
        from .report.baseline import BaselineError

        _emit_diagnostics(BaselineError(problems), error_format, max_errors)
    failed = problems or any(r.fails(fail_on) for r in reports)
    return EXIT_FAIL if failed else EXIT_OK


def _config(path: str | None, isolated: bool, error_format: str):
    """The configuration that applies (see :mod:`tosguard.config`); says which file it is on
    standard error, unless errors are printed as JSON there."""
    from .config import load_config

    config = load_config(path, isolated=isolated)
    if config.path is not None and error_format != "json":
        from .safetext import printable

        click.echo(f"tosguard: using configuration {printable(str(config.path))}", err=True)
    return config


def _accepting(baseline: str | None, manifests: list[str], day, write_baseline: str | None):
    """The baseline, ready to apply to this run's reports (None without one, and when a new
    baseline is being written: that one records the findings as they are)."""
    if baseline is None or write_baseline is not None:
        return None
    from .inputs import display_name
    from .report.baseline import Applied, load_baseline

    return Applied(load_baseline(baseline), [display_name(m) for m in manifests], day)


def _refuse_existing_baseline(path: str, force: bool) -> None:
    if force or path == "-" or not os.path.lexists(path):
        return
    from .errors import Diagnostic, Span, UsageError

    raise UsageError(
        Diagnostic(
            "baseline-exists",
            f"`{path}` exists: --write-baseline does not replace a baseline unless told to",
            Span(path),
            "add `--force` to replace it (the reasons, authors and expiry dates of entries that "
            "still match are kept)",
        )
    )


def _write_baseline(path, checked, day, previous_path, manifests, error_format) -> None:
    import getpass

    from .report.baseline import DEFAULT_TERM, baseline_text, load_baseline

    previous = None
    for candidate in (path, previous_path):  # keep what people wrote about the risks
        if candidate is not None and os.path.isfile(candidate):
            previous = load_baseline(candidate)
            break
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    text, count = baseline_text(
        checked, path, accepted_by=who, expires=day + DEFAULT_TERM, previous=previous
    )
    _write(text, path, manifests)  # `-`: standard output
    if error_format != "json" and path != "-":
        click.echo(
            f"wrote {count} accepted risk{'s' * (count != 1)} to {path}; review each entry's "
            "reason, accepted_by and expires",
            err=True,
        )


def _size_words(path: str) -> str:
    """`` (27.9 MB)``: the size of a manifest file, for the progress line."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return ""
    return f" ({size / 1e6:.1f} MB)" if size >= 1e6 else ""


def _text_chunks(checked: list, styled: bool) -> Iterator[str]:
    """The text reports of ``checked`` ((report, loaded manifest) pairs), one after another."""
    from .report.text import plain, text_chunks

    for number, (report, loaded) in enumerate(checked):
        if number:
            yield "\n"
        yield from text_chunks(
            report, loaded.source_line, loaded.manifest.sources, click.style if styled else plain
        )


def _json_chunks(reports: list) -> Iterator[str]:
    """One report's JSON, or a list of several."""
    if len(reports) == 1:
        yield from reports[0].json_chunks(0)
        yield "\n"
        return
    yield "[\n  "
    for number, report in enumerate(reports):
        if number:
            yield ",\n  "
        yield from report.json_chunks(1)
    yield "\n]\n"


@cli.command()
@policies_option("Policy file or directory to list instead of the shipped library.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format (markdown: with --matrix only).",
)
@click.option(
    "--matrix",
    is_flag=True,
    help="Show the provider × topic matrix: what each provider forbids, requires "
    "or allows, with links to the clauses.",
)
@click.option(
    "--ids",
    is_flag=True,
    help="List the ids a manifest may use: providers, licences (with the spellings "
    "each matches, case-insensitively), agreements and verifications.",
)
@click.option("--output", "-o", metavar="FILE", help="Write the output to FILE.")
@error_format_option
def policies(policies, fmt, matrix, ids, output, error_format) -> None:
    """List the policy library: id, provider, document, versions and clause count."""
    library = _library(policies, ())
    if ids:
        _write(_render_ids(library, fmt), output, _policy_inputs(policies))
        return
    if matrix:
        from .tools import matrix as matrix_module

        built = matrix_module.build_matrix(library)
        renderer = {
            "text": matrix_module.render_text,
            "json": matrix_module.render_json,
            "markdown": matrix_module.render_markdown,
        }[fmt]
        _write(renderer(built), output, _policy_inputs(policies))
        return
    if fmt == "markdown":
        from .errors import Diagnostic, Span, UsageError

        raise UsageError(
            Diagnostic(
                "usage-bad-option",
                "`--format markdown` needs `--matrix`",
                Span("<arguments>"),
                "use `tosguard policies --matrix --format markdown`",
            )
        )
    from .safetext import json_safe, printable

    rows = library.listing()
    if fmt == "json":
        import json

        text = (
            json_safe(
                json.dumps(
                    {"revision": library.revision, "policies": rows}, indent=2, ensure_ascii=False
                )
            )
            + "\n"
        )
    elif not rows:
        text = "No policies.\n"
    else:
        headers = ("ID", "PROVIDER", "DOCUMENT", "VERSIONS", "CLAUSES")
        table = [
            (
                r["id"],
                r["provider"] or "-",
                printable(r["document"]),
                ", ".join(r["versions"]),
                str(r["clauses"]),
            )
            for r in rows
        ]
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (headers, *table)
        ]
        text = "\n".join(lines) + (
            f"\n\n{len(rows)} policies, {library.clause_count} clauses "
            f"(revision {library.revision})\n"
        )
    _write(text, output, _policy_inputs(policies))


def _render_ids(library, fmt: str) -> str:
    import json

    from .engine.identity import Vocabulary
    from .safetext import json_safe, printable

    listing = library.derived("vocabulary", Vocabulary).listing()
    if fmt == "json":
        return json_safe(json.dumps(listing, indent=2, ensure_ascii=False)) + "\n"
    lines = [
        "Providers: " + ", ".join(listing["providers"]),
        "",
        "Licences (matched without regard to case; the first id is the one findings use):",
    ]
    for licence in listing["licenses"]:
        others = [m for m in licence["matches"] if m != licence["id"].casefold()]
        lines.append(
            f"  {licence['id']}  {printable(licence['document'] or '')}"
            + (f"  (also: {', '.join(others)})" if others else "")
        )
    lines += [
        "",
        "Agreements: " + ", ".join(listing["agreements"]),
        "Verifications: " + ", ".join(listing["verifications"]),
    ]
    return "\n".join(lines) + "\n"


@cli.command()
@click.option("--output", "-o", metavar="FILE", help="Write the schema to FILE.")
@policies_option(
    "Take the provider, licence and agreement ids offered as completions from these "
    "policies instead of the shipped library (repeatable)."
)
@extra_policies_option
@error_format_option
def schema(output, policies, extra, error_format) -> None:
    """Print the JSON Schema (draft 2020-12) of the usage manifest (format 1), for editors:
    every field described, and the ids the policy library knows offered as completions.
    See docs/manifest.md for VS Code and SchemaStore."""
    import json

    from .engine.identity import Vocabulary
    from .manifest.model import manifest_json_schema

    vocabulary = _library(policies, extra).derived("vocabulary", Vocabulary).listing()
    text = json.dumps(manifest_json_schema(vocabulary), indent=2, ensure_ascii=False) + "\n"
    _write(text, output, _policy_inputs(policies, extra))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each loads the policy set; SIGHUP restarts them one by one).",
)
@policies_option("Policy file or directory to use instead of the shipped library (repeatable).")
@extra_policies_option
@click.option(
    "--max-body-bytes",
    default=1024 * 1024,
    show_default=True,
    type=click.IntRange(1),
    help="Larger request bodies get 413.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a request may take before it gets 503 (408 for a slow body).",
)
@click.option(
    "--max-sources",
    default=2000,
    show_default=True,
    type=click.IntRange(1),
    help="Manifests with more sources get 422.",
)
@click.option(
    "--max-findings",
    default=20_000,
    show_default=True,
    type=click.IntRange(1),
    help="Reports with more findings get 422 (bounds one answer's size).",
)
@click.option(
    "--max-header-bytes",
    default=16 * 1024,
    show_default=True,
    type=click.IntRange(1024, 1024 * 1024),
    help="Request line and headers larger than this get 431.",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a request's line and headers may take to arrive (else 408).",
)
@click.option(
    "--max-connections",
    default=0,
    type=click.IntRange(0),
    help="Open connections per worker (0: 1024, or fewer if the open-files limit "
    "requires); at the cap the oldest idle or slow one is closed.",
)
@click.option(
    "--api-keys-file",
    metavar="FILE",
    help="File of API keys, one a line (also "
    "$TOSGUARD_API_KEYS, comma-separated); with keys, requests need one.",
)
@click.option("--public-metrics", is_flag=True, help="Serve /metrics without an API key.")
@click.option(
    "--accept-unknown-ids",
    is_flag=True,
    envvar="TOSGUARD_ACCEPT_UNKNOWN_IDS",
    help="By default, report ids no policy knows as warnings, not errors (a request "
    "can still ask with accept_unknown_ids).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Write a JSON access-log line per request to stderr.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@error_format_option
def serve(
    host,
    port,
    workers,
    policies,
    extra,
    max_body_bytes,
    timeout,
    max_sources,
    max_findings,
    max_header_bytes,
    header_timeout,
    max_connections,
    api_keys_file,
    public_metrics,
    accept_unknown_ids,
    access_log,
    log_level,
    error_format,
) -> None:
    """Serve the HTTP API (needs the `serve` extra: pip install 'tosguard[serve]').

    Loads and compiles the policy set once, then answers POST /v1/check with the
    report `tosguard check --format json` prints. SIGHUP reloads the policy set; a
    reload that fails keeps the set in use. See docs/service.md.
    """
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        from .errors import Diagnostic, Span, UsageError

        raise UsageError(
            Diagnostic(
                "usage-missing-extra",
                f"`tosguard serve` needs `{error.name}`",
                Span("serve"),
                "pip install 'tosguard[serve]'",
            )
        ) from None
    from .service.config import Settings
    from .service.server import run

    settings = Settings(
        policies=tuple(policies),
        extra_policies=tuple(extra),
        max_body_bytes=max_body_bytes,
        timeout=timeout,
        max_sources=max_sources,
        max_findings=max_findings,
        max_header_bytes=max_header_bytes,
        header_timeout=header_timeout,
        max_connections=max_connections,
        api_keys_file=api_keys_file,
        public_metrics=public_metrics,
        accept_unknown_ids=accept_unknown_ids,
        access_log=access_log,
        log_level=log_level,
        workers=workers,
        use_cache=not os.environ.get("TOSGUARD_NO_CACHE"),
    )
    run(settings, host, port)


@cli.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--extra-policies",
    "context",
    multiple=True,
    metavar="PATH",
    help="The library the linted files build on: read for its definitions and "
    "clauses, only its errors reported; the linted files are then user "
    "policies over it, as `check --policies PATH --extra-policies FILES` "
    "loads them (repeatable).",
)
@click.option(
    "--with-library",
    is_flag=True,
    help="Lint the files as user policies over the shipped library, as "
    "`check --extra-policies FILES` loads them.",
)
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--no-provenance", is_flag=True, help="Do not check quotes against the stored source texts."
)
@config_options
@error_format_option
def lint(
    paths, context, with_library, strict, no_provenance, config_path, isolated, error_format
) -> None:
    """Check policy files (or directories of them) without running them.

    Reports syntax errors, unknown names and manifest paths, bad country codes, duplicate
    ids, missing citation fields, overlapping versions, exceptions naming no clause,
    conditions that can never hold and quotes missing from their stored source, sorted by
    location. A file of a policy set (the configuration's policies or extra-policies, or the
    shipped library) is linted with the rest of its set, as check loads it, so a pre-commit
    hook can name the files that changed. Exit status: 0 clean (warnings allowed unless
    --strict), 2 errors.
    """
    import json

    from .errors import render_human, render_plain
    from .safetext import json_safe
    from .tools.lint import lint_paths

    if not context and not with_library:
        paths, context = _lint_set(paths, config_path, isolated, error_format)
    result = lint_paths(paths, context, provenance=not no_provenance, with_library=with_library)
    if error_format == "json":
        errors, warnings = result.counts()  # those the cap left out included
        click.echo(
            json_safe(
                json.dumps(
                    {
                        "files": len(result.files),
                        "errors": errors,
                        "warnings": warnings,
                        "diagnostics": [d.as_dict() for d in result.diagnostics],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
        )
    elif error_format == "plain":
        if result.diagnostics:
            click.echo(render_plain(result.diagnostics))
        click.echo(result.summary(), err=True)
    else:
        if result.diagnostics:
            click.echo(render_human(result.diagnostics) + "\n")
        click.echo(result.summary())
    failing = result.diagnostics if strict else result.errors
    sys.exit(EXIT_INVALID if failing else EXIT_OK)


def _lint_set(paths, config_path, isolated, error_format) -> tuple[list, list]:
    """The files ``lint`` reads and the library they build on (see ``library_of``)."""
    from .engine.library import default_paths
    from .tools.lint import library_of

    config = _config(config_path, isolated, error_format)
    extra = [_shown_path(p) for p in config.get("extra-policies", ())]  # named in diagnostics
    return library_of(paths, config.get("policies") or default_paths(), extra)


def _shown_path(path) -> str:
    """A path from the configuration (absolute) as diagnostics name it: relative to the
    working directory when it is under it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


@cli.command("fmt")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file would change.")
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Write nothing; print the changes as a unified diff (exit 1 if any).",
)
@error_format_option
def fmt_command(paths, check, show_diff, error_format) -> None:
    """Rewrite policy files in the canonical layout, keeping every comment.

    Only the layout changes: a file keeps its mode, owner, hard links and byte-order mark,
    and a symlink stays a link (the file it names is formatted). Files that do not parse
    are not written. `-` formats standard input to standard output, decoded by the same
    rules as files. Exit status: 0 done (or nothing to change), 1 with --check or --diff
    when a file would change, 2 invalid input.
    """
    from .errors import PolicyError
    from .language.printer import format_data, format_paths
    from .safetext import printable

    dry = check or show_diff
    if paths == ("-",):
        result = format_data(sys.stdin.buffer.read(), "<stdin>")
        if result.diagnostics:
            _emit_diagnostics(PolicyError(result.diagnostics), error_format)
            sys.exit(EXIT_INVALID)
        if show_diff:
            click.echo(printable(result.unified_diff(), layout=True), nl=False)
        elif check:
            if result.changed:
                click.echo("would reformat <stdin>", err=True)
        else:
            click.echo(result.encoded(), nl=False)
        sys.exit(EXIT_FAIL if dry and result.changed else EXIT_OK)
    results = format_paths(paths, write=not dry)
    changed = [r for r in results if r.changed]
    broken = [d for r in results for d in r.diagnostics]
    talk = error_format != "json"  # standard error then holds one JSON document, nothing else
    for result in changed:
        if show_diff:
            click.echo(printable(result.unified_diff(), layout=True), nl=False)
        elif talk:
            verb = "would reformat" if check else "reformatted"
            click.echo(f"{verb} {printable(result.shown)}", err=True)
    if broken:
        _emit_diagnostics(PolicyError(broken), error_format)
    same = len(results) - len(changed) - len({r.display for r in results if r.diagnostics})
    verb = "would be reformatted" if dry else "reformatted"
    if talk:
        click.echo(
            f"{len(changed)} file{'s' * (len(changed) != 1)} {verb}, {same} unchanged"
            + (f", {len(broken)} error{'s' * (len(broken) != 1)}" if broken else ""),
            err=True,
        )
    if broken:
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_FAIL if dry and changed else EXIT_OK)


@cli.command("test")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@policies_option(
    "Policies to test (default: the .tos files under PATH, else the shipped library; repeatable)."
)
@extra_policies_option
@click.option(
    "--coverage-min",
    type=click.FloatRange(0, 100),
    metavar="N",
    help="Fail when fewer than N percent of the clause outcomes are exercised.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit"]),
    default="text",
    show_default=True,
    help="Result format (junit: JUnit XML for CI).",
)
@click.option("--output", "-o", metavar="FILE", help="Write the results to FILE.")
@error_format_option
def test_command(paths, policies, extra, coverage_min, fmt, output, error_format) -> None:
    """Run policy tests: manifests with the findings they must and must not produce.

    Prints pass or fail per test, with a diff of the findings of each failing test, and
    clause coverage. Exit status: 0 all pass (and coverage at least --coverage-min),
    1 a test fails or coverage is below the minimum, 2 invalid tests or policies.
    """
    from itertools import chain
    from pathlib import Path

    from .errors import Diagnostic, PolicyError, Span, UsageError
    from .files import tree
    from .tools import policytest

    problems, tests = [], []
    for file in policytest.find_test_files(paths):
        try:
            tests += policytest.load_tests(file)
        except PolicyError as error:
            problems += error.diagnostics
    if problems:
        raise PolicyError(problems)
    if not tests:
        raise UsageError(
            Diagnostic(
                "usage-no-tests",
                "no policy tests found under " + ", ".join(f"`{p}`" for p in paths),
                Span("<arguments>"),
                "policy tests are YAML files in a `tests/` directory",
            )
        )
    if not policies:
        policies = tuple(
            p
            for p in paths
            if Path(p).suffix == ".tos" or (Path(p).is_dir() and any(Path(p).rglob("*.tos")))
        )
    library = _library(policies, extra)
    results = policytest.run_tests(library, tests)
    cover = policytest.coverage(library, results)
    render = {
        "text": policytest.render_text,
        "json": policytest.render_json,
        "junit": policytest.render_junit,
    }[fmt]
    read = chain(
        tree(paths, (".tos", ".yaml", ".yml")),
        (Path(t.file).parent / t.manifest_file for t in tests if t.manifest_file),
        _policy_inputs(policies, extra),
    )
    _write(render(results, cover, coverage_min), output, read)
    below = coverage_min is not None and cover.percent < coverage_min
    sys.exit(EXIT_FAIL if below or not all(r.passed for r in results) else EXIT_OK)


@cli.command("explain")
@click.argument("manifest", metavar="MANIFEST")
@click.option(
    "--clause",
    "clause",
    required=True,
    metavar="POLICY/CLAUSE",
    help="The clause to explain (a clause id alone when only one policy has it).",
)
@click.option(
    "--subject",
    metavar="SUBJECT",
    help="Only this subject: /sources/N, N, a source id, /model or /organization.",
)
@policies_option("Policy file or directory to use instead of the shipped library.")
@extra_policies_option
@as_of_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--output", "-o", metavar="FILE", help="Write the explanation to FILE.")
@config_options
@error_format_option
def explain_command(
    manifest,
    clause,
    subject,
    policies,
    extra,
    as_of,
    fmt,
    output,
    config_path,
    isolated,
    error_format,
) -> None:
    """Explain why a clause came out as it did for each subject of a manifest.

    Shows the policy version selected and why, the value of every sub-condition (true,
    false, or unknown with the missing manifest paths), and the exceptions and agreements
    that could apply. MANIFEST may be - for standard input. The policies and extra policies
    of the configuration file apply, as in `check`. Exit status: 0 explained, 2 invalid input.
    """
    from itertools import chain

    from .api import parse_date
    from .inputs import load
    from .tools.explain import explain, render_text

    config = _config(config_path, isolated, error_format)  # the library `check` loads
    policies = policies or config.get("policies", ())
    extra = extra or config.get("extra-policies", ())
    day = parse_date(as_of)
    loaded = load(manifest)
    explanation = explain(_library(policies, extra), loaded, clause, as_of=day, subject=subject)
    _write(
        explanation.to_json() if fmt == "json" else render_text(explanation),
        output,
        chain([manifest], _policy_inputs(policies, extra)),
    )
    sys.exit(EXIT_OK)


@cli.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.argument("more", nargs=-1, metavar="[MANIFEST...]")
@click.option(
    "--manifests",
    "manifests",
    multiple=True,
    metavar="MANIFEST...",
    help="Manifests (files or directories) to evaluate under OLD and under NEW.",
)
@click.option(
    "--extra-policies",
    "extra",
    multiple=True,
    metavar="PATH",
    help="Policies both sides build on, e.g. shared definitions (repeatable).",
)
@as_of_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--output", "-o", metavar="FILE", help="Write the comparison to FILE.")
@error_format_option
def diff_command(old, new, more, manifests, extra, as_of, fmt, output, error_format) -> None:
    """Compare two versions of a policy or library (files or directories), clause by
    clause; with --manifests, show whose verdict or findings change.

    Manifests may be files, directories (every manifest under them), quoted glob patterns
    or - for standard input. Exit status: 0 no differences, 1 differences, 2 invalid input.
    """
    from itertools import chain

    from .api import parse_date
    from .errors import Diagnostic, Span, UsageError
    from .files import tree
    from .inputs import expand_manifests
    from .tools.diff import render_text, run

    if more and not manifests:
        raise UsageError(
            Diagnostic(
                "usage-arguments",
                f"unexpected argument `{more[0]}`",
                Span("<arguments>"),
                "name manifests after `--manifests`",
            )
        )
    found = expand_manifests((*manifests, *more))
    read: Iterable[str | os.PathLike[str]] = chain(tree([old, new, *extra], (".tos",)), found)
    if output not in (None, "-"):  # before reading the manifests: an output that is one of
        from .files import refuse_input_as_output  # them is refused, whatever else they hold

        refuse_input_as_output(output, read)
        read = chain(tree([old, new, *extra], (".tos",)), found)
    result = run([old], [new], manifests=found, as_of=parse_date(as_of), extra=extra)
    _write(result.to_json() if fmt == "json" else render_text(result), output, read)
    sys.exit(EXIT_FAIL if result.changed else EXIT_OK)


@cli.command("import")
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--from",
    "fmt",
    type=click.Choice(
        ["hf-model-card", "hf-dataset-card", "cyclonedx", "spdx3", "croissant", "dpi"]
    ),
    help="The inputs' format (default: told from each input's content).",
)
@click.option(
    "--output", "-o", metavar="FILE", help="Write the manifest to FILE (default: stdout)."
)
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@policies_option("Policies whose licence ids the manifest uses (default: the shipped library).")
@error_format_option
def import_command(sources, fmt, output, force, policies, error_format) -> None:
    """Write a manifest from model and dataset cards, ML-BOMs and dataset descriptions.

    Reads Hugging Face model and dataset cards (README.md), CycloneDX 1.5-1.7 ML-BOMs, SPDX 3.0
    AI/Dataset documents, Croissant descriptions and Data Provenance Initiative summaries
    (hf://org/name with the `hub` extra). Every value says where it was read; what no input
    states is left as a `# declare:` line. Exit status: 0 written, 2 invalid input.
    """
    from .api import import_manifest

    if output not in (None, "-") and _is_file(output) and not force:
        from .errors import Diagnostic, Span, UsageError

        raise UsageError(
            Diagnostic(
                "usage-output-exists",
                f"`{output}` exists: tosguard import does not overwrite it",
                Span(output),
                "give --force to replace it, or another --output",
            )
        )
    result = import_manifest(_library(policies, ()), sources, fmt=fmt)
    _write(result.text, output, result.files)
    sys.exit(EXIT_OK)


def _is_file(path: str) -> bool:
    """Whether ``path`` names something that exists and is not a device or a pipe (which are
    written into, not replaced: `--output /dev/stdout`)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return os.path.lexists(path)  # a dangling symlink: writing would create its target
    return not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))


@cli.command("scan")
@click.argument("manifest", metavar="MANIFEST")
@policies_option("Policy library (clauses and fingerprints) to use instead of the shipped one.")
@extra_policies_option
@report_options
@click.option(
    "--fail-on",
    type=click.Choice(list(FAIL_ON)),
    help="Lowest result that makes the exit code 1 (default: undetermined).",
)
@click.option(
    "--sample",
    type=click.IntRange(1),
    metavar="N",
    help="A quick look: only the first N records of each source.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1),
    metavar="N",
    help="Worker processes (default: one per core).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (pip install 'tosguard[distributed]').",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on standard error (default: when it is a terminal).",
)
@click.option(
    "--accept-unknown-ids",
    is_flag=True,
    envvar="TOSGUARD_ACCEPT_UNKNOWN_IDS",
    help="Report ids no policy knows as warnings, not errors.",
)
@config_options
@error_format_option
def scan_command(
    manifest,
    policies,
    extra,
    fmt,
    as_of,
    output,
    color,
    fail_on,
    sample,
    jobs,
    scheduler,
    progress,
    accept_unknown_ids,
    config_path,
    isolated,
    error_format,
) -> None:
    """Scan the training data named by a manifest's sources (`data:`) for provider
    fingerprints, and check what it shows against what the manifest declares.

    MANIFEST is a file, or - for standard input (its `data` paths are then relative to the
    working directory). Options not given are read from the configuration file, as for
    `check`.

    A provider whose outputs the data holds but the source does not declare gives findings
    that cite the clauses that would govern them (see docs/scan.md). Exit status: 0 nothing
    found against the declaration, 1 findings (per --fail-on), 2 invalid input or
    unreadable data.
    """
    from itertools import chain
    from pathlib import Path

    from .api import load_fingerprints, parse_date
    from .api import scan as run_scan
    from .inputs import display_name
    from .inputs import load as load_input
    from .report.context import ManifestContext
    from .scan.report import render

    config = _config(config_path, isolated, error_format)
    fmt = fmt or config.get("format", "text")
    fail_on = fail_on or config.get("fail-on", "undetermined")
    policies = policies or tuple(config.get("policies", ()))
    extra = extra or tuple(config.get("extra-policies", ()))
    day = parse_date(as_of)
    loaded = load_input(manifest)
    # an extra directory may hold clauses (`.tos`), fingerprints (`fingerprints.yaml`) or both;
    # a path that does not exist goes on, to be refused as `check` refuses it
    clauses = tuple(
        e
        for e in extra
        if not Path(e).exists() or Path(e).suffix == ".tos" or any(Path(e).rglob("*.tos"))
    )
    library = _library(policies, clauses)
    fingerprints = load_fingerprints(list(policies) or None, extra)
    bar = None
    if progress or (progress is None and sys.stderr.isatty()):
        from .scan.progress import ProgressBar

        bar = ProgressBar()
    try:
        result = run_scan(
            library,
            loaded,
            fingerprints,
            as_of=day,
            name=display_name(manifest),
            jobs=jobs,
            sample=sample,
            scheduler=scheduler,
            progress=bar,
            accept_unknown_ids=accept_unknown_ids,
        )
    finally:
        if bar is not None:
            bar.close()
    styled = use_color(color, output)
    text = render(
        result,
        fmt,
        loaded.source_line,
        loaded.manifest.sources,
        click.style if styled else None,
        ManifestContext.of(loaded),
        fail_on,
    )
    read = chain([manifest], result.paths, _policy_inputs(policies, extra))
    _write(text, output, read, color=styled or None)
    sys.exit(EXIT_FAIL if result.fails(fail_on) else EXIT_OK)


class Terminated(BaseException):
    """``SIGTERM``, raised wherever the program is, so that ``finally`` blocks run (a file being
    written is removed, the old one kept) before the exit with status 143, as ``SIGINT`` raises
    :class:`KeyboardInterrupt` (status 130)."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> None:
    """Entry point: no Python traceback reaches the user, whatever the input."""
    import contextlib
    import signal
    import threading

    global _process_entry
    _process_entry = argv is None and threading.current_thread() is threading.main_thread()
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread: signals are not ours
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        _main(argv)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        sys.exit(EXIT_TERMINATED)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> None:
    from .errors import TosguardError

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        cli.main(args=argv, prog_name="tosguard", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_INVALID)
    except click.exceptions.Abort as error:
        if isinstance(error.__cause__, KeyboardInterrupt):  # click's wrapping of SIGINT
            sys.exit(EXIT_INTERRUPTED)
        click.echo("aborted", err=True)
        sys.exit(EXIT_INVALID)
    except TosguardError as error:
        _emit_diagnostics(error, _error_format(argv))
        sys.exit(EXIT_INVALID)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except SystemExit:
        raise
    except Exception as error:  # a bug: say so plainly, without a traceback
        click.echo(
            f"error[internal]: {type(error).__name__}: {error}\n"
            "  = help: this is a bug in tosguard; please report it with the input "
            "that caused it (set TOSGUARD_DEBUG=1 for a traceback)",
            err=True,
        )
        if os.environ.get("TOSGUARD_DEBUG"):
            raise
        sys.exit(EXIT_INTERNAL)


def _error_format(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    for index, arg in enumerate(args):
        if arg.startswith("--error-format="):
            value = arg.split("=", 1)[1]
            return value if value in ERROR_FORMATS else "human"
        if arg == "--error-format" and index + 1 < len(args):
            return args[index + 1] if args[index + 1] in ERROR_FORMATS else "human"
    return "human"


if __name__ == "__main__":  # pragma: no cover
    main()
