"""Open and close the service on a data folder: what the server and every CLI command share."""

from __future__ import annotations

from storage import GroupCommitter, Store

from .config import Config, data_path
from .credentials import install_sealer
from .handle.sealed import Sealer
from .service import Service


def open_service(cfg: Config) -> Service:
    store = Store(data_path(cfg), map_size=cfg.map_size, max_map_size=cfg.max_map_size)
    # Every process that may set a secret (the server, the CLI) seals it for the Handle protocol.
    install_sealer(Sealer.for_data(data_path(cfg)).seal)
    svc = Service(store, GroupCommitter(store), cache_entries=cfg.cache_entries)
    svc.set_epcis_schema(cfg.epcis_schema)
    configure(svc, cfg)
    return svc


def configure(svc: Service, cfg: Config) -> None:
    """Apply the security settings (at start, and again on SIGHUP)."""
    svc.audit.configure(per_client=cfg.audit_denials_per_client, per_second=cfg.audit_denials_per_second)
    svc.guard.configure(failures=cfg.lockout_failures, address_failures=cfg.lockout_address_failures,
                        window=cfg.lockout_window, first=cfg.lockout_seconds, longest=cfg.lockout_max_seconds)
    svc.limits.configure(rate_per_address=cfg.rate_per_address, rate_per_identity=cfg.rate_per_identity,
                         connections_per_address=cfg.connections_per_address,
                         max_pending_writes=cfg.max_pending_writes, handle_idle_timeout=cfg.handle_idle_timeout)
    svc.token_lifetime = cfg.token_lifetime


def close_service(svc: Service) -> None:
    svc.committer.close()
    svc.store.close()
