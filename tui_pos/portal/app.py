"""The portal's web layer: routes, CSRF, security headers, a log without personal data.

Handlers parse the request, call `services.portal` in a worker thread (one database connection per
thread, as the registers' workers do) and render a template; they hold no business rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tui_pos import i18n
from tui_pos.services import customers, orders
from tui_pos.services import portal as service
from tui_pos.services.connection import worker_connection

log = logging.getLogger("tui_pos.portal")
HERE = Path(__file__).parent
CSRF_COOKIE = "tp_csrf"
LANG_COOKIE = "tp_lang"     # the language picked with the switch (?lang=es), for a year
NEW_LINK_FORM = "new-link"   # the "send me a new link" form's CSRF value is bound to this instead of a token
LOGGED_PATHS = ("/", "/link")
# Nothing from elsewhere: no script at all, styles from this site, forms post only here, never in a frame.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),          # the token is in the address: never sent on to another site
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Every response: no-store, the CSP and friends. Logs one line per request with the route's pattern
    (`/a/{token}`), never the path itself: the token names a customer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                names = {h[0].lower() for h in SECURITY_HEADERS}
                message["headers"] = [h for h in message.get("headers", []) if h[0].lower() not in names] \
                    + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)
        path = scope.get("path", "")
        shown = "/a/{token}" if path.startswith("/a/") else "/u/{token}" if path.startswith("/u/") else \
            path if path.startswith("/static/") or path in LOGGED_PATHS else "(other)"
        log.info("%s %s %s %.1f ms", scope.get("method", ""), shown, status, (time.perf_counter() - started) * 1000)


def _csrf_for(secret: str, cookie: str, token: str) -> str:
    """The form's hidden value: bound to this browser's cookie and this account link (double submit)."""
    return hmac.new((secret + "|portal-csrf").encode(), f"{cookie}|{token}".encode(), hashlib.sha256).hexdigest()


def field_error(field: str, message: str, _: Callable[[str], str]) -> str:
    """A field's error in the page's language. The rules (`customers.clean`) say it in English for the
    register; the portal says the same thing in its own words, without echoing the value typed."""
    if "control character" in message:
        return _("has a character that cannot be stored: retype it as plain text.")
    if field == "name":
        return _("type your name.")
    if field == "email":
        return _("is not an email address: it needs a name, an @ and a domain, like ana@example.com.")
    if field == "birthday":
        if "in the future" in message:
            return _("is in the future: write it as YYYY-MM-DD, like 1990-05-31.")
        if "check the year" in message:
            return _("is too long ago: check the year.")
        return _("is not a date that exists: write it as YYYY-MM-DD, like 1990-05-31.")
    return message


def choose_language(request: Request, default: str) -> tuple[str, bool]:
    """The page's language and whether it was just picked with the switch: `?lang=` (then remembered in a
    cookie), else the cookie, else Accept-Language (Babel's Locale.negotiate), else the store's language."""
    picked = request.query_params.get("lang", "")
    if picked in i18n.LANGUAGES:
        return picked, True
    remembered = request.cookies.get(LANG_COOKIE, "")
    if remembered in i18n.LANGUAGES:
        return remembered, False
    return i18n.negotiate(i18n.parse_accept_language(request.headers.get("accept-language", "")[:500]),
                          default), False


def _ordered(request: Request, name: str = "ordered") -> str:
    """The order number the page thanks for after sending one (`?ordered=W12`), or "" (also `?cancelled=`)."""
    value = request.query_params.get(name, "")
    return value if len(value) < 12 and value[:1] == "W" and value[1:].isdigit() else ""


def create_app(settings: service.Settings) -> Starlette:
    default_lang = i18n.language_of(settings.locale) or "en"
    templates: dict[str, Jinja2Templates] = {}
    for code in i18n.LANGUAGES:     # one environment per language: no shared state between requests
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), extensions=["jinja2.ext.i18n"],
                                 autoescape=jinja2.select_autoescape(default=True, default_for_string=True))
        env.install_gettext_translations(i18n.translations(code), newstyle=True)  # type: ignore[attr-defined]
        templates[code] = Jinja2Templates(env=env)
    languages = [(code, i18n.NAMES[code]) for code in i18n.LANGUAGES]

    def gettext_for(request: Request) -> Callable[[str], str]:
        return i18n.translations(choose_language(request, default_lang)[0]).gettext

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        lang, picked = choose_language(request, default_lang)
        _ = i18n.translations(lang).gettext
        labels = {"name": _("Name"), "email": _("Email"), "birthday": _("Birthday")}
        response = templates[lang].TemplateResponse(
            request, name, {"store": settings.store, "lang": lang, "languages": languages, "labels": labels,
                            **context}, status_code=status)
        response.headers["content-language"] = lang
        if picked and request.cookies.get(LANG_COOKIE) != lang:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax", path="/",
                                secure=request.url.scheme == "https")
        return response

    def gone(request: Request, status: int) -> Response:
        # forged, expired, foreign or forgotten: the same page with nothing of anyone, 404 or 410
        return page(request, "gone.html", {"expired": status == 410}, status)

    async def db(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def call() -> Any:
            with worker_connection():
                return fn(*args, **kwargs)
        return await run_in_threadpool(call)

    def with_cookie(request: Request, response: Response, cookie: str, path: str = "/a/") -> Response:
        if request.cookies.get(CSRF_COOKIE) != cookie:
            response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="strict", path=path,
                                secure=request.url.scheme == "https")
        return response

    async def account_page(request: Request, token: str, customer_id: int, *, form: dict[str, Any] | None = None,
                           errors: dict[str, str] | None = None, saved: bool = False) -> Response:
        lang = choose_language(request, default_lang)[0]
        tr = i18n.translations(lang)
        local = dataclasses.replace(settings, locale=i18n.locale_for(lang, settings.locale))
        acct = await db(service.account, customer_id, local,
                        points=lambda n: tr.ngettext("%(num)d point", "%(num)d points", n) % {"num": n},
                        page=_page(request))
        _ = tr.gettext
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        values = form if form is not None else {
            "name": acct.name, "email": acct.email, "birthday": acct.birthday,
            "sms_consent": acct.sms_consent, "email_consent": acct.email_consent}
        response = page(request, "account.html", {
            "a": acct, "v": values, "errors": {f: field_error(f, m, _) for f, m in (errors or {}).items()},
            "saved": saved,
            "web": await db(orders.for_account, customer_id, local), "ordered": _ordered(request),
            "cancelled": _ordered(request, "cancelled"), "not_cancelled": _ordered(request, "notcancelled"),
            "order_url": request.url_for("order", token=token).path,
            "order_csrf": _csrf_for(settings.secret, cookie, "order|" + token),
            "csrf": _csrf_for(settings.secret, cookie, token)}, 400 if errors else 200)
        return with_cookie(request, response, cookie)

    def _page(request: Request) -> int:
        """`?purchases=N`: a page of purchases; anything else is the first."""
        text = request.query_params.get("purchases", "1")
        return int(text) if text.isdigit() and len(text) <= 4 else 1

    async def account(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            customer_id = await db(service.open_link, token, settings)
        except service.LinkError as exc:
            log.info("account link refused: %s", exc.reason)
            return gone(request, exc.status)
        if request.method == "GET":
            return await account_page(request, token, customer_id, saved=request.query_params.get("saved") == "1")
        form = await request.form(max_files=0, max_fields=20)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        sent = str(form.get("csrf") or "")
        if not cookie or not hmac.compare_digest(sent, _csrf_for(settings.secret, cookie, token)):
            log.info("account form refused: CSRF check failed")
            _ = gettext_for(request)
            return PlainTextResponse(_("This form has expired: open your link again."), status_code=403)
        data: dict[str, Any] = {f: str(form.get(f) or "") for f in ("name", "email", "birthday")}
        data["sms_consent"] = form.get("sms_consent") is not None
        data["email_consent"] = form.get("email_consent") is not None
        try:
            await db(service.portal_update, customer_id, data, settings)
        except customers.FormError as exc:
            return await account_page(request, token, customer_id, form=data, errors=exc.errors)
        except service.LinkError as exc:
            return gone(request, exc.status)
        return RedirectResponse(request.url_for("account", token=token).path + "?saved=1", status_code=303)

    async def order(request: Request) -> Response:
        """Order for pick-up (services/orders.py): a past receipt's products (`?from=`) or a search (`?q=`),
        quantities and a note, sent as a parked note in sales mode web; CSRF as on the account form."""
        token = request.path_params["token"]
        try:
            customer_id = await db(service.open_link, token, settings)
        except service.LinkError as exc:
            log.info("order link refused: %s", exc.reason)
            return gone(request, exc.status)
        if not orders.accepts_orders(settings):
            return gone(request, 404)
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        expected = _csrf_for(settings.secret, cookie, "order|" + token)
        context: dict[str, Any] = {
            "account_url": request.url_for("account", token=token).path,
            "order_url": request.url_for("order", token=token).path, "max_lines": settings.max_lines,
            "q": "", "found": [], "receipt": "", "choices": [], "errors": [], "note": "", "csrf": expected}
        if request.method == "GET":
            q = request.query_params.get("q", "")[:60].strip()
            receipt = request.query_params.get("from", "")[:40]
            found = await db(orders.search, q, settings) if q else []
            from_receipt = await db(orders.from_receipt, customer_id, receipt, settings) if receipt else []
            context.update(q=q, found=found, receipt=receipt if from_receipt else "",
                           choices=from_receipt + [c for c in found if c.id not in {r.id for r in from_receipt}])
            return with_cookie(request, page(request, "order.html", context), cookie)
        form = await request.form(max_files=0, max_fields=settings.max_lines * 5 + 10)
        if not request.cookies.get(CSRF_COOKIE) or not hmac.compare_digest(str(form.get("csrf") or ""), expected):
            log.info("order form refused: CSRF check failed")
            _ = gettext_for(request)
            return PlainTextResponse(_("This form has expired: open your link again."), status_code=403)
        quantities: dict[int, int] = {}
        errors: list[str] = []
        _ = gettext_for(request)
        for key, value in form.multi_items():
            if not key.startswith("qty_") or not key[4:].isdigit() or len(key) > 16:
                continue
            text = str(value).strip()
            if text and not (text.isdigit() and len(text) <= 6):
                errors.append(_("A quantity is a whole number, such as 1 or 2."))
                continue
            quantities[int(key[4:])] = int(text or 0)
        note = str(form.get("note") or "")[:200]
        if not errors:
            try:
                placed = await db(orders.place, customer_id, quantities, note, settings)
            except orders.OrderError as exc:
                errors = [_(text) % values for text, values in exc.problems]
            except service.LinkError as exc:
                return gone(request, exc.status)
            else:
                log.info("web order sent")        # no customer, no token, no product: the audit log has it
                return RedirectResponse(f"{context['account_url']}?ordered=W{placed}#orders", status_code=303)
        context.update(choices=await db(orders.chosen, quantities, settings), errors=errors, note=note[:60])
        return page(request, "order.html", context, 400)

    async def cancel_order(request: Request) -> Response:
        """The customer cancels a sent order (one button per order on the account page; CSRF as the order form)."""
        token = request.path_params["token"]
        try:
            customer_id = await db(service.open_link, token, settings)
        except service.LinkError as exc:
            log.info("order link refused: %s", exc.reason)
            return gone(request, exc.status)
        form = await request.form(max_files=0, max_fields=5)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(str(form.get("csrf") or ""),
                                                 _csrf_for(settings.secret, cookie, "order|" + token)):
            log.info("order cancel refused: CSRF check failed")
            _ = gettext_for(request)
            return PlainTextResponse(_("This form has expired: open your link again."), status_code=403)
        number = str(form.get("order") or "")
        if not (number[:1] == "W" and number[1:].isdigit() and len(number) < 12):
            number = ""
        done = bool(number) and await db(orders.cancel, customer_id, int(number[1:]), settings)
        account_url = request.url_for("account", token=token).path
        return RedirectResponse(f"{account_url}?{'cancelled' if done else 'notcancelled'}={number}#orders",
                                status_code=303)

    async def unsubscribe(request: Request) -> Response:
        """A marketing email's unsubscribe link: a page with one button (a form, so CSRF applies)."""
        token = request.path_params["token"]
        if not await db(service.unsubscribe_is_ours, token, settings):
            log.info("unsubscribe link refused: not a token of ours")
            return gone(request, 404)
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        expected = _csrf_for(settings.secret, cookie, "unsubscribe|" + token)
        if request.method == "GET":
            response = page(request, "unsubscribe.html", {"csrf": expected})
            return with_cookie(request, response, cookie, path="/u/")
        form = await request.form(max_files=0, max_fields=5)
        if not request.cookies.get(CSRF_COOKIE) or not hmac.compare_digest(str(form.get("csrf") or ""), expected):
            log.info("unsubscribe form refused: CSRF check failed")
            _ = gettext_for(request)
            return PlainTextResponse(_("This form has expired: open the link again."), status_code=403)
        if not await db(service.unsubscribe, token, settings):
            return gone(request, 404)
        return page(request, "unsubscribe.html", {"done": True})

    async def home(request: Request) -> Response:
        return page(request, "home.html", {})

    limits = service.Limits()

    async def new_link(request: Request) -> Response:
        """"Send me a new link": the same answer whether the phone is known or not; rate-limited."""
        cookie = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        if request.method == "GET":
            response = page(request, "link.html", {"csrf": _csrf_for(settings.secret, cookie, NEW_LINK_FORM)})
            return with_cookie(request, response, cookie, path="/link")
        form = await request.form(max_files=0, max_fields=5)
        sent = str(form.get("csrf") or "")
        if not request.cookies.get(CSRF_COOKIE) or not hmac.compare_digest(
                sent, _csrf_for(settings.secret, cookie, NEW_LINK_FORM)):
            log.info("new-link form refused: CSRF check failed")
            _ = gettext_for(request)
            return PlainTextResponse(_("This form has expired: open it again."), status_code=403)
        phone = str(form.get("phone") or "")[:40]
        address = request.client.host if request.client else ""
        if not await db(service.request_link, phone, address, settings, limits):
            log.info("new-link request refused: rate limit")
            return page(request, "link.html", {"csrf": sent, "limited": True}, 429)
        return page(request, "link.html", {"csrf": sent, "done": True})

    async def not_found(request: Request, exc: Exception) -> Response:
        return gone(request, 404)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("portal error: %s", type(exc).__name__)   # the type only: a message could quote a value
        return HTMLResponse("Something went wrong on our side. Please try again later.", status_code=500)

    routes = [
        Route("/", home),
        Route("/a/{token}", account, methods=["GET", "POST"], name="account"),
        Route("/a/{token}/order", order, methods=["GET", "POST"], name="order"),
        Route("/a/{token}/order/cancel", cancel_order, methods=["POST"], name="cancel_order"),
        Route("/link", new_link, methods=["GET", "POST"], name="new_link"),
        Route("/u/{token}", unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 500: server_error})
    app.add_middleware(SecurityHeaders)
    return app


def serve(settings: service.Settings, bind: str) -> int:
    """Run the portal with uvicorn until stopped. `bind`: HOST:PORT. uvicorn's own access log is off: it
    would write each account link's token; `SecurityHeaders` logs the route's pattern instead."""
    import uvicorn
    host, _, port = bind.rpartition(":")
    uvicorn.run(create_app(settings), host=host.strip("[]") or "127.0.0.1", port=int(port), access_log=False,
                proxy_headers=True, server_header=False, log_config=None)
    return 0


__all__ = ["CSP", "create_app", "serve"]
