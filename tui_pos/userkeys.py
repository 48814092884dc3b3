"""The user's keymap: `[keys]` in config.toml rebinds any binding by its id.

Every binding in tui-pos has an id (`sale.pay`, `day.z`, `dialog.cancel`...).
`[keys]` maps ids to Textual key strings (`"f12"`, `"ctrl+k"`, several with
commas); Textual's own keymap (`App.set_keymap`) applies them, so the key bar
and F1 show the user's keys. This module knows every id, refuses an unknown
id, a key Textual would not recognise, and two actions of one screen on one
key, each in one line naming the id; `tui-pos keys` lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

from textual.binding import Binding
from textual.screen import Screen

_MODIFIER = r"(?:ctrl|shift|alt|meta|super|hyper)\+"
_KEY = re.compile(rf"^(?:{_MODIFIER})*(?:f(?:[1-9]|1\d|2[0-4])|[a-z0-9]|[a-z][a-z0-9_]+)$")


@dataclass(frozen=True)
class BindingInfo:
    id: str
    screen: str          # the class that holds it ("SaleScreen"); "PosApp" for the app's own
    key: str             # the default key(s)
    description: str
    priority: bool = False


def _screen_classes() -> list[type]:
    import tui_pos.screens as package
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    found: list[type] = []
    todo: list[type] = [Screen]
    sub: type
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("tui_pos.") and sub not in found:
                found.append(sub)
    return found


def known() -> dict[str, list[BindingInfo]]:
    """Every binding id -> where it is bound (one id may serve several dialogs, e.g. `dialog.cancel`)."""
    from tui_pos.app import PosApp
    out: dict[str, list[BindingInfo]] = {}
    for cls in [PosApp, *_screen_classes()]:
        for b in cls.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.id:
                out.setdefault(b.id, []).append(BindingInfo(b.id, cls.__name__, b.key, b.description, b.priority))
    return out


def check(keymap: dict[str, str]) -> dict[str, str]:
    """The keymap cleaned (keys lower case, no spaces), or ValueError naming the first bad entry."""
    ids = known()
    clean: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        if binding_id not in ids:
            near = [i for i in ids if i.split(".")[0] == binding_id.split(".")[0]] or sorted(ids)[:8]
            raise ValueError(f"keys.{binding_id}: no binding has that id; e.g. {', '.join(sorted(near)[:8])} "
                             "(`tui-pos keys` lists them all)")
        if not isinstance(keys, str) or not keys.strip():
            raise ValueError(f"keys.{binding_id}: expected a key such as \"f12\" or \"ctrl+k\"")
        parts = [p.strip().lower() for p in keys.split(",")]
        for part in parts:
            if not _KEY.match(part):
                raise ValueError(f"keys.{binding_id} = {keys!r}: {part!r} is not a key; expected e.g. "
                                 "\"f12\", \"ctrl+k\", \"escape\" or several with commas")
        clean[binding_id] = ",".join(parts)
    _refuse_clashes(ids, clean)
    _refuse_text_field_keys(clean)
    return clean


def _refuse_text_field_keys(keymap: dict[str, str]) -> None:
    """A screen's key that a text field also uses (Ctrl+K deletes to the end of the line) goes to the field
    while the cashier types, unless the binding is a priority one: refused rather than silently dead."""
    from textual.binding import Binding
    from textual.widgets import Input
    field_keys = {k.strip(): b.description for b in Input.BINDINGS if isinstance(b, Binding) for k in b.key.split(",")}
    for binding_id, keys in keymap.items():
        infos = known()[binding_id]
        if all(_is_priority(i) for i in infos):
            continue
        for key in keys.split(","):
            if key in field_keys:
                raise ValueError(f"keys.{binding_id}: {key!r} is the text field's ({field_keys[key].lower()}) "
                                 "while typing; pick another key (an F-key, say)")


def _is_priority(info: BindingInfo) -> bool:
    return info.priority


def _refuse_clashes(ids: dict[str, list[BindingInfo]], keymap: dict[str, str]) -> None:
    by_screen: dict[str, dict[str, str]] = {}
    for binding_id, infos in ids.items():
        for info in infos:
            for key in keymap.get(binding_id, info.key).split(","):
                taken = by_screen.setdefault(info.screen, {})
                other = taken.get(key.strip())
                if other is not None and other != binding_id:
                    moved = binding_id if binding_id in keymap else other
                    owner = other if moved == binding_id else binding_id
                    raise ValueError(f"keys.{moved}: {key.strip()!r} is already {owner}'s "
                                     f"key on {info.screen}; pick another key or move that one too")
                taken[key.strip()] = binding_id


def key_for(binding: Binding, keymap: dict[str, str]) -> str:
    """The key(s) a binding answers to under the user's keymap."""
    return keymap.get(binding.id or "", binding.key)


def listing(keymap: dict[str, str]) -> list[str]:
    """`tui-pos keys`: id, key in force (and the default when moved), what it does, where."""
    lines = []
    for binding_id, infos in sorted(known().items()):
        info = infos[0]
        key = keymap.get(binding_id, info.key)
        moved = f" (default {info.key})" if key != info.key else ""
        where = ", ".join(sorted({i.screen for i in infos}))
        lines.append(f"{binding_id:<22} {key + moved:<24} {info.description or '-'} [{where}]")
    return lines
