"""The WSGI entry point for production servers: `gunicorn 'service.wsgi:app'`.

Each worker process builds its own app from the environment and loads the embedding model before it takes its
first request, so no user waits for a model load; the index is brought up to date before the workers start
(`bqa serve` does it), never by a worker. Each worker also runs the periodic cleanup (`service.cleanup`); the store's
writer lock keeps two of them from cleaning at once.
"""

from service.web import context
from service.app import create_app
from service.cleanup import Cleaner

app = create_app()
qa = app.extensions[context.EXTENSION]
qa.warm_up()
Cleaner(qa, qa.config.cleanup_interval_s).start()
