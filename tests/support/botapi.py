"""A small, real Telegram Bot API server on 127.0.0.1 for tests.

The bot under test talks HTTP to it exactly as to api.telegram.org, so python-telegram-bot runs unmodified:
requests, retries, long polling, multipart uploads and error handling are all the real code paths. Tests feed
updates in (push_*), read back what the bot did (calls, sent_texts) and inject the failures Telegram and the
network produce in production (fail_next, fault_rate, block_chat, migrate_chat).

Standard library only; one ThreadingHTTPServer in a daemon thread.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

JsonDict = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
FAULT_KINDS = frozenset({"429", "500", "502", "timeout", "reset"})
# Telegram leaves these update types out unless allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Parameters whose values are plain strings even when they look like JSON ("text=123" stays "123").
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "data", "callback_query_id", "inline_message_id", "url", "file_id",
        "action", "language_code", "secret_token", "ip_address", "business_connection_id", "message_effect_id",
        "title", "description", "short_description", "name", "emoji", "question", "explanation",
    }
)  # fmt: skip
_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    b"\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Call:
    """One request the bot made, with the HTTP status it got (0: no answer, the connection was dropped).

    description is Telegram's error text for a refused call (PTB lowercases it), None otherwise.
    """

    method: str
    params: JsonDict
    at: float
    status: int
    description: str | None = None


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded in a multipart request, as recorded in Call.params."""

    filename: str
    mime_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class ApiError(Exception):
    """A Telegram error answer: {"ok": false, "error_code", "description", "parameters"?}."""

    def __init__(self, code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> JsonDict:
        answer: JsonDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            answer["parameters"] = self.parameters
        return answer


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# -- Telegram's HTML parse mode (a port of TDLib's parse_html, so refusals carry Telegram's exact words) -----------

_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span", "pre",
     "code", "blockquote"}
)  # fmt: skip
_SPACES = frozenset(b" \t\r\n\v\f\0")
_SIMPLE_ENTITIES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler",
}  # fmt: skip


class HtmlError(ValueError):
    """Text Telegram would refuse with "can't parse entities: <message>"."""


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    result_pos: int


class _HtmlParser:
    """Walks the UTF-8 bytes like TDLib does, so error byte offsets match Telegram's."""

    def __init__(self, html: str) -> None:
        self.text = html.encode("utf-8", "surrogatepass")
        self.i = 0
        self.out = bytearray()
        self.utf16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[JsonDict] = []

    def at(self, i: int) -> int:
        """The byte at i; past the end reads as NUL, like the C string TDLib parses."""
        return self.text[i] if i < len(self.text) else 0

    def parse(self) -> tuple[str, list[JsonDict]]:
        while self.i < len(self.text):
            c = self.text[self.i]
            if c == ord("&") and self._entity_reference():
                continue
            if c != ord("<"):
                self.utf16 += 0 if c & 0xC0 == 0x80 else 1 + (c >= 0xF0)
                self.out.append(c)
                self.i += 1
            elif self.at(self.i + 1) == ord("/"):
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        try:
            plain = self.out.decode("utf-8")
        except UnicodeDecodeError:
            raise HtmlError(
                "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched "
                "surrogate code units"
            ) from None
        return plain, sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))

    def _entity_reference(self) -> bool:
        """Decodes &lt; &gt; &amp; &quot; &#N; &#xN; (';' optional); anything else stays literal, as in Telegram."""
        code, end = _decode_reference(self.text, self.i)
        if not code:
            return False
        self.out += chr(code).encode("utf-8", "surrogatepass")
        self.utf16 += 1 + (code > 0xFFFF)
        self.i = end
        return True

    def _start_tag(self) -> None:
        begin = self.i
        i = begin + 1
        while self.at(i) not in _SPACES and self.at(i) != ord(">"):
            i += 1
        if self.at(i) == 0:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        name = self.text[begin + 1 : i].decode("utf-8", "replace").lower()
        if name not in _HTML_TAGS:
            raise HtmlError(f'Unsupported start tag "{name}" at byte offset {begin}')
        self.i = i
        argument = self._attributes(name, begin)
        self.i += 1  # past '>'
        if name == "span" and argument != "spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.stack.append(_OpenTag(name, argument, self.utf16, len(self.out)))

    def _attributes(self, tag: str, begin: int) -> str:
        """Reads attributes up to '>' and returns the one Telegram uses for this tag (href, class, emoji-id...)."""
        argument = ""
        while self.at(self.i) != ord(">"):
            self._skip_spaces()
            if self.at(self.i) == ord(">"):
                break
            name_begin = self.i
            while self.at(self.i) not in _SPACES and self.at(self.i) not in b"=>/\"'":
                self.i += 1
            name = self.text[name_begin : self.i].decode("utf-8", "replace")
            if not name:
                raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
            self._skip_spaces()
            if self.at(self.i) != ord("="):
                if self.at(self.i) == 0:
                    raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == "expandable":
                    argument = "1"
                continue
            self.i += 1
            self._skip_spaces()
            if self.at(self.i) == 0:
                raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value = self._attribute_value()
            if self.at(self.i) == 0:
                raise HtmlError(f"Unclosed start tag at byte offset {begin}")
            argument = _tag_argument(tag, name, value, argument)
        return argument

    def _attribute_value(self) -> str:
        quote = self.at(self.i)
        if quote not in b"\"'":
            begin = self.i
            while chr(self.at(self.i)).isascii() and (chr(self.at(self.i)).isalnum() or self.at(self.i) in b".-"):
                self.i += 1
            if self.at(self.i) not in _SPACES and self.at(self.i) != ord(">"):
                raise HtmlError(f"Unexpected end of name token at byte offset {begin}")
            return self.text[begin : self.i].decode("ascii").lower()
        self.i += 1
        value = bytearray()
        while self.at(self.i) not in (quote, 0):
            code, end = _decode_reference(self.text, self.i)
            if code:
                value += chr(code).encode("utf-8", "surrogatepass")
                self.i = end
            else:
                value.append(self.text[self.i])
                self.i += 1
        if self.at(self.i) == quote:
            self.i += 1
        return value.decode("utf-8", "replace")

    def _skip_spaces(self) -> None:
        while self.at(self.i) != 0 and self.at(self.i) in _SPACES:
            self.i += 1

    def _end_tag(self) -> None:
        begin = self.i
        if not self.stack:
            raise HtmlError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while self.at(i) not in _SPACES and self.at(i) != ord(">"):
            i += 1
        end_name = self.text[begin + 2 : i].decode("utf-8", "replace").lower()
        while self.at(i) != 0 and self.at(i) in _SPACES:
            i += 1
        if self.at(i) != ord(">"):
            raise HtmlError(f"Unclosed end tag at byte offset {begin}")
        open_tag = self.stack[-1]
        if end_name and end_name != open_tag.name:
            raise HtmlError(
                f'Unmatched end tag at byte offset {begin}, expected "</{open_tag.name}>", found "</{end_name}>"'
            )
        if self.utf16 > open_tag.utf16_offset:
            self._add_entity(open_tag, self.utf16 - open_tag.utf16_offset)
        self.stack.pop()
        self.i = i + 1

    def _add_entity(self, tag: _OpenTag, length: int) -> None:
        entity: JsonDict = {"type": "", "offset": tag.utf16_offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (tag.utf16_offset, length)
        if tag.name in _SIMPLE_ENTITIES:
            entity["type"] = _SIMPLE_ENTITIES[tag.name]
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        elif tag.name == "tg-emoji":
            if not (tag.argument.isascii() and tag.argument.isdigit() and 0 < int(tag.argument) < 2**63):
                raise HtmlError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
        elif tag.name == "a":
            url = tag.argument or self.out[tag.result_pos :].decode("utf-8", "replace")
            if not url:
                return
            entity.update(type="text_link", url=url)
        elif tag.name == "pre" and last and same_span and last["type"] == "code" and "language" in last:
            last["type"] = "pre"
            return
        elif tag.name == "code" and last and same_span and last["type"] == "pre" and tag.argument:
            last["language"] = tag.argument
            return
        else:  # plain pre, or code (a language is kept only when a pre turns out to wrap it)
            entity["type"] = tag.name
            if tag.name == "code" and tag.argument:
                entity["language"] = tag.argument
        self.entities.append(entity)


def _tag_argument(tag: str, attribute: str, value: str, current: str) -> str:
    """The attribute value Telegram keeps for a tag; others are ignored."""
    if (tag, attribute) in {("a", "href"), ("tg-emoji", "emoji-id")}:
        return value
    if (tag, attribute) == ("code", "class") and value.startswith("language-"):
        return value[len("language-") :]
    if (tag, attribute) == ("span", "class") and value.startswith("tg-"):
        return value[len("tg-") :]
    if (tag, attribute) == ("blockquote", "expandable"):
        return "1"
    return current


def _decode_reference(text: bytes, pos: int) -> tuple[int, int]:
    """(code point, end) of an HTML character reference at pos, or (0, pos) where Telegram keeps '&' literally."""

    def at(i: int) -> int:
        return text[i] if i < len(text) else 0

    end, code = pos + 1, 0
    if at(end) == ord("#"):
        end += 1
        hexadecimal = at(end) == ord("x")
        end += hexadecimal
        digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
        while at(end) and at(end) in digits:
            code = code * (16 if hexadecimal else 10) + int(chr(at(end)), 16)
            end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(text[pos + 1 : end], 0)
        if not code:
            return 0, pos
    return code, end + (at(end) == ord(";"))


def parse_html(html: str) -> tuple[str, list[JsonDict]]:
    """Visible text and entities of a parse_mode="HTML" text; raises HtmlError as Telegram refuses it."""
    return _HtmlParser(html).parse()


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# -- the server ------------------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What the handler writes back: a JSON/bytes answer, or a fault that drops the connection."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    drop: str = ""  # "timeout" | "reset"


@dataclass
class _Faults:
    queued: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    rate: float = 0.0
    kinds: tuple[str, ...] = ()
    methods: frozenset[str] | None = None
    rng: random.Random = field(default_factory=random.Random)
    retry_after: int = 1


class LocalBotApi:
    """A Telegram Bot API server for one bot token, with hooks to feed updates and inject failures."""

    def __init__(
        self, token: str = "123456:TEST-TOKEN", bot_id: int = 123456, bot_username: str = "newsbot_test_bot"
    ) -> None:
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Newsbot Test", "username": bot_username}
        self.timeout_seconds = 3.0
        self.max_poll_seconds = 2.0
        self._lock = threading.RLock()
        self._updates_changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._calls: list[Call] = []
        self._calls_by_chat: dict[tuple[str, object], list[Call]] = {}  # (method, chat_id) → its calls
        self._updates: list[JsonDict] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._chats: dict[int, JsonDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._callbacks: dict[str, bool] = {}  # callback_query_id -> answered
        self._commands: dict[str, list[JsonDict]] = {}
        self._webhook: JsonDict = {}
        self._blocked: set[int] = set()
        self._member_status: dict[tuple[int, int], str] = {}  # (chat, user) -> status; default "member"
        self.latency_seconds: dict[str, float] = {}  # method -> how long each call of it takes
        self._migrated: dict[int, int] = {}
        self._faults = _Faults()
        self._listeners: list[Callable[[Call], None]] = []
        self._in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[JsonDict], Any]] = {
            "getMe": lambda p: dict(self.bot, can_join_groups=True, can_read_all_group_messages=False,
                                    supports_inline_queries=False, can_connect_to_business=False,
                                    has_main_web_app=False),
            "logOut": lambda p: True, "close": lambda p: True,
            "getUpdates": self._get_updates, "setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup, "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action, "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands, "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands, "sendPhoto": self._send_photo,
            "sendDocument": self._send_document, "getFile": self._get_file, "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
        }  # fmt: skip
        self._by_lower_name = {name.lower(): name for name in self._methods}

    # -- lifecycle --------------------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Binds a free port and serves in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="LocalBotApi", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Answers pending long polls, drops held requests and closes every socket, so no test waits on it."""
        if self._server is None:
            return
        self._stopping.set()
        with self._lock:
            self._updates_changed.notify_all()
        deadline = time.monotonic() + 0.5
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "LocalBotApi is not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- feeding updates ------------------------------------------------------------------------------------------

    def push_update(self, update: JsonDict) -> JsonDict:
        """Queues an update (update_id assigned unless given) and wakes a waiting getUpdates."""
        with self._lock:
            update = dict(update)
            update.setdefault("update_id", self._next_update_id)
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
            self._updates_changed.notify_all()
            return update

    def push_message(
        self, chat_id: int, text: str, user_id: int | None = None, chat_type: str = "private", **extra: Any
    ) -> JsonDict:
        """A user's text message; a leading /command gets the bot_command entity CommandHandler needs."""
        if text.startswith("/") and "entities" not in extra:
            command = text.split(maxsplit=1)[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return self.push_update({"message": self._user_message(chat_id, user_id, chat_type, text=text, **extra)})

    def push_callback(self, chat_id: int, user_id: int, data: str, message_id: int) -> JsonDict:
        """A button press on the bot's message message_id (an InaccessibleMessage if the bot never sent it)."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
            message = message or {"chat": self._chat(chat_id), "message_id": message_id, "date": 0}
            message = json.loads(json.dumps(message))
            query_id = str(4_000_000_000_000 + len(self._callbacks) + 1)
            self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "message": message,
            "chat_instance": str(-abs(chat_id) * 7919),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_document(
        self,
        chat_id: int,
        user_id: int,
        filename: str,
        content: bytes,
        mime_type: str = "text/plain",
        caption: str | None = None,
    ) -> JsonDict:
        """A user's file; its bytes are stored so getFile and the file download serve them."""
        file_id = self._store_file("documents", filename, content)
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        extra: JsonDict = {"caption": caption} if caption is not None else {}
        return self.push_update(
            {"message": self._user_message(chat_id, user_id, self._chat(chat_id)["type"], document=document, **extra)}
        )

    def push_my_chat_member(
        self, chat_id: int, user_id: int, new_status: str, old_status: str = "member", chat_type: str = "private"
    ) -> JsonDict:
        """The bot's own membership changed; in a private chat "kicked" means the user blocked the bot."""
        with self._lock:
            chat = self._remember_chat(chat_id, chat_type, user_id)
            if chat_type == "private":
                (self._blocked.add if new_status == "kicked" else self._blocked.discard)(chat_id)
        change = {
            "chat": chat,
            "from": self._user(user_id),
            "date": int(time.time()),
            "old_chat_member": _member(self.bot, old_status),
            "new_chat_member": _member(self.bot, new_status),
        }
        return self.push_update({"my_chat_member": change})

    # -- what the bot did -----------------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, chat_id: int | None = None) -> list[Call]:
        """The calls of `method` (to one chat): a chat's are kept apart, so that hundreds of
        waiting clients (scripts/load_test.py) each read their own few, not the whole log."""
        if chat_id is not None:
            with self._lock:
                return list(self._calls_by_chat.get((method, chat_id), ()))
        return [c for c in self.calls if c.method == method]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """The text parameter (as sent, markup included) of each successful sendMessage, in order."""
        return [c.params["text"] for c in self.calls_to("sendMessage", chat_id) if c.status == 200]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Lets the bot's event loop run until predicate() holds; fails with the recent calls for context."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(self._timeout_report(predicate, timeout))
            await asyncio.sleep(0.02)

    def wait_for_sync(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(self._timeout_report(predicate, timeout))
            time.sleep(0.02)

    def _timeout_report(self, predicate: Callable[[], bool], timeout: float) -> str:
        calls = self.calls
        name = getattr(predicate, "__name__", repr(predicate))
        lines = [f"condition {name} not met within {timeout}s; {len(calls)} calls, the last ones:"]
        for call in calls[-15:]:
            params = {k: v for k, v in call.params.items() if k not in {"timeout", "offset", "limit"}}
            lines.append(f"  {call.method} -> {call.status or 'dropped'} {_short(params)}")
        return "\n".join(lines)

    # -- faults ---------------------------------------------------------------------------------------------------

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember reports for the user in the chat ("creator", "administrator", "member", …)."""
        with self._lock:
            self._member_status[(chat_id, user_id)] = status

    def _get_chat_member(self, p: JsonDict) -> JsonDict:
        chat_id, user_id = _int(_required(p, "chat_id")), _int(_required(p, "user_id"))
        with self._lock:
            status = self._member_status.get((chat_id, user_id), "member")
        return _member(self._user(user_id), status)

    def bot_message_id(self, chat_id: int, text_part: str) -> int:
        """Id of the bot's latest message in the chat whose text holds `text_part` (to press its buttons)."""
        with self._lock:
            ids = [key[1] for key, m in self._messages.items()
                   if key[0] == chat_id and m.get("from", {}).get("id") == self.bot["id"]
                   and text_part in (m.get("text") or m.get("caption") or "")]
        if not ids:
            raise AssertionError(f"no bot message in chat {chat_id} contains {text_part!r}")
        return max(ids)

    def fail_next(self, method: str, kind: str, count: int = 1, retry_after: int = 1) -> None:
        """The next `count` calls to method fail with kind: "429" | "500" | "502" | "timeout" | "reset"."""
        _check_kinds([kind])
        with self._lock:
            self._faults.queued.setdefault(method, []).extend([(kind, retry_after)] * count)

    def fault_rate(
        self,
        rate: float,
        kinds: Sequence[str] = ("429", "500", "timeout", "reset"),
        methods: Sequence[str] | None = None,
        seed: int = 0,
        retry_after: int = 1,
    ) -> None:
        """Fails a random `rate` of calls (reproducibly, from seed); getUpdates only if methods names it."""
        _check_kinds(kinds)
        with self._lock:
            self._faults.rate = rate
            self._faults.kinds = tuple(kinds)
            self._faults.methods = frozenset(methods) if methods is not None else None
            self._faults.rng = random.Random(seed)
            self._faults.retry_after = retry_after

    def block_chat(self, chat_id: int) -> None:
        with self._lock:
            self._blocked.add(chat_id)

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        with self._lock:
            self._migrated[old_id] = new_id
            old = self._chats.get(old_id, {})
            self._chats[new_id] = {"id": new_id, "type": "supergroup", "title": old.get("title", f"Group {new_id}")}

    def _pick_fault(self, method: str) -> tuple[str, int] | None:
        with self._lock:
            queued = self._faults.queued.get(method)
            if queued:
                return queued.pop(0)
            f = self._faults
            targeted = method in f.methods if f.methods is not None else method != "getUpdates"
            if f.rate > 0 and targeted and f.rng.random() < f.rate:
                return f.rng.choice(f.kinds), f.retry_after
        return None

    # -- request handling (called from handler threads) --------------------------------------------------------------

    def handle(self, token: str, method_name: str, params: JsonDict) -> _Outcome:
        """Answers one API request as Telegram would, recording it."""
        method = self._by_lower_name.get(method_name.lower(), method_name)
        if token != self.token:
            return self._answer(method, params, ApiError(401, "Unauthorized"))
        if method not in self._methods:
            return self._answer(method, params, ApiError(404, "Not Found"))
        fault = self._pick_fault(method)
        if fault:
            return self._fault(method, params, *fault)
        if self.latency_seconds.get(method):  # a slow network, so that work is caught mid-flight
            time.sleep(self.latency_seconds[method])
        try:
            result = self._methods[method](params)
        except ApiError as error:
            return self._answer(method, params, error)
        return self._answer(method, params, result)

    def download(self, token: str, file_path: str) -> _Outcome:
        """GET /file/bot<token>/<file_path>: the stored bytes."""
        with self._lock:
            content = next((data for path, data in self._files.values() if path == file_path), None)
        ok = token == self.token and content is not None
        self._record("downloadFile", {"file_path": file_path}, 200 if ok else 404)
        if not ok:
            return _json_outcome(404, ApiError(404, "Not Found").body())
        return _Outcome(200, content or b"", "application/octet-stream")

    def _answer(self, method: str, params: JsonDict, result: Any) -> _Outcome:
        if isinstance(result, ApiError):
            self._record(method, params, result.code, result.description)
            return _json_outcome(result.code, result.body())
        self._record(method, params, 200)
        return _json_outcome(200, {"ok": True, "result": result})

    def _fault(self, method: str, params: JsonDict, kind: str, retry_after: int) -> _Outcome:
        if kind == "429":
            error = ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
            return self._answer(method, params, error)
        if kind == "500":
            return self._answer(method, params, ApiError(500, "Internal Server Error"))
        if kind == "502":
            self._record(method, params, 502)
            return _Outcome(502, _NGINX_502, "text/html")
        self._record(method, params, 0)
        return _Outcome(0, drop=kind)

    def _record(self, method: str, params: JsonDict, status: int, description: str | None = None) -> None:
        call = Call(method, params, time.time(), status, description)
        with self._lock:
            self._calls.append(call)
            chat = params.get("chat_id")
            if chat is not None:
                self._calls_by_chat.setdefault((method, chat), []).append(call)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(call)

    def listen(self, listener: Callable[[Call], None]) -> None:
        """Call `listener` with every call as it is recorded (on a server thread): hundreds of
        clients waiting for their replies (scripts/load_test.py) are woken instead of polling."""
        with self._lock:
            self._listeners.append(listener)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def hold(self) -> None:
        """A "timeout" fault: keep the request unanswered for timeout_seconds, or until stop()."""
        self._stopping.wait(self.timeout_seconds)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Counts requests being answered, so stop() can let them finish before closing sockets."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    # -- updates ------------------------------------------------------------------------------------------------------

    def _get_updates(self, p: JsonDict) -> list[JsonDict]:
        """Long polling: confirms updates below offset, then waits (capped) for any at or above it."""
        if self._webhook.get("url"):
            raise ApiError(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first"
            )  # fmt: skip
        offset, limit = int(p.get("offset") or 0), min(max(int(p.get("limit") or 100), 1), 100)
        deadline = time.monotonic() + min(float(p.get("timeout") or 0), self.max_poll_seconds)
        with self._lock:
            if p.get("allowed_updates"):
                self._allowed_updates = frozenset(p["allowed_updates"])
            self._confirm(offset)
            while True:
                ready = [u for u in self._updates if u["update_id"] >= offset and self._allowed(u)]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self.stopping:
                    return [json.loads(json.dumps(u)) for u in ready[:limit]]
                self._updates_changed.wait(remaining)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _allowed(self, update: JsonDict) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _set_webhook(self, p: JsonDict) -> bool:
        if not p.get("url"):
            return self._delete_webhook(p)
        with self._lock:
            self._webhook = {"url": p["url"]}
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _delete_webhook(self, p: JsonDict) -> bool:
        with self._lock:
            self._webhook = {}
            if p.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _get_webhook_info(self, p: JsonDict) -> JsonDict:
        with self._lock:
            return {
                "url": self._webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    # -- messages ------------------------------------------------------------------------------------------------------

    def _send_message(self, p: JsonDict) -> JsonDict:
        chat = self._target_chat(p)
        text, entities = _formatted(p, "text", "entities", MAX_TEXT_LENGTH)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._bot_message(chat, content, p.get("reply_markup"))

    def _send_photo(self, p: JsonDict) -> JsonDict:
        chat = self._target_chat(p)
        photo = _required(p, "photo")
        if isinstance(photo, Upload):
            file_id = self._store_file("photos", photo.filename, photo.data)
            width, height = _image_size(photo.data)
            sizes = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": width, "height": height,
                      "file_size": photo.size}]  # fmt: skip
        else:
            sizes = [{"file_id": str(photo), "file_unique_id": f"u{photo}", "width": 1, "height": 1}]
        return self._bot_message(chat, {"photo": sizes, **_caption(p)}, p.get("reply_markup"))

    def _send_document(self, p: JsonDict) -> JsonDict:
        chat = self._target_chat(p)
        document = _required(p, "document")
        if isinstance(document, Upload):
            file_id = self._store_file("documents", document.filename, document.data)
            info = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": document.filename,
                    "mime_type": document.mime_type, "file_size": document.size}  # fmt: skip
        else:
            info = {"file_id": str(document), "file_unique_id": f"u{document}"}
        return self._bot_message(chat, {"document": info, **_caption(p)}, p.get("reply_markup"))

    def _edit_message_text(self, p: JsonDict) -> JsonDict | bool:
        text, entities = _formatted(p, "text", "entities", MAX_TEXT_LENGTH)
        if p.get("inline_message_id"):
            return True
        with self._lock:
            message = self._editable(p)
            if "text" not in message:
                raise _bad("there is no text in the message to edit")
            markup = _inline(p.get("reply_markup"))
            if (message["text"], message.get("entities", []), message.get("reply_markup")) == (text, entities, markup):
                raise ApiError(400, NOT_MODIFIED)
            message.pop("entities", None)
            message.update(text=text, edit_date=int(time.time()))
            if entities:
                message["entities"] = entities
            return _with_markup(message, markup)

    def _edit_message_reply_markup(self, p: JsonDict) -> JsonDict | bool:
        if p.get("inline_message_id"):
            return True
        with self._lock:
            message = self._editable(p)
            markup = _inline(p.get("reply_markup"))
            if message.get("reply_markup") == markup:
                raise ApiError(400, NOT_MODIFIED)
            message["edit_date"] = int(time.time())
            return _with_markup(message, markup)

    def _editable(self, p: JsonDict) -> JsonDict:
        chat = self._target_chat(p)
        message = self._messages.get((chat["id"], _int(_required(p, "message_id"))))
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self.bot["id"]:
            raise _bad("message can't be edited")
        return message

    def _delete_message(self, p: JsonDict) -> bool:
        chat = self._target_chat(p)
        with self._lock:
            if self._messages.pop((chat["id"], _int(_required(p, "message_id"))), None) is None:
                raise _bad("message to delete not found")
        return True

    def _send_chat_action(self, p: JsonDict) -> bool:
        self._target_chat(p)
        _required(p, "action")
        return True

    def _answer_callback_query(self, p: JsonDict) -> bool:
        query_id = str(_required(p, "callback_query_id"))
        with self._lock:
            if self._callbacks.get(query_id, True):
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            self._callbacks[query_id] = True
        return True

    def _bot_message(self, chat: JsonDict, content: JsonDict, reply_markup: Any) -> JsonDict:
        """Stores and returns a message from the bot (only inline keyboards are echoed back, as Telegram does)."""
        with self._lock:
            message = {"message_id": self._next_message_id(chat["id"]), "from": dict(self.bot),
                       "chat": dict(chat), "date": int(time.time()), **content}  # fmt: skip
            message = _with_markup(message, _inline(reply_markup))
            self._messages[(chat["id"], message["message_id"])] = message
            return json.loads(json.dumps(message))

    def _user_message(self, chat_id: int, user_id: int | None, chat_type: str, **content: Any) -> JsonDict:
        with self._lock:
            user_id = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
            chat = self._remember_chat(chat_id, chat_type, user_id)
            message = {"message_id": self._next_message_id(chat_id), "from": self._user(user_id), "chat": chat,
                       "date": int(time.time()), **content}  # fmt: skip
            self._messages[(chat_id, message["message_id"])] = message
            return json.loads(json.dumps(message))

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    # -- chats, users, files, commands -------------------------------------------------------------------------------

    def _target_chat(self, p: JsonDict) -> JsonDict:
        """The chat a method acts on, refused as Telegram does when blocked, migrated or missing."""
        chat_id = p.get("chat_id")
        if chat_id in (None, ""):
            raise _bad("chat_id is empty")
        with self._lock:
            if chat_id in self._migrated:
                raise ApiError(400, MIGRATED, {"migrate_to_chat_id": self._migrated[chat_id]})
            if chat_id in self._blocked:
                raise ApiError(403, BLOCKED)
            if not isinstance(chat_id, int):
                raise _bad("chat not found")
            return self._chat(chat_id)

    def _chat(self, chat_id: int) -> JsonDict:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}

    def _remember_chat(self, chat_id: int, chat_type: str, user_id: int) -> JsonDict:
        if chat_type == "private":
            chat = {"id": chat_id, "type": chat_type, "first_name": self._user(user_id)["first_name"]}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}
        self._chats[chat_id] = chat
        return dict(chat)

    @staticmethod
    def _user(user_id: int) -> JsonDict:
        return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}", "language_code": "en"}

    def _get_chat(self, p: JsonDict) -> JsonDict:
        chat = self._target_chat(p)
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"), False
        )
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    def _store_file(self, folder: str, filename: str, content: bytes) -> str:
        with self._lock:
            number = len(self._files) + 1
            suffix = filename[filename.rfind(".") :] if "." in filename else ""
            file_id = f"BQACAgIAAxkBAAI{number:06d}"
            self._files[file_id] = (f"{folder}/file_{number}{suffix}", content)
            return file_id

    def _get_file(self, p: JsonDict) -> JsonDict:
        file_id = str(_required(p, "file_id"))
        with self._lock:
            if file_id not in self._files:
                raise _bad("invalid file_id")
            path, content = self._files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content), "file_path": path}

    def _commands_key(self, p: JsonDict) -> str:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps([scope, p.get("language_code") or ""], sort_keys=True)

    def _set_my_commands(self, p: JsonDict) -> bool:
        commands = _required(p, "commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        with self._lock:
            self._commands[self._commands_key(p)] = commands
        return True

    def _get_my_commands(self, p: JsonDict) -> list[JsonDict]:
        with self._lock:
            return list(self._commands.get(self._commands_key(p), []))

    def _delete_my_commands(self, p: JsonDict) -> bool:
        with self._lock:
            self._commands.pop(self._commands_key(p), None)
        return True


# -- helpers for method parameters and results ----------------------------------------------------------------------


def _required(p: JsonDict, key: str) -> Any:
    if p.get(key) in (None, ""):
        raise _bad(f'parameter "{key}" is required')
    return p[key]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid integer {value!r}") from None


def _formatted(
    p: JsonDict, key: str, entities_key: str, limit: int, too_long: str = "message is too long", optional: bool = False
) -> tuple[str, list[JsonDict]]:
    """Visible text and entities after parse_mode, refused as Telegram does (bad markup, empty, too long)."""
    text = str(p.get(key) or "")
    parse_mode = str(p.get("parse_mode") or "").lower()
    if parse_mode == "html":
        try:
            text, entities = parse_html(text)
        except HtmlError as error:
            raise _bad(f"can't parse entities: {error}") from None
    elif parse_mode in ("", "markdown", "markdownv2"):  # Markdown is passed through unchecked
        entities = list(p.get(entities_key) or [])
    else:
        raise _bad("unsupported parse_mode")
    if not text.strip() and not optional:
        raise _bad("message text is empty")
    if len(text) > limit:
        raise _bad(too_long)
    return text, entities


def _caption(p: JsonDict) -> JsonDict:
    caption, entities = _formatted(
        p, "caption", "caption_entities", MAX_CAPTION_LENGTH, "message caption is too long", optional=True
    )
    if not caption:
        return {}
    return {"caption": caption, "caption_entities": entities} if entities else {"caption": caption}


def _inline(markup: Any) -> JsonDict | None:
    """The markup Telegram stores on a message: inline keyboards only."""
    return markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None


def _with_markup(message: JsonDict, markup: JsonDict | None) -> JsonDict:
    """Sets (or removes) the stored message's keyboard and returns a copy safe to serialise outside the lock."""
    if markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)
    return json.loads(json.dumps(message))


def _member(user: JsonDict, status: str) -> JsonDict:
    """A ChatMember of the given status with the fields the Bot API marks required."""
    member: JsonDict = {"status": status, "user": dict(user)}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "administrator":
        rights = ("can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
                  "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
                  "can_edit_stories", "can_delete_stories")  # fmt: skip
        member.update(dict.fromkeys(rights, True), can_be_edited=False, is_anonymous=False)
    elif status == "restricted":
        rights = ("can_change_info", "can_invite_users", "can_pin_messages", "can_send_messages", "can_send_polls",
                  "can_send_other_messages", "can_add_web_page_previews", "can_manage_topics", "can_send_audios",
                  "can_send_documents", "can_send_photos", "can_send_videos", "can_send_video_notes",
                  "can_send_voice_notes", "can_edit_tag")  # fmt: skip
        member.update(dict.fromkeys(rights, False), is_member=True, until_date=0)
    return member


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; anything else Telegram fails to process."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + length
    raise _bad("IMAGE_PROCESS_FAILED")


def _check_kinds(kinds: Sequence[str]) -> None:
    unknown = set(kinds) - FAULT_KINDS
    if unknown or not kinds:
        raise ValueError(f"fault kinds must be among {sorted(FAULT_KINDS)}, got {list(kinds)}")


def _short(value: Any, width: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _json_outcome(status: int, answer: Any) -> _Outcome:
    return _Outcome(status, json.dumps(answer, ensure_ascii=False).encode("utf-8"))


# -- HTTP ---------------------------------------------------------------------------------------------------------------


def parse_params(content_type: str, body: bytes, query: str = "") -> JsonDict:
    """Request parameters from the query string and a urlencoded, JSON or multipart body, JSON values decoded."""
    raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" and body:
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("a JSON body must be an object")
        raw.update(decoded)
    elif kind == "multipart/form-data":
        raw.update(_multipart_fields(content_type, body))
    elif body:
        raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    return {name: _decode_value(name, value) for name, value in raw.items()}


def _decode_value(name: str, value: Any) -> Any:
    """PTB sends non-string values JSON-encoded (123, true, {"inline_keyboard": ...}); strings as they are."""
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _multipart_fields(content_type: str, body: bytes) -> JsonDict:
    """multipart/form-data via the email package (cgi is gone): text fields as str, files as Upload."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: JsonDict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if not isinstance(name, str):
            continue
        if filename is None and part.get("Content-Type") is None:
            fields[name] = payload.decode("utf-8")
        else:
            fields[name] = Upload(_unescape_header(filename or name), part.get_content_type(), payload)
    return fields


def _unescape_header(value: str) -> str:
    """Header values arrive as raw UTF-8 bytes smuggled through surrogateescape."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return value


class _Server(ThreadingHTTPServer):
    """Tracks open connections so stop() can cut idle keep-alive ones (their threads block on read)."""

    daemon_threads = True
    api: LocalBotApi

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(connection)

    def close_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, stop()) are normal here; don't print tracebacks for them."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle + delayed ACK add 40 ms to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read calls, not access logs."""

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/file/bot"):
            token, _, file_path = path.removeprefix("/file/bot").partition("/")
            body = self._read_body()
            del body
            self._send(self.server.api.download(token, file_path))
        else:
            self._serve_api()

    def do_POST(self) -> None:
        self._serve_api()

    def _serve_api(self) -> None:
        api = self.server.api
        with api.in_flight():
            body = self._read_body()
            url = urlsplit(self.path)
            path = unquote(url.path)
            if not path.startswith("/bot"):
                self._send(_json_outcome(404, ApiError(404, "Not Found").body()))
                return
            token, _, method = path.removeprefix("/bot").partition("/")
            try:
                params = parse_params(self.headers.get("Content-Type", ""), body, url.query)
            except (ValueError, UnicodeError) as error:
                self._send(_json_outcome(400, _bad(f"can't parse request: {error}").body()))
                return
            self._send(api.handle(token, method.strip("/"), params))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, outcome: _Outcome) -> None:
        if outcome.drop == "timeout":
            self.server.api.hold()
            self.close_connection = True
            return
        if outcome.drop == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()  # linger 0: the client sees a TCP reset
            return
        try:
            self.send_response(outcome.status)
            self.send_header("Content-Type", outcome.content_type)
            self.send_header("Content-Length", str(len(outcome.body)))
            self.end_headers()
            self.wfile.write(outcome.body)
        except OSError:
            self.close_connection = True
