"""Queued reviews on RQ: batches of section jobs, workers that run them, one shared quota.

``prism review --queue URL`` prepares each document's session in the shared store (as a
local run does: stored results and the results cache are reused), then enqueues one RQ job
per section still to review and records the batch in the queue's Redis. A ``prism worker``
runs the jobs: each rebuilds its section from the session alone (document, settings) through
the review service, reviews it through the model engine with the quota shared in the queue's
Redis, and records the result the moment it is done. The job that settles a document's last
section (stored, or failed for good) finishes its session (rules, report, status); whoever
waits collects the reports.

Failures: a job that raises is retried with backoff (RQ ``Retry``); a worker killed mid-job
stops renewing its job's heartbeat, so the job is found abandoned within seconds and retried
by any other worker; a section already stored is never reviewed again (the job checks first).

Modules: ``model`` (the batch record and the one place that knows its Redis keys, progress,
cancel, collecting reports), ``submit`` (enqueueing a prepared run), ``worker`` (the job and
the worker processes).
"""
