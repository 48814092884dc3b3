"""Helpers shared by the Pilot tests (pytest puts this folder on sys.path)."""


async def until(pilot, predicate, timeout: float = 10.0, step: float = 0.02) -> None:
    """Let the app run until `predicate()` holds; fail after `timeout` seconds."""
    for _ in range(int(timeout / step)):
        if predicate():
            return
        await pilot.pause(step)
    raise AssertionError("timed out waiting for the app")
