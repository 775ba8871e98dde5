"""Retrieval quality on a small evaluation set: recall@k per chunking strategy.

The set (``benchmarks/data/knowledge``) is eight documents of a fictional bike shop in
every supported format (Markdown, text, HTML, CSV, JSON and a PDF made here from
``rental-terms.txt``) and 45 questions, each with the document and the words of the
passage that answers it. A question is answered at k when one of the k best chunks
comes from that document and contains those words (whitespace-insensitive): a chunk
that cuts the answer in two does not count.

The pipeline is the product's: ``parse_document``, ``chunk_document`` (what each
chunk embeds with), the offline MiniLM, cosine similarity. The hybrid rows add BM25
over the same chunks, fused by reciprocal rank, to see whether keyword scoring helps.
The "answer score" columns are the cosine of the best answering chunk: what a
``similarity_threshold`` would have to stay under.

    .venv/bin/python benchmarks/knowledge_recall.py [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from callwright.domain.knowledge.chunking import Chunk, ChunkingStrategy, chunk_document
from callwright.domain.knowledge.documents import ParsedDocument, detect_format
from callwright.domain.knowledge.parsing import parse_document

DATA = Path(__file__).resolve().parent / "data" / "knowledge"
STRATEGIES: tuple[ChunkingStrategy, ...] = ("recursive", "fixed", "sentence", "markdown")
SIZES = ((1000, 200), (500, 100), (250, 50))
KS = (1, 3, 5)
_WORD = re.compile(r"\w+")


def normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def load_documents() -> dict[str, ParsedDocument]:
    from fpdf import FPDF

    documents: dict[str, ParsedDocument] = {}
    for path in sorted((DATA / "documents").iterdir()):
        data, name = path.read_bytes(), path.name
        if name == "rental-terms.txt":  # the one PDF: made here, read back by pypdf
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("Helvetica", size=11)
            pdf.multi_cell(0, 6, data.decode())
            data, name = bytes(pdf.output()), "rental-terms.pdf"
        documents[name] = parse_document(data, detect_format(name, None))
    return documents


def load_questions(documents: dict[str, ParsedDocument]) -> list[dict[str, str]]:
    questions: list[dict[str, str]] = json.loads((DATA / "questions.json").read_text())
    for question in questions:
        text = normalise(" ".join(s.text for s in documents[question["document"]].sections))
        if normalise(question["answer"]) not in text:
            raise SystemExit(f"answer not in {question['document']}: {question['answer']!r}")
    return questions


def bm25_scores(query: str, chunks: list[str], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    tokenised = [_WORD.findall(text.lower()) for text in chunks]
    average = sum(len(t) for t in tokenised) / len(tokenised)
    frequency = Counter(word for words in tokenised for word in set(words))
    scores = np.zeros(len(chunks))
    for word in set(_WORD.findall(query.lower())):
        if word not in frequency:
            continue
        idf = math.log(1 + (len(chunks) - frequency[word] + 0.5) / (frequency[word] + 0.5))
        for i, words in enumerate(tokenised):
            count = words.count(word)
            if count:
                scores[i] += (
                    idf * count * (k1 + 1) / (count + k1 * (1 - b + b * len(words) / average))
                )
    return scores


def rrf(*rankings: np.ndarray, k: int = 60) -> np.ndarray:
    fused = np.zeros(len(rankings[0]))
    for ranking in rankings:
        for position, index in enumerate(ranking):
            fused[index] += 1 / (k + position + 1)
    return np.argsort(-fused)


async def evaluate() -> dict[str, Any]:
    from callwright.providers.embeddings.minilm import MiniLMEmbeddings

    documents = load_documents()
    questions = load_questions(documents)
    embedder = MiniLMEmbeddings()
    query_vectors = np.asarray(await embedder.embed([q["question"] for q in questions]))
    rows = []
    for strategy in STRATEGIES:
        for size, overlap in SIZES:
            chunks: list[tuple[str, Chunk]] = [
                (name, chunk)
                for name, document in documents.items()
                for chunk in chunk_document(document, strategy, size, overlap)
            ]
            vectors = np.asarray(await embedder.embed([c.embedding_text for _, c in chunks]))
            texts = [normalise(c.text) for _, c in chunks]
            hits = {("vector", k): 0 for k in KS} | {("hybrid", k): 0 for k in KS}
            answer_scores = []
            for question, query in zip(questions, query_vectors, strict=True):
                scores = vectors @ query
                answering = [
                    i
                    for i, (name, _) in enumerate(chunks)
                    if name == question["document"] and normalise(question["answer"]) in texts[i]
                ]
                if answering:
                    answer_scores.append(float(max(scores[i] for i in answering)))
                rankings = {
                    "vector": np.argsort(-scores),
                    "hybrid": rrf(
                        np.argsort(-scores),
                        np.argsort(-bm25_scores(question["question"], [c.text for _, c in chunks])),
                    ),
                }
                for method, ranking in rankings.items():
                    for k in KS:
                        if set(ranking[:k].tolist()) & set(answering):
                            hits[(method, k)] += 1
            row: dict[str, Any] = {
                "strategy": strategy,
                "chunk_size": size,
                "chunk_overlap": overlap,
                "chunks": len(chunks),
                **{f"recall@{k}": round(hits[("vector", k)] / len(questions), 3) for k in KS},
                **{
                    f"hybrid_recall@{k}": round(hits[("hybrid", k)] / len(questions), 3) for k in KS
                },
                "answer_score_p10": round(float(np.percentile(answer_scores, 10)), 3),
                "answer_score_p50": round(statistics.median(answer_scores), 3),
            }
            rows.append(row)
    return {
        "questions": len(questions),
        "documents": len(documents),
        "model": embedder.model,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = asyncio.run(evaluate())
    columns = ["strategy", "chunk_size", "chunk_overlap", "chunks", "recall@1", "recall@3",
               "recall@5", "hybrid_recall@1", "hybrid_recall@3", "hybrid_recall@5",
               "answer_score_p10", "answer_score_p50"]  # fmt: skip
    print("  ".join(f"{c:>15}" for c in columns))
    for row in result["rows"]:
        print("  ".join(f"{row[c]!s:>15}" for c in columns))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
