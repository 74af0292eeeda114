"""`python -m serve.migrate`: bring the configured database up to date."""

from config.logging import configure_logging
from config.settings import get_settings
from persistence.schema import migrate


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level)
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
