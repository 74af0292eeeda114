"""Locust load scripts for Marquee (`make load`)."""
