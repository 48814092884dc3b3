"""The hub on evdev's real async_read_loop(), fed through pipes: codes, unplug, replug."""

import asyncio

import pytest

from tui_pos.hardware.evpipe import PipeBackend, PipeScanner
from tui_pos.hardware.scanner import DeviceInfo, ScannerHub, SpecError, matches, parse_spec


async def until(predicate, timeout=3.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.005)


def hub_for(backend, specs, poll=0.05, **kw):
    codes, states = [], []
    hub = ScannerHub(specs, lambda code, name: codes.append((code, name)), states.append,
                     poll=poll, backend=backend, **kw)
    return hub, codes, states


async def test_codes_arrive_once_per_scan_and_the_device_is_grabbed():
    scanner = PipeScanner(name="Honeywell Xenon 1900")
    backend = PipeBackend(scanner)
    hub, codes, states = hub_for(backend, ["name:honeywell"])
    task = asyncio.create_task(hub.run())
    await until(lambda: hub.states.get("name:honeywell") and hub.states["name:honeywell"].ok)
    scanner.scan("7451000000010")
    scanner.scan("LOY-0001")
    await until(lambda: len(codes) == 2)
    assert codes == [("7451000000010", "Honeywell Xenon 1900"), ("LOY-0001", "Honeywell Xenon 1900")]
    assert backend.opened[0].grabbed
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_unplug_is_reported_at_once_and_replug_is_picked_up():
    first = PipeScanner(path="/dev/input/event7")
    backend = PipeBackend(first)
    hub, codes, states = hub_for(backend, ["usb:0c2e:0b61"], poll=0.2)
    task = asyncio.create_task(hub.run())
    await until(lambda: states and states[-1].state == "ready")
    first.scan("123", enter=False)      # a scan cut by unplugging
    backend.unplug(first.path)
    loop = asyncio.get_running_loop()
    pulled = loop.time()
    await until(lambda: states[-1].state == "gone")
    assert loop.time() - pulled < 1.0
    assert "unplugged" in states[-1].detail and codes == []
    second = PipeScanner(path="/dev/input/event9")
    backend.plug(second)
    await until(lambda: states[-1].state == "ready")
    second.scan("4006381333931")
    await until(lambda: codes)
    assert codes == [("4006381333931", "Pipe Scanner")]
    assert [s.state for s in states] == ["ready", "gone", "ready"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_missing_device_is_reported_and_the_hub_waits_without_spinning():
    backend = PipeBackend()
    calls = []
    real = backend.devices
    backend.devices = lambda: calls.append(1) or real()
    hub, codes, states = hub_for(backend, ["/dev/input/by-id/usb-nothing-event-kbd"], poll=0.05)
    task = asyncio.create_task(hub.run())
    await asyncio.sleep(0.5)
    assert states[-1].state == "missing"
    assert len(calls) == 1  # nothing changed under /dev/input: no rescan
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_device_without_permission_says_so():
    class Denied(PipeBackend):
        def devices(self):
            return [DeviceInfo("/dev/input/event3", readable=False, problem="no permission (see the udev rule)")]
    hub, codes, states = hub_for(Denied(), ["/dev/input/event3"])
    task = asyncio.create_task(hub.run())
    await until(lambda: states)
    assert states[-1].state == "denied" and "udev rule" in states[-1].detail
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_device_entries():
    info = DeviceInfo("/dev/input/event4", "Zebra Symbol DS2208", 0x05e0, 0x1200)
    assert matches("name:symbol", info) and matches("usb:05e0:1200", info) and matches("/dev/input/event4", info)
    assert not matches("usb:05e0:1201", info)
    assert not matches("name:symbol", DeviceInfo("/dev/input/event5", "Symbol mouse", has_enter=False))
    assert parse_spec("usb:0C2E:0B61") == ("usb", (0x0c2e, 0x0b61))
    for bad in ("event3", "usb:zz:01", "name:"):
        with pytest.raises(SpecError):
            parse_spec(bad)
