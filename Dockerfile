# frontdesk gateway image. Everything is installed at build time from uv.lock;
# the container fetches nothing when it starts.

# --- build: resolve the locked dependencies into /opt/venv -----------------------------
FROM python:3.11.13-slim-bookworm AS build
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
# Dependencies first, so code changes reuse this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY gateway ./gateway
COPY mappers ./mappers
COPY connectors ./connectors
COPY conformance ./conformance
COPY simulators ./simulators
COPY frontdesk ./frontdesk
RUN uv sync --frozen --no-dev --no-editable

# --- runtime: the venv only, as a non-root user --------------------------------------
FROM python:3.11.13-slim-bookworm AS runtime
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin frontdesk \
    && install -d -o frontdesk -g frontdesk /app /var/lib/frontdesk
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app
USER frontdesk
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["frontdesk", "serve", "--config", "/etc/frontdesk/config.yaml", "--host", "0.0.0.0", "--port", "8000"]
