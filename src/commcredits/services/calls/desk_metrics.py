"""The call desk's figures for operators, on `/metrics` (Prometheus text format).

Each batch the desk commits is observed once: how many requests it decided in one
transaction, and how long the writer took to decide, write and commit it. Each sync is
observed once: how long it took to make the batches committed so far durable (one fsync of
SQLite's log, or one WAL flush on PostgreSQL), whichever thread ran it. They tell an
operator where the real-time path stands (docs/operations.md, "Metrics"):

- `rate(commcredits_call_desk_batch_seconds_sum[1m])` is the share of time the writer spends
  on batches, plus `rate(commcredits_call_desk_sync_seconds_sum[1m])` when the writer syncs
  its own batches (the default while syncs are fast). Near 1, the writer is busy all the
  time: requests wait for it, batches grow, and the desk is what holds the answers back.
- `commcredits_call_desk_batch_requests_sum / ..._count` is the mean batch: about 1 when the
  switch is quiet (each request pays its own commit and sync), larger under load (many
  requests share them).

With the desk in a process of its own (`serve`), that process sends its figures with each
durable group's answers and the server process observes them here, where `/metrics` is
served; with the desk a thread, it observes them itself.
"""

from __future__ import annotations

from prometheus_client import Histogram

BATCH_REQUESTS = Histogram(
    "commcredits_call_desk_batch_requests", "Call-control requests the call desk decided in one transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128))
BATCH_SECONDS = Histogram(
    "commcredits_call_desk_batch_seconds", "Time the call desk's writer took to decide, write and commit one batch",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0))
SYNC_SECONDS = Histogram(
    "commcredits_call_desk_sync_seconds", "Time to make the call desk's committed batches durable (one sync for all)",
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1.0))

# what one durable group reports: (requests, seconds) per batch, and its sync's seconds
# (None when nothing was synced: every request of the group was refused)
Figures = tuple[list[tuple[int, float]], float | None]


def observe(figures: Figures) -> None:
    batches, sync_s = figures
    for requests, seconds in batches:
        BATCH_REQUESTS.observe(requests)
        BATCH_SECONDS.observe(seconds)
    if sync_s is not None:
        SYNC_SECONDS.observe(sync_s)
