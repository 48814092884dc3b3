"""Telling a keyboard-wedge scan from typing, by timing alone."""

from tui_pos.hardware.wedge import WedgeFilter


def feed(wedge, keys):
    """keys: (time, key) with key a char, 'enter' or 'f2'; returns what reached the app, in order."""
    out = []
    for t, key in keys:
        if key == "enter":
            o = wedge.enter(key, t)
        elif key.startswith("f"):
            o = wedge.other(key)
        else:
            o = wedge.char(key, key, t)
        out += o.release
        if o.scan:
            out.append(("SCAN", o.scan))
    out += wedge.tick(1e9).release
    return out


def test_a_fast_burst_ending_in_enter_is_one_scan_and_no_key_leaks():
    wedge = WedgeFilter(gap=0.03, min_length=4)
    keys = [(1.000 + i * 0.002, c) for i, c in enumerate("7451000000010")] + [(1.027, "enter")]
    assert feed(wedge, keys) == [("SCAN", "7451000000010")]


def test_typing_at_a_persons_pace_goes_through_unchanged():
    wedge = WedgeFilter(gap=0.03, min_length=4)
    keys = [(1.0, "E"), (1.12, "S"), (1.25, "P"), (1.4, "enter")]
    assert feed(wedge, keys) == ["E", "S", "P", "enter"]


def test_a_short_fast_burst_is_typing():
    wedge = WedgeFilter(gap=0.03, min_length=4)
    assert feed(wedge, [(1.0, "4"), (1.01, "2"), (1.02, "enter")]) == ["4", "2", "enter"]


def test_typed_keys_before_a_scan_stay_typed_and_the_scan_stays_whole():
    wedge = WedgeFilter(gap=0.03, min_length=4)
    keys = [(1.0, "C"), (1.2, "a")] + [(2.0 + i * 0.001, c) for i, c in enumerate("LOY-77")] + [(2.007, "enter")]
    assert feed(wedge, keys) == ["C", "a", ("SCAN", "LOY-77")]


def test_a_burst_without_enter_is_released_on_the_tick_or_by_another_key():
    wedge = WedgeFilter(gap=0.03, min_length=4)
    for c, t in zip("12345", (1.0, 1.001, 1.002, 1.003, 1.004)):
        assert wedge.char(c, c, t).release == []
    assert wedge.tick(1.01).release == []          # not quiet for long enough yet
    assert wedge.tick(1.05).release == list("12345")
    wedge.char("9", "9", 2.0)
    assert wedge.other("f2").release == ["9", "f2"]


def test_a_slow_enter_after_a_burst_does_not_make_it_a_scan():
    wedge = WedgeFilter(gap=0.03, min_length=4)
    keys = [(1.0 + i * 0.001, c) for i, c in enumerate("12345")] + [(1.5, "enter")]
    assert feed(wedge, keys) == ["1", "2", "3", "4", "5", "enter"]


def test_a_runaway_burst_is_dropped_whole_and_the_next_scan_goes_through():
    """A stuck key or a scanner in the wrong mode: 20,000 characters, Enters among them. Nothing of it reaches a
    field or a lookup, it is reported once, and the scan after a quiet moment is a scan again."""
    wedge = WedgeFilter(gap=0.03, min_length=4, max_length=64, quiet=0.3)
    t, out, too_long = 1.0, [], 0
    for i in range(20_000):
        t += 0.0005
        o = wedge.enter("enter", t) if i % 5000 == 4999 else wedge.char("7", "7", t)
        out += o.release
        too_long += o.too_long
        assert not o.scan
    assert out == [] and too_long == 1
    assert wedge.tick(t + 0.1).release == [] and wedge.holding          # still inside the runaway
    assert wedge.tick(t + 0.4).dropped == 20_000 and not wedge.holding  # over: how much it dropped, once
    scan = [(t + 0.5 + i * 0.002, c) for i, c in enumerate("7451000000010")] + [(t + 0.53, "enter")]
    assert feed(wedge, scan) == [("SCAN", "7451000000010")]
