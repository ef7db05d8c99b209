"""Tests of the MicroHome Home Assistant integration."""
