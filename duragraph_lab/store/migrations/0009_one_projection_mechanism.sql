-- One projection mechanism. The functions that fill the read models are no longer written by
-- migrations: they are defined once, in duragraph_lab/store/projections/*.sql, and installed by
-- the migration runner (in the transaction of the last pending migration, this one when it is
-- applied, then again whenever they change). The events trigger events_project (0002) stays: it
-- calls duragraph.project_inserted(), whose new body hands each event to the projection of its
-- stream's kind.
--
-- What 0003, 0004 and 0007 added beside it goes: a second and a third trigger, fired in the
-- order of their names, and the functions they and the old dispatch called. duragraph.project,
-- project_inserted, rebuild_projections and ts are redefined by the definitions, not dropped.

DROP TRIGGER IF EXISTS events_project_evals ON duragraph.events;
DROP TRIGGER IF EXISTS events_project_experiment_runner ON duragraph.events;
DROP FUNCTION IF EXISTS duragraph.project_evals_inserted();
DROP FUNCTION IF EXISTS duragraph.project_experiment_runner_inserted();
DROP FUNCTION IF EXISTS duragraph.project_lifecycle(duragraph.events);
DROP FUNCTION IF EXISTS duragraph.project_evals(duragraph.events);
DROP FUNCTION IF EXISTS duragraph.project_experiment_runner(duragraph.events);
