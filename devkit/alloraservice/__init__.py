"""A local Allora service for tests and the demo: real routes and JSON shapes, signed inferences, scripted faults.

In-process::

    series = PriceSeries.load_csv(DEFAULT_PRICES)
    generator = EnsembleGenerator(series, time_map=offset_time_map(time.time(), series.start + 86400, speed=1.0))
    service = AlloraService(ServiceConfig(topics=default_topics()), generator)    # clock=... to drive time
    with serve_in_thread(service) as running:
        running.base_url          # allora.api_url
        running.rest_url          # allora.rpc_url ("rest+http://...")
        running.control.inject("http_429", times=2)

Standalone: ``python -m devkit.alloraservice --port 8090 --prices bot/data/BTCUSDT_5m_2025-05_06.csv.gz``.
"""

from devkit.alloraservice.app import make_app
from devkit.alloraservice.control import Control, Fault, FaultKind
from devkit.alloraservice.generator import (
    EnsembleGenerator,
    Generated,
    InferenceGenerator,
    NoInference,
    ServiceTopic,
)
from devkit.alloraservice.prices import DEFAULT_PRICES, PriceSeries, identity_time, offset_time_map
from devkit.alloraservice.service import (
    DEV_SIGNER_KEY,
    AlloraService,
    RunningService,
    ServiceConfig,
    serve_in_thread,
    serve_topics,
)


def default_topics() -> tuple[ServiceTopic, ...]:
    """A 5-minute BTC log-return topic, a price topic and an up/down classification topic."""
    return (
        ServiceTopic(14, "BTC 5min log-return", "log-return", horizon_seconds=300, epoch_seconds=300),
        ServiceTopic(77, "BTC/USD 5min price", "price", horizon_seconds=300, epoch_seconds=300),
        ServiceTopic(90, "BTC 5min up/down", "classification", horizon_seconds=300, epoch_seconds=300,
                     loss_method="bce"),
    )


__all__ = [
    "DEFAULT_PRICES",
    "DEV_SIGNER_KEY",
    "AlloraService",
    "Control",
    "EnsembleGenerator",
    "Fault",
    "FaultKind",
    "Generated",
    "InferenceGenerator",
    "NoInference",
    "PriceSeries",
    "RunningService",
    "ServiceConfig",
    "ServiceTopic",
    "default_topics",
    "identity_time",
    "make_app",
    "offset_time_map",
    "serve_in_thread",
    "serve_topics",
]
