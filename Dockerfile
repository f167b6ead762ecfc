# ogcserve: a slim image serving the demo project (mount projects and override CMD for yours).
#   docker build -t ogcserve . && docker run -p 8080:8080 ogcserve
# Settings come from OGCSERVE_* variables (docs/configuration.md), e.g.
#   -e OGCSERVE_CACHE_BACKEND=redis -e OGCSERVE_CACHE_REDIS_URL=redis://redis:6379/0
# CI runs the same steps without a container engine: scripts/container_build_check.sh.
FROM python:3.11-slim-bookworm

# The map renderer (skia) links libEGL and libGL; labels need a font.
COPY deploy/container/system-packages.txt /tmp/system-packages.txt
RUN apt-get update && xargs apt-get install -y --no-install-recommends < /tmp/system-packages.txt && rm -rf /var/lib/apt/lists/* /tmp/system-packages.txt

RUN useradd --system --create-home --home-dir /home/ogcserve --uid 10001 ogcserve

COPY pyproject.toml README.md /src/
COPY src /src/src
COPY deploy/container/install.sh /src/install.sh
RUN /src/install.sh /opt/ogcserve /src && rm -rf /src

ENV PATH=/opt/ogcserve/bin:$PATH PYTHONUNBUFFERED=1 OGCSERVE_PID_FILE=/tmp/ogcserve.pid
USER ogcserve
WORKDIR /home/ogcserve
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)"]
# `docker kill --signal HUP` (or `docker exec ... ogcserve reload`) reloads without an outage;
# SIGTERM (docker stop) lets running requests finish within OGCSERVE_SHUTDOWN_GRACE.
STOPSIGNAL SIGTERM
CMD ["ogcserve", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
