"""The knowledge benchmarks still run against the code they measure (tiny sizes); the
full runs are not part of the suite."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from callwright.store.database import create_engine, create_session_factory

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_evaluation_set_is_consistent() -> None:
    recall = load("knowledge_recall")
    documents = recall.load_documents()
    assert set(documents) >= {"handbook.md", "rental-terms.pdf", "faq.html", "price-list.csv"}
    questions = recall.load_questions(documents)  # exits if an answer is not in its document
    assert len(questions) >= 40
    assert {q["document"] for q in questions} == set(documents)


async def test_the_latency_benchmark_measures_a_tiny_store(database_url: str) -> None:
    latency = load("knowledge_latency")
    engine = create_engine(database_url)
    try:
        row = await latency.measure(create_session_factory(engine), 60, 5, 1)
    finally:
        await engine.dispose()
    assert row["chunks"] == 60
    for key in ("exact", "search", "fetch", "retrieval"):
        assert row[key]["p50_ms"] <= row[key]["p95_ms"]
