"""The one exception type of the warehouse package (settings, passwords and server all raise it)."""


class WarehouseError(RuntimeError):
    """A warehouse problem with a message meant for the person at the terminal: what failed, and what
    to check or run next."""
