# One image, three roles: `browserpool serve` (default: all in one), `browserpool api`, `browserpool worker`.
# Kubernetes manifests and how the roles fit together: deploy/README.md. The image has no redis-server,
# so every role needs BROWSERPOOL_REDIS_URL, e.g.
#   docker run -p 8000:8000 -e BROWSERPOOL_REDIS_URL=redis://redis-host:6379/0 browserpool
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# Debian's headless Chromium (the pool's browser; Playwright downloads none), fonts so pages render
# text in screenshots, ffmpeg for session recordings, tini to reap Chromium's orphaned children, redis-cli for
# debugging.
# No redis-server: Redis runs elsewhere (deploy/README.md).
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium-headless-shell ffmpeg fonts-liberation redis-tools tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 browserpool \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/browserpool \
       --shell /usr/sbin/nologin browserpool

WORKDIR /opt/browserpool
COPY pyproject.toml README.md ./
COPY orchestrator ./orchestrator
COPY api ./api
COPY browserpool ./browserpool
COPY workers ./workers
RUN pip install . && rm -rf build ./*.egg-info

ENV HOME=/home/browserpool \
    BROWSERPOOL_HOST=0.0.0.0 \
    BROWSERPOOL_CHROMIUM_PATH=/usr/lib/chromium/chromium-headless-shell

# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/browserpool
EXPOSE 8000 8001
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["browserpool", "serve"]
