"""Typer commands: parse options, build services, call the core, render. Thin."""
