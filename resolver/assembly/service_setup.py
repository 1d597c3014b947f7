"""Open and close the service on a data folder: what the server and every CLI command share."""

from __future__ import annotations

from storage import GroupCommitter, Store

from ..config import Config, data_path
from ..keys.sealed import Sealer
from ..service import Policy, Service
from ..service.epcis_schema import EpcisSchema, default_schema_path


def open_store(cfg: Config) -> Store:
    return Store(data_path(cfg), map_size=cfg.map_size, max_map_size=cfg.max_map_size)


def open_service(cfg: Config, store: Store | None = None, **collaborators) -> Service:
    """The service over the data folder (or ``store``, opened already), built once with what it needs:
    the settings' policy and EPCIS schema, and ``collaborators`` a serving node adds (``remote``,
    ``traces``, ``share``, ``counters``, ``deposits``: see ``Service``)."""
    store = store if store is not None else open_store(cfg)
    committer = GroupCommitter(store)
    policy = Policy.for_store(store, committer)
    configure(policy, cfg)
    return Service(store, committer, policy=policy, epcis=EpcisSchema(cfg.epcis_schema or default_schema_path()),
                   role=cfg.role, cache_entries=cfg.cache_entries,
                   # Every process that may set a secret (the server, the CLI) seals it for the Handle protocol.
                   seal=Sealer.for_data(data_path(cfg)).seal, **collaborators)


def configure(policy: Policy, cfg: Config) -> None:
    """Apply the security settings (at start, and again on SIGHUP)."""
    policy.audit.configure(per_client=cfg.audit_denials_per_client, per_second=cfg.audit_denials_per_second)
    policy.guard.configure(failures=cfg.lockout_failures, address_failures=cfg.lockout_address_failures,
                           window=cfg.lockout_window, first=cfg.lockout_seconds, longest=cfg.lockout_max_seconds)
    policy.limits.configure(rate_per_address=cfg.rate_per_address, rate_per_identity=cfg.rate_per_identity,
                            connections_per_address=cfg.connections_per_address,
                            max_pending_writes=cfg.max_pending_writes, handle_idle_timeout=cfg.handle_idle_timeout)
    policy.token_lifetime = cfg.token_lifetime


def close_service(svc: Service) -> None:
    svc.committer.close()
    svc.store.close()
