"""The files operators deploy with agree with the code."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

from serve.apps import APPLICATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_the_serve_config_names_every_application_at_its_prefix() -> None:
    config = ServeDeploySchema.model_validate(
        yaml.safe_load((ROOT / "config" / "serve.yaml").read_text())
    )

    declared = {app.name: app.route_prefix for app in config.applications}

    assert declared == {app.name: app.route_prefix for app in APPLICATIONS}
    for app in config.applications:
        module, _, builder = app.import_path.partition(":")
        assert callable(getattr(importlib.import_module(module), builder))


def test_compose_services_share_one_image_built_from_the_dockerfile() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    dockerfile = (ROOT / "Dockerfile").read_text()

    services = compose["services"]
    assert services["ray-head"]["build"] == "."
    images = {services[name]["image"] for name in ("ray-head", "ray-worker", "marquee")}
    assert images == {"marquee:latest"}
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
