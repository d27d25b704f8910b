"""The password gate of the admin page and of the Reports page's write actions.

One password (``ANNALYST_ADMIN_PASSWORD``); the throttle is per process and persistent
(:class:`backend.store.throttle.AttemptLog`, in the catalogue): after a wrong password the next
attempt waits 1 s, then 2, 4 … up to ``password_backoff_max_s``; after
``password_max_failures`` wrong passwords in a row, attempts are refused for
``password_lockout_s``. Every failure and every lockout is logged (logger ``backend.app.auth``).
A right password clears the count.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable

from backend.app.admin import check_password, password_configured
from backend.errors import PasswordLocked
from backend.settings import Settings
from backend.store.throttle import AttemptLog, Failures

log = logging.getLogger(__name__)

SCOPE = "admin"


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class PasswordGate:
    def __init__(
        self, settings: Settings, attempts: AttemptLog, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.attempts = attempts
        self.clock = clock

    @property
    def configured(self) -> bool:
        return password_configured(self.settings)

    def _until(self, f: Failures) -> float:
        """When the next attempt is allowed (unix time)."""
        s = self.settings
        if not f.count:
            return 0.0
        if f.count >= s.password_max_failures:
            return f.last + s.password_lockout_s
        return f.last + min(2.0 ** (f.count - 1), s.password_backoff_max_s)

    def wait_s(self) -> float:
        """Seconds until a password may be tried again (0: now)."""
        return max(0.0, self._until(self.attempts.get(SCOPE)) - self.clock())

    def check(self, attempt: str, who: str = "") -> bool:
        """True for the right password. Raises :class:`PasswordLocked` while attempts are
        throttled (without checking the password: a guess made then is not even tried)."""
        wait = self.wait_s()
        if wait > 0:
            log.warning("password attempt refused (throttled for %.0f s more) %s", wait, who)
            raise PasswordLocked(wait)
        if check_password(self.settings, attempt):
            if self.attempts.get(SCOPE).count:
                log.info("password accepted after failures; count cleared %s", who)
                self.attempts.reset(SCOPE)
            return True
        failures = self.attempts.fail(SCOPE, self.clock())
        if failures.count >= self.settings.password_max_failures:
            log.warning(
                "wrong password (%d in a row): locked for %d s %s",
                failures.count,
                self.settings.password_lockout_s,
                who,
            )
        else:
            log.warning("wrong password (%d in a row) %s", failures.count, who)
        return False
