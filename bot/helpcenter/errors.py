"""The help center's one error type."""


class HelpCenterError(ValueError):
    """An article or the facts file is not what the help center accepts; the message names the file."""
