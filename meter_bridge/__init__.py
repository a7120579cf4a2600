"""The meter bridge: serial meter to signed readings to chain, losing nothing."""
