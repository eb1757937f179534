"""Teacher-led virtual field trips: pages, the live protocol and the hub that shares trips."""
