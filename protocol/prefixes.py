"""Enterprise prefixes as typed values, and their JSON (``POST /api/prefixes`` and the answers about a
prefix): what a request asks for is checked here, once, for every transport; the service takes and
gives these values, never a request body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .codes import RC, HandleError
from .handles import check_prefix

OWNER_FIELDS = ("name", "contact", "email", "phone", "address", "organizationCode", "industry", "note",
                # what the top-level node's tables 1 and 6 ask of an operator (resolver/reports/tables.py)
                "nature", "creditCode", "legalRepresentative", "industries", "websiteName", "website", "domain",
                "ipv4", "ipv6")
MAX_OWNER_TEXT = 1024
MIN_SECRET = 8
QUOTA_FIELDS = ("dailyRequests", "handles", "prefixes")
MAX_QUOTA = 10**12


def check_owner(owner: object) -> dict[str, str]:
    """The owner object of a request: known fields only, each text of at most ``MAX_OWNER_TEXT``."""
    if owner is None:
        return {}
    if not isinstance(owner, dict):
        raise HandleError(RC.INVALID_VALUE, "owner must be an object", field="owner")
    out = {}
    for k, v in owner.items():
        if k not in OWNER_FIELDS:
            raise HandleError(RC.INVALID_VALUE, f"owner.{k} is not one of {', '.join(OWNER_FIELDS)}",
                              field=f"owner.{k}")
        if not isinstance(v, str) or len(v) > MAX_OWNER_TEXT:
            raise HandleError(RC.INVALID_VALUE, f"owner.{k} must be text of at most {MAX_OWNER_TEXT} characters",
                              field=f"owner.{k}")
        out[k] = v
    return out


def check_quota(body: object) -> dict[str, int]:
    """A quota object from a request: the given fields, each an integer ≥ 0 (null or absent: no limit)."""
    if not isinstance(body, dict):
        raise HandleError(RC.INVALID_VALUE, "quota must be an object with dailyRequests, handles, prefixes",
                          field="quota")
    unknown = set(body) - set(QUOTA_FIELDS)
    if unknown:
        raise HandleError(RC.INVALID_VALUE, f"unknown quota field {sorted(unknown)[0]!r} "
                          f"({', '.join(QUOTA_FIELDS)})", field=f"quota.{sorted(unknown)[0]}")
    out = {}
    for name in QUOTA_FIELDS:
        v = body.get(name)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_QUOTA:
            raise HandleError(RC.INVALID_VALUE, f"quota {name} must be an integer from 0 to {MAX_QUOTA}, or null",
                              field=f"quota.{name}")
        out[name] = v
    return out


def check_new_secret(secret: object) -> str:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET:
        raise HandleError(RC.INVALID_VALUE, f"secret must be text of at least {MIN_SECRET} characters",
                          field="secret")
    return secret


@dataclass(frozen=True, slots=True)
class AllocatePrefix:
    """Allocate an enterprise prefix: the one named (else the next free one under the node's), for its
    owner, with its quota (None: no limits) and its admin's secret (None: the node makes one).

    The service checks it (``checked``) after it has checked the caller, whoever built it, so that a
    refusal is audited as the operation's."""

    prefix: str | None = None
    owner: Mapping[str, str] = field(default_factory=dict)
    quota: Mapping[str, int] | None = None
    secret: str | None = None

    def checked(self) -> AllocatePrefix:
        """This request, each part checked: a clear refusal naming the part otherwise."""
        if self.prefix is not None:
            if not isinstance(self.prefix, str):
                raise HandleError(RC.INVALID_VALUE, "prefix must be a string", field="prefix")
            check_prefix(self.prefix)
        owner = check_owner(dict(self.owner) if isinstance(self.owner, Mapping) else self.owner)
        quota = check_quota(dict(self.quota) if isinstance(self.quota, Mapping) else self.quota) \
            if self.quota is not None else None
        secret = None if self.secret is None else check_new_secret(self.secret)
        return AllocatePrefix(self.prefix, MappingProxyType(owner), MappingProxyType(quota) if quota else None, secret)


@dataclass(frozen=True, slots=True)
class AllocatedPrefix:
    """A prefix just allocated: its record as ``GET /api/prefixes/{prefix}`` shows it, and the admin's
    secret when the node made it (shown this once)."""

    record: Mapping[str, object]
    secret: str | None = None

    @property
    def prefix(self) -> str:
        return str(self.record["prefix"])


def decode_allocate(body: object) -> AllocatePrefix:
    """The JSON body of ``POST /api/prefixes`` (none, or ``{}``: the next free prefix, a secret made)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise HandleError(RC.INVALID_VALUE, "body must be an object", field="body")
    wanted = body.get("prefix")
    if wanted is not None and not isinstance(wanted, str):
        raise HandleError(RC.INVALID_VALUE, "prefix must be a string", field="prefix")
    return AllocatePrefix(wanted, body.get("owner"), body.get("quota"), body.get("secret")).checked()


def encode_allocated(done: AllocatedPrefix) -> dict:
    """The answer's JSON fields (the adapter adds ``responseCode``)."""
    return {**done.record, **({"secret": done.secret} if done.secret is not None else {})}


def decode_rotate(body: object) -> str | None:
    """The JSON body of ``POST /api/prefixes/{prefix}/secret``: the new secret given, or None (the node
    makes one) for no body or one without ``secret``."""
    given = body.get("secret") if isinstance(body, dict) else None
    return None if given is None else check_new_secret(given)
