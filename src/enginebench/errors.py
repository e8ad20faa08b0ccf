"""The one exception type whose message is shown to the user as a single line."""


class UserError(Exception):
    """Bad input from the user: the message says what was wrong and what to do."""
