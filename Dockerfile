FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml ./
COPY services ./services
COPY schemas ./schemas
RUN pip install --no-cache-dir .
ENV CZ_LOG_JSON=true
CMD ["connectzero", "--help"]
