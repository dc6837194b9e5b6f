"""Where jobs enqueued by an earlier prism find their function (RQ stores its import path).
The queue itself lives in :mod:`prism_cli.batch`."""

from prism_cli.batch.worker import section_job as section_job
