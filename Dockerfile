# One image for every Ray node and for the launcher.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY actors ./actors
COPY config ./config
COPY persistence ./persistence
COPY serve ./serve
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 10001 marquee
USER marquee

# The launcher: migrate, seed, join the cluster named by MARQUEE_RAY_ADDRESS.
CMD ["python", "-m", "serve"]
