"""The Serial Number Details portlet: one serial as it stands now."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content

from scanstation.domain.model import SerialView
from scanstation.tui.widgets.portlet import (
    FieldGrid,
    Portlet,
    data_text,
    local_time,
    stage_text,
)

if TYPE_CHECKING:
    from scanstation.tui.messages import DetailsLoaded

__all__ = ["SerialDetail"]

# (key, label), in the order a worker reads them: which unit, where it is, what it is.
FIELDS: tuple[tuple[str, str], ...] = (
    ("serial_no", "Serial No"),
    ("stage", "Stage"),
    ("sku", "SKU"),
    ("item_name", "Item Name"),
    ("generation_no", "Generation No"),
    ("secondary_qr", "Secondary QR Code"),
    ("created_at", "Created Date"),
    ("created_by", "Created By"),
    ("site", "Site"),
    ("document", "Document"),
)


class SerialDetail(Portlet):
    """Serial No, stage (colour-coded), SKU, item name, generation, secondary QR code, when and
    by whom it was created, and where it is (site, last document)."""

    PORTLET_ID: ClassVar[str] = "serial_detail"
    TITLE: ClassVar[str] = "Serial Number Details"

    DEFAULT_CSS = """
    SerialDetail #value-serial_no {
        text-style: bold;
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.serial: SerialView | None = None
        self._fields = FieldGrid(FIELDS)
        self.set_shown(False)

    def compose(self) -> ComposeResult:
        yield self.placeholder("Scan a serial to see its details")
        with Vertical(classes="portlet--body"):
            yield self._fields

    def show_details(self, details: DetailsLoaded) -> None:
        self.show(details.serial)

    def names_changed(self) -> None:
        serial, self.serial = self.serial, None
        if serial is not None:
            self.show(serial)

    def show(self, serial: SerialView | None) -> None:
        """Show `serial`, or the placeholder for None."""
        if serial == self.serial and serial is not None:
            return
        self.serial = serial
        self.set_shown(serial is not None)
        if serial is None:
            self.border_subtitle = None
            return
        self.border_subtitle = data_text(serial.serial_no)
        fields = self._fields
        fields.set("serial_no", data_text(serial.serial_no))
        fields.set("stage", stage_text(serial.stage, dot=True))
        fields.set("sku", data_text(serial.sku))
        fields.set("item_name", data_text(serial.item_name))
        fields.set("generation_no", data_text(serial.generation_no))
        fields.set("secondary_qr", data_text(serial.secondary_qr))
        fields.set("created_at", Content(local_time(serial.created_at)))
        fields.set("created_by", data_text(serial.created_by))
        fields.set("site", self.site_text(serial.site))
        fields.set("document", data_text(serial.document))

    def field(self, key: str) -> Content:
        """What a field shows now (for tests and the app's own checks)."""
        return self._fields.value(key)
