"""Prometheus metrics (``[metrics] address``): a collector that reads the counters the engine keeps
(``LuStats`` on each LU, the iSCSI sessions' and connections' counters, the FCoE ports') at scrape time,
served as Prometheus text by prometheus-client
(https://prometheus.github.io/client_python/collector/custom/).
Nothing here runs per command: the data path only adds to plain integers. With ``workers = N`` the
main process serves the endpoint: at each scrape every worker sends its own collector's text over its
channel (:func:`exposition`) and :class:`SummedCollector` adds them up, sample by sample."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import ProcessCollector, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from hpt.daemon.config.schema import MetricsConfig
    from hpt.daemon.server import Server
    from hpt.native.ring import Ring

log = logging.getLogger("hpt.daemon.metrics")


def _copy(read: Callable[[], Any]) -> Any:
    """A copy of a table another thread may change while it is copied: retried then."""
    for _ in range(5):
        try:
            return read()
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return read()


class HptCollector(Collector):
    """Every metric of one hptd, read from ``server`` when Prometheus scrapes."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        yield from self._lus()
        yield from self._sessions()
        yield from self._connections()
        yield from self._fcoe_ports()
        if not self.server.ring_shared:  # else the main process reports the one ring of every worker
            yield from ring_metrics(self.server.ring)

    def _lus(self) -> Iterator[Metric]:
        labels = ["target", "lun"]
        kinds = [*labels, "kind"]
        commands = CounterMetricFamily("hpt_lu_commands", "SCSI commands completed, by kind "
                                       "(read: reads the medium, write: changes it, other)", labels=kinds)
        errors = CounterMetricFamily("hpt_lu_errors", "SCSI commands that ended with a status other "
                                     "than GOOD", labels=kinds)
        moved = CounterMetricFamily("hpt_lu_bytes", "bytes read or written by commands that ended GOOD",
                                    labels=kinds)
        latency = HistogramMetricFamily("hpt_lu_latency_seconds", "time from a command's arrival at the "
                                        "LU to its status", labels=kinds)
        in_flight = GaugeMetricFamily("hpt_lu_in_flight", "commands the LU runs or holds now", labels=labels)
        for name, target in list(self.server.targets.items()):
            for lun in target.luns():
                lu = target.lu(lun)
                if lu is None:
                    continue
                for kind, counts in lu.stats.snapshot().items():
                    values = [name, str(lun), kind]
                    commands.add_metric(values, counts["commands"])
                    errors.add_metric(values, counts["errors"])
                    if "bytes" in counts:
                        moved.add_metric(values, counts["bytes"])
                    latency.add_metric(values, list(counts["buckets"].items()), counts["latency_seconds"])
                in_flight.add_metric([name, str(lun)], len(lu.tasks))
        yield from (commands, errors, moved, latency, in_flight)

    def _sessions(self) -> Iterator[Metric]:
        labels = ["target", "initiator", "isid", "tsih"]
        families = {
            "commands": CounterMetricFamily("hpt_iscsi_session_commands", "SCSI commands answered",
                                            labels=labels),
            "errors": CounterMetricFamily("hpt_iscsi_session_errors", "SCSI commands answered with a status "
                                          "other than GOOD", labels=labels),
            "read_bytes": CounterMetricFamily("hpt_iscsi_session_read_bytes", "data-in bytes sent",
                                              labels=labels),
            "write_bytes": CounterMetricFamily("hpt_iscsi_session_write_bytes", "data-out bytes received",
                                               labels=labels),
        }
        for s in self.server.sessions.all():
            if s.session_type != "Normal":
                continue
            values = [s.target_name, s.initiator_name, f"{s.isid:012x}", str(s.tsih)]
            for attr, family in families.items():
                family.add_metric(values, getattr(s, attr))
        yield from families.values()

    def _connections(self) -> Iterator[Metric]:
        labels = ["target", "initiator", "tsih", "cid", "peer", "portal"]
        families = {
            "rx_pdus": CounterMetricFamily("hpt_iscsi_connection_received_pdus", "iSCSI PDUs received",
                                           labels=labels),
            "rx_bytes": CounterMetricFamily("hpt_iscsi_connection_received_bytes", "bytes received",
                                            labels=labels),
            "tx_pdus": CounterMetricFamily("hpt_iscsi_connection_sent_pdus", "iSCSI PDUs sent",
                                           labels=labels),
            "tx_bytes": CounterMetricFamily("hpt_iscsi_connection_sent_bytes", "bytes of the PDUs sent "
                                            "(headers and data segments)", labels=labels),
        }
        for pc, conn in self.server.connections():
            s = conn.session
            if s is None:
                continue
            values = [s.target_name, s.initiator_name, str(s.tsih), str(conn.cid), conn.peer, pc.address]
            for attr, family in families.items():
                family.add_metric(values, getattr(conn, attr))
        yield from families.values()

    def _fcoe_ports(self) -> Iterator[Metric]:
        labels = ["port", "wwpn"]
        received = CounterMetricFamily("hpt_fcoe_port_received_frames", "Ethernet frames received (FIP "
                                       "and FCoE)", labels=labels)
        sent = CounterMetricFamily("hpt_fcoe_port_sent_frames", "Ethernet frames sent", labels=labels)
        events = CounterMetricFamily("hpt_fcoe_port_events", "frames dropped or rejected (socket_drops: by "
                                     "the kernel, its receive buffer full) and FIP events, by reason",
                                     labels=[*labels, "reason"])
        rports = GaugeMetricFamily("hpt_fcoe_port_remote_ports", "remote ports known, by login state",
                                   labels=[*labels, "state"])
        for driver in list(self.server.fcoe_ports):
            status = _copy(driver.port.status)
            values = [str(status["name"]), str(status["wwpn"])]
            received.add_metric(values, driver.port.frames_in)
            sent.add_metric(values, driver.port.frames_out)
            for reason, count in sorted(status["counters"].items()):
                events.add_metric([*values, reason], count)
            states: dict[str, int] = {}
            for rport in status["rports"]:
                states[rport["state"]] = states.get(rport["state"], 0) + 1
            for state, count in sorted(states.items()):
                rports.add_metric([*values, state], count)
        yield from (received, sent, events, rports)


def ring_metrics(ring: Ring) -> Iterator[Metric]:
    """The buffer ring's size and the slots taken now (commands' data buffers in flight)."""
    yield GaugeMetricFamily("hpt_ring_slots", "data buffer slots in the ring", value=ring.nslots)
    yield GaugeMetricFamily("hpt_ring_slots_in_use", "ring slots holding a command's data now",
                            value=ring.in_use)


def exposition(server: Server) -> str:
    """One process's metrics as Prometheus text (a worker's part of the whole; no process metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HptCollector(server))
    return generate_latest(registry).decode()


class SummedCollector(Collector):
    """The metrics of several worker processes as one hptd's: ``texts()`` gives each worker's
    :func:`exposition` at scrape time; samples with the same name and labels are added (a LU's
    counters and histograms over every worker that served it; a session or connection lives in one
    worker, so its samples pass through). A worker restarted starts its counters from zero, a counter
    reset that Prometheus' ``rate()`` takes in its stride."""

    def __init__(self, texts: Callable[[], list[str]], ring: Ring | None = None) -> None:
        """``ring``: the one the workers share, reported as it is."""
        self.texts = texts
        self.ring = ring

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for text in self.texts():
            for family in text_string_to_metric_families(text):
                families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                samples = sums.setdefault(family.name, {})
                for sample in family.samples:
                    key = (sample.name, tuple(sample.labels.items()))
                    samples[key] = samples.get(key, 0.0) + sample.value
        for name, metric in families.items():
            for (sample_name, labels), value in sums[name].items():
                metric.add_sample(sample_name, dict(labels), value)
            yield metric
        if self.ring is not None:
            yield from ring_metrics(self.ring)


class MetricsServer:
    """The HTTP endpoint serving a collector (:class:`HptCollector`, or :class:`SummedCollector` with
    workers) and the process's own metrics on one address."""

    def __init__(self, config: MetricsConfig, collector: Collector) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        ProcessCollector(registry=self.registry)
        self.address = config.address
        # OSError when the address cannot be bound
        self.httpd, self.thread = start_http_server(config.port, config.host, self.registry)
        log.info("metrics on http://%s/metrics", self.address)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
