"""The sans-IO core: the store, the load plan, recovery, regional rules, errors, parsing."""
