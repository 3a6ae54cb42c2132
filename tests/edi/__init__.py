"""Tests of the X12 277 / 277CA / 835 reader (bots.edi)."""
