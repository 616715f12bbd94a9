# syntax=docker/dockerfile:1
# tosguard's HTTP service (`tosguard serve`), as a non-root user. See docs/ci.md.
#
#   docker build -t tosguard .
#   docker run --rm -p 8000:8000 tosguard
#   docker run --rm -v "$PWD:/work:ro" -w /work tosguard check pipelines/   # the CLI

# ---- build: wheels of tosguard and every dependency ------------------------------------------
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY grammar ./grammar
COPY policies ./policies
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[serve]'

# ---- run: the wheels installed, no compiler, no sources --------------------------------------
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TOSGUARD_CACHE_DIR=/home/tosguard/.cache/tosguard
RUN useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin tosguard
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'tosguard[serve]' \
    && rm -rf /wheels
USER 10001:10001
WORKDIR /home/tosguard
# compile the shipped library once, into the user's cache: the service starts without parsing
RUN tosguard policies > /dev/null
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["tosguard"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
