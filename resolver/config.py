"""Node settings: defaults, then a TOML file, then ``IDNODE_*`` environment variables, then flags."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

ROLES = ("secondary", "top", "mirror")
MIN_MIRROR_HOLD = 10  # seconds: above a following mirror's interval between acknowledgements


@dataclass
class Config:
    data: str = "./data"
    http: str = "127.0.0.1:8000"
    https: str | None = None
    # HOST[:PORT] for the Handle protocol over TCP and UDP (port 2641 unless given); off when unset.
    handle: str | None = None
    # The IP address this node publishes in its HS_SITE (how other nodes reach it); default: the
    # --handle address, or loopback when that is a wildcard.
    advertise: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    map_size: int = 1 << 30
    # The LMDB map grows as the data does, never past this many bytes (0: no ceiling). At the ceiling,
    # as on a full volume, writes are refused with HTTP 507 and reads go on.
    max_map_size: int = 0
    cache_entries: int = 10_000  # identifiers whose record and answers each cache keeps (README "Memory")
    max_body_bytes: int = 32 * 1024 * 1024
    # Accept credentials over plain HTTP from any address (behind a TLS-terminating proxy, say).
    plain_http_credentials: bool = False
    # Security (README "Security"): refusals recorded one by one in the audit trail, per client address
    # and in all, each second; the rest are counted in a summary entry.
    audit_denials_per_client: int = 20
    audit_denials_per_second: int = 1000
    # Lock-out: this many failed authentications for one identity (or from one address) within the
    # window lock it out for lockout_seconds, doubling with each lock-out up to lockout_max_seconds.
    lockout_failures: int = 10
    lockout_address_failures: int = 100
    lockout_window: int = 300
    lockout_seconds: int = 60
    lockout_max_seconds: int = 3600
    # Rates (requests a second, token buckets; 0 turns one off) and connections; 429 / RC 3 over them.
    rate_per_address: int = 100_000
    rate_per_identity: int = 10_000
    connections_per_address: int = 1024  # HTTP and Handle TCP together
    max_pending_writes: int = 50_000  # writes queued for the group committer before new ones get 503
    # Slow clients: an HTTP connection idle (or still sending its request line and headers) this long
    # is closed; a body must arrive within body_timeout; a Handle TCP connection that completes no
    # message in handle_idle_timeout is closed.
    http_idle_timeout: int = 60
    body_timeout: int = 60
    handle_idle_timeout: int = 30
    token_lifetime: int = 900  # seconds a bearer token from POST /api/token lasts
    log_level: str = "info"
    log_format: str = "text"  # or "json": one JSON object a line
    # Processes serving the same ports (SO_REUSEPORT) and the same LMDB environment, under a supervisor.
    workers: int = 1
    # The EPCIS 2.0 JSON Schema capture validates against (default: the copy shipped in resolver/data/epcis/).
    epcis_schema: str | None = None
    # Federation (DESIGN.md roles): "secondary" registers its prefixes with the upstream top-level
    # nodes; "top" holds 0.NA/<prefix> records and answers referrals.
    role: str = "secondary"
    # Top-level nodes, HOST[:PORT] of their Handle protocol, in order of preference.
    upstream: list[str] = field(default_factory=list)
    upstream_identity: str | None = None  # this node's identity there, e.g. 300:0.NA/88.101
    upstream_secret: str | None = None
    upstream_key: str | None = None  # a PEM private key file instead of the secret
    stats_interval: int = 3600  # seconds between statistics reports upstream
    # Reports to the top-level nodes (resolver/reports): their HTTP base URLs, in the order of
    # ``upstream``; what is due is queued every report_interval seconds (and by ``idnode report send``).
    upstream_http: list[str] = field(default_factory=list)
    report_interval: int = 3600
    counting: bool = True  # count resolutions and registrations for the reports (off: only for benchmarks)
    # Escrow (resolver/escrow): this node's SM2 private key (PKCS #8 PEM): a secondary signs its deposits
    # with it, a top-level node decrypts them with it; a secondary also needs its top-level node's public key.
    escrow_key: str | None = None
    escrow_top_key: str | None = None
    # A top-level node takes over a secondary with a deposit when 51 % of its probes (one every
    # takeover_probe_interval seconds; 0: never automatically) within takeover_window seconds fail.
    takeover_window: int = 300
    takeover_probe_interval: int = 10
    monitor_calm: int = 30  # seconds without a sign of it before overload, storage or lock-outs are normal again
    remote_cache_ttl: int = 3600  # at most this long is a remote answer or site kept (its TTL rules below)
    remote_timeout_ms: int = 2000  # per attempt when asking another node
    # One server of a site of several (RFC 3652): every server of the site, "IP:HANDLE_PORT:HTTP_PORT",
    # in the same order on each, and this one's number in that list (from 1). Handles are spread
    # over them by the hash of the whole handle.
    site_servers: list[str] = field(default_factory=list)
    server_number: int = 0
    # A mirror's primary: its HTTP base URL and its node admin's identity and secret.
    primary: str | None = None
    primary_identity: str | None = None
    primary_secret: str | None = None
    # The change log (resolver/changelog_pruning.py): a change is pruned once it is changelog_keep seconds
    # old, every mirror heard from within mirror_hold seconds has applied it, and (reporting upstream)
    # its day is reported; the first worker prunes every changelog_prune_interval seconds (0: never).
    changelog_keep: int = 7 * 86400
    mirror_hold: int = 7 * 86400
    changelog_prune_interval: int = 3600
    # The time a trace may spend asking other nodes for the parts they serve (?budget_ms= overrides).
    trace_budget_ms: int = 2000

    @classmethod
    def load(cls, file: str | None = None, flags: dict | None = None, environ: dict | None = None) -> Config:
        cfg = cls()
        names = {f.name: f for f in fields(cls)}
        if file:
            with open(file, "rb") as fh:
                doc = tomllib.load(fh)
            doc = doc.get("node", doc)
            for k, v in doc.items():
                k = k.replace("-", "_")
                if k not in names:
                    raise ValueError(f"{file}: unknown setting {k!r}")
                setattr(cfg, k, _checked(names[k].type, v, f"{file}: {k}"))
        env = os.environ if environ is None else environ
        for name, f in names.items():
            raw = env.get("IDNODE_" + name.upper())
            if raw is not None:
                setattr(cfg, name, _coerce(f.type, raw, name))
        for k, v in (flags or {}).items():
            if v is not None and k in names:
                setattr(cfg, k, v)
        if cfg.advertise is not None:
            try:
                ipaddress.ip_address(cfg.advertise)
            except ValueError:
                raise ValueError(f"advertise must be an IP address, not {cfg.advertise!r}") from None
        if cfg.site_servers and not 1 <= cfg.server_number <= len(cfg.site_servers):
            raise ValueError(f"server_number must be 1…{len(cfg.site_servers)} (this server's place in site_servers)")
        if not 0 <= cfg.trace_budget_ms <= 10_000:  # service.trace_federated.MAX_BUDGET_MS
            raise ValueError(f"trace_budget_ms must be between 0 and 10000, not {cfg.trace_budget_ms}")
        if cfg.changelog_keep < 0 or cfg.changelog_prune_interval < 0:
            raise ValueError("changelog_keep and changelog_prune_interval are seconds, 0 or more")
        if cfg.mirror_hold < MIN_MIRROR_HOLD:  # a following mirror reports every few seconds
            raise ValueError(f"mirror_hold must be at least {MIN_MIRROR_HOLD} seconds, not {cfg.mirror_hold}")
        if cfg.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {cfg.role!r}")
        return cfg

    def settings(self) -> dict:
        return {"max_body_bytes": self.max_body_bytes, "plain_http_credentials": self.plain_http_credentials,
                "trace_budget_ms": self.trace_budget_ms, "body_timeout": self.body_timeout,
                "escrow_key": self.escrow_key}


def _checked(kind: object, value: object, where: str) -> object:
    """A TOML value of the setting's type, else an error naming the setting."""
    kind = str(kind)
    if kind.startswith("list"):
        ok, want = isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of strings"
    elif kind.startswith("bool"):
        ok, want = isinstance(value, bool), "true or false"
    elif kind.startswith("int"):
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    else:
        ok, want = isinstance(value, str), "a string"
    if not ok:
        raise ValueError(f"{where} must be {want}, not {value!r}")
    return value


def _coerce(kind: object, raw: str, name: str) -> object:
    kind = str(kind)
    if kind.startswith("list"):
        return [v.strip() for v in raw.split(",") if v.strip()]
    if kind.startswith("int"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"IDNODE_{name.upper()} must be an integer, not {raw!r}") from None
    if kind.startswith("bool"):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"IDNODE_{name.upper()} must be true or false")
    return raw


def host_port(text: str, default_port: int) -> tuple[str, int]:
    """``127.0.0.1:8000``, ``[::1]:8000``, ``:8000`` or ``host``."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, ""
    return host or "127.0.0.1", int(port) if port else default_port


def data_path(cfg: Config) -> Path:
    return Path(cfg.data).expanduser()
