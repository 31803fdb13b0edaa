"""Customer segments: RFM scores, K-Means clusters and names a support lead understands.

A full run scores every customer with orders and stores the run as a model: the quintile
edges, the scaler and the cluster centres. One customer can then be re-scored after a new
order in milliseconds, on the same scale as everyone else, without a full recompute.

- R, F, M: days since the last order, number of orders, and spend net of returns.
- Scores 1–5 by quintile (5 is best: most recent, most frequent, highest spend).
- Clusters: K-Means on standardised log(1 + R, F, M), with k chosen by silhouette score.
- Names: rules on the scores (below), because "At risk" means the same thing in every run,
  whereas a cluster's number does not. Each cluster is profiled by its customers' names.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import psycopg2.extras

from personalization.store import Database

log = logging.getLogger(__name__)

SEGMENT_NAMES = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "At risk",
    "Hibernating",
    "Lost",
)


def segment_name(r: int, f: int, m: int) -> str:
    """The classic RFM grid, reduced to seven names."""
    if r >= 4 and f >= 4 and m >= 4:
        return "Champions"
    if r >= 3 and f >= 4:
        return "Loyal"
    if r >= 4 and f == 1:
        return "New"
    if r >= 3 and f >= 2:
        return "Potential loyalist"
    if r <= 2 and f >= 3:
        return "At risk"
    if r == 1:
        return "Lost"
    return "Hibernating"


def quintile_edges(values: np.ndarray) -> list[float]:
    """The four inner cut points of the distribution."""
    return [float(x) for x in np.quantile(values, [0.2, 0.4, 0.6, 0.8])]


def score(value: float, edges: list[float], higher_is_better: bool = True) -> int:
    """1–5 by the stored quintile edges; equal values always get equal scores.

    A value on an edge falls in the lower quintile, so with heavy ties (a third of customers
    have one order) all of them share the bottom frequency score.
    """
    position = int(np.searchsorted(edges, value, side="left")) + 1  # 1..5
    return position if higher_is_better else 6 - position


@dataclass(frozen=True)
class Rfm:
    customer_id: str
    recency_days: int
    frequency: int
    monetary: float


@dataclass
class SegmentModel:
    version: str
    as_of: datetime
    recency_edges: list[float]
    frequency_edges: list[float]
    monetary_edges: list[float]
    mean: list[float]
    std: list[float]
    centres: list[list[float]]
    silhouette: dict[int, float] = field(default_factory=dict)
    cluster_profiles: dict[int, dict[str, Any]] = field(default_factory=dict)

    def features(self, rfm: Rfm) -> np.ndarray:
        raw = np.log1p([rfm.recency_days, rfm.frequency, max(rfm.monetary, 0.0)])
        return (raw - np.array(self.mean)) / np.array(self.std)

    def cluster(self, rfm: Rfm) -> int:
        distances = np.linalg.norm(np.array(self.centres) - self.features(rfm), axis=1)
        return int(np.argmin(distances))

    def scores(self, rfm: Rfm) -> tuple[int, int, int]:
        return (
            score(rfm.recency_days, self.recency_edges, higher_is_better=False),
            score(rfm.frequency, self.frequency_edges),
            score(rfm.monetary, self.monetary_edges),
        )

    def params(self) -> dict[str, Any]:
        return {
            "recency_edges": self.recency_edges,
            "frequency_edges": self.frequency_edges,
            "monetary_edges": self.monetary_edges,
            "mean": self.mean,
            "std": self.std,
            "centres": self.centres,
            "silhouette": {str(k): v for k, v in self.silhouette.items()},
            "cluster_profiles": {str(k): v for k, v in self.cluster_profiles.items()},
        }

    @classmethod
    def from_row(cls, version: str, as_of: datetime, params: dict[str, Any]) -> SegmentModel:
        return cls(
            version=version,
            as_of=as_of,
            recency_edges=params["recency_edges"],
            frequency_edges=params["frequency_edges"],
            monetary_edges=params["monetary_edges"],
            mean=params["mean"],
            std=params["std"],
            centres=params["centres"],
            silhouette={int(k): v for k, v in params.get("silhouette", {}).items()},
            cluster_profiles={int(k): v for k, v in params.get("cluster_profiles", {}).items()},
        )


@dataclass(frozen=True)
class Assignment:
    customer_id: str
    segment: str
    cluster: int
    r: int
    f: int
    m: int
    rfm: Rfm


@dataclass
class SegmentationResult:
    model: SegmentModel
    assignments: list[Assignment]
    chosen_k: int
    changed: int

    def summary(self) -> dict[str, Any]:
        return {
            "model_version": self.model.version,
            "as_of": self.model.as_of.isoformat(),
            "customers": len(self.assignments),
            "silhouette_by_k": self.model.silhouette,
            "chosen_k": self.chosen_k,
            "segments": dict(Counter(a.segment for a in self.assignments).most_common()),
            "cluster_profiles": self.model.cluster_profiles,
            "segment_changes_recorded": self.changed,
        }


_RFM_QUERY = """
    SELECT o.customer_id,
           max(o.ordered_at) AS last_order,
           count(*) AS frequency,
           sum(o.total) - coalesce(max(r.returned), 0) AS monetary
    FROM orders o
    LEFT JOIN (SELECT customer_id, sum(quantity * unit_price) AS returned
               FROM returns GROUP BY customer_id) r ON r.customer_id = o.customer_id
    {where}
    GROUP BY o.customer_id
"""


class Segmenter:
    def __init__(self, db: Database, random_state: int = 42) -> None:
        self._db = db
        self._random_state = random_state

    def _load_rfm(
        self, as_of: datetime | None, customer_id: str | None = None
    ) -> tuple[list[Rfm], datetime | None]:
        """R, F and M per customer, and the reference date: `as_of`, or the day after the
        last order loaded."""
        where, params = ("WHERE o.customer_id = %s", (customer_id,)) if customer_id else ("", ())
        with self._db.cursor() as cur:
            cur.execute(_RFM_QUERY.format(where=where), params)
            rows = cur.fetchall()
        if not rows:
            return [], as_of
        reference = as_of or max(row["last_order"] for row in rows) + timedelta(days=1)
        return [
            Rfm(
                customer_id=row["customer_id"],
                recency_days=max((reference - row["last_order"]).days, 0),
                frequency=int(row["frequency"]),
                monetary=max(float(row["monetary"]), 0.0),
            )
            for row in rows
        ], reference

    def run(
        self, as_of: datetime | None = None, k_range: range = range(2, 9)
    ) -> SegmentationResult:
        """Score and cluster every customer with orders; store the model and assignments."""
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        rfm, as_of = self._load_rfm(as_of)
        if len(rfm) < max(k_range.start, 10):
            raise ValueError(f"{len(rfm)} customers with orders are too few to segment")
        recency = np.array([x.recency_days for x in rfm], dtype=float)
        frequency = np.array([x.frequency for x in rfm], dtype=float)
        monetary = np.array([x.monetary for x in rfm], dtype=float)
        raw = np.log1p(np.column_stack([recency, frequency, monetary]))
        mean, std = raw.mean(axis=0), raw.std(axis=0)
        std[std == 0] = 1.0
        features = (raw - mean) / std

        silhouette: dict[int, float] = {}
        models: dict[int, Any] = {}
        sample = min(len(rfm), 5000)
        for k in k_range:
            if k >= len(rfm):
                break
            kmeans = KMeans(n_clusters=k, n_init=10, random_state=self._random_state)
            labels = kmeans.fit_predict(features)
            silhouette[k] = round(
                float(
                    silhouette_score(
                        features, labels, sample_size=sample, random_state=self._random_state
                    )
                ),
                4,
            )
            models[k] = kmeans
        chosen_k = max(silhouette, key=silhouette.__getitem__)
        labels = models[chosen_k].labels_

        model = SegmentModel(
            version=f"rfm-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}",
            as_of=as_of,
            recency_edges=quintile_edges(recency),
            frequency_edges=quintile_edges(frequency),
            monetary_edges=quintile_edges(monetary),
            mean=mean.tolist(),
            std=std.tolist(),
            centres=models[chosen_k].cluster_centers_.tolist(),
            silhouette=silhouette,
        )
        assignments = []
        for x, label in zip(rfm, labels, strict=True):
            r, f, m = model.scores(x)
            assignments.append(
                Assignment(x.customer_id, segment_name(r, f, m), int(label), r, f, m, x)
            )
        model.cluster_profiles = _profiles(assignments)
        changed = self._store(model, assignments)
        return SegmentationResult(model, assignments, chosen_k, changed)

    def latest_model(self) -> SegmentModel | None:
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT version, as_of, params FROM segment_models ORDER BY created_at DESC LIMIT 1"
            )
            row = cur.fetchone()
        return SegmentModel.from_row(row["version"], row["as_of"], row["params"]) if row else None

    def rescore(self, customer_id: str) -> Assignment | None:
        """Re-score one customer (e.g. after a new order) with the latest model."""
        model = self.latest_model()
        if model is None:
            return None
        with self._db.cursor() as cur:
            cur.execute(
                "SELECT max(ordered_at) AS last FROM orders WHERE customer_id = %s", (customer_id,)
            )
            last = cur.fetchone()["last"]
        if last is None:
            return None
        as_of = max(model.as_of, last + timedelta(days=1))
        [rfm], _ = self._load_rfm(as_of, customer_id)
        r, f, m = model.scores(rfm)
        assignment = Assignment(
            customer_id, segment_name(r, f, m), model.cluster(rfm), r, f, m, rfm
        )
        self._write_assignments(model.version, [assignment])
        return assignment

    def _store(self, model: SegmentModel, assignments: list[Assignment]) -> int:
        with self._db.cursor() as cur:
            cur.execute(
                "INSERT INTO segment_models (version, as_of, params) VALUES (%s, %s, %s)",
                (model.version, model.as_of, json.dumps(model.params())),
            )
        return self._write_assignments(model.version, assignments)

    def _write_assignments(self, version: str, assignments: list[Assignment]) -> int:
        """Upsert the current segment; add a history row only where the segment changed."""
        rows = [
            (
                a.customer_id,
                a.segment,
                a.cluster,
                a.r,
                a.f,
                a.m,
                a.rfm.recency_days,
                a.rfm.frequency,
                round(a.rfm.monetary, 2),
                version,
            )
            for a in assignments
        ]
        with self._db.cursor() as cur:
            cur.execute(
                """CREATE TEMP TABLE new_segments (LIKE segment_assignments
                   INCLUDING DEFAULTS) ON COMMIT DROP"""
            )
            psycopg2.extras.execute_values(
                cur,
                """INSERT INTO new_segments (customer_id, segment, cluster, r_score, f_score,
                   m_score, recency_days, frequency, monetary, model_version) VALUES %s""",
                rows,
            )
            cur.execute(
                """INSERT INTO segment_history (customer_id, segment, cluster, r_score, f_score,
                                                m_score, model_version)
                   SELECT n.customer_id, n.segment, n.cluster, n.r_score, n.f_score, n.m_score,
                          n.model_version
                   FROM new_segments n
                   LEFT JOIN segment_assignments s ON s.customer_id = n.customer_id
                   WHERE s.segment IS DISTINCT FROM n.segment"""
            )
            changed = cur.rowcount
            cur.execute(
                """INSERT INTO segment_assignments
                   SELECT * FROM new_segments
                   ON CONFLICT (customer_id) DO UPDATE SET
                     segment = EXCLUDED.segment, cluster = EXCLUDED.cluster,
                     r_score = EXCLUDED.r_score, f_score = EXCLUDED.f_score,
                     m_score = EXCLUDED.m_score, recency_days = EXCLUDED.recency_days,
                     frequency = EXCLUDED.frequency, monetary = EXCLUDED.monetary,
                     model_version = EXCLUDED.model_version, assigned_at = now()"""
            )
        return changed


def _profiles(assignments: list[Assignment]) -> dict[int, dict[str, Any]]:
    """Per cluster: size, median R/F/M and the names of its customers."""
    profiles: dict[int, dict[str, Any]] = {}
    for cluster in sorted({a.cluster for a in assignments}):
        members = [a for a in assignments if a.cluster == cluster]
        names = Counter(a.segment for a in members)
        profiles[cluster] = {
            "customers": len(members),
            "median_recency_days": float(np.median([a.rfm.recency_days for a in members])),
            "median_frequency": float(np.median([a.rfm.frequency for a in members])),
            "median_monetary": round(float(np.median([a.rfm.monetary for a in members])), 2),
            "main_segment": names.most_common(1)[0][0],
            "segments": dict(names.most_common()),
        }
    return profiles
