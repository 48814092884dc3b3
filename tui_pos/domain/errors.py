"""Errors worded for the person at the counter: what is wrong, what to do."""


class PosError(Exception):
    """Any expected problem; its message is shown as is to the cashier."""


class InputError(PosError):
    """Something typed or scanned could not be used."""


class NeedsManager(PosError):
    """The action needs a manager PIN; retry with an approving manager."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(message)
        self.action = action


class BalanceChanged(PosError):
    """A points balance is not what the movement needs (another register spent it first)."""
