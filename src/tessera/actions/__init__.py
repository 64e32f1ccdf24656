"""What a user does — log in, refresh, log out, revoke — once, for every front door.

Each is a small object built by the assembly from explicit collaborators (sessions, limits,
metrics, the authenticator), so `/auth/*`, `/oauth/*` and the command line run the same rules:
rate limits, audit, metrics, rotation, grace and reuse detection cannot drift apart.
"""

from tessera.actions.login import Login
from tessera.actions.logout import Logout
from tessera.actions.refresh import Refresh
from tessera.actions.revoke import Revoke

__all__ = ["Login", "Logout", "Refresh", "Revoke"]
