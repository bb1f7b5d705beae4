"""Prometheus metrics, one registry per service app (several apps share a process in tests)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Latency buckets in seconds, dense where our targets are (tens of milliseconds).
_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "learncity_http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "learncity_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.outbox = Gauge(
            "learncity_outbox_deliveries",
            "Outbox deliveries by status (pending = backlog, failed = dead letters)",
            ["status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        """A domain counter in this service's registry (e.g. bookings by outcome)."""
        return Counter(name, documentation, labels, registry=self.registry)
