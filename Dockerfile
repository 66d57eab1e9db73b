# One image for every process of the Procfile; the container's command names the process:
#   docker run … proxyapp web | worker | scheduler | release
# (see deploy/entrypoint.sh and DEPLOY.md; docker-compose.yml runs the whole stack).

# Wheels are built apart, so the runtime image carries no compiler.
FROM python:3.11-slim AS wheels
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /tmp/requirements.txt

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    PORT=8000
COPY --from=wheels /wheels /wheels
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-index --find-links /wheels -r /tmp/requirements.txt && rm -rf /wheels

WORKDIR /app
COPY . .
RUN useradd --system --uid 10001 --no-create-home proxyapp
USER proxyapp

EXPOSE 8000
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
