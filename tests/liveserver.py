"""Where tests used to import server helpers from: they live in ``support`` now."""

from support.accounts import Account, make_token  # noqa: F401
from support.server import FAST_ENV, LiveServer, cli, free_port  # noqa: F401
