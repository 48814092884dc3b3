"""The optional online RUC check against a configured DGI-style HTTP JSON endpoint.

The offline DV check (domain/ruc.py) always runs; this one only confirms that
the RUC exists and what fiscal name it is registered under. It runs in a
worker, never on the key path, and its answers are cached in the database.

Contract: GET <url>?ruc=<RUC>&dv=<DV> (with `Authorization: Bearer <token>`
when a token is set) answers JSON `{"valid": true|false, "name": "..."}`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from tui_pos.domain.text import search_key
from tui_pos.models import DgiCheck, db, utcnow


@dataclass(frozen=True)
class DgiAnswer:
    """What the DGI said (or why it could not be asked)."""

    ruc: str
    dv: str
    valid: bool | None          # None: no answer (offline, timeout, bad reply)
    registered_name: str = ""
    name_matches: bool | None = None
    message: str = ""
    cached: bool = False


def _answer(ruc: str, dv: str, valid: bool | None, name: str, fiscal_name: str, message: str,
            cached: bool) -> DgiAnswer:
    matches = None
    if valid and name and fiscal_name:
        matches = search_key(name) == search_key(fiscal_name)
    if valid and matches is False:
        message = f"RUC {ruc} is registered to {name!r}, not {fiscal_name!r}."
    elif valid:
        message = message or f"RUC {ruc} DV {dv} is registered" + (f" to {name}." if name else ".")
    return DgiAnswer(ruc, dv, valid, name, matches, message, cached)


def verify(ruc: str, dv: str, fiscal_name: str, *, url: str, token: str = "", timeout: int = 5,
           use_cache: bool = True) -> DgiAnswer:
    """Ask the endpoint (or the cache). Never raises for network problems."""
    if not url:
        return DgiAnswer(ruc, dv, None, message="No online check configured ([dgi] url); the DV was checked offline.")
    if use_cache:
        hit = DgiCheck.get_or_none(DgiCheck.ruc == ruc, DgiCheck.dv == dv)
        if hit is not None:
            return _answer(ruc, dv, hit.valid, hit.registered_name, fiscal_name, "", cached=True)
    query = urllib.parse.urlencode({"ruc": ruc, "dv": dv})
    request = urllib.request.Request(f"{url}{'&' if '?' in url else '?'}{query}",
                                     headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read().decode("utf-8"))
        valid = bool(body["valid"])
        name = str(body.get("name") or "")
    except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError, TypeError) as exc:
        reason = getattr(exc, "reason", exc)
        return DgiAnswer(ruc, dv, None, message=f"The DGI check did not answer ({reason}); the DV was checked offline.")
    with db.atomic():
        DgiCheck.delete().where(DgiCheck.ruc == ruc, DgiCheck.dv == dv).execute()
        DgiCheck.create(ruc=ruc, dv=dv, valid=valid, registered_name=name, checked_at=utcnow())
    return _answer(ruc, dv, valid, name, fiscal_name, "" if valid else f"The DGI does not know RUC {ruc} DV {dv}.",
                   cached=False)
