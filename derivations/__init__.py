"""Built-in derivations: one module (or package) per paper. Found by path by bnsym.registry."""
