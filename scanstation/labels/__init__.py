"""Printing: serial labels (Code 128 serial, item name and SKU, GS1 DataMatrix, secondary QR)
and document sheets (reference, DC and invoice numbers as Code 128, the lines), as ZPL II for
Zebra printers or as PDF sheets; and sending them to a printer.

The layout of a label is one description (layout.py) that both writers draw, so a ZPL label and
a PDF label carry the same codes in the same places.
"""
