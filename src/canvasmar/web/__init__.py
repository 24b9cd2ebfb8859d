"""`canvasmar serve`: a local web page to predict videos with a checkpoint (docs/serve.md).

`jobs.py` holds the work (uploads, prediction jobs and their events, the MP4s) without the
web; `app.py` the FastAPI routes; `static/` the page itself (plain HTML + JS, no build step).
FastAPI, uvicorn and sse-starlette come with the optional extra `serve`.
"""
