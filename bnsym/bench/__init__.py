"""``bnsym bench``: time to a verdict for each simulator family, against numpy baselines of the same process."""
