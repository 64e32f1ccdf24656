"""Static web assets shipped in the package: `tessera.js`, the demo app, the JWT decoder."""

from tessera.web.assets import ASSET_TYPES, asset, client_modules, decoder_page, demo_page

__all__ = ["ASSET_TYPES", "asset", "client_modules", "decoder_page", "demo_page"]
