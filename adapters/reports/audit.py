"""Audit entries in words, one line each: `python -m bot audit` and the audit part of `cases show`."""

from __future__ import annotations

from bot.audit import SYSTEM, AuditAction, AuditEntry
from bot.config import Settings
from bot.i18n import text


def entry_lines(entries: list[AuditEntry], settings: Settings, lang: str, *, with_case: bool) -> list[str]:
    """One line per entry (a configuration change adds one per changed value): time, who, what."""
    zone = settings.hours.timezone
    names = {t.id: t.name for t in settings.oncall.technicians}
    lines = []
    for e in entries:
        who = (
            text("audit.system", lang) if e.actor == SYSTEM else str(e.data.get("name") or names.get(e.actor, e.actor))
        )
        where = f" [{text('audit.case_ref', lang, case=e.case)}]" if with_case and e.case is not None else ""
        lines.append(f"  {e.at.astimezone(zone):%Y-%m-%d %H:%M}  {who}{where}: {_what(e, lang)}")
        if e.action is AuditAction.CONFIG:
            missing = text("audit.missing", lang)
            for key, (before, after) in e.data.get("changes", {}).items():
                lines.append(text("audit.change", lang, key=key, before=before or missing, after=after or missing))
    return lines


def _what(e: AuditEntry, lang: str) -> str:
    d = e.data
    if e.action is AuditAction.CONSENT:
        terms = ", ".join(text(f"audit.term.{t}", lang) for t in d.get("terms", ()))
        if d.get("accepted"):
            return text(
                "audit.consent_accepted",
                lang,
                terms=terms,
                paged=text(f"audit.{'yes' if d.get('paged') else 'no'}", lang),
            )
        return text("audit.consent_declined", lang, terms=terms)
    if e.action in (AuditAction.ACKNOWLEDGED, AuditAction.RESOLVED):
        event = text(f"audit.{e.action.value}", lang)
        return text("audit.via", lang, event=event, via=d["via"]) if "via" in d else event
    if e.action is AuditAction.CANCELLED:
        event = text("audit.cancelled", lang, reason=d.get("reason") or text("audit.cancelled_by_reporter", lang))
        if d.get("charged"):
            event = text("audit.cancelled_charged", lang, event=event)
        return text("audit.via", lang, event=event, via=d["via"]) if "via" in d else event
    if e.action is AuditAction.CONFIG:
        return text("audit.config", lang, source=d.get("source", "?"), count=len(d.get("changes", {})))
    if e.action is AuditAction.SECRET_ROTATED:
        webhook, fingerprint = d.get("webhook", "?"), d.get("fingerprint", "?")
        if d.get("previous"):
            return text("audit.secret_replaced", lang, webhook=webhook, previous=d["previous"], fingerprint=fingerprint)
        if "fingerprint" in d:
            return text("audit.secret_set", lang, webhook=webhook, fingerprint=fingerprint)
        return text("audit.secret_rotated", lang, webhook=webhook)
    details = ", ".join(f"{k}={v}" for k, v in d.items() if k != "name")
    return text("audit.override", lang, details=details)
