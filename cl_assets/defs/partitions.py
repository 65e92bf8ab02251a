"""Every landed batch is a dynamic partition, named after its file (without extension)."""

import dagster as dg

batches = dg.DynamicPartitionsDefinition(name="batches")


def run_batch(context) -> str:
    """The batch a check or asset is evaluating, from its run's partition tag."""
    batch_id = context.run.tags.get("dagster/partition")
    if batch_id is None:
        raise dg.Failure("this step checks one batch: launch it for a partition of 'batches'")
    return batch_id
