"""Peewee models: the schema. Times are ISO 8601 text in UTC (same on SQLite and PostgreSQL,
and they sort as text). Stages are stored by their exact names."""

from __future__ import annotations

from peewee import (
    AutoField,
    CharField,
    DatabaseProxy,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database_proxy = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Meta(BaseModel):
    key = CharField(primary_key=True, max_length=64)
    value = TextField()


class Site(BaseModel):
    id = AutoField()
    code = CharField(unique=True, max_length=32)
    name = CharField(max_length=200)
    kind = CharField(max_length=16)


class Item(BaseModel):
    id = AutoField()
    sku = CharField(unique=True, max_length=64)
    name = CharField(max_length=200)
    gtin = CharField(unique=True, null=True, max_length=14)
    model_no = CharField(null=True, max_length=64)


class GenerationRun(BaseModel):
    id = AutoField()
    generation_no = CharField(unique=True, max_length=32)
    item = ForeignKeyField(Item, backref="generations", on_delete="RESTRICT")
    count = IntegerField()
    site = ForeignKeyField(Site, null=True, on_delete="RESTRICT")
    created_at = CharField(max_length=40)
    created_by = CharField(max_length=100)


class Document(BaseModel):
    id = AutoField()
    reference_no = CharField(unique=True, max_length=64)
    kind = CharField(max_length=16)
    dc_no = CharField(null=True, max_length=64)
    invoice_no = CharField(null=True, max_length=64)
    from_site = ForeignKeyField(Site, on_delete="RESTRICT", column_name="from_site_id")
    to_site = ForeignKeyField(Site, null=True, on_delete="RESTRICT", column_name="to_site_id")
    to_name = CharField(null=True, max_length=200)
    state = CharField(max_length=16, default="open")
    created_at = CharField(max_length=40)
    created_by = CharField(max_length=100)
    closed_at = CharField(null=True, max_length=40)
    closed_by = CharField(null=True, max_length=100)
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
    serial_no = CharField(unique=True, max_length=20)
    item = ForeignKeyField(Item, on_delete="RESTRICT", index=False)
    generation = ForeignKeyField(GenerationRun, null=True, on_delete="RESTRICT", index=False)
    secondary_qr = CharField(unique=True, null=True, max_length=64)
    # Indexed with its item only: that serves the per-item stage counts; an export by stage
    # reads the table through, and one index less is a fifth faster generation run.
    stage = CharField(max_length=32)
    site = ForeignKeyField(Site, null=True, on_delete="RESTRICT", index=False)
    document = ForeignKeyField(Document, null=True, on_delete="RESTRICT", index=False)
    created_at = CharField(max_length=40)
    created_by = CharField(max_length=100)
    updated_at = CharField(max_length=40)
    updated_by = CharField(max_length=100)
    version = IntegerField(default=1)

    class Meta:
        indexes = ((("item", "stage"), False),)


class Event(BaseModel):
    """Append-only: every change, every refused or unknown scan, every comment."""

    id = AutoField()
    scan_id = CharField(unique=True, null=True, max_length=64)
    kind = CharField(max_length=16)  # scan | comment | generate | import | document
    serial = ForeignKeyField(Serial, null=True, on_delete="RESTRICT", index=True)
    mode = CharField(null=True, max_length=16)
    from_stage = CharField(null=True, max_length=32)
    to_stage = CharField(null=True, max_length=32)
    station = CharField(max_length=64)
    site = CharField(null=True, max_length=32)
    operator = CharField(max_length=100)
    at = CharField(max_length=40)  # when it happened: a scan's own read time
    recorded_at = CharField(null=True, max_length=40)  # when the database committed it
    document = ForeignKeyField(Document, null=True, on_delete="RESTRICT", index=False)
    source = CharField(null=True, max_length=16)
    payload = TextField(null=True)  # escaped: control characters made visible
    comment = TextField(null=True)
    outcome = CharField(max_length=16)
    message = TextField(null=True)

    class Meta:
        indexes = ((("station", "id"), False),)


ALL_TABLES: tuple[type[BaseModel], ...] = (
    Meta,
    Site,
    Item,
    GenerationRun,
    Document,
    DocumentLine,
    Serial,
    Event,
)
