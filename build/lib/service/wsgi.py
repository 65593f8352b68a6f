"""The WSGI entry point for production servers: `gunicorn 'service.wsgi:app'`.

Each worker process builds its own app from the environment and loads the embedding model before it takes its
first request, so no user waits for a model load; the index is brought up to date before the workers start
(`bqa serve` does it), never by a worker.
"""

from service.web import context
from service.app import create_app

app = create_app()
app.extensions[context.EXTENSION].warm_up()
