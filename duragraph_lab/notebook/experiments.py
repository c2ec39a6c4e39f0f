"""Experiments from a notebook: re-run a dataset version against an assistant, score every
example, record it — :func:`duragraph_lab.evals.loop.run_examples` over the HTTP client.

The runs are ordinary durable runs on the server, one thread per example, tagged with
``metadata = {"experiment_id", "example_id"}``. The scoring happens here, in the caller's
process, because evaluators are the user's Python functions; each example's result (its run and
its scores) is recorded on the experiment's event stream as soon as it is known. So an
experiment survives its notebook: ``run_experiment(..., resume=experiment_id)`` skips the
examples already recorded, joins the runs already started (they went on without us) and starts
only what is missing.

One failing example never sinks an experiment: a run that fails, or could not even be started,
is recorded with verdict ``error``; an evaluator that raises is a Score with an ``error``.

Public as ``duragraph_lab.evals.run_experiment`` (and ``compare``, ``ExperimentReport``,
``ComparisonReport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from duragraph_lab.client import DuraGraphAPIError, DuraGraphClient
from duragraph_lab.client import models as m
from duragraph_lab.client.errors import DuraGraphClientError
from duragraph_lab.client.frames import DataFrame, results_to_frame
from duragraph_lab.evals.evaluators import Evaluator, EvaluatorError
from duragraph_lab.evals.loop import AssistantGone, ExampleResult, Target, run_examples
from duragraph_lab.evals.specs import evaluator_from_spec, evaluator_spec
from duragraph_lab.extras import require

T = TypeVar("T")

#: Called after each example: (examples done, examples in all, the result just recorded).
Progress = Callable[[int, int, m.ExperimentResult], None]


@dataclass(repr=False)
class ExperimentReport:
    """An experiment's summary and results, as recorded on the server."""

    client: DuraGraphClient = field(repr=False)
    experiment: m.Experiment
    results: list[m.ExperimentResult]
    #: Examples whose result could not be recorded at all (the server refused it), with why.
    unrecorded: dict[str, str] = field(default_factory=dict)

    @property
    def experiment_id(self) -> str:
        return self.experiment.experiment_id

    def frame(self) -> DataFrame:
        """One row per example: verdict, run, latency, steps, ``score:<name>``, ``passed:<name>``."""
        return results_to_frame(self.results)

    def summary(self) -> DataFrame:
        """One row per evaluator (mean score, passed, failed, errors) and one for the verdicts."""
        pd = require("pandas", "notebook", "experiment summaries")

        rows = []
        names = sorted({str(s.get("name")) for r in self.results for s in r.scores})
        for name in names:
            scores = [s for r in self.results for s in r.scores if s.get("name") == name]
            numbers = [float(s["score"]) for s in scores if isinstance(s.get("score"), (int, float))]
            rows.append(
                {
                    "evaluator": name,
                    "mean": sum(numbers) / len(numbers) if numbers else None,
                    "passed": sum(1 for s in scores if s.get("passed") is True),
                    "failed": sum(1 for s in scores if s.get("passed") is False),
                    "errors": sum(1 for s in scores if s.get("error")),
                    "examples": len(scores),
                }
            )
        verdicts = [r.verdict for r in self.results]
        rows.append(
            {
                "evaluator": "(all: verdict)",
                "mean": verdicts.count("passed") / len(verdicts) if verdicts else None,
                "passed": verdicts.count("passed"),
                "failed": verdicts.count("failed"),
                "errors": verdicts.count("error"),
                "examples": len(verdicts),
            }
        )
        return pd.DataFrame(rows)

    def compare(self, other: str | ExperimentReport) -> m.Comparison:
        """This experiment (the candidate) against ``other`` (the base)."""
        base = other.experiment_id if isinstance(other, ExperimentReport) else other
        return self.client.experiments.compare(base, self.experiment_id)

    def __repr__(self) -> str:
        e = self.experiment
        return (
            f"<ExperimentReport {e.name!r} {e.status}: {e.result_count}/{e.example_count} examples, "
            f"{e.passed} passed, {e.failed} failed, {e.errors} errors; {e.experiment_id}>"
        )

    def _repr_html_(self) -> str:
        e = self.experiment
        means = (
            ", ".join(f"{html.escape(k)} {v:.3g}" for k, v in sorted(e.mean_scores.items())) or "no scores"
        )
        return (
            f"<div class='dg-experiment'><b>{html.escape(e.name)}</b> — {e.status}: "
            f"{e.result_count}/{e.example_count} examples, {e.passed} passed, {e.failed} failed, "
            f"{e.errors} errors; mean {means}. <code>{e.experiment_id}</code></div>"
        )


def _evaluators(evaluators: Sequence[Evaluator | Mapping[str, Any]]) -> list[Evaluator]:
    out: list[Evaluator] = []
    for item in evaluators:
        if isinstance(item, Mapping):
            out.append(evaluator_from_spec(item))
        elif callable(item):
            out.append(item)
        else:
            raise EvaluatorError(f"an evaluator is a callable or a spec dict, not {type(item).__name__}")
    return out


def _default_progress() -> Progress:
    """A live line in a notebook (one display, updated), a carriage-return line elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        in_kernel = get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except Exception:  # no IPython: plain text
        in_kernel = False
    counts = {"passed": 0, "failed": 0, "error": 0}
    handle: Any = None

    def report(done: int, total: int, result: m.ExperimentResult) -> None:
        nonlocal handle
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
        text = (
            f"experiment: {done}/{total} examples · {counts['passed']} passed · "
            f"{counts['failed']} failed · {counts['error']} errors"
        )
        if in_kernel:
            width = int(100 * done / max(total, 1))
            body = HTML(  # type: ignore[no-untyped-call]
                f"<div class='dg-progress'><progress value='{done}' max='{total}' style='width:16em'>"
                f"{width}%</progress> {html.escape(text)}</div>"
            )
            if handle is None:
                handle = display(body, display_id=True)  # type: ignore[no-untyped-call]
            else:
                handle.update(body)
        else:
            print(f"\r{text}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    return report


def run_experiment(
    client: DuraGraphClient,
    dataset: str,
    assistant: str,
    evaluators: Sequence[Evaluator | Mapping[str, Any]] = (),
    *,
    name: str | None = None,
    dataset_version: int | None = None,
    assistant_version: int | None = None,
    concurrency: int = 4,
    progress: bool | Progress = True,
    resume: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    on_server: bool = False,
    timeout: float | None = None,
) -> ExperimentReport:
    """Run every example of ``dataset`` (id or name; ``dataset_version``, default the latest)
    through ``assistant`` (id or graph id; ``assistant_version``, default the latest), at most
    ``concurrency`` runs at once, score each with ``evaluators`` (callables or spec dicts) and
    record it. ``progress``: True for a live line, False for none, or a callable
    ``(done, total, result)``. ``resume``: an experiment id to finish instead of starting one.

    ``on_server=True`` hands the experiment to the server (``POST /experiments/{id}/run``): it
    goes on if this kernel dies, and the server resumes it after a restart; built-in evaluators
    only. This call then follows it until it completes (or ``timeout`` seconds)."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if on_server:
        specs = [evaluator_spec(e) for e in evaluators]
        if any(not spec.get("builtin") for spec in specs):
            names = [str(spec["name"]) for spec in specs if not spec.get("builtin")]
            raise EvaluatorError(
                f"the server runs built-in evaluators only; {', '.join(names)} run here: on_server=False"
            )
    scorers = [] if on_server else _evaluators(evaluators)
    if resume is not None:
        experiment = client.experiments.get(resume)
    else:
        experiment = client.experiments.create(
            dataset,
            assistant,
            dataset_version=dataset_version,
            assistant_version=assistant_version,
            name=name,
            evaluators=[evaluator_spec(e) for e in evaluators],
            concurrency=concurrency,
            metadata=metadata,
        )
    eid = experiment.experiment_id
    report: Progress | None = _default_progress() if progress is True else (progress or None)
    if on_server:
        return _follow_on_server(client, client.experiments.run(eid), report, timeout)
    try:
        loop = _in_thread(
            run_examples(
                HttpExperiment(client, experiment),
                experiment.raw,
                scorers,
                concurrency=concurrency,
                resuming=resume is not None,
                if_assistant_gone="raise",
                on_recorded=report,
            ),
            workers=concurrency,
        )
    except AssistantGone as err:
        raise DuraGraphClientError(str(err)) from None
    experiment = client.experiments.get(eid)
    return ExperimentReport(client, experiment, client.experiments.results(eid), loop.unrecorded)


def _follow_on_server(
    client: DuraGraphClient, experiment: m.Experiment, report: Progress | None, timeout: float | None
) -> ExperimentReport:
    """Poll a server-run experiment, reporting each result as it is recorded."""
    eid = experiment.experiment_id
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: set[str] = set()
    while True:
        experiment = client.experiments.get(eid)
        if experiment.result_count == len(seen) and experiment.status != "completed":
            results = []  # nothing new: the results are read only when there are some
        else:
            results = client.experiments.results(eid)
        for result in results:
            if result.example_id not in seen:
                seen.add(result.example_id)
                if report is not None:
                    report(len(seen), experiment.example_count, result)
        if experiment.status == "completed":
            return ExperimentReport(client, experiment, results)
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(
                f"experiment {eid} is still running on the server after {timeout}s "
                f"({len(seen)}/{experiment.example_count}); it goes on there"
            )
        time.sleep(0.25)


class HttpExperiment:
    """The experiment loop's port over the HTTP client: each call a request, made in a thread
    (the client blocks), so that ``concurrency`` examples wait on the server at once."""

    def __init__(self, client: DuraGraphClient, experiment: m.Experiment) -> None:
        self.client = client
        self.experiment = experiment
        self.experiment_id = experiment.experiment_id

    async def examples(self) -> list[Mapping[str, Any]]:
        examples = await asyncio.to_thread(
            self.client.datasets.examples, self.experiment.dataset_id, version=self.experiment.dataset_version
        )
        return [e.raw for e in examples]

    async def recorded(self) -> set[str]:
        return {
            r.example_id for r in await asyncio.to_thread(self.client.experiments.results, self.experiment_id)
        }

    async def started_runs(self) -> dict[str, str]:
        return await asyncio.to_thread(self._started_runs)

    def _started_runs(self) -> dict[str, str]:
        found: dict[str, str] = {}
        offset = 0
        while True:
            page = self.client.runs.search(
                metadata={"experiment_id": self.experiment_id}, limit=1000, offset=offset
            )
            for run in page:  # newest first
                found.setdefault(str(run.metadata.get("example_id")), run.run_id)
            if len(page) < 1000:
                return found
            offset += 1000

    async def assistant(self, assistant_id: str) -> Mapping[str, Any] | None:
        try:
            current = await asyncio.to_thread(self.client.assistants.get, assistant_id)
        except DuraGraphAPIError as err:
            if err.status == 404:
                return None
            raise
        return current.raw

    async def start_run(self, target: Target, example: Mapping[str, Any], tags: Mapping[str, Any]) -> str:
        return await asyncio.to_thread(self._start_run, target, example, tags)

    def _start_run(self, target: Target, example: Mapping[str, Any], tags: Mapping[str, Any]) -> str:
        # A thread of its own (kept: the run's log must outlive it for comparisons).
        thread = self.client.threads.create(metadata=dict(tags))
        options: dict[str, Any] = {"input": example.get("inputs"), "metadata": dict(tags)}
        if target.config is not None:
            options["config"] = target.config
        return self.client.runs.create(thread.thread_id, target.assistant, **options).run_id

    async def outcome(self, run_id: str) -> Mapping[str, Any]:
        return await asyncio.to_thread(self._outcome, run_id)

    def _outcome(self, run_id: str) -> Mapping[str, Any]:
        self.client.runs.join(run_id)
        return self.client.runs.outcome(run_id).raw

    async def record(self, result: ExampleResult) -> m.ExperimentResult:
        return await asyncio.to_thread(
            self.client.experiments.record,
            self.experiment_id,
            result.example_id,
            run_id=result.run_id,
            scores=result.scores,
            status=result.status,
            error=result.error,
        )

    async def complete(self) -> None:
        await asyncio.to_thread(self.client.experiments.complete, self.experiment_id)


def _in_thread(work: Coroutine[Any, Any, T], *, workers: int) -> T:
    """Run ``work`` to its end on an event loop of its own, in a thread of its own: the caller
    may be a notebook whose own loop is running. Its blocking calls share ``workers`` threads.
    Interrupted (Ctrl-C, a kernel interrupt), it stops starting examples; the runs it started
    go on on the server (``resume=`` picks them up)."""
    outcome: dict[str, Any] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dg-eval"))
    task = loop.create_task(work)

    def drive() -> None:
        try:
            outcome["value"] = loop.run_until_complete(task)
        except BaseException as err:
            outcome["error"] = err
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            ready.set()

    runner = threading.Thread(target=drive, name="dg-eval-loop", daemon=True)
    runner.start()
    try:
        ready.wait()
    except BaseException:
        with contextlib.suppress(RuntimeError):  # the loop may have closed meanwhile
            loop.call_soon_threadsafe(task.cancel)
        raise
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


@dataclass(repr=False)
class ComparisonReport:
    """Two experiments of one dataset, example by example (see ``POST /experiments/compare``)."""

    comparison: m.Comparison

    @property
    def regressed(self) -> list[dict[str, Any]]:
        return self.comparison.regressed

    @property
    def improved(self) -> list[dict[str, Any]]:
        return self.comparison.improved

    @property
    def summary(self) -> dict[str, Any]:
        return self.comparison.summary

    def frame(self) -> DataFrame:
        """One row per example: verdict, statuses, ``delta:<evaluator>``, the first diverging node
        (``step``, base node, candidate node, why) and how many state paths differ."""
        pd = require("pandas", "notebook", "experiment results as a DataFrame")

        rows = []
        for example in self.comparison.examples:
            run = example.get("run") or {}
            divergence = run.get("first_divergence") or {}
            row: dict[str, Any] = {
                "index": example.get("index"),
                "example_id": example.get("example_id"),
                "verdict": example.get("verdict"),
                "base_status": example.get("base_status"),
                "candidate_status": example.get("candidate_status"),
                "diverged_at_step": divergence.get("step"),
                "base_node": (divergence.get("base") or {}).get("node"),
                "candidate_node": (divergence.get("candidate") or {}).get("node"),
                "divergence": divergence.get("reason"),
                "state_changes": len(run.get("state_diff") or []),
                "latency_delta_ms": (run.get("latency_ms") or {}).get("delta"),
                "steps_delta": (run.get("steps") or {}).get("delta"),
            }
            for name, delta in sorted((example.get("scores") or {}).items()):
                row[f"delta:{name}"] = delta.get("delta")
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<ComparisonReport {self.comparison.base.name!r} -> {self.comparison.candidate.name!r}: "
            f"{s.get('regressed', 0)} regressed, {s.get('improved', 0)} improved, "
            f"{s.get('unchanged', 0)} unchanged, {s.get('errors', 0)} errors>"
        )

    def _repr_html_(self) -> str:
        s = self.summary
        head = (
            f"<p><b>{html.escape(self.comparison.base.name)}</b> → "
            f"<b>{html.escape(self.comparison.candidate.name)}</b>: {s.get('regressed', 0)} regressed, "
            f"{s.get('improved', 0)} improved, {s.get('unchanged', 0)} unchanged, {s.get('errors', 0)} errors</p>"
        )
        return head + str(self.frame().to_html(index=False))


def compare(
    client: DuraGraphClient, base: str | ExperimentReport, candidate: str | ExperimentReport
) -> ComparisonReport:
    """Compare two experiments of one dataset: which examples regressed or improved, and why
    (score deltas, the first diverging node, the state diff)."""
    a = base.experiment_id if isinstance(base, ExperimentReport) else base
    b = candidate.experiment_id if isinstance(candidate, ExperimentReport) else candidate
    return ComparisonReport(client.experiments.compare(a, b))
