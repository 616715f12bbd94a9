"""The command line: one function per subcommand, each a thin shell over :mod:`tosguard.api`.

Exit codes: 0 compliant, 1 not compliant or undetermined (per ``--fail-on``), 2 invalid input
or usage, 3 an internal error (a bug: please report it). Heavy modules are imported inside the
commands so that ``tosguard check`` starts fast.
"""

from __future__ import annotations

import gc
import os
import sys

import click

from . import __version__

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3
ERROR_FORMATS = ("human", "plain", "json")


def _emit_diagnostics(error, error_format: str) -> None:
    from .errors import render_human, render_json, render_plain

    renderer = {"human": render_human, "plain": render_plain, "json": render_json}[error_format]
    click.echo(renderer(error.diagnostics), err=True)


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        from .errors import Diagnostic, Span, UsageError

        raise UsageError(Diagnostic("usage-output", f"cannot write `{output}`: "
                                    f"{error.strerror or error}", Span(output),
                                    "check that the directory exists and is writable")) from None


def _library(policies: tuple[str, ...], extra: tuple[str, ...]):
    from .library import default_paths, load_library

    paths = list(policies) if policies else [str(p) for p in default_paths()]
    return load_library([*paths, *extra], use_cache=not os.environ.get("TOSGUARD_NO_CACHE"))


error_format_option = click.option(
    "--error-format", type=click.Choice(ERROR_FORMATS), default="human", show_default=True,
    help="How to print errors in the input.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tosguard")
def cli() -> None:
    """Check ML data pipelines against AI providers' terms of service.

    Declare a pipeline in a usage manifest (YAML or JSON), then run `tosguard check
    MANIFEST`: every finding cites the clause it rests on.
    """


@cli.command()
@click.argument("manifests", nargs=-1, required=True, metavar="MANIFEST...")
@click.option("--policies", "policies", multiple=True, metavar="PATH",
              help="Policy file or directory to use instead of the shipped library "
                   "(repeatable).")
@click.option("--extra-policies", "extra", multiple=True, metavar="PATH",
              help="Policy file or directory to add to the library (repeatable).")
@click.option("--format", "fmt",
              type=click.Choice(["text", "json", "markdown", "sarif", "junit"]),
              default="text", show_default=True, help="Report format.")
@click.option("--as-of", metavar="DATE", help="Evaluation date for sources with no "
              "`collected` dates (default: today).")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE.")
@click.option("--fail-on", type=click.Choice(["violated", "undetermined", "warning"]),
              default="undetermined", show_default=True,
              help="Lowest result that makes the exit code 1.")
@click.option("--all", "include_all", is_flag=True,
              help="Also list satisfied and not-applicable results.")
@error_format_option
def check(manifests, policies, extra, fmt, as_of, output, fail_on, include_all,
          error_format) -> None:
    """Check usage manifests against the policy library.

    Exit status: 0 compliant, 1 not compliant or undetermined (see --fail-on),
    2 invalid input.
    """
    from .api import check as run_check
    from .api import parse_date
    from .errors import TosguardError
    from .manifest import load_manifest

    day = parse_date(as_of)
    library = _library(policies, extra)
    reports, outputs, invalid = [], [], False
    for path in manifests:
        try:
            loaded = load_manifest(path)
        except TosguardError as error:
            _emit_diagnostics(error, error_format)
            invalid = True
            continue
        gc.freeze()  # the manifest lives until exit; spare the collector from rescanning it
        report = run_check(library, loaded, as_of=day, include_all=include_all, name=path)
        reports.append(report)
        if fmt == "text":
            from .render import plain, render_text

            styled = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            outputs.append(render_text(report, loaded.source_line, loaded.manifest.sources,
                                       click.style if styled else plain))
    if fmt == "json":
        if len(reports) == 1:
            outputs = [reports[0].to_json()]
        elif reports:
            import json

            outputs = [json.dumps([r.as_dict() for r in reports], indent=2,
                                  ensure_ascii=False) + "\n"]
    elif fmt == "markdown":
        from .formats import render_markdown

        outputs = [render_markdown(r) for r in reports]
    elif fmt in ("sarif", "junit") and reports:
        from .formats import render_junit, render_sarif

        outputs = [(render_sarif if fmt == "sarif" else render_junit)(reports)]
    if outputs:
        _write("\n".join(outputs), output)
    if invalid:
        sys.exit(EXIT_INVALID)
    sys.exit(EXIT_FAIL if any(r.fails(fail_on) for r in reports) else EXIT_OK)


@cli.command()
@click.option("--policies", "policies", multiple=True, metavar="PATH",
              help="Policy file or directory to list instead of the shipped library.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@error_format_option
def policies(policies, fmt, error_format) -> None:
    """List the policy library: id, provider, document, versions and clause count."""
    library = _library(policies, ())
    rows = []
    for document in library.documents.values():
        latest = document.versions[-1]
        rows.append({
            "id": document.id,
            "provider": document.provider,
            "document": latest.document,
            "versions": [v.effective.isoformat() for v in document.versions],
            "clauses": sum(len(v.clauses) for v in document.versions),
            "files": [v.file for v in document.versions],
        })
    if fmt == "json":
        import json

        click.echo(json.dumps({"revision": library.revision, "policies": rows}, indent=2,
                              ensure_ascii=False))
        return
    if not rows:
        click.echo("No policies.")
        return
    headers = ("ID", "PROVIDER", "DOCUMENT", "VERSIONS", "CLAUSES")
    table = [(r["id"], r["provider"], r["document"], ", ".join(r["versions"]),
              str(r["clauses"])) for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    click.echo(f"\n{len(rows)} policies, {library.clause_count} clauses "
               f"(revision {library.revision})")


@cli.command()
@click.option("--output", "-o", metavar="FILE", help="Write the schema to FILE.")
def schema(output) -> None:
    """Print the JSON Schema of the usage manifest (format 1)."""
    import json

    from .manifest import manifest_json_schema

    _write(json.dumps(manifest_json_schema(), indent=2) + "\n", output)


def main(argv: list[str] | None = None) -> None:
    """Entry point: no Python traceback reaches the user, whatever the input."""
    from .errors import TosguardError

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        cli.main(args=argv, prog_name="tosguard", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_INVALID)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_INVALID)
    except TosguardError as error:
        _emit_diagnostics(error, _error_format(argv))
        sys.exit(EXIT_INVALID)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as error:  # a bug: say so plainly, without a traceback
        click.echo(f"error[internal]: {type(error).__name__}: {error}\n"
                   "  = help: this is a bug in tosguard; please report it with the input "
                   "that caused it (set TOSGUARD_DEBUG=1 for a traceback)", err=True)
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
