"""``python -m devkit.alloraservice --port N --prices FILE [--topic ID:KIND:HORIZON[:EPOCH[:NAME]]] ...``"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import datetime

from aiohttp import web

from devkit.alloraservice import (
    DEFAULT_PRICES,
    AlloraService,
    EnsembleGenerator,
    PriceSeries,
    ServiceConfig,
    ServiceTopic,
    default_topics,
    make_app,
    offset_time_map,
)
from devkit.alloraservice.service import DEV_SIGNER_KEY


def parse_topic(text: str) -> ServiceTopic:
    parts = text.split(":", 4)
    if len(parts) < 3:
        raise argparse.ArgumentTypeError("topic must be ID:KIND:HORIZON[:EPOCH[:NAME]]")
    topic_id, kind, horizon = int(parts[0]), parts[1], int(parts[2])
    if kind not in ("price", "log-return", "classification"):
        raise argparse.ArgumentTypeError(f"unknown kind {kind!r}")
    epoch = int(parts[3]) if len(parts) > 3 and parts[3] else horizon
    name = parts[4] if len(parts) > 4 else f"BTC {horizon}s {kind}"
    return ServiceTopic(topic_id, name, kind, horizon_seconds=horizon, epoch_seconds=epoch)  # type: ignore[arg-type]


def parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devkit.alloraservice", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--prices", default=str(DEFAULT_PRICES), help="CSV(.gz) with open_time_ms and close columns")
    parser.add_argument("--topic", action="append", type=parse_topic, help="ID:KIND:HORIZON[:EPOCH[:NAME]]")
    parser.add_argument("--series-start", type=parse_time, default=None,
                        help="series time (unix or ISO) that the service start maps to; default: one day in")
    parser.add_argument("--speed", type=float, default=1.0, help="series seconds per service second")
    parser.add_argument("--chain-id", default="allora-localnet-1")
    parser.add_argument("--block-seconds", type=float, default=5.0)
    parser.add_argument("--versions", default="v9,v10", help="emissions versions served")
    parser.add_argument("--api-key-env", default=None, help="env var holding the one accepted API key")
    parser.add_argument("--signer-key-env", default=None, help="env var holding the signing key (hex)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    series = PriceSeries.load_csv(args.prices)
    start = time.time()
    series_start = args.series_start if args.series_start is not None else series.start + 86400
    generator = EnsembleGenerator(series, time_map=offset_time_map(start, series_start, args.speed))
    api_keys = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            print(f"{args.api_key_env} is not set", file=sys.stderr)
            return 2
        api_keys = frozenset({key})
    signer = DEV_SIGNER_KEY
    if args.signer_key_env:
        signer = bytes.fromhex(os.environ[args.signer_key_env].removeprefix("0x"))
    config = ServiceConfig(
        topics=tuple(args.topic) if args.topic else default_topics(),
        chain_id=args.chain_id,
        block_seconds=args.block_seconds,
        api_keys=api_keys,
        signer_key=signer,
        emissions_versions=tuple(v.strip() for v in args.versions.split(",") if v.strip()),
    )
    service = AlloraService(config, generator)
    print(f"local Allora service on http://{args.host}:{args.port} signer {service.signer_address}", flush=True)
    web.run_app(make_app(service), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
