"""Thin HTTP routers: parse, call a service, render."""
