"""The systems `make bench` measures side by side: Tessera and what Python users would otherwise
pick, each built the way its documentation recommends and run under its usual server."""
