# gunicorn reads this file from the working directory by default (`gunicorn wsgi:app`).
# Why it exists: adapter/heap.py (start-up objects frozen out of garbage collection).
from adapter.heap import post_worker_init  # noqa: F401  (a gunicorn hook, found by name)
