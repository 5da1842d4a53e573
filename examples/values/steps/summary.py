"""Summary: a function step; what it returns is its output (one value per key of the returned dict)."""

from scanflow_jupyter import step


def summarize(label: str) -> dict[str, object]:
    spread = step.input("scale.spread")
    return {"label": label, "spread": spread, "wide": spread > 100}
