"""Settings split by environment: base (shared), local (development, embedded services),
test (pytest), production (fails loudly on anything missing)."""
