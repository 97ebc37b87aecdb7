"""Built-in Monte Carlo checks: one module (or package) per paper, named as in derivations/."""
