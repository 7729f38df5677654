"""The benchmark suite behind ``make bench``: the speed and memory goals, measured.

Two parts, each run in its own processes so that one cannot colour the other:

* ``bench.queue``: the case queue and identifier search over 100,000 seeded cases
  (300,000 identifiers, 1,000,000 audit events), on SQLite and on PostgreSQL, timed
  in-process through the Flask test client as a signed-in supervisor.
* ``bench.ingest``: a 1 GiB evidence file streamed through ``BlobStore.write`` and
  through the whole ``add_evidence`` service, with the peak memory of each process.

``python -m bench --help`` lists the options. The exit status is non-zero when a goal fails.
"""
