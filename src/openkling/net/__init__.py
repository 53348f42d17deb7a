"""The network edge outward: the URL guard and fetches, and the hosts openkling names."""
