"""Plausible, input-seeded predictions and embeddings."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from simulator import vocabulary
from simulator.validation import PredictRequest
from simulator.vocabulary import Concept

EMBEDDING_DIM = 64
# Chance that an event repeats one of the patient's diagnoses or something that follows one,
# at temperature 1; lower temperatures stay closer to the history, as sampling would.
REPEAT_CHANCE = 0.30
RELATED_CHANCE = 0.30


def generate_predictions(request: PredictRequest, seed: str) -> list[list[dict[str, str]]]:
    """Return num_predictions futures, each an alternation of timegaps and events."""
    rng = random.Random(seed)
    events = _EventSampler(rng, request)
    return [_future(rng, events, request.generation_length) for _ in range(request.num_predictions)]


def embed(history: Sequence[dict[str, Any]]) -> list[float]:
    """Return a unit vector for a history: a recency-weighted sum of per-code vectors."""
    total = [0.0] * EMBEDDING_DIM
    for position, item in enumerate(history, start=1):
        weight = 1.0 + position / len(history)
        for i, value in enumerate(_code_vector(item["system"], item["code"])):
            total[i] += weight * value
    norm = math.sqrt(sum(value * value for value in total)) or 1.0
    return [value / norm for value in total]


class _EventSampler:
    """Draws events for one future, biased towards the patient's own conditions."""

    def __init__(self, rng: random.Random, request: PredictRequest) -> None:
        self.rng = rng
        self.chronic = _chronic_diagnoses(request.history)
        self.follow_ups = tuple(
            concept for diagnosis in self.chronic for concept in vocabulary.related(diagnosis.code)
        )
        self.focus = 1.0 / max(request.inference_temperature, 0.5)
        self.threshold = request.inference_threshold

    def sample(self) -> Concept:
        """Return one event concept."""
        roll = self.rng.random()
        if self.chronic and roll < REPEAT_CHANCE * self.focus:
            return self.rng.choice(self.chronic)
        if self.follow_ups and roll < (REPEAT_CHANCE + RELATED_CHANCE) * self.focus:
            return self.rng.choice(self.follow_ups)
        system = self.rng.choices(vocabulary.EVENT_SYSTEMS, vocabulary.EVENT_WEIGHTS)[0]
        pool = vocabulary.concepts(system)
        # A lower threshold keeps only the head of the vocabulary, like nucleus sampling.
        return self.rng.choice(pool[: max(1, math.ceil(len(pool) * self.threshold))])


def _future(rng: random.Random, events: _EventSampler, generation_length: int) -> list[dict[str, str]]:
    """Return one future of between half and all of generation_length items."""
    length = rng.randint(math.ceil(generation_length / 2), generation_length)
    return [(_timegap(rng) if i % 2 == 0 else events.sample()).as_dict() for i in range(length)]


def _chronic_diagnoses(history: Sequence[dict[str, Any]]) -> tuple[Concept, ...]:
    """Return the patient's distinct ICD-10-CM items, keeping the display they were sent with."""
    seen: dict[str, Concept] = {}
    for item in history:
        if item["system"] == "ICD10CM" and item["code"] not in seen:
            seen[item["code"]] = Concept(item["code"], "ICD10CM", item["display"])
    return tuple(seen.values())


def _timegap(rng: random.Random) -> Concept:
    """Return a timegap token, short gaps more often than long ones."""
    return rng.choices(vocabulary.concepts("timegap"), vocabulary.TIMEGAP_WEIGHTS)[0]


def _code_vector(system: str, code: str) -> list[float]:
    """Return a fixed pseudo-random direction for one code, stable across processes."""
    rng = random.Random(f"{system}|{code}")
    return [rng.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIM)]
