"""The FastAPI application: a thin shell over :mod:`tosguard.api`.

:func:`create_app` builds the app for one worker; ``tosguard serve`` runs it under uvicorn
(:mod:`tosguard.service.server`). The policy set is loaded and compiled once, when the worker
starts (a worker whose set does not load never starts serving), and replaced only by a reload
that succeeds.

Evaluation is synchronous and CPU-bound. A small manifest (up to ``inline_max_bytes``, 16 KiB:
some 50 sources, a few milliseconds) is checked on the event loop itself, one check per turn of
the loop (:mod:`.turns`): handing it to a thread and back cost more than a tenth of the check
(0.45 ms of 3.3 ms, measured), and between two checks the loop still accepts connections and
reads requests. Larger manifests, and policy validation, run in a small pool of evaluation
threads per worker (``eval_threads``), so that the loop stays free while they run.

A check on the loop gets a slice of it (``inline_slice``, 25 ms): one that is still running
then (a small manifest can still ask for much work: 1,400 bare sources fit in 16 KiB) gives way
and is run again in the pool, so no request holds the loop for longer than a slice.

Each request has a time limit (``timeout``): the body must arrive within it (else 408), and the
work stops when it passes (503): a check waiting for its turn or its thread is dropped, and one
running stops itself at its next checkpoint (:mod:`tosguard.engine.budget`) and frees what it built.
A report is also limited to ``max_findings`` findings (else 422), which bounds one answer.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Literal

import anyio
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__
from ..api import parse_date
from ..engine.budget import Budget, SliceSpent, TimeLimitExceeded
from ..errors import UsageError, did_you_mean
from . import catalog, docs, models, negotiate, openapi, problems, work
from .access import ServiceMiddleware, StartupFailure, context
from .auth import ApiKeys
from .config import Settings
from .limits import BodyLimitMiddleware
from .logs import SERVICE_LOGGER
from .metrics import Metrics
from .problems import ProblemError, diagnostic_items, item
from .state import PolicySet, PolicyState, ReloadResult
from .turns import LoopTurns

log = logging.getLogger(SERVICE_LOGGER)

#: Set by ``tosguard serve`` to its own pid when it runs several workers under uvicorn's
#: supervisor; a worker whose parent has this pid asks it (SIGHUP) for a rolling restart after
#: a reload over HTTP.
SUPERVISOR_ENV = "TOSGUARD_SERVE_SUPERVISOR_PID"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", *docs.PATHS})
MAX_NAME = 1024


class Service:
    """What the endpoints share: settings, the policy state, metrics, the evaluation pool."""

    def __init__(self, settings: Settings, state: PolicyState, metrics: Metrics):
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.executor: ThreadPoolExecutor | None = None
        self.turns = LoopTurns()
        self.middleware: ServiceMiddleware | None = None

    @property
    def policy_set(self) -> PolicySet:
        current = self.state.current
        if current is None:
            raise ProblemError(
                "not-ready", "the policy set is not loaded yet", headers={"Retry-After": "1"}
            )
        return current

    def pool(self) -> ThreadPoolExecutor:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(
                max(1, self.settings.eval_threads), thread_name_prefix="tosguard-eval"
            )
        return self.executor

    def budget(self, request: Request, *, sliced: bool = False) -> Budget:
        """The request's budget: its time limit (the work stops there, see
        :mod:`tosguard.engine.budget`), the findings one report may hold, and for work on the event
        loop the slice after which it moves to a thread."""
        return Budget(
            deadline=context(request.scope).deadline,
            max_findings=self.settings.max_findings,
            slice_seconds=self.settings.inline_slice if sliced else None,
        )

    async def in_pool(self, request: Request, job, budget: Budget):
        """Run ``job(budget)`` in the evaluation pool within the request's time limit; the
        thread stops at its next checkpoint once the limit has passed."""
        ctx = context(request.scope)
        future = self.pool().submit(job, budget)
        try:
            with anyio.fail_after(ctx.remaining()):
                return await asyncio.wrap_future(future)
        except (TimeoutError, TimeLimitExceeded):
            future.cancel()  # not started yet: never will be; running: stops at a checkpoint
            raise self.timeout_problem() from None

    async def on_loop(self, request: Request, job):
        """Run ``job(budget)`` on the event loop in its turn (:mod:`.turns`), within the
        request's time limit (a job still waiting for its turn when it passes is dropped). A
        job that outgrows its slice of the loop gives way and runs on in the pool."""
        ctx = context(request.scope)

        def in_its_turn():  # the slice counts from the turn, not from the wait for it
            return job(self.budget(request, sliced=True))

        try:
            with anyio.fail_after(ctx.remaining()):
                return await self.turns.run(in_its_turn)
        except SliceSpent:
            self.metrics.moved_to_pool.inc()
            return await self.in_pool(request, job, self.budget(request))
        except (TimeoutError, TimeLimitExceeded):
            raise self.timeout_problem() from None

    def timeout_problem(self) -> ProblemError:
        return ProblemError(
            "timeout",
            f"the request was not answered within the time limit of {self.settings.timeout:g} s",
            headers={"Retry-After": "1"},
        )

    def loaded(self, policy_set: PolicySet) -> None:
        library = policy_set.library
        self.metrics.policy_set(library.revision, policy_set.loaded_at, library.clause_count)
        # The set's files parsed, the context policy text is validated in: a second of work
        # on a busy machine, done now in the background rather than within the time limit of
        # the first validation request.
        threading.Thread(
            target=parse_in_background, args=(policy_set,), name="tosguard-parse-set", daemon=True
        ).start()

    def record_reload(self, result: ReloadResult) -> None:
        self.metrics.reloads.labels("success" if result.ok else "failure").inc()
        fields = {
            "revision": result.revision,
            "previous": result.previous,
            "changed": result.changed,
        }
        if result.ok:
            self.loaded(self.policy_set)
            log.info("policy set reloaded", extra={"fields": fields})
        else:
            fields["errors"] = [d.as_dict() for d in result.diagnostics]
            log.error(
                "policy set reload failed; the previous set is kept", extra={"fields": fields}
            )

    def reload(self) -> ReloadResult:
        """Reload the policy set and re-read the API keys (blocking: run it in a thread).
        Keys that cannot be read are logged and the keys in use kept; a change between having
        keys and having none needs a restart (the OpenAPI document declares one or the other),
        so only a rotation of configured keys is taken."""
        result = self.state.reload()
        if self.middleware is not None and self.settings.api_keys_file:
            try:
                keys = ApiKeys.load(self.settings.api_keys_file)
            except UsageError as error:
                log.error(
                    "the API keys could not be re-read; the keys in use are kept",
                    extra={"fields": {"errors": [d.as_dict() for d in error.diagnostics]}},
                )
            else:
                if keys.enabled == self.middleware.keys.enabled:
                    self.middleware.keys = keys
                else:
                    log.error(
                        "a reload cannot turn API keys on or off; restart the service",
                        extra={"fields": {}},
                    )
        return result

    def reload_in_background(self) -> None:
        """SIGHUP: reload in a thread, never blocking the event loop."""
        loop = asyncio.get_running_loop()
        task = loop.run_in_executor(None, self.reload)
        task.add_done_callback(lambda done: self.record_reload(done.result()))


def parse_in_background(policy_set: PolicySet) -> None:
    try:
        policy_set.parsed_files()
    except Exception as error:  # it compiled, so it parses; if not, validation will say so
        log.error(
            "the policy set's files could not be parsed for validation",
            extra={"fields": {"error": f"{type(error).__name__}: {error}"}},
        )


async def read_body(request: Request) -> bytes:
    ctx = context(request.scope)
    try:
        with anyio.fail_after(ctx.remaining()):
            return await request.body()
    except TimeoutError:
        raise ProblemError(
            "body-timeout",
            "the request body did not arrive within the time limit",
            headers={"Connection": "close"},
        ) from None


def usage_problem(error: UsageError, what: str) -> ProblemError:
    return ProblemError(
        "invalid-parameter", f"invalid `{what}`", diagnostic_items(error.diagnostics)
    )


def known_query_parameters(request: Request) -> None:
    """Refuse query parameters the matched endpoint does not declare (a typo such as
    ``?as-of=`` would otherwise be ignored silently)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    negotiate.reject_unknown(request.query_params.keys(), _query_names(dependant), request.url.path)


def _query_names(dependant) -> list[str]:
    """The query parameters an endpoint declares, its dependencies' included."""
    names = [field.alias for field in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names


#: The kinds of the query parameters whose bad values get a message of their own.
PARAMETER_KINDS = {"as_of": "date", "all": "bool", "accept_unknown_ids": "bool"}


def split_ids(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def create_app(
    settings: Settings | None = None,
    *,
    policy_set: PolicySet | None = None,
    handle_sighup: bool = False,
) -> FastAPI:
    """The app for one worker. ``policy_set``: an already loaded set (tests and single-worker
    ``serve`` pass one); otherwise the configured paths are loaded at start-up."""
    settings = settings or Settings.from_env()
    state = PolicyState(
        settings.library_paths(),
        settings.extra_policies,
        use_cache=settings.use_cache,
        initial=policy_set,
    )
    metrics = Metrics()
    keys = ApiKeys.load(settings.api_keys_file)
    service = Service(settings, state, metrics)
    public = PUBLIC_PATHS | ({"/metrics"} if settings.public_metrics else set())
    middleware = ServiceMiddleware(
        None,
        keys=keys,
        metrics=metrics,
        timeout=settings.timeout,
        public_paths=frozenset(public),
        access_log_enabled=settings.access_log,
    )
    service.middleware = middleware

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if not state.ready:
            try:
                await anyio.to_thread.run_sync(state.load)
            except Exception as error:
                diagnostics = getattr(error, "diagnostics", [])
                log.error(
                    "the policy set could not be loaded; not serving",
                    extra={"fields": {"errors": [d.as_dict() for d in diagnostics] or str(error)}},
                )
                middleware.startup_failure = "the policy set could not be loaded (errors above)"
                raise StartupFailure(middleware.startup_failure) from None
        service.loaded(service.policy_set)
        gc.collect()
        gc.freeze()  # what start-up built lives as long as the worker: the collector skips it
        log.info(
            "policy set loaded",
            extra={
                "fields": {
                    "revision": service.policy_set.revision,
                    "pid": os.getpid(),
                    "policies": len(service.policy_set.library.documents),
                    "clauses": service.policy_set.library.clause_count,
                }
            },
        )
        loop = asyncio.get_running_loop()
        hup = False
        if handle_sighup and hasattr(signal, "SIGHUP"):
            try:
                loop.add_signal_handler(signal.SIGHUP, service.reload_in_background)
                hup = True
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                pass
        try:
            yield
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)
            service.turns.stop()
            if service.executor is not None:
                service.executor.shutdown(wait=False, cancel_futures=True)
                service.executor = None
            metrics.worker_exit()

    app = FastAPI(
        title="tosguard",
        version=__version__,
        summary="Check ML data pipelines against AI providers' terms of service.",
        description=openapi.DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by .docs from the installed package, not from a CDN
        redoc_url=None,
        dependencies=[Depends(known_query_parameters)],
        # no 307 to the path with or without a trailing slash: Starlette builds that Location
        # from the request's Host header, so any client could make the service point elsewhere;
        # the 404 names the right path instead (see not_found_items)
        redirect_slashes=False,
    )
    app.state.service = service

    # ---- errors ---------------------------------------------------------------------------
    async def problem_response(request: Request, error: ProblemError) -> Response:
        body = problems.body(error, request.url.path, context(request.scope).request_id)
        return Response(
            body,
            status_code=error.status,
            headers=error.headers,
            media_type=problems.PROBLEM_MEDIA_TYPE,
        )

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, error: ProblemError) -> Response:
        return await problem_response(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> Response:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        detail = {
            404: f"no such resource `{request.url.path}`",
            405: f"`{request.method}` is not allowed on `{request.url.path}`",
        }
        problem = ProblemError(
            kind or "invalid-request",
            detail.get(error.status_code, ""),
            not_found_items(app, request) if error.status_code == 404 else (),
            headers=error.headers,
            status=error.status_code,
        )
        return await problem_response(request, problem)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        errors = [negotiate.parameter_item(entry, PARAMETER_KINDS) for entry in error.errors()]
        return await problem_response(
            request,
            ProblemError("invalid-parameter", "the request's parameters are invalid", errors),
        )

    # ---- check ----------------------------------------------------------------------------
    @app.post(
        "/v1/check",
        tags=["check"],
        summary="Check a usage manifest",
        response_class=Response,
        responses={
            200: {
                "model": models.Report,
                "description": "The report (format 1), the CLI's bytes for the format asked "
                "for (`format`, else `Accept`): JSON by default, SARIF, JUnit XML or Markdown",
                "headers": openapi.CHECK_HEADERS,
                "content": openapi.REPORT_CONTENT,
            },
            **problems.responses(400, 406, 408, 413, 415, 422, 503),
        },
        openapi_extra={"requestBody": openapi.manifest_request_body()},
    )
    async def check(
        request: Request,
        as_of: Annotated[
            str | None,
            Query(
                pattern=openapi.DATE_PATTERN,
                json_schema_extra={"format": "date"},
                description="Evaluation date for sources without `collected` dates (default: "
                "today, on the server's clock).",
            ),
        ] = None,
        policies: Annotated[
            list[str] | None,
            Query(description="Only these policy ids (repeat, or separate with commas)."),
        ] = None,
        include_all: Annotated[
            bool, Query(alias="all", description="Also list satisfied and not-applicable results.")
        ] = False,
        accept_unknown_ids: Annotated[
            bool | None,
            Query(
                description="Report provider, licence, agreement and verification ids that no "
                "policy knows as warnings, not errors (default: the service's setting, normally "
                "false)."
            ),
        ] = None,
        name: Annotated[
            str,
            Query(
                max_length=MAX_NAME,
                description="The manifest's name in the report, as the CLI "
                "uses the path given to it.",
            ),
        ] = "<request>",
        report_format: Annotated[
            Literal["json", "sarif", "junit", "markdown"] | None,
            Query(
                alias="format",
                description="The report's format; without it, the `Accept` header decides "
                "(`application/sarif+json`, `application/xml` or `application/junit+xml`, "
                "`text/markdown`; JSON by default).",
            ),
        ] = None,
    ) -> Response:
        output = negotiate.choose_format(report_format, request.headers.get("accept"))
        fmt = work.manifest_format(request.headers.get("content-type"))
        data = await read_body(request)
        current = service.policy_set
        try:
            day = parse_date(as_of, "as_of")
        except UsageError as error:
            raise usage_problem(error, "as_of") from None
        library = current.library
        ids = split_ids(policies)
        if ids:
            try:
                library = current.restrict(ids)
            except UsageError as error:
                raise usage_problem(error, "policies") from None
        accept = settings.accept_unknown_ids if accept_unknown_ids is None else accept_unknown_ids
        job = partial(
            work.check_manifest,
            library,
            data,
            fmt,
            name,
            day,
            include_all,
            settings.max_sources,
            accept_unknown_ids=accept,
            output=output,
        )
        ctx = context(request.scope)
        ctx.revision = current.revision
        if len(data) <= settings.inline_max_bytes:
            body, verdict = await service.on_loop(request, job)
        else:
            body, verdict = await service.in_pool(request, job, service.budget(request))
        ctx.verdict = verdict
        metrics.checks.labels(verdict).inc()
        return Response(
            body,
            media_type=negotiate.CONTENT_TYPES[output],
            headers={
                "X-Tosguard-Verdict": verdict,
                "X-Tosguard-Revision": current.revision,
                "Vary": "Accept",
            },
        )

    # ---- the library ----------------------------------------------------------------------
    @app.get(
        "/v1/policies",
        tags=["policies"],
        summary="List the policy library",
        response_model=models.PolicyList,
    )
    async def list_policies() -> dict:
        return catalog.policy_rows(service.policy_set.library)

    @app.get(
        "/v1/policies/{policy_id}",
        tags=["policies"],
        summary="One policy, all versions",
        response_model=models.PolicyDetail,
        responses=problems.responses(404),
    )
    async def get_policy(policy_id: Annotated[str, Path(max_length=200)]) -> dict:
        return catalog.policy_detail(service.policy_set.library, policy_id)

    @app.get(
        "/v1/policies/{policy_id}/clauses/{clause_id}",
        tags=["policies"],
        summary="One clause: condition, citation and verbatim quote, per version",
        response_model=models.ClauseDetail,
        responses=problems.responses(404),
    )
    async def get_clause(
        policy_id: Annotated[str, Path(max_length=200)],
        clause_id: Annotated[str, Path(max_length=200)],
    ) -> dict:
        return catalog.clause_detail(service.policy_set.library, policy_id, clause_id)

    @app.post(
        "/v1/policies/validate",
        tags=["policies"],
        summary="Lint policy text",
        response_model=models.ValidationResult,
        responses=problems.responses(400, 408, 413, 415, 422, 503),
        openapi_extra={"requestBody": openapi.POLICY_REQUEST_BODY},
    )
    async def validate(
        request: Request,
        name: Annotated[
            str,
            Query(
                max_length=MAX_NAME,
                description="The file name "
                "diagnostics refer to; a library file of the same name "
                "is replaced.",
            ),
        ] = "policy.tos",
        context_: Annotated[
            Literal["library", "none"],
            Query(
                alias="context",
                description="`library`: check the text as one more file of the "
                "loaded set, so it may use the set's named sets and predicates; `none`: alone.",
            ),
        ] = "library",
    ) -> JSONResponse:
        kind = work.media_type(request.headers.get("content-type"))
        if kind and kind not in work.POLICY_TYPES:
            raise ProblemError(
                "unsupported-media-type",
                f"policy text is sent as `text/plain`, not `{kind}`",
                [
                    item(
                        "service-media-type",
                        f"unsupported content type `{kind}`",
                        help="set `Content-Type: text/plain`",
                    )
                ],
            )
        data = await read_body(request)
        if not data:
            raise ProblemError(
                "invalid-request",
                "the request has no policy text",
                [
                    item(
                        "service-empty-body",
                        "the body is empty",
                        help="send the text of a policy file as the body",
                    )
                ],
            )
        current = service.policy_set
        job = partial(work.validate_policy, current, data, name, context_)
        diagnostics, used = await service.in_pool(request, job, service.budget(request))
        return JSONResponse(work.validation_result(diagnostics, name, used, current.revision))

    # ---- operations -----------------------------------------------------------------------
    @app.post(
        "/v1/admin/reload",
        tags=["operations"],
        summary="Reload the policy set",
        response_model=models.ReloadOutcome,
        responses=problems.responses(403, 409),
    )
    async def reload() -> dict:
        if not middleware.keys.enabled:
            raise ProblemError(
                "reload-disabled",
                "reloading over HTTP needs API keys "
                "(`--api-keys-file`); send SIGHUP to the server instead",
                [
                    item(
                        "service-reload-disabled",
                        "no API keys are configured",
                        help="configure API keys, or `kill -HUP <pid>`",
                    )
                ],
            )
        result = await anyio.to_thread.run_sync(service.reload)
        service.record_reload(result)
        if not result.ok:
            raise ProblemError(
                "reload-failed",
                f"the new policy set has errors; the set in use "
                f"(revision {result.revision}) is kept",
                diagnostic_items(result.diagnostics),
            )
        supervisor = os.environ.get(SUPERVISOR_ENV)
        if settings.workers > 1 and supervisor and supervisor == str(os.getppid()):
            os.kill(int(supervisor), signal.SIGHUP)  # the supervisor restarts the others
        library = service.policy_set.library
        return {
            "revision": result.revision,
            "previous": result.previous,
            "changed": result.changed,
            "policies": len(library.documents),
            "clauses": library.clause_count,
            "workers": settings.workers,
        }

    @app.get("/healthz", tags=["operations"], summary="Liveness", response_model=models.Health)
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: the policy set in use",
        response_model=models.Ready,
        responses=problems.responses(503),
    )
    async def readyz() -> dict:
        current = service.policy_set
        last = state.last_reload
        return {
            "status": "ready",
            "revision": current.revision,
            "policies": len(current.library.documents),
            "clauses": current.library.clause_count,
            "loaded_at": current.loaded_at,
            "workers": settings.workers,
            "reloads": state.reload_count,
            "reload_failures": state.failure_count,
            "last_reload": None
            if last is None
            else {
                "ok": last.ok,
                "at": last.at,
                "revision": last.revision,
                "errors": len(last.diagnostics),
            },
        }

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics_endpoint() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    docs.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(middleware.bind)
    openapi.install(app, keys_enabled=keys.enabled, public_paths=public)
    return app


def not_found_items(app: FastAPI, request: Request) -> list[dict]:
    """Why a path matched no route, with the path the client probably meant: the same path
    without (or with) its trailing slash when that one exists, else the closest fixed path."""
    path = request.url.path
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    if path != "/" and twin:
        scope = {**request.scope, "path": twin}
        if any(route.matches(scope)[0] is not Match.NONE for route in app.router.routes):
            return [
                item(
                    "service-trailing-slash",
                    f"`{path}` is not a path of this service",
                    help=f"send the request to `{twin}`",
                )
            ]
    paths = [getattr(route, "path", "{") for route in app.router.routes]
    fixed = [p for p in paths if "{" not in p and p != "/openapi.json"]
    return [
        item(
            "service-unknown-path",
            f"`{path}` is not a path of this service",
            help=did_you_mean(path, fixed) or "see `/openapi.json` for the paths",
        )
    ]


def create_app_from_env() -> FastAPI:
    """uvicorn's factory in each worker process: settings from the environment."""
    return create_app(Settings.from_env(), handle_sighup=True)
