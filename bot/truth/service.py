"""Ground-truth and loss HTTP service for Allora reputers (the allora-offchain-node's ``apiAdapter``, or anything else).

Routes (``{...}`` = what the offchain node substitutes; every parameter may also be given by its long name):

``GET /gt?block={BlockHeight}&topic={TopicId}&token={Token}`` (also ``GET /gt/{TopicId}/{BlockHeight}?token=...``)
    200 ``text/plain`` with ONE plain decimal (no exponent, no quotes): the price at ``block_time + horizon`` for price
    topics, ``ln(p_target / p_anchor)`` for log-return topics. Header ``X-Truth-Source`` says where it came from:
    ``round:<market>:<epoch>`` or ``exchange:<id>:<symbol>``; ``X-Truth-Anchor`` / ``X-Truth-Target`` give the window.
    Non-200 with a plain-text reason otherwise: 400 bad parameters, 404 unknown topic or block (or no source),
    425 not final yet (with ``Retry-After``), 503 a source is unreachable.
``GET /gt/labeled?block={BlockHeight}&topic={TopicId}&token={Token}`` (also ``/gt/labeled/{TopicId}/{BlockHeight}``)
    200 ``application/json`` ``[{"label":"up","value":"1"},{"label":"down","value":"0"}]``: exactly the topic's labels.
``POST /calculate`` ``{"y_true": "..", "y_pred": "..", "options": {"loss_method": "sqe", ...}}`` -> ``{"loss": ".."}``
    The method comes from ``options.loss_method`` or ``options.method`` (or ``?loss_method=``). Labeled payloads
    (``y_true``/``y_pred`` arrays of ``{"label","value"}``, same label set) give the mean of the per-label losses.
    ``ztae``/``zptae`` need ``options.std``, or ``options.topic_id`` to estimate it from the topic's recent rounds.
``POST /is_never_negative`` ``{"options": {"loss_method": "..."}}`` -> ``{"is_never_negative": true}``
    ``/labeled/calculate`` and ``/labeled/is_never_negative`` are the same (for ``LabeledLossFunctionService``).
``GET /health``: 200 ``"ok"`` only when every topic is ready (``bot.truth.readiness``: a value source, the Allora
    node and the price source answering, the oldest open reputer nonce answered), else 503 with each topic's reasons.
``GET /offchain-node-config?topic=N`` -> a ready reputer entry for the offchain node's config.json.

Every request is logged (one redacted line: method, path and query, status, milliseconds, source); ``truth serve``
prints one start-up line with the URLs to give a reputer, and warms the open reputer nonces oldest first
(``bot.truth.warm``) when ``allora.rpc_url`` is set. It reads the bot's database through the engine the app builds.

allora-offchain-node reputer entry (the node fills ``{BlockHeight}``/``{TopicId}``, ``{Token}`` comes from the entry)::

    {"topicId": 64, "groundTruthEntrypointName": "apiAdapter", "lossFunctionEntrypointName": "apiAdapter",
     "minStake": 100000,
     "groundTruthParameters": {"GroundTruthEndpoint":
         "http://127.0.0.1:8088/gt?block={BlockHeight}&topic={TopicId}&token={Token}", "Token": "BTC"},
     "lossFunctionParameters": {"LossFunctionService": "http://127.0.0.1:8088",
                                "LossMethodOptions": {"loss_method": "sqe"}}}

For a multi-label topic use ``"LabeledGroundTruthEndpoint": "http://127.0.0.1:8088/gt/labeled?block={BlockHeight}&
topic={TopicId}&token={Token}"`` and ``"LabeledLossFunctionService": "http://127.0.0.1:8088/labeled"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot import wire
from bot.allora.kinds import kind_of
from bot.redact import redact_text
from bot.truth.groundtruth import (
    BadTruthRequest,
    GroundTruthResolver,
    TruthError,
    plain,
)
from bot.truth.losses import (
    LossError,
    format_plain,
    is_never_negative,
    make_loss,
    method_from_options,
    resolve_method,
    to_float,
)
from bot.truth.readiness import Readiness
from bot.truth.topics import TopicSpec, topics_from_settings
from bot.truth.warm import NonceSource, Warmer

log = logging.getLogger(__name__)
request_log = logging.getLogger("bot.truth.requests")

RESOLVER: web.AppKey[GroundTruthResolver] = web.AppKey("resolver", GroundTruthResolver)
READINESS: web.AppKey[Readiness] = web.AppKey("readiness", Readiness)
STD_WINDOW = 100

GT_TEMPLATE = "{base}/gt?block={{BlockHeight}}&topic={{TopicId}}&token={{Token}}"
LABELED_GT_TEMPLATE = "{base}/gt/labeled?block={{BlockHeight}}&topic={{TopicId}}&token={{Token}}"


def reputer_config(
    base_url: str, topic: TopicSpec, loss_method: str = "sqe", min_stake: int = 100000
) -> dict[str, Any]:
    """The allora-offchain-node ``reputer`` entry that points the node at this service for ``topic``."""
    base = base_url.rstrip("/")
    multi = kind_of(topic.kind).multi_label
    gt_key = "LabeledGroundTruthEndpoint" if multi else "GroundTruthEndpoint"
    loss_key = "LabeledLossFunctionService" if multi else "LossFunctionService"
    template = LABELED_GT_TEMPLATE if multi else GT_TEMPLATE
    return {
        "topicId": topic.topic_id,
        "groundTruthEntrypointName": "apiAdapter",
        "lossFunctionEntrypointName": "apiAdapter",
        "minStake": min_stake,
        "groundTruthParameters": {gt_key: template.format(base=base), "Token": topic.asset},
        "lossFunctionParameters": {
            loss_key: f"{base}/labeled" if multi else base,
            "LossMethodOptions": {"loss_method": loss_method},
        },
    }


# --- request parsing ------------------------------------------------------------------------------------------------


def _first(query: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = query.get(name)
        if value is not None and value.strip() != "":
            return value.strip()
    return None


def _int_param(value: str | None, name: str) -> int:
    if value is None:
        raise BadTruthRequest(f"missing parameter {name}")
    try:
        number = int(value)
    except ValueError:
        raise BadTruthRequest(f"{name} must be an integer, got {value!r}") from None
    if number < 0:
        raise BadTruthRequest(f"{name} must be >= 0, got {number}")
    return number


def _gt_params(request: web.Request) -> tuple[int, int, str | None]:
    q = request.query
    topic = request.match_info.get("topic") or _first(q, "topic", "topic_id", "TopicId", "topicId")
    block = request.match_info.get("block") or _first(q, "block", "block_height", "BlockHeight", "height")
    token = _first(q, "token", "Token")
    return _int_param(topic, "topic"), _int_param(block, "block"), token


def _error_text(exc: TruthError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return web.Response(status=exc.http_status, text=exc.reason + "\n", headers=headers)


def _answered(request: web.Request, exc: TruthError) -> web.Response:
    """The error answer of a ground-truth request, noted for ``/health`` when it names a served topic and block."""
    try:
        topic_id, block, _ = _gt_params(request)
    except TruthError:
        topic_id = block = -1
    if topic_id in request.app[RESOLVER].topics:
        request.app[READINESS].record(topic_id, block, exc.http_status, exc.reason)
    return _error_text(exc)


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# --- ground truth ---------------------------------------------------------------------------------------------------


async def ground_truth(request: web.Request) -> web.Response:
    resolver = request.app[RESOLVER]
    try:
        topic_id, block, token = _gt_params(request)
        spec = resolver.topic(topic_id)
        if kind_of(spec.kind).multi_label:
            raise BadTruthRequest(f"topic {topic_id} is multi-label: use LabeledGroundTruthEndpoint (/gt/labeled)")
        truth = await resolver.resolve(topic_id, block, token)
    except TruthError as exc:
        return _answered(request, exc)
    request.app[READINESS].record(topic_id, block, 200)
    headers = {
        "X-Truth-Source": truth.source,
        "X-Truth-Anchor": str(truth.anchor_ts),
        "X-Truth-Target": str(truth.target_ts),
        "X-Truth-Kind": truth.kind,
    }
    return web.Response(text=plain(truth.value), content_type="text/plain", headers=headers)


async def labeled_ground_truth(request: web.Request) -> web.Response:
    resolver = request.app[RESOLVER]
    try:
        topic_id, block, token = _gt_params(request)
        spec = resolver.topic(topic_id)
        truth = await resolver.resolve(topic_id, block, token, need_direction=True)
        try:
            body = truth.labeled(spec.labels)
        except ValueError as exc:
            raise BadTruthRequest(f"topic {topic_id}: {exc}") from None
    except TruthError as exc:
        return _answered(request, exc)
    request.app[READINESS].record(topic_id, block, 200)
    headers = {"X-Truth-Source": truth.source, "X-Truth-Anchor": str(truth.anchor_ts),
               "X-Truth-Target": str(truth.target_ts)}
    return web.json_response(body, headers=headers)


# --- loss service ---------------------------------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, parsed within ``wire.SERVICE_REQUEST`` limits (the service is unauthenticated)."""
    raw = await request.read()  # aiohttp refuses more than client_max_size (413) before this returns
    if not raw.strip():
        return {}
    try:
        body = wire.loads(raw, wire.SERVICE_REQUEST, "request body")
    except wire.UnsafeBody as exc:
        raise LossError(str(exc)) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise LossError(f"body is not JSON: {str(exc)[:80]}") from None
    if not isinstance(body, dict):
        raise LossError("body must be a JSON object")
    return body


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = body.get("options")
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise LossError("options must be a JSON object")
    return options


def _method(request: web.Request, options: Mapping[str, Any]) -> str:
    method = method_from_options(options) or _first(request.query, "loss_method", "method")
    if method is None:
        raise LossError("no loss method: set options.loss_method (LossMethodOptions) or ?loss_method=")
    return method


async def _returns_for(request: web.Request, method: str, options: Mapping[str, Any]) -> list[float] | None:
    if not resolve_method(method).needs_std or options.get("std") not in (None, ""):
        return None
    topic = options.get("topic_id", options.get("topic"))
    if topic in (None, ""):
        return None
    try:
        topic_id = int(str(topic))
    except ValueError:
        raise LossError(f"options.topic_id must be an integer, got {topic!r}") from None
    window = int(to_float("options.std_window", options.get("std_window", STD_WINDOW)))
    try:
        return await request.app[RESOLVER].recent_returns(topic_id, max(window, 2))
    except TruthError as exc:
        raise LossError(exc.reason) from None


def _labeled_pairs(y_true: Any, y_pred: Any) -> list[tuple[Any, Any]]:
    def index(name: str, items: Any) -> dict[str, Any]:
        if not isinstance(items, list) or not items:
            raise LossError(f"{name} must be a non-empty array of {{label, value}}")
        out: dict[str, Any] = {}
        for item in items:
            if not isinstance(item, dict) or "label" not in item or "value" not in item:
                raise LossError(f"{name} items must be objects with label and value")
            label = str(item["label"])
            if label in out:
                raise LossError(f"{name} has duplicate label {label!r}")
            out[label] = item["value"]
        return out

    truth, pred = index("y_true", y_true), index("y_pred", y_pred)
    if set(truth) != set(pred):
        raise LossError(f"label sets differ: y_true {sorted(truth)} vs y_pred {sorted(pred)}")
    return [(truth[label], pred[label]) for label in truth]


async def calculate(request: web.Request) -> web.Response:
    try:
        body = await _json_body(request)
        if "y_true" not in body or "y_pred" not in body:
            raise LossError("body needs y_true and y_pred")
        options = _options(body)
        method = _method(request, options)
        loss_fn = make_loss(method, options, returns=await _returns_for(request, method, options))
        y_true, y_pred = body["y_true"], body["y_pred"]
        if isinstance(y_true, list) or isinstance(y_pred, list):
            pairs = _labeled_pairs(y_true, y_pred)
            loss = sum(loss_fn(to_float("y_true", t), to_float("y_pred", p)) for t, p in pairs) / len(pairs)
        else:
            loss = loss_fn(to_float("y_true", y_true), to_float("y_pred", y_pred))
        text = format_plain(loss)
    except LossError as exc:
        return _json_error(400, str(exc))
    return web.json_response({"loss": text})


async def never_negative(request: web.Request) -> web.Response:
    try:
        options = _options(await _json_body(request))
        method = _method(request, options)
        answer = is_never_negative(method)
    except LossError as exc:
        return _json_error(400, str(exc))
    return web.json_response({"is_never_negative": answer})


# --- misc -----------------------------------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    status, body = await request.app[READINESS].report()
    return web.json_response(body, status=status)


async def offchain_node_config(request: web.Request) -> web.Response:
    resolver = request.app[RESOLVER]
    try:
        topic_id = _int_param(_first(request.query, "topic", "topic_id"), "topic")
        spec = resolver.topic(topic_id)
    except TruthError as exc:
        return _error_text(exc)
    base = f"{request.scheme}://{request.host}"
    method = _first(request.query, "loss_method") or "sqe"
    return web.json_response({"reputer": [reputer_config(base, spec, method)]})


LOGGED_PARAMS = frozenset({"block", "block_height", "blockheight", "height", "topic", "topic_id", "topicid", "token",
                           "loss_method", "method"})


def _shown_path(request: web.Request) -> str:
    """The path and query as logged: our own parameters as sent (``token`` is the asset), any other value masked."""
    query = "&".join(f"{k}={v}" if k.lower() in LOGGED_PARAMS else f"{k}=***" for k, v in request.query.items())
    return request.path + (f"?{query}" if query else "")


@web.middleware
async def log_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """One line per request: method, path and query (redacted), status, milliseconds, and the value's source."""
    started = time.perf_counter()
    status = 500
    source = ""
    try:
        response = await handler(request)
        status = response.status
        source = response.headers.get("X-Truth-Source", "")
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        ms = (time.perf_counter() - started) * 1000
        line = f"{request.method} {_shown_path(request)} -> {status} {ms:.1f} ms" + (f" {source}" if source else "")
        request_log.info("%s", redact_text(line))


def build_app(
    resolver: GroundTruthResolver,
    *,
    close_resolver: bool = True,
    nonces: NonceSource | None = None,
    warm_seconds: float = 5.0,
) -> web.Application:
    """The aiohttp application; closes the resolver's sources on shutdown when ``close_resolver``. With ``nonces``
    (the topics' open reputer nonces), a background warmer resolves them oldest first every ``warm_seconds``."""
    app = web.Application(client_max_size=wire.SERVICE_REQUEST.max_bytes, middlewares=[log_requests])
    app[RESOLVER] = resolver
    readiness = Readiness(resolver, clock=resolver.clock)
    app[READINESS] = readiness
    if nonces is not None:
        warmer = Warmer(resolver, readiness, nonces)

        async def _warm(_app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(warmer.run(warm_seconds))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(_warm)
    r = app.router
    r.add_get("/gt", ground_truth)
    r.add_get("/gt/labeled", labeled_ground_truth)
    r.add_get("/gt/labeled/{topic}/{block}", labeled_ground_truth)
    r.add_get("/gt/{topic}/{block}", ground_truth)
    for prefix in ("", "/labeled"):
        r.add_post(f"{prefix}/calculate", calculate)
        r.add_post(f"{prefix}/is_never_negative", never_negative)
    r.add_get("/health", health)
    r.add_get("/offchain-node-config", offchain_node_config)

    if close_resolver:

        async def _close(_app: web.Application) -> None:
            await resolver.aclose()

        app.on_cleanup.append(_close)
    return app


# --- running it -----------------------------------------------------------------------------------------------------


class ServerThread:
    """Runs an aiohttp app on its own event loop in a daemon thread (tests, demo); ``start()`` returns the base URL."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.base_url = ""
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    async def _main(self) -> None:
        runner = web.AppRunner(self.app, access_log=None)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.base_url = f"http://{host}:{port}"
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def start(self, timeout: float = 10.0) -> str:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="truth-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("HTTP server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"HTTP server failed to start: {self._error}") from self._error
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def start_in_thread(resolver: GroundTruthResolver, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    """Start the truth service in-process on a thread; ``.base_url`` is set, ``.stop()`` shuts it down."""
    server = ServerThread(build_app(resolver), host, port)
    server.start()
    return server


def build_resolver(
    settings: Any,
    *,
    engine: Any = None,
    block_times: Any = None,
    prices: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> GroundTruthResolver:
    """A resolver wired from ``bot.config.Settings``: the bot DB's rounds, Allora block times through the SDK (cached
    in the same DB), and ccxt candles of ``truth.exchange`` for each topic asset (quote from ``truth.symbol``).

    ``engine``: the SQLAlchemy engine the app built (``bot.app.build_app(...).engine``); the truth service never opens
    or migrates a database of its own — without one, the app's own builder provides it.

    Tuning (``overrides``, else ``settings.truth.<name>`` when that field exists, else the default):
    ``tolerance_seconds`` (15), ``round_grace_seconds`` (600), ``finality_lag_seconds`` (5), ``timeframe`` ("1m").
    """
    from bot.config import ConfigError
    from bot.query import QueryService
    from bot.store.db import session_factory
    from bot.truth.blocktime import CachedBlockTimes, SdkBlockTimes
    from bot.truth.prices import make_ccxt_sources

    specs = topics_from_settings(settings)
    if not specs:
        raise ConfigError("allora.topics is empty: the truth service has no topic to serve")
    if block_times is None and not settings.allora.rpc_url:
        raise ConfigError("allora.rpc_url must be set (rest+https://... or grpc+https://...) to map Allora block "
                          "heights to times for ground truth")
    if engine is None:
        from bot.app import build_app as build_bot_app

        engine = build_bot_app(settings, live=False, connect_chains=False, need_key=False).engine
    factory = session_factory(engine)
    if block_times is None:
        block_times = CachedBlockTimes(SdkBlockTimes(settings.allora.rpc_url, chain_id=settings.allora.network),
                                       session_factory=factory, network=settings.allora.network)

    def tuning(name: str, default: Any) -> Any:
        return overrides.get(name, getattr(settings.truth, name, default))

    if prices is None:
        prices = make_ccxt_sources(settings.truth.exchange, settings.truth.symbol, {s.asset for s in specs},
                                   timeframe=tuning("timeframe", "1m"))
    return GroundTruthResolver(
        specs, block_times, rounds=QueryService(engine), prices=prices,
        tolerance_seconds=int(tuning("tolerance_seconds", 15)),
        round_grace_seconds=int(tuning("round_grace_seconds", 600)),
        finality_lag_seconds=int(tuning("finality_lag_seconds", 5)),
    )


def startup_line(base_url: str, topics: Mapping[int, TopicSpec], warming: bool) -> str:
    """The one line ``truth serve`` prints once it listens: what to put in a reputer's config."""
    base = base_url.rstrip("/")
    served = ", ".join(f"{t.topic_id} {t.name} ({t.kind}, {t.horizon_seconds}s)" for t in topics.values())
    return (f"truth service on {base}: GroundTruthEndpoint {GT_TEMPLATE.format(base=base)} | LossFunctionService "
            f"{base} | health {base}/health | topics {served}"
            + (" | open reputer nonces warmed oldest first" if warming else ""))


def chain_nonces(settings: Any) -> NonceSource | None:
    """Open reputer nonces read from ``allora.rpc_url`` through allora-sdk (None without an Allora node)."""
    if not settings.allora.rpc_url:
        return None
    from bot.allora.sources.chain import ChainSource
    from bot.truth.warm import ChainNonces

    return ChainNonces(ChainSource(settings.allora, timeout=settings.allora.request_timeout))


def serve(settings: Any, *, host: str | None = None, port: int | None = None, engine: Any = None,
          **resolver_kwargs: Any) -> None:
    """``allora-bot truth serve``: run the service in the foreground until interrupted (``settings.truth`` address);
    one start-up line on stdout, one log line per request."""
    resolver = build_resolver(settings, engine=engine, **resolver_kwargs)
    bind_host = host or settings.truth.host
    bind_port = settings.truth.port if port is None else port
    nonces = chain_nonces(settings)
    line = startup_line(f"http://{bind_host}:{bind_port}", resolver.topics, nonces is not None)
    if request_log.getEffectiveLevel() > logging.INFO:
        request_log.setLevel(logging.INFO)  # the request log is part of the service's output
    try:
        web.run_app(build_app(resolver, nonces=nonces), host=bind_host, port=bind_port,
                    print=lambda _message: print(line, flush=True), access_log=None)  # host, port, topics: no secret
    finally:
        closer = getattr(nonces, "close", None)
        if closer is not None:
            closer()
