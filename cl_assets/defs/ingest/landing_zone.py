"""The landing zone resource: the folder new batch and label files land in, and its limits."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from cl_assets.lib import landing
from cl_assets.lib.contracts import BadFile

LANDING_FORMATS = (".csv", ".parquet")


class Landing(dg.ConfigurableResource):
    """The folder new files land in: `batches/<batch_id>.csv|parquet` and `labels/<batch_id>.*`."""

    path: str = Field(description="Landing folder watched by the landing sensor.")
    max_file_mb: float = Field(default=256, description="Files larger than this are quarantined unread.")
    future_tolerance_hours: float = Field(
        default=24, description="Event times may lie this far after the file's arrival; later ones are in the future."
    )
    out_of_order_days: float = Field(
        default=30, description="Event times may lie this far before the newest accepted event time."
    )

    def folder(self, kind: str) -> Path:
        return Path(self.path) / kind

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def file_for(self, kind: str, batch_id: str) -> Path:
        """The landed file of a batch; a batch id that would leave the folder is refused."""
        if not landing.BATCH_ID.match(batch_id):
            raise BadFile(
                "path_in_landing_folder",
                f"batch id '{batch_id}' is not a plain file name (letters, digits, '_', '-', '.'): "
                "it could point outside the landing folder",
            )
        for ext in LANDING_FORMATS:
            candidate = self.folder(kind) / f"{batch_id}{ext}"
            if candidate.exists() or candidate.is_symlink():
                return candidate
        raise BadFile("file_present", f"no {kind} file for batch '{batch_id}' in {self.folder(kind)}")
