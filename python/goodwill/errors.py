"""What can go wrong, by name: every exception says what was wrong."""


class GoodwillError(Exception):
    """The base of every error this package raises."""


class InvalidAddress(GoodwillError, ValueError):
    """An address that is not a goodwill address (a typo, another prefix)."""


class InvalidAmount(GoodwillError, ValueError):
    """An amount that is not a whole number of units, or is out of range."""


class KeyFileError(GoodwillError):
    """A key file that cannot be read or written: its reason says which."""


class WrongPassphrase(KeyFileError):
    """A sealed key file that does not open: a wrong passphrase, or a file
    changed since it was sealed (the cipher cannot tell the two apart)."""


class EncodingError(GoodwillError, ValueError):
    """A transaction field over its bound (a memo over 64 bytes, …)."""
