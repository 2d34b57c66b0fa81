"""Peewee models: the schema. Times are ISO 8601 text in UTC (same on SQLite and PostgreSQL, and
they sort as text). Stages are stored by their exact names. Text columns are sized from the one
limit table (`scanstation.domain.limits`), so the service's checks and the columns agree.

There is no process-wide database proxy: `bind_tables(db)` makes the model classes of one
database, so two repositories open in one process (two files, or a journal's service reopened
after an outage while another thread still reads) can never write into each other's database.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee
from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from scanstation.domain import limits

STAGE_LENGTH = 32
KIND_LENGTH = 16
TIME_LENGTH = 40


@dataclass(frozen=True, slots=True)
class Tables:
    """The model classes of one database."""

    meta: type[Model]
    site: type[Model]
    item: type[Model]
    generation_run: type[Model]
    document: type[Model]
    document_line: type[Model]
    serial: type[Model]
    event: type[Model]
    user: type[Model]
    token: type[Model]

    @property
    def all(self) -> tuple[type[Model], ...]:
        return (
            self.meta,
            self.site,
            self.item,
            self.generation_run,
            self.document,
            self.document_line,
            self.serial,
            self.event,
            self.user,
            self.token,
        )


def bind_tables(db: peewee.Database) -> Tables:
    """The schema's model classes, bound to `db` and to nothing else."""

    class BaseModel(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Meta(BaseModel):
        key = CharField(primary_key=True, max_length=64)
        value = TextField()

    class Site(BaseModel):
        id = AutoField()
        code = CharField(unique=True, max_length=limits.SITE_CODE.max_length)
        name = CharField(max_length=limits.SITE_NAME.max_length)
        kind = CharField(max_length=KIND_LENGTH)

    class Item(BaseModel):
        id = AutoField()
        sku = CharField(unique=True, max_length=limits.SKU.max_length)
        name = CharField(max_length=limits.ITEM_NAME.max_length)
        gtin = CharField(unique=True, null=True, max_length=limits.GTIN.max_length)
        model_no = CharField(null=True, max_length=limits.MODEL_NO.max_length)

    class GenerationRun(BaseModel):
        id = AutoField()
        generation_no = CharField(unique=True, max_length=limits.GENERATION_NO.max_length)
        item = ForeignKeyField(Item, backref="generations", on_delete="RESTRICT")
        count = IntegerField()
        site = ForeignKeyField(Site, null=True, on_delete="RESTRICT")
        created_at = CharField(max_length=TIME_LENGTH)
        created_by = CharField(max_length=limits.OPERATOR.max_length)

    class Document(BaseModel):
        id = AutoField()
        reference_no = CharField(unique=True, max_length=limits.REFERENCE_NO.max_length)
        kind = CharField(max_length=KIND_LENGTH)
        dc_no = CharField(null=True, max_length=limits.DC_NO.max_length)
        invoice_no = CharField(null=True, max_length=limits.INVOICE_NO.max_length)
        from_site = ForeignKeyField(Site, on_delete="RESTRICT", column_name="from_site_id")
        to_site = ForeignKeyField(Site, null=True, on_delete="RESTRICT", column_name="to_site_id")
        to_name = CharField(null=True, max_length=limits.DESTINATION_NAME.max_length)
        state = CharField(max_length=KIND_LENGTH, default="open")
        created_at = CharField(max_length=TIME_LENGTH)
        created_by = CharField(max_length=limits.OPERATOR.max_length)
        closed_at = CharField(null=True, max_length=TIME_LENGTH)
        closed_by = CharField(null=True, max_length=limits.OPERATOR.max_length)
        closed_reason = TextField(null=True)
        version = IntegerField(default=1)

    class DocumentLine(BaseModel):
        id = AutoField()
        document = ForeignKeyField(Document, backref="lines", on_delete="RESTRICT")
        item = ForeignKeyField(Item, on_delete="RESTRICT")
        quantity = IntegerField()
        # Kept in the scan's own transaction with a `scanned < quantity` guard, so a line can
        # never be over-filled by two stations at once.
        scanned = IntegerField(default=0)

        class Meta:
            indexes = ((("document", "item"), True),)

    class Serial(BaseModel):
        """Foreign keys here carry no index of their own (Peewee's default): each would be one
        more page written by every scan, and no query looks serials up by them — (item, stage)
        serves the item's counts, and exports read the table through."""

        id = AutoField()
        serial_no = CharField(unique=True, max_length=limits.SERIAL_NO.max_length)
        item = ForeignKeyField(Item, on_delete="RESTRICT", index=False)
        generation = ForeignKeyField(GenerationRun, null=True, on_delete="RESTRICT", index=False)
        secondary_qr = CharField(unique=True, null=True, max_length=limits.SECONDARY_QR.max_length)
        # Schema 7: the signature of a signed secondary QR (`KEYID.SIGNATURE`; domain/qr.py),
        # kept beside its token, which stays the lookup key and shares the serial namespace.
        qr_seal = CharField(null=True, max_length=limits.QR_SEAL.max_length)
        # Schema 7: label prints a printer took whole (store/prints.py).
        # A default in the database too: generation runs and imports insert without it.
        print_count = IntegerField(default=0, constraints=[peewee.SQL("DEFAULT 0")])
        printed_at = CharField(null=True, max_length=TIME_LENGTH)
        # (item, stage, site): the per-item stage counts, and the reports' counts per SKU ×
        # stage × site read from it alone; an export by stage reads the table through.
        # (item, id), schema 9: Find's pages of one SKU in the order they were made; no scan
        # changes either column, so it costs generation runs only.
        stage = CharField(max_length=STAGE_LENGTH)
        site = ForeignKeyField(Site, null=True, on_delete="RESTRICT", index=False)
        document = ForeignKeyField(Document, null=True, on_delete="RESTRICT", index=False)
        created_at = CharField(max_length=TIME_LENGTH)
        created_by = CharField(max_length=limits.OPERATOR.max_length)
        updated_at = CharField(max_length=TIME_LENGTH)
        updated_by = CharField(max_length=limits.OPERATOR.max_length)
        version = IntegerField(default=1)

        class Meta:
            indexes = ((("item", "stage", "site"), False), (("item", "id"), False))

    class Event(BaseModel):
        """Append-only: every change, every refused or unknown scan, every comment, every
        generation run, import and document opened or closed."""

        id = AutoField()
        # A scan's id, or an admin request's id: checked under the transaction, so a retried
        # write (a lost COMMIT) applies once.
        scan_id = CharField(unique=True, null=True, max_length=limits.REQUEST_ID.max_length)
        kind = CharField(max_length=KIND_LENGTH)  # scan | comment | generate | import | document
        serial = ForeignKeyField(Serial, null=True, on_delete="RESTRICT", index=True)
        mode = CharField(null=True, max_length=KIND_LENGTH)
        from_stage = CharField(null=True, max_length=STAGE_LENGTH)
        to_stage = CharField(null=True, max_length=STAGE_LENGTH)
        station = CharField(max_length=limits.STATION_ID.max_length)
        site = CharField(null=True, max_length=limits.SITE_CODE.max_length)
        operator = CharField(max_length=limits.OPERATOR.max_length)
        at = CharField(max_length=TIME_LENGTH)  # when it happened: a scan's own read time
        recorded_at = CharField(null=True, max_length=TIME_LENGTH)  # when it was written
        document = ForeignKeyField(Document, null=True, on_delete="RESTRICT", index=False)
        source = CharField(null=True, max_length=limits.SCAN_SOURCE.max_length)
        payload = TextField(null=True)  # escaped: control characters made visible
        comment = TextField(null=True)
        outcome = CharField(max_length=KIND_LENGTH)
        message = TextField(null=True)
        # Schema 3: what an admin request made, so its retry answers the same.
        generation_id = IntegerField(null=True)
        count = IntegerField(null=True)
        # PostgreSQL: the writing transaction's id (a column default), for the change feed in
        # commit order; unused on SQLite, where writers commit one at a time in id order.
        txid = BigIntegerField(null=True)
        # Schema 5: the supervisor who approved the scan on the spot (the operator is above).
        approved_by = CharField(null=True, max_length=limits.OPERATOR.max_length)

        class Meta:
            indexes = ((("station", "id"), False),)

    class UserAccount(BaseModel):
        """A person who signs in (schema 4). `name_key` is the name case-folded: names are
        typed at a station, so `Asha` and `asha` are one user. Only a PIN's scrypt hash is
        kept; `failed_pins` and `locked_until` live here so a lockout holds on every
        terminal."""

        id = AutoField()
        name = CharField(max_length=limits.USER_NAME.max_length)
        name_key = CharField(unique=True, max_length=3 * limits.USER_NAME.max_length)
        role = CharField(max_length=KIND_LENGTH)
        badge = CharField(unique=True, null=True, max_length=limits.BADGE.max_length)
        disabled = IntegerField(default=0)
        pin_hash = CharField(null=True, max_length=200)
        failed_pins = IntegerField(default=0)
        locked_until = CharField(null=True, max_length=TIME_LENGTH)
        created_at = CharField(max_length=TIME_LENGTH)
        created_by = CharField(max_length=limits.OPERATOR.max_length)

        class Meta:
            table_name = "user_account"

    class UserToken(BaseModel):
        """An API token for scripts (schema 4): only its SHA-256 digest is kept."""

        id = AutoField()
        digest = CharField(unique=True, max_length=64)
        user = ForeignKeyField(UserAccount, on_delete="RESTRICT", index=True)
        created_at = CharField(max_length=TIME_LENGTH)
        created_by = CharField(max_length=limits.OPERATOR.max_length)
        expires_at = CharField(null=True, max_length=TIME_LENGTH)
        revoked_at = CharField(null=True, max_length=TIME_LENGTH)

        class Meta:
            table_name = "user_token"

    return Tables(
        Meta,
        Site,
        Item,
        GenerationRun,
        Document,
        DocumentLine,
        Serial,
        Event,
        UserAccount,
        UserToken,
    )
