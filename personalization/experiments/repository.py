"""Experiments in PostgreSQL: definitions, assignments, exposures, and their outcomes."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from psycopg2.extras import Json

from personalization.experiments.analysis import ConversationOutcome
from personalization.experiments.assignment import Unit, assigned_arm, served_arm
from personalization.experiments.definition import Arm, Experiment, ExperimentDefinitionError
from personalization.store import Database


class UnknownExperiment(LookupError):
    """No experiment of that name was ever synced."""


class ExperimentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def source(self) -> str:
        """Which database this is (a process may hold several, e.g. in tests)."""
        return self._db.settings.url

    def sync(self, experiments: list[Experiment], now: datetime | None = None) -> dict[str, Any]:
        """Store the file's experiments. One missing from the file stops now (its data stays
        for the report), or is deleted if it has not started. An arm that units were already
        assigned to cannot be removed or renamed: their assignment is for good."""
        now = now or datetime.now(timezone.utc)
        names = [e.name for e in experiments]
        with self._db.cursor() as cur:
            for experiment in experiments:
                self._check_arms_kept(cur, experiment)
                row = experiment.as_row()
                cur.execute(
                    """INSERT INTO experiments (name, factor, description, arms, control_arm,
                                                primary_metric, guardrails, starts_at, stops_at)
                       VALUES (%(name)s, %(factor)s, %(description)s, %(arms)s, %(control_arm)s,
                               %(primary_metric)s, %(guardrails)s, %(starts_at)s, %(stops_at)s)
                       ON CONFLICT (name) DO UPDATE SET
                           factor = EXCLUDED.factor, description = EXCLUDED.description,
                           arms = EXCLUDED.arms, control_arm = EXCLUDED.control_arm,
                           primary_metric = EXCLUDED.primary_metric,
                           guardrails = EXCLUDED.guardrails, starts_at = EXCLUDED.starts_at,
                           stops_at = EXCLUDED.stops_at, updated_at = now()""",
                    {**row, "arms": Json(row["arms"])},
                )
            cur.execute(
                """DELETE FROM experiments e WHERE NOT (name = ANY(%s)) AND starts_at > %s
                     AND NOT EXISTS (SELECT 1 FROM experiment_assignments a
                                     WHERE a.experiment = e.name)
                   RETURNING name""",
                (names, now),
            )
            cancelled = sorted(r["name"] for r in cur.fetchall())
            cur.execute(
                """UPDATE experiments SET stops_at = %s, updated_at = now()
                   WHERE NOT (name = ANY(%s)) AND (stops_at IS NULL OR stops_at > %s)
                   RETURNING name""",
                (now, names, now),
            )
            stopped = sorted(r["name"] for r in cur.fetchall())
        return {"synced": names, "stopped_not_in_file": stopped, "cancelled": cancelled}

    @staticmethod
    def _check_arms_kept(cur: Any, experiment: Experiment) -> None:
        cur.execute(
            """SELECT DISTINCT arm FROM experiment_assignments WHERE experiment = %s""",
            (experiment.name,),
        )
        assigned = {r["arm"] for r in cur.fetchall()}
        missing = sorted(assigned - {a.name for a in experiment.arms})
        if missing:
            raise ExperimentDefinitionError(
                f"experiment {experiment.name}: units are already assigned to arm(s) "
                f"{', '.join(missing)}; keep them (set their weight low) or start a new "
                "experiment under another name"
            )

    def all(self) -> list[Experiment]:
        return self._select("TRUE", ())

    def running(self, now: datetime | None = None) -> list[Experiment]:
        now = now or datetime.now(timezone.utc)
        return self._select("starts_at <= %s AND (stops_at IS NULL OR stops_at > %s)", (now, now))

    def get(self, name: str) -> Experiment:
        found = self._select("name = %s", (name,))
        if not found:
            raise UnknownExperiment(f"no experiment named {name!r}; run `experiment sync` first")
        return found[0]

    def _select(self, where: str, params: tuple[Any, ...]) -> list[Experiment]:
        with self._db.cursor() as cur:
            cur.execute(
                f"""SELECT e.*, COALESCE((SELECT jsonb_object_agg(s.arm, s.reason)
                                          FROM experiment_arm_stops s
                                          WHERE s.experiment = e.name), '{{}}') AS stopped
                    FROM experiments e WHERE {where} ORDER BY e.starts_at, e.name""",
                params,
            )
            return [_experiment(row) for row in cur.fetchall()]

    def enrol(self, experiment: Experiment, unit: Unit, conversation_id: str) -> str:
        """The arm serving this conversation. The unit's first assignment is kept for good
        (the report counts it, intention to treat); it is served the control once that arm
        is stopped, or if the arm is no longer in the definition."""
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO experiment_assignments (experiment, unit_id, customer_id, arm)
                   VALUES (%s, %s, %s, %s)
                   ON CONFLICT (experiment, unit_id)
                   DO UPDATE SET arm = experiment_assignments.arm
                   RETURNING arm""",
                (
                    experiment.name,
                    unit.unit_id,
                    unit.customer_id,
                    assigned_arm(experiment, unit.unit_id),
                ),
            )
            assigned = str(cur.fetchone()["arm"])
            known = {a.name for a in experiment.arms}
            served = (
                served_arm(experiment, assigned) if assigned in known else (experiment.control_arm)
            )
            cur.execute(
                """INSERT INTO experiment_exposures
                       (experiment, conversation_id, unit_id, customer_id, arm, served_arm)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (experiment, conversation_id)
                   DO UPDATE SET served_arm = experiment_exposures.served_arm
                   RETURNING served_arm""",
                (
                    experiment.name,
                    conversation_id,
                    unit.unit_id,
                    unit.customer_id,
                    assigned,
                    served,
                ),
            )
            return str(cur.fetchone()["served_arm"])

    def mark_resolved(self, conversation_id: str) -> int:
        """The bot reached a resolution in this conversation (first time only counts)."""
        with self._db.cursor() as cur:
            cur.execute(
                """UPDATE experiment_exposures SET resolved_at = now()
                   WHERE conversation_id = %s AND resolved_at IS NULL""",
                (conversation_id,),
            )
            return int(cur.rowcount)

    def stop_arm(self, experiment: str, arm: str, reason: str) -> bool:
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO experiment_arm_stops (experiment, arm, reason)
                   VALUES (%s, %s, %s) ON CONFLICT DO NOTHING""",
                (experiment, arm, reason),
            )
            return bool(cur.rowcount)

    def resume_arm(self, experiment: str, arm: str) -> bool:
        with self._db.cursor() as cur:
            cur.execute(
                "DELETE FROM experiment_arm_stops WHERE experiment = %s AND arm = %s",
                (experiment, arm),
            )
            return bool(cur.rowcount)

    def outcomes(self, experiment: str) -> list[ConversationOutcome]:
        """Every exposed conversation with what it produced, read where it was recorded."""
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT x.arm, x.unit_id, x.exposed_at, x.resolved_at,
                          f.csat, f.thumbs_up,
                          EXISTS (SELECT 1 FROM support_tickets t
                                  WHERE t.conversation_id = x.conversation_id) AS handed_off,
                          COALESCE(r.shown, 0) AS shown, COALESCE(r.clicked, 0) AS clicked
                   FROM experiment_exposures x
                   LEFT JOIN LATERAL (
                       SELECT avg(value) FILTER (WHERE kind = 'csat') AS csat,
                              avg((value > 0)::int) FILTER (WHERE kind = 'thumbs') AS thumbs_up
                       FROM feedback WHERE conversation_id = x.conversation_id) f ON TRUE
                   LEFT JOIN LATERAL (
                       SELECT count(*) FILTER (WHERE kind = 'recommendation_shown') AS shown,
                              count(*) FILTER (WHERE kind = 'recommendation_clicked') AS clicked
                       FROM interactions
                       WHERE context ->> 'conversation_id' = x.conversation_id
                         AND kind IN ('recommendation_shown', 'recommendation_clicked')) r ON TRUE
                   WHERE x.experiment = %s""",
                (experiment,),
            )
            return [_outcome(row) for row in cur.fetchall()]

    def assignment_counts(self, experiment: str) -> dict[str, dict[str, int]]:
        with self._db.cursor() as cur:
            cur.execute(
                """SELECT arm, count(*) AS units,
                          (SELECT count(*) FROM experiment_exposures x
                           WHERE x.experiment = a.experiment AND x.arm = a.arm) AS conversations
                   FROM experiment_assignments a WHERE experiment = %s
                   GROUP BY experiment, arm""",
                (experiment,),
            )
            return {
                r["arm"]: {"units": r["units"], "conversations": r["conversations"]}
                for r in cur.fetchall()
            }


def _experiment(row: dict[str, Any]) -> Experiment:
    return Experiment(
        name=row["name"],
        factor=row["factor"],
        arms=tuple(Arm(a["name"], float(a["weight"]), a["setting"]) for a in row["arms"]),
        control_arm=row["control_arm"],
        primary_metric=row["primary_metric"],
        starts_at=row["starts_at"],
        stops_at=row["stops_at"],
        guardrails=tuple(row["guardrails"]),
        description=row["description"],
        stopped_arms=dict(row["stopped"] or {}),
    )


def _outcome(row: dict[str, Any]) -> ConversationOutcome:
    resolved = row["resolved_at"] is not None
    return ConversationOutcome(
        arm=row["arm"],
        unit_id=row["unit_id"],
        csat=float(row["csat"]) if row["csat"] is not None else None,
        thumbs_up=float(row["thumbs_up"]) if row["thumbs_up"] is not None else None,
        handed_off=bool(row["handed_off"]),
        resolved=resolved,
        time_to_resolution_s=(row["resolved_at"] - row["exposed_at"]).total_seconds()
        if resolved
        else None,
        recommendations_shown=int(row["shown"]),
        recommendations_clicked=int(row["clicked"]),
    )


def delete_unexposed_assignments(cur: Any) -> int:
    """Assignments none of whose conversations is left (expired, erased, removed): the unit
    has nothing to be measured by, and its id is kept no longer than its conversations."""
    cur.execute(
        """DELETE FROM experiment_assignments a
           WHERE NOT EXISTS (SELECT 1 FROM experiment_exposures x
                             WHERE x.experiment = a.experiment AND x.unit_id = a.unit_id)"""
    )
    return int(cur.rowcount)
