# One image for every onetrip service; the compose file picks the service by its command:
#   docker build -t onetrip . && docker run --rm onetrip onetrip-service catalogue
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libpq5: the pure-Python psycopg loads it; Graphviz and Noto CJK draw the Chinese flow charts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 graphviz fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app onetrip \
    && mkdir -p /data/files /data/audit \
    && chown onetrip /data/files /data/audit

USER onetrip
ENV HOST=0.0.0.0 \
    PORT=8000 \
    ONETRIP_FILES_DIR=/data/files
EXPOSE 8000

CMD ["onetrip-service", "gateway"]
