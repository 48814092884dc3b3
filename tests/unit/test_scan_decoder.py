"""The scan decoder fed evdev.InputEvent sequences, built without a device."""

import pytest
from evdev import InputEvent
from evdev import ecodes as e

from tui_pos.hardware.keymap import ScanDecoder


def keys(*seq, t=1000.0, step=0.002):
    """('a', 'shift+1', 'enter') -> key-down/key-up InputEvents, `step` seconds apart."""
    names = {"enter": e.KEY_ENTER, "kpenter": e.KEY_KPENTER, "caps": e.KEY_CAPSLOCK, "-": e.KEY_MINUS,
             "/": e.KEY_SLASH, ".": e.KEY_DOT, "kp5": e.KEY_KP5, ";": e.KEY_SEMICOLON, "m": e.KEY_M}
    out = []
    for item in seq:
        if isinstance(item, float):  # a pause
            t += item
            continue
        shift = item.startswith("shift+")
        name = item[6:] if shift else item
        code = names.get(name) or getattr(e, "KEY_" + name.upper())
        sec, usec = int(t), int(round((t % 1) * 1e6))
        if shift:
            out.append(InputEvent(sec, usec, e.EV_KEY, e.KEY_LEFTSHIFT, 1))
        out.append(InputEvent(sec, usec, e.EV_KEY, code, 1))
        out.append(InputEvent(sec, usec, e.EV_SYN, 0, 0))
        out.append(InputEvent(sec, usec, e.EV_KEY, code, 0))
        if shift:
            out.append(InputEvent(sec, usec, e.EV_KEY, e.KEY_LEFTSHIFT, 0))
        t += step
    return out


def decode(events, **kw):
    decoder = ScanDecoder(**kw)
    return [c for c in (decoder.feed(ev) for ev in events) if c]


def test_digits_then_enter_make_one_code():
    assert decode(keys(*"7451000000010", "enter")) == ["7451000000010"]


def test_keypad_enter_ends_a_scan_and_keypad_digits_count():
    assert decode(keys("1", "kp5", "kpenter")) == ["15"]


def test_shift_gives_capitals_and_symbols():
    assert decode(keys("shift+l", "shift+o", "shift+y", "-", "0", "0", "0", "1", "enter")) == ["LOY-0001"]
    assert decode(keys("shift+1", "shift+2", "/", ".", "enter")) == ["!@/."]


def test_capslock_flips_letters_only_and_shift_undoes_it():
    assert decode(keys("caps", "a", "b", "1", "shift+c", "enter")) == ["AB1c"]


def test_key_up_and_autorepeat_add_nothing():
    events = keys("4", "enter")
    sec, usec = events[0].sec, events[0].usec
    events.insert(2, InputEvent(sec, usec, e.EV_KEY, e.KEY_4, 2))  # held: auto-repeat
    assert decode(events) == ["4"]


def test_azerty_digits_need_shift_and_letters_move():
    # An AZERTY scanner types "1" as Shift+& and "a" on the key a US keyboard calls Q.
    events = keys("shift+1", "shift+2", "q", "w", ";", "m", "enter")
    assert decode(events, layout="azerty") == ["12azm,"]
    assert decode(keys("1", "2", "enter"), layout="azerty") == ["&é"]


def test_a_scan_split_in_bursts_is_one_code():
    events = keys("1", "2", "3", 0.1, "4", "5", "enter")
    assert decode(events, timeout=0.5) == ["12345"]


def test_a_scan_that_never_ends_is_dropped_after_the_timeout():
    events = keys("9", "9", 2.0, "1", "2", "enter")
    assert decode(events, timeout=0.5) == ["12"]


def test_enter_alone_and_other_events_give_nothing():
    assert decode(keys("enter", "enter")) == []
    assert decode([InputEvent(1, 0, e.EV_REL, 0, 5), InputEvent(1, 0, e.EV_MSC, 4, 7)]) == []


def test_reset_drops_a_scan_cut_by_unplugging():
    decoder = ScanDecoder()
    for ev in keys("1", "2", "shift+a"):
        decoder.feed(ev)
    assert decoder.pending == "12A"
    decoder.reset()  # the device went away mid-scan
    assert [c for c in (decoder.feed(ev) for ev in keys("3", "enter")) if c] == ["3"]


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="unknown scanner layout"):
        ScanDecoder(layout="dvorak")
