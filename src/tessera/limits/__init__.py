"""Limits on what clients may do: rate limits (per process, or shared through Redis) and the
bound on password checks in progress."""

from tessera.limits.clients import client_key
from tessera.limits.in_flight import Busy, InFlight
from tessera.limits.rate_limits import LoginAttempt, RateLimits
from tessera.limits.windows import SlidingWindow

__all__ = ["Busy", "InFlight", "LoginAttempt", "RateLimits", "SlidingWindow", "client_key"]
