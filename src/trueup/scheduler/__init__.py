"""The server's background work: periodic syncs, refresh jobs, cluster watches.

``trueup serve`` runs one of two job queues behind the same :class:`~trueup.scheduler.jobs.JobQueue`
protocol: :mod:`~trueup.scheduler.local` (SQLite: one process does everything,
its jobs in the ``jobs`` table) or :mod:`~trueup.scheduler.shared` (PostgreSQL:
procrastinate, shared by every replica). Either way a job runs through
:class:`~trueup.scheduler.runner.JobRunner`, which drives the engine only through
:func:`trueup.pipeline.sync`; :mod:`~trueup.scheduler.ticker` decides what is due and
:mod:`~trueup.scheduler.watches` keeps Kubernetes clusters under long-lived watches.
"""
