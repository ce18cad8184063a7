"""A small module to try fim-lsp on: `make demo` completes the body of `variance`."""


def mean(values: list[float]) -> float:
    """Return the arithmetic mean of a non-empty list of numbers."""
    return sum(values) / len(values)


def variance(values: list[float]) -> float:
    """Return the population variance of a non-empty list of numbers."""
    m = mean(values)
    

def describe(values: list[float]) -> str:
    return f"mean={mean(values):.3f} variance={variance(values):.3f}"
