"""Commands for product and help-article recommendations."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from personalization.cli.common import CommandError, as_of
from personalization.embeddings import EncoderUnavailable, shared_encoder
from personalization.recommender import report
from personalization.recommender.articles import ArticleRecommender
from personalization.recommender.cache import RecommendationCache
from personalization.recommender.data import load_split
from personalization.recommender.evaluation import (
    HybridLightFm,
    default_models,
    evaluate_models,
)
from personalization.recommender.model import Params
from personalization.recommender.registry import ModelRegistry
from personalization.recommender.service import RecommendationService
from personalization.recommender.training import fit_on_every_order, rollback, train
from personalization.store import Database


def _cmd_evaluate(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    data = load_split(db, args.split_at)
    if not data.truth:
        raise CommandError(f"no purchases after {args.split_at.date()} to evaluate against")
    models = default_models()
    rows = evaluate_models(data, models)
    ours = next(m for m in models if isinstance(m, HybridLightFm))
    summary = None
    if args.readme is not None:  # the README's figures include the training time
        started = time.monotonic()
        fit_on_every_order(db)
        summary = report.targets(rows, time.monotonic() - started)
        if summary is None:
            raise CommandError("this split has no warm or no cold customers to report on")
        try:
            report.write_into(
                args.readme, report.markdown(rows, summary, args.split_at.date().isoformat())
            )
        except (OSError, report.ReportError) as exc:
            raise CommandError(f"cannot write the table: {exc}") from exc
    blend = {
        "similarity_weight": ours.chosen.similarity_weight,
        "trend_half_life_days": ours.chosen.trend_half_life_days,
        "trend_weight": ours.chosen.trend_weight,
        "cold_trend_weight": ours.chosen.cold_trend_weight,
    }
    if not args.json:
        print(
            f"split at {args.split_at.date()}: {len(data.warm_users())} warm and "
            f"{len(data.cold_users())} cold customers with new purchases; "
            f"{len(data.items)} candidate products"
        )
        print(
            f"{'model':<44}{'customers':<10}{'P@10':>7}{'R@10':>7}{'NDCG@10':>9}"
            f"{'AUC':>7}{'coverage':>10}{'fit s':>7}"
        )
        for r in rows:
            print(
                f"{r['model']:<44}{r['customers']:<10}{r['precision@10']:>7.4f}"
                f"{r['recall@10']:>7.4f}{r['ndcg@10']:>9.4f}{r['auc']:>7.3f}"
                f"{r['coverage']:>10.3f}{r['fit_seconds']:>7.1f}"
            )
        print(
            f"ours: item-to-item weight {blend['similarity_weight']:g}; trend half-life "
            f"{blend['trend_half_life_days']:g} days at weight {blend['trend_weight']:g} "
            f"(cold customers at {blend['cold_trend_weight']:g}), chosen on the month before "
            "the split"
        )
        if summary is not None:
            print(
                f"training on every order: {summary['training_seconds']:.1f} s; warm customers "
                f"{summary['warm_vs_recency_als']:.2f}x the recency-weighted ALS; cold "
                f"customers {summary['cold_ours']:.4f} against {summary['cold_trend']:.4f} for "
                f"the trend; table written into {args.readme}"
            )
        return {}
    return {
        "split_at": args.split_at.isoformat(),
        "results": rows,
        "ours": blend,
        "targets": summary,
    }


def _recommender_parts() -> tuple[ModelRegistry, RecommendationCache | None]:
    return ModelRegistry.from_env(), RecommendationCache.from_env()


def _cmd_train(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    registry, cache = _recommender_parts()
    params = Params(epochs=args.epochs, components=args.components, threads=args.threads)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="epoch", leave=True)
        bar.update(done - bar.n)

    show = not args.no_progress and sys.stderr.isatty()
    try:
        report = train(
            db, registry, cache, params, tune=not args.no_tune, progress=progress if show else None
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        for bar in bars.values():
            bar.close()
    return report.as_dict()


def _cmd_recommend(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    registry, cache = _recommender_parts()
    service = RecommendationService(db, registry, None if args.no_cache else cache)
    started = time.perf_counter()
    result = service.recommend(args.customer, n=args.n)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if args.json:
        return {**result.as_dict(), "milliseconds": round(elapsed_ms, 2)}
    origin = "cache" if result.cached else "computed"
    print(
        f"{result.customer_id}: {result.source}, model {result.model_version or 'none'}, "
        f"{origin} in {elapsed_ms:.1f} ms"
    )
    for rank, item in enumerate(result.items, start=1):
        print(
            f"{rank:>3}. {item['stock_code']:<10} {item.get('description') or '':<40} "
            f"{item.get('category') or ''}"
        )
    return {}


def _cmd_rollback(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    registry, cache = _recommender_parts()
    return rollback(registry, cache)


def _cmd_articles(args: argparse.Namespace, db: Database) -> dict[str, Any]:
    encoder = None
    if not args.lexical_only:
        try:
            encoder = shared_encoder()
        except EncoderUnavailable as exc:
            raise CommandError(f"{exc}; use --lexical-only") from exc
    try:
        found = ArticleRecommender(db, encoder).recommend(args.text, args.customer, n=args.n)
    except LookupError as exc:
        raise CommandError(f"{exc}; load them with `personalization demo-data`") from exc
    return {"articles": [s.as_dict() for s in found]}


def register(commands: Any) -> None:
    cmd = commands.add_parser(
        "evaluate",
        help="compare recommenders on a temporal split (ours against the baselines)",
        description="Train popularity, item-kNN, implicit ALS and our hybrid LightFM on "
        "purchases before --split-at and score them on products each customer bought for "
        "the first time afterwards: precision@10, recall@10, NDCG@10, AUC, coverage.",
    )
    cmd.add_argument(
        "--split-at",
        type=as_of,
        default=as_of("2011-11-01"),
        help="train before, test from this date (default 2011-11-01)",
    )
    cmd.add_argument(
        "--readme",
        type=Path,
        help="write the table between the recommender-evaluation markers of this file",
    )
    cmd.set_defaults(handler=_cmd_evaluate)

    cmd = commands.add_parser(
        "train",
        help="train the recommender on every order, version it and switch it in",
        description="Fit the hybrid LightFM model on all orders (trend blend tuned on the "
        "last month), store it as a new version under RECOMMENDER_DIR, make it active and "
        "drop cached recommendations of other versions from Redis (REDIS_URL).",
    )
    cmd.add_argument("--epochs", type=int, default=Params.epochs, help="default %(default)s")
    cmd.add_argument(
        "--components", type=int, default=Params.components, help="default %(default)s"
    )
    cmd.add_argument("--threads", type=int, default=Params.threads, help="default %(default)s")
    cmd.add_argument("--no-tune", action="store_true", help="keep the default trend blend")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bars")
    cmd.set_defaults(handler=_cmd_train)

    cmd = commands.add_parser(
        "recommend",
        help="top products for a customer (cached, personal, or popular as a fallback)",
    )
    cmd.add_argument("customer", help="the pseudonymous customer id")
    cmd.add_argument("-n", type=int, default=10, help="how many (default 10)")
    cmd.add_argument("--no-cache", action="store_true", help="neither read nor fill the cache")
    cmd.set_defaults(handler=_cmd_recommend)

    cmd = commands.add_parser(
        "rollback", help="switch back to the recommender version active before this one"
    )
    cmd.set_defaults(handler=_cmd_rollback)

    cmd = commands.add_parser(
        "articles", help="help articles for a question, steered by what helped similar customers"
    )
    cmd.add_argument("text", help="the customer's question or conversation")
    cmd.add_argument("--customer", help="whose segment's votes to use")
    cmd.add_argument("-n", type=int, default=3, help="how many (default 3)")
    cmd.add_argument("--lexical-only", action="store_true", help="TF-IDF only, no MiniLM")
    cmd.set_defaults(handler=_cmd_articles)
