"""Data templates per prefix and version: publish, read, list, delete, and the check on registration."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol import templates
from protocol.codes import RC, HandleError
from protocol.handles import ancestors, check_prefix, fold, is_within, na_handle
from protocol.template_requests import PublishedTemplate, PublishTemplate, ReviseTemplate
from protocol.values import TEMPLATE_INDEX, HandleValue
from storage import Tx

from ..audit_trail import Attempt, mutation
from ..credentials import Identity
from .tenants import refuse_disabled

if TYPE_CHECKING:
    from . import Service

_STAMPS = ("created", "createdBy", "revised", "revisedBy")


class TemplateOps:
    """Data templates: publish, revise, read, delete."""

    def __init__(self, svc: Service):
        self.svc = svc

    def _may_manage_templates(self, tx: Tx, identity: Identity | None, prefix: str, what: str) -> None:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication is needed to {what}")
        if identity.node_admin:
            return
        # An enterprise admin manages its own prefix's templates.
        if identity.index == 300 and fold(identity.handle) == fold(na_handle(prefix)) and tx.get_prefix(prefix):
            refuse_disabled(tx, identity, what)  # a disabled enterprise publishes nothing
            return
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not {what}")

    @mutation("put_template")
    async def put_template(self, att: Attempt, request: PublishTemplate, identity: Identity | None) -> PublishedTemplate:
        """Publish a template version; versions are immutable (the same one again is accepted)."""
        if isinstance(request.prefix, str):
            att.note(target=request.prefix, version=request.version)
        tpl = request.checked()
        prefix = tpl["prefix"]
        now = self.svc.now()

        def op(tx: Tx) -> bool:
            what = f"publish templates for {prefix}"
            self._may_manage_templates(tx, identity, prefix, what)
            if self.svc.owning_prefix(tx, prefix) is None:
                raise HandleError(RC.SERVER_NOT_RESPONSIBLE, f"prefix {prefix} is not served by this node")
            old = tx.get_template(prefix, tpl["version"])
            if old is not None:
                if {k: v for k, v in old.items() if k not in _STAMPS} == tpl:
                    return False
                raise HandleError(RC.HANDLE_ALREADY_EXISTS,
                                  f"template {prefix} v{tpl['version']} exists with other fields; publish a new version")
            tx.put_template({**tpl, "created": now, "createdBy": str(identity)}, who=str(identity), now=now)
            return True

        created = await self.svc.write(op, attempt=att)
        with self.svc.store.read() as tx:
            return PublishedTemplate(tx.get_template(prefix, tpl["version"]), created)

    @mutation("revise_template")
    async def revise_template(self, att: Attempt, request: ReviseTemplate, identity: Identity | None) -> dict:
        """Change a template version in place (the SNMS API's 修改数据模板): ``request.revise`` maps the
        stored template to the new definition, which is checked like a new one. Records registered
        against the old definition stay as they are; later writes are checked against the new one."""
        prefix, version, revise = request.prefix, request.version, request.revise
        att.note(target=prefix, version=version)
        check_prefix(prefix)
        now = self.svc.now()

        def op(tx: Tx) -> dict:
            self._may_manage_templates(tx, identity, prefix, f"revise templates of {prefix}")
            old = tx.get_template(prefix, version)
            if old is None:
                raise HandleError(RC.HANDLE_NOT_FOUND, f"no template {prefix} v{version}")
            tpl = {"prefix": old["prefix"], **templates.parse_template(revise(old))}
            if tpl["version"] != old["version"]:
                raise HandleError(RC.INVALID_VALUE, "a template's version cannot be changed", field="version")
            stamps = {k: old[k] for k in ("created", "createdBy") if k in old}
            tx.put_template({**tpl, **stamps, "revised": now, "revisedBy": str(identity)}, who=str(identity), now=now)
            return tpl

        return await self.svc.write(op, attempt=att)

    def get_template(self, prefix: str, version: str) -> dict:
        with self.svc.store.read() as tx:
            tpl = tx.get_template(prefix, version)
        if tpl is None:
            raise HandleError(RC.HANDLE_NOT_FOUND, f"no template {prefix} v{version}")
        return tpl

    def list_templates(self, prefix: str | None) -> list[dict]:
        with self.svc.store.read() as tx:
            return tx.list_templates(prefix)

    @mutation("delete_template", target=0)
    async def delete_template(self, att: Attempt, prefix: str, version: str, identity: Identity | None) -> None:
        att.note(version=version)
        now = self.svc.now()

        def op(tx: Tx) -> None:
            self._may_manage_templates(tx, identity, prefix, f"delete templates of {prefix}")
            if not tx.delete_template(prefix, version, who=str(identity), now=now):
                raise HandleError(RC.HANDLE_NOT_FOUND, f"no template {prefix} v{version}")

        await self.svc.write(op, attempt=att)


def find_template(tx: Tx, prefix: str, ref: bytes) -> dict:
    named, version = templates.parse_reference(ref)
    if named and not is_within(prefix, named):
        raise HandleError(RC.INVALID_VALUE, f"a handle under {prefix} may use templates of {prefix} or the "
                          f"prefixes above it, not of {named}", field="template")
    for p in [named] if named else ancestors(prefix):
        tpl = tx.get_template(p, version)
        if tpl is not None:
            return tpl
    raise HandleError(RC.INVALID_VALUE, f"no template version {version} for prefix {named or prefix}",
                      field="template")


def check_template(tx: Tx, prefix: str, values: list[HandleValue]) -> None:
    """A record naming a template (the value at index 1001) must satisfy it: the service's template check."""
    for v in values:
        if v.index == TEMPLATE_INDEX:
            templates.validate(find_template(tx, prefix, v.data), values)
            return
