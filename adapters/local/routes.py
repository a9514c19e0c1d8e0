"""HTTP routes of the local channel: the two pages, their files and a small JSON API.

POST /local/api/turn   {name, lang, text | choice, delivery_id} -> {replies: [entry, ...], echo: entry}
                       (an employee's turn; on-call buttons are pressed through /local/api/press)
GET  /local/api/messages?after=..                         -> {entries: [...], cursor}
POST /local/api/chat/new                                  -> {} (a new chat: a new employee cookie)
GET  /local/api/inbox?after=..                            -> {technician, pages: [...], team: [...], cursor}
                       (inbox entries also carry the case `status`, and a call-back fact its `tel` digits)
POST /local/api/press  {choice | text, delivery_id}       -> {replies: [message, ...]}
                       (a technician's button press, or a typed rota request: "hvem har vagten?")
POST /local/api/write  {case, text, delivery_id}          -> {replies: [message, ...], sent}
                       (the technician's words to the reporter of the case, through the bot; they and
                       the reporter's answers come back in the inbox feed with a `thread`)
GET  /local/api/config                                    -> technicians, the one signed in, and the page texts

Who is asking comes from cookies only (`adapters.local.passes`): the employee's chat cookie, which
the server hands out to a browser that has none, and the technician's inbox cookie, which the
secret link `/oncall?key=<token>` sets. A `user` or `tech` in the query or body is not looked at.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.json_input import UnreadableJsonError, parse_json
from adapters.local.access import refusal
from adapters.local.messenger import PLATFORM, WORKSPACE, LocalMessenger, message_to_dict
from adapters.local.passes import CHAT, CHAT_COOKIE, INBOX, INBOX_COOKIE, new_chat_cookie
from adapters.signed_links import SignedLinks
from adapters.wiring import Services
from bot import i18n
from bot.cases import Reporter
from bot.config import Technician
from bot.delivery import Address
from bot.errors import StorageError
from bot.messages import Message
from bot.oncall.service import LOCAL_TEAM, is_oncall_choice
from dialogs import replies
from dialogs.turns import ConversationKey, Turn

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent
INBOX_PATH = "/oncall"  # the on-call inbox page; its secret link adds ?key=
FILES = {
    "/": ("chat.html", "text/html"),
    INBOX_PATH: ("oncall.html", "text/html"),
    "/local/static/local.css": ("local.css", "text/css"),
    "/local/static/common.js": ("common.js", "text/javascript"),
    "/local/static/chat.js": ("chat.js", "text/javascript"),
    "/local/static/oncall.js": ("oncall.js", "text/javascript"),
}
MAX_BODY = 64 * 1024
MAX_CHOICE = 200
MAX_NAME = 80
MAX_DELIVERY_ID = 128
MAX_WORDS = 2000  # a technician's message to a reporter
MAX_CASE_DIGITS = 12
# A call-back number as typed ("+45 22 33 44 55", "(+45) 2233-4455"), and how many digits a real one has.
PHONE = re.compile(r"\(?\+?[0-9\s().-]+", re.ASCII)
PHONE_DIGITS = range(8, 16)
# Employees' feeds and conversations; technicians' feeds are their rota ids, the team's is TEAM_FEED.
EMPLOYEE_PREFIX = "emp:"
# The team channel's feed in the local inbox, where normal-hours cases are posted.
TEAM_FEED = LOCAL_TEAM.user_id
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self';"
        " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def employee_id(chat_id: str) -> str:
    """The employee's user id behind their chat cookie's id, apart from every technician's.

    Feeds are kept by user id, so without the prefix an employee whose id were "vagt" would share
    technician "vagt"'s feed (and conversations kept under older, self-chosen ids stay theirs).
    """
    return EMPLOYEE_PREFIX + chat_id


class BadRequest(Exception):
    """The body or query cannot be used; the message says what is wrong, for the 400 answer."""


class NeedsLink(Exception):
    """The inbox was asked for without a valid inbox cookie: 403, and the page says how to get a link."""


@dataclass
class Deduper:
    """Answers a repeated delivery (a double click, a retried request) from memory instead of running it again."""

    size: int = 1000
    done: OrderedDict[tuple[str, str], Any] = field(default_factory=OrderedDict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def once(self, who: str, delivery_id: str, run: Callable[[], Awaitable[Any]]) -> Any:
        """The answer to this delivery: run once per (who, delivery id); one delivery of a person at a time."""
        async with self.locks.setdefault(who, asyncio.Lock()):
            if (who, delivery_id) not in self.done:
                self.done[(who, delivery_id)] = await run()
                while len(self.done) > self.size:
                    self.done.popitem(last=False)
            return self.done[(who, delivery_id)]


class LocalRoutes:
    """The handlers, sharing the services, the messenger and the de-duplication memory."""

    def __init__(self, services: Services, messenger: LocalMessenger, links: SignedLinks) -> None:
        self.services = services
        self.messenger = messenger
        self.links = links
        self.deduper = Deduper()
        self.technicians = {t.id: t for t in services.settings.oncall.technicians if t.local}

    def add_to(self, app: web.Application) -> None:
        for path in FILES:
            app.router.add_get(path, guarded(self.file))
        app.router.add_get("/favicon.ico", guarded(no_icon))
        app.router.add_get("/local/api/config", guarded(self.config))
        app.router.add_post("/local/api/turn", guarded(self.turn))
        app.router.add_get("/local/api/messages", guarded(self.messages))
        app.router.add_post("/local/api/chat/new", guarded(self.new_chat))
        app.router.add_get("/local/api/inbox", guarded(self.inbox))
        app.router.add_post("/local/api/press", guarded(self.press))
        app.router.add_post("/local/api/write", guarded(self.write))

    async def file(self, request: web.Request) -> web.StreamResponse:
        if request.path == INBOX_PATH and "key" in request.query:
            return self._open_inbox(request.query["key"])
        name, content_type = FILES[request.path]
        body = await asyncio.to_thread((HERE / name).read_bytes)
        response = web.Response(body=body, content_type=content_type, charset="utf-8", headers=SECURITY_HEADERS)
        if request.path == "/" and (cookie := self._employee(request)[1]):
            _set_cookie(response, CHAT_COOKIE, cookie)  # the chat page hands out the chat cookie
        return response

    def _open_inbox(self, token: str) -> web.StreamResponse:
        """The secret link: keep the token in a cookie and show the inbox without it in the address bar."""
        response = web.Response(status=303, headers={**SECURITY_HEADERS, "Location": INBOX_PATH})
        tech = self.links.verify(INBOX, token)
        if tech in self.technicians:
            _set_cookie(response, INBOX_COOKIE, token)
        else:
            logger.warning("an inbox link that is not (or no longer) valid was opened")
            response.del_cookie(INBOX_COOKIE, path="/")
        return response

    async def config(self, request: web.Request) -> web.StreamResponse:
        provider = self.services.settings.provider
        technicians = self.technicians.values()
        signed_in = self._signed_in(request)
        texts = {
            language: {k.removeprefix("web."): v for k, v in i18n.catalog(language).items() if k.startswith("web.")}
            for language in i18n.LANGUAGES
        }
        return _json(
            {
                "technicians": [_technician_json(t) for t in technicians],
                "technician": None if signed_in is None else _technician_json(self.technicians[signed_in]),
                "provider": {
                    "name": provider.name,
                    "phone": provider.phone,
                    "phone_menu": provider.phone_menu,
                    "tel": tel_digits(provider.phone),
                },
                "timezone": self.services.settings.hours.timezone.key,
                "texts": texts,
            }
        )

    async def turn(self, request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        user, cookie = self._employee(request)
        language = _string(body, "lang", 2) or "da"
        if language not in i18n.LANGUAGES:
            raise BadRequest(f"lang must be one of {', '.join(i18n.LANGUAGES)}")
        # No name stays empty: the page names the employee from its catalog in the reader's language.
        name = " ".join(_string(body, "name", MAX_NAME).split())
        text = _string(body, "text", MAX_BODY)
        choice = _string(body, "choice", MAX_CHOICE)
        if bool(text.strip()) == bool(choice):
            raise BadRequest("send either a non-empty text or a choice")
        if is_oncall_choice(choice):
            raise BadRequest("on-call buttons are pressed in the on-call inbox (POST /local/api/press)")
        employee = employee_id(user)
        turn = Turn(
            key=ConversationKey(PLATFORM, WORKSPACE, employee, employee),
            reporter=Reporter(PLATFORM, WORKSPACE, employee, name, language),
            text=text,
            choice=choice,
            delivery_id=_string(body, "delivery_id", MAX_DELIVERY_ID) or uuid.uuid4().hex,
        )
        try:
            answer = await self.deduper.once(employee, turn.delivery_id, lambda: self._converse(turn))
        except StorageError as exc:  # the database is away: the page keeps the message and sends it again
            logger.warning("a local turn could not be kept: %s", exc)
            apology = replies.note("error", language, self.services.settings).text
            return _json({"error": apology, "key": "unavailable"}, status=503, chat_cookie=cookie)
        return _json(answer, chat_cookie=cookie)

    async def _converse(self, turn: Turn) -> dict[str, Any]:
        """Keep what the person said and the bot's replies in their feed, so a reload shows the whole chat."""
        user = turn.reporter.user_id
        address = Address(PLATFORM, WORKSPACE, user, turn.reporter.locale)
        said = turn.text if turn.text.strip() else self.messenger.find_choice_label(WORKSPACE, user, turn.choice)
        echo = await self.messenger.record(address, Message(text=said or turn.choice), role="user")
        replies = [await self.messenger.record(address, reply) for reply in await self.services.bot.handle(turn)]
        return {"replies": [_public(e) for e in replies], "echo": _public(echo)}

    async def messages(self, request: web.Request) -> web.StreamResponse:
        after = _cursor(request.query)
        user, cookie = self._employee(request)
        entries = self.messenger.feed(WORKSPACE, employee_id(user), after=after)
        return _json({"entries": [_public(e) for e in entries], "cursor": self.messenger.cursor}, chat_cookie=cookie)

    async def new_chat(self, request: web.Request) -> web.StreamResponse:
        """ "Start forfra": the browser becomes a new employee, with a conversation of its own."""
        return _json({}, chat_cookie=new_chat_cookie(self.links)[1])

    def _employee(self, request: web.Request) -> tuple[str, str]:
        """The employee this browser is (by its chat cookie) and "", or, for a browser without a valid
        cookie, a new employee and the cookie to hand out."""
        user = self.links.verify(CHAT, request.cookies.get(CHAT_COOKIE, ""))
        return (user, "") if user is not None else new_chat_cookie(self.links)

    def _signed_in(self, request: web.Request) -> str | None:
        """The local technician whose inbox cookie this browser holds, if it is still valid."""
        tech = self.links.verify(INBOX, request.cookies.get(INBOX_COOKIE, ""))
        return tech if tech in self.technicians else None

    async def inbox(self, request: web.Request) -> web.StreamResponse:
        tech = self._technician(request)
        after = _cursor(request.query)
        cursor = self.messenger.cursor
        pages = [_public(e) for e in self.messenger.feed(WORKSPACE, tech, after=after)]
        team = [_public(e) for e in self.messenger.feed(WORKSPACE, TEAM_FEED, after=after)]
        await self._add_status([*pages, *team])
        for entry in (*pages, *team):
            _link_phone(entry)
        technician = _technician_json(self.technicians[tech])
        return _json({"technician": technician, "pages": pages, "team": team, "cursor": cursor})

    async def _add_status(self, entries: list[dict[str, Any]]) -> None:
        """Give each entry its case's status, so the inbox can sort pages into waiting, in progress and done.

        Every change of a case re-renders its pages, so an entry comes again whenever its status changes.
        """
        statuses: dict[str, str] = {}
        for number in {e["case"] for e in entries if e["case"].isdigit()}:
            case = await self.services.store.get(int(number))
            statuses[number] = case.status.value if case is not None else ""
        for entry in entries:
            entry["status"] = statuses.get(entry["case"], "")

    async def press(self, request: web.Request) -> web.StreamResponse:
        tech = self._technician(request)
        body = await _json_body(request)
        choice = _string(body, "choice", MAX_CHOICE)
        said = _string(body, "text", MAX_CHOICE)
        if bool(said.strip()) == bool(choice):
            raise BadRequest("send either a choice or a non-empty text")
        technician = self.technicians[tech]
        turn = Turn(
            key=ConversationKey(PLATFORM, WORKSPACE, "oncall", tech),
            reporter=Reporter(PLATFORM, WORKSPACE, tech, technician.name, technician.language),
            text=said,
            choice=choice,
            delivery_id=_string(body, "delivery_id", MAX_DELIVERY_ID) or uuid.uuid4().hex,
        )

        async def run() -> dict[str, Any]:
            return {"replies": [message_to_dict(m) for m in await self.services.bot.handle(turn)]}

        return _json(await self.deduper.once(f"tech:{tech}", turn.delivery_id, run))

    async def write(self, request: web.Request) -> web.StreamResponse:
        """The technician's words to the reporter of a case. They are kept in the technician's feed as the
        technician's side of the thread under the page, once the bot has sent them on."""
        tech = self._technician(request)
        body = await _json_body(request)
        number = _string(body, "case", MAX_CASE_DIGITS)
        if not number.isdigit():
            raise BadRequest("case must be a case number")
        words = _string(body, "text", MAX_WORDS).strip()
        if not words:
            raise BadRequest("text is empty: write the message to the reporter")
        technician = self.technicians[tech]
        by = Address(PLATFORM, WORKSPACE, tech, technician.language)

        async def run() -> dict[str, Any]:
            answer, sent = await self.services.oncall.write(int(number), words, by)
            if sent:  # the technician's side of the thread
                mine = Message(text=words, metadata={"case": number, "thread": "technician"})
                await self.messenger.record(by, mine, role="user")
            return {"replies": [message_to_dict(answer)], "sent": sent}

        delivery = _string(body, "delivery_id", MAX_DELIVERY_ID) or uuid.uuid4().hex
        return _json(await self.deduper.once(f"tech:{tech}", f"write:{delivery}", run))

    def _technician(self, request: web.Request) -> str:
        tech = self._signed_in(request)
        if tech is None:
            raise NeedsLink
        return tech


async def no_icon(request: web.Request) -> web.StreamResponse:
    """Browsers ask for an icon; "none" keeps their console free of errors."""
    return web.Response(status=204)


def guarded(handler: Handler) -> Handler:
    """Refuse requests from elsewhere (403) and turn bad input into a 400 with a JSON error."""

    async def guard(request: web.Request) -> web.StreamResponse:
        reason = refusal(request)
        if reason is not None:
            logger.warning("refused a local channel request from %s: %s", request.remote, reason)
            if request.path.startswith("/local/api/"):
                return _json({"error": f"Forbidden: {reason}."}, status=403)
            return web.Response(text=f"403 Forbidden: {reason}.\n", status=403)
        try:
            return await handler(request)
        except BadRequest as exc:
            return _json({"error": str(exc)}, status=400)
        except NeedsLink:
            error = "Forbidden: open the on-call inbox through your own link (python -m bot oncall link <id>)."
            return _json({"error": error, "key": "need_link"}, status=403)
        except Exception:
            logger.exception("the local channel failed to answer %s %s", request.method, request.path)
            return _json({"error": "Internal error; the server log says more."}, status=500)

    return guard


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, refusing a wrong content type, a body over 64 KiB or anything not an object."""
    if request.content_type != "application/json":
        raise BadRequest("the body must be JSON with Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"the body is larger than {MAX_BODY // 1024} KiB")
    raw = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the body is larger than {MAX_BODY // 1024} KiB")
    try:
        body = parse_json(bytes(raw))
    except UnreadableJsonError as exc:
        raise BadRequest(str(exc)) from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _string(source: Any, name: str, limit: int) -> str:
    value = source.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    return value


def _set_cookie(response: web.StreamResponse, name: str, value: str) -> None:
    """A cookie scripts cannot read and other sites cannot send along; kept for a year."""
    response.set_cookie(name, value, path="/", httponly=True, samesite="Strict", max_age=365 * 24 * 3600)


def _technician_json(technician: Technician) -> dict[str, str]:
    return {"id": technician.id, "name": technician.name, "language": technician.language}


def _cursor(query: Any) -> int:
    text = query.get("after", "0")
    if not text.isdigit() or len(text) > 18:
        raise BadRequest("after must be a whole number (the cursor of the previous answer)")
    return int(text)


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the page sees it; `case` is the case number the message is about, if any."""
    message = entry["message"]
    return {
        "id": entry["id"],
        "seq": entry["seq"],
        "version": entry["version"],
        "role": entry["role"],
        "at": entry["at"],
        "superseded": entry.get("superseded", False),
        "case": _case_number(message),
        # Words between the technician and the reporter ("technician" or "reporter"); shown under the page.
        "thread": str(message["metadata"].get("thread", "")),
        **{k: v for k, v in message.items() if k != "metadata"},
    }


def _link_phone(entry: dict[str, Any]) -> None:
    """Add `tel` (digits, an optional leading +) to a call-back fact, so the inbox can offer tap-to-call.

    The facts are copied: the entry's own lists are the messenger's stored ones.
    """
    labels = {i18n.text("oncall.fact.callback", language) for language in i18n.LANGUAGES}
    facts = []
    for fact in entry["facts"]:
        tel = tel_digits(fact["value"]) if fact["label"] in labels else ""
        facts.append({**fact, "tel": tel} if tel else fact)
    entry["facts"] = facts


def tel_digits(typed: str) -> str:
    """ "+4522334455" for "+45 22 33 44 55"; "" for anything that is not plainly one phone number."""
    typed = typed.strip()
    digits = re.sub(r"[^0-9]", "", typed)
    if not PHONE.fullmatch(typed) or len(digits) not in PHONE_DIGITS:
        return ""
    return ("+" if typed.lstrip("(").startswith("+") else "") + digits


def _case_number(message: dict[str, Any]) -> str:
    """The case a message is about: its "case" metadata, else its case-number fact."""
    if message["metadata"].get("case"):
        return str(message["metadata"]["case"])
    labels = {i18n.text("intake.fact.number", language) for language in i18n.LANGUAGES}
    return next((f["value"] for f in message["facts"] if f["label"] in labels and f["value"].isdigit()), "")


def _json(data: Any, *, status: int = 200, chat_cookie: str = "") -> web.Response:
    response = web.json_response(data, status=status, headers={"Cache-Control": "no-store"})
    if chat_cookie:
        _set_cookie(response, CHAT_COOKIE, chat_cookie)
    return response
