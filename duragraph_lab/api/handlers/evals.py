"""/datasets, /experiments and /evaluators routes (evals), and /runs/{run_id}/outcome and
/runs/compare."""

from __future__ import annotations

from tornado import web

from duragraph_lab.api import models
from duragraph_lab.api.handlers.base import DuraGraphHandler
from duragraph_lab.evals.catalogue import catalogue


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
        self.write_json(await self.call(self.backend.datasets.search(query)))

    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.DatasetCreate)
        self.write_json(await self.call(self.backend.datasets.create(body)))


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
        self.write_json(await self.call(self.backend.datasets.add_version(dataset, body)))


class DatasetExamplesHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, dataset: str) -> None:
        raw = self.get_query_argument("version", None)
        version = None if raw in (None, "") else self.query_int("version", 1, low=1, high=2**31 - 1)
        self.write_json(await self.call(self.backend.datasets.examples(dataset, version)))


class DatasetEventsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, dataset: str) -> None:
        self.write_json(await self.call(self.backend.datasets.events(dataset)))


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
        self.write_json(await self.call(self.backend.experiments.search(query)))

    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.ExperimentCreate)
        self.write_json(await self.call(self.backend.experiments.create(body)))


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
        self.write_json(await self.call(self.backend.experiments.record(experiment_id, body)))


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
        self.write_json(await self.call(self.backend.experiments.compare(body)))


class RunCompareHandler(DuraGraphHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.parse(models.CompareBody)
        self.write_json(await self.call(self.backend.experiments.compare_runs(body)))


class RunOutcomeHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        self.write_json(await self.call(self.backend.experiments.outcomes.get(run_id)))


class EvaluatorsHandler(DuraGraphHandler):
    @web.authenticated
    async def get(self) -> None:
        self.write_json(catalogue())
