"""/datasets, /experiments and /evaluators routes (evals), and /runs/{run_id}/outcome and
/runs/compare: the requests of :mod:`duragraph_lab.control.datasets` and
:mod:`duragraph_lab.control.experiments`."""

from __future__ import annotations

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import DuraGraphHandler
from duragraph_lab.control.datasets import HandExample, NewDataset, NewVersion, RunSelection
from duragraph_lab.control.experiments import NewExperiment
from duragraph_lab.evals.catalogue import catalogue
from duragraph_lab.evals.loop import ExampleResult


def _selection(body: models.DatasetSelection) -> RunSelection:
    status = body.status
    return RunSelection(
        statuses=None if status is None else [status] if isinstance(status, str) else list(status),
        assistant_id=str(body.assistant_id) if body.assistant_id is not None else None,
        graph_id=body.graph_id,
        thread_id=str(body.thread_id) if body.thread_id is not None else None,
        run_ids=[str(i) for i in body.ids] if body.ids is not None else None,
        metadata=body.metadata,
        created_after=body.created_after,
        created_before=body.created_before,
        thread_ids=[str(t) for t in body.thread_ids] if body.thread_ids is not None else None,
        limit=body.limit,
        require_input=body.require_input,
        as_requested=body.model_dump(mode="json", exclude_none=True),
    )


def _version(body: models.DatasetVersionCreate) -> NewVersion:
    return NewVersion(
        selection=_selection(body.selection) if body.selection is not None else None,
        examples=[HandExample(e.inputs, e.outputs, e.metadata) for e in body.examples or []],
        description=body.description,
    )


class DatasetsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        query = self.validate(
            models.DatasetQuery,
            {
                "limit": self.query_int("limit", 20, low=1, high=1000),
                "offset": self.query_int("offset", 0, high=2**31),
                "name": self.get_query_argument("name", None),
            },
        )
        found = self.backend.datasets.search(name=query.name, limit=query.limit, offset=query.offset)
        self.write_json(await self.call(found))

    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.DatasetCreate)
        new = NewDataset(body.name, _version(body), metadata=body.metadata, if_exists=body.if_exists)
        self.write_json(await self.call(self.backend.datasets.create(new)))


class DatasetHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, dataset: str) -> None:
        self.write_json(await self.call(self.backend.datasets.get(dataset)))

    @web.authenticated
    async def delete(self, dataset: str) -> None:
        await self.call(self.backend.datasets.delete(dataset))
        self.no_content()


class DatasetVersionsHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, dataset: str) -> None:
        body = self.parse(models.DatasetVersionCreate, required=False)
        self.write_json(await self.call(self.backend.datasets.add_version(dataset, _version(body))))


class DatasetExamplesHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, dataset: str) -> None:
        raw = self.get_query_argument("version", None)
        version = None if raw in (None, "") else self.query_int("version", 1, low=1, high=2**31 - 1)
        self.write_json(await self.call(self.backend.datasets.examples(dataset, version)))


class DatasetEventsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, dataset: str) -> None:
        self.write_json(await self.call(self.backend.datasets.events_of(dataset)))


class ExperimentsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        query = self.validate(
            models.ExperimentQuery,
            {
                "dataset": self.get_query_argument("dataset", None) or None,
                "limit": self.query_int("limit", 20, low=1, high=1000),
                "offset": self.query_int("offset", 0, high=2**31),
            },
        )
        found = self.backend.experiments.search(dataset=query.dataset, limit=query.limit, offset=query.offset)
        self.write_json(await self.call(found))

    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.ExperimentCreate)
        new = NewExperiment(
            body.dataset,
            body.assistant_id,
            dataset_version=body.dataset_version,
            assistant_version=body.assistant_version,
            name=body.name,
            evaluators=[e.model_dump(mode="json", exclude_none=True) for e in body.evaluators],
            concurrency=body.concurrency,
            metadata=body.metadata,
        )
        self.write_json(await self.call(self.backend.experiments.create(new)))


class ExperimentHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, experiment_id: str) -> None:
        self.write_json(await self.call(self.backend.experiments.get(experiment_id)))


class ExperimentResultsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, experiment_id: str) -> None:
        self.write_json(await self.call(self.backend.experiments.results(experiment_id)))

    @web.authenticated
    async def post(self, experiment_id: str) -> None:
        body = self.parse(models.ResultCreate)
        result = ExampleResult(
            body.example_id,
            run_id=str(body.run_id) if body.run_id is not None else None,
            scores=[s.model_dump(mode="json") for s in body.scores],
            status=body.status,
            error=body.error,
        )
        self.write_json(await self.call(self.backend.experiments.record(experiment_id, result)))


class ExperimentNotebookHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, experiment_id: str) -> None:
        baseline = self.get_query_argument("baseline", None) or None
        name, body = await self.call(self.backend.experiments.notebook(experiment_id, baseline))
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("Cache-Control", "no-store")
        self.finish(body, set_content_type="application/x-ipynb+json")


class ExperimentCompleteHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, experiment_id: str) -> None:
        self.write_json(await self.call(self.backend.experiments.complete(experiment_id)))


class ExperimentRunHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self, experiment_id: str) -> None:
        self.write_json(await self.call(self.backend.server_experiments.run(experiment_id)), status=202)


class ExperimentCompareHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.CompareBody)
        compared = self.backend.experiments.compare(str(body.base), str(body.candidate))
        self.write_json(await self.call(compared))


class RunCompareHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.CompareBody)
        compared = self.backend.experiments.compare_runs(str(body.base), str(body.candidate))
        self.write_json(await self.call(compared))


class RunOutcomeHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        self.write_json(await self.call(self.backend.experiments.outcomes.get(run_id)))


class EvaluatorsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        self.write_json(catalogue())
