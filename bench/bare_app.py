"""A bare FastAPI app with the same routes' shapes as openkling: the benchmark's baseline."""

import time
import uuid

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/v1/videos/text2video")
async def create(request: Request):
    await request.json()
    return _task()


@app.get("/v1/videos/text2video/{task_id}")
def get(task_id: str):
    return _task(task_id)


def _task(task_id: str | None = None) -> dict:
    now = int(time.time() * 1000)
    return {
        "code": 0,
        "message": "SUCCEED",
        "request_id": str(uuid.uuid4()),
        "data": {
            "task_id": task_id or str(now),
            "task_status": "submitted",
            "task_info": {},
            "created_at": now,
            "updated_at": now,
        },
    }
