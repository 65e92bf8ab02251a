"""Replaying a history through the loop: the driver that ticks Dagster's sensors and runs their
requests in process, the playback of batches and labels, the journal and recovery that let a
stopped replay resume, and the timeline a replay reports."""
