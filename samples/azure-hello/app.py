"""azure-hello: a Genkit app served over FastAPI, sending its telemetry to Azure Monitor
(Application Insights) through genkit-azure.

    python app.py            # serves on 127.0.0.1:$PORT (default 8000)

A ``say_hi`` flow asks a model to greet someone. The model is a real one, an Azure
OpenAI deployment reached through Genkit's OpenAI-compatible plugin, when
``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY`` and ``AZURE_OPENAI_DEPLOYMENT`` are
set; otherwise a small local model, so the sample runs on any machine. The connection
string comes from ``APPLICATIONINSIGHTS_CONNECTION_STRING``.

Routes: ``POST /api/say_hi`` (Genkit's wire format, ``{"data": "Ada"}``) and
``GET /hello/{name}``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from genkit_azure_rs import AzureTelemetry

# First, before the web framework and the model client are imported: HTTP requests,
# outgoing calls and logs are then traced from the first one.
telemetry = AzureTelemetry(service_name="azure-hello-sample", enable_live_metrics=True).initialize()

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from genkit import Genkit, Message, ModelResponse, Part, Role  # noqa: E402
from genkit.model import ModelRequest, ModelUsage  # noqa: E402
from genkit_fastapi import serve_flow  # noqa: E402

log = logging.getLogger("azure_hello")


def _model() -> tuple[Genkit, str, str]:
    """Genkit with a real Azure OpenAI deployment when configured, else a local model."""
    endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
    key = os.environ.get("AZURE_OPENAI_API_KEY")
    deployment = os.environ.get("AZURE_OPENAI_DEPLOYMENT")
    if endpoint and key and deployment:
        from genkit_openai import OpenAI

        # Azure OpenAI's v1 API is OpenAI-compatible: the deployment name is the model.
        plugin = OpenAI(api_key=key, base_url=f"{endpoint.rstrip('/')}/openai/v1/")
        return Genkit(plugins=[plugin]), f"openai/{deployment}", f"Azure OpenAI deployment {deployment!r}"

    ai = Genkit()

    async def local_greeter(request: ModelRequest, ctx: object) -> ModelResponse:
        prompt = " ".join(p.text or "" for m in request.messages for p in m.content)
        name = prompt.rsplit(" ", 1)[-1].strip(".!?") or "there"
        return ModelResponse(
            message=Message(role=Role.MODEL, content=[Part(text=f"Hello, {name}! Nice to meet you.")]),
            usage=ModelUsage(input_tokens=len(prompt.split()), output_tokens=6),
            finish_reason="stop",
        )

    ai.define_model(name="local/greeter", fn=local_greeter)
    return ai, "local/greeter", "a local model (set AZURE_OPENAI_* for a real one)"


ai, MODEL, MODEL_DESCRIPTION = _model()


@ai.flow()
async def say_hi(name: str) -> str:
    log.info("greeting %s", name)
    response = await ai.generate(model=MODEL, prompt=f"Say hi, in one short sentence, to {name}")
    return response.text


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # A server stopping (SIGTERM, Ctrl-C) sends what is still queued before the process ends.
    telemetry.flush(timeout_s=10)


app = FastAPI(title="azure-hello", lifespan=lifespan)
app.include_router(serve_flow(say_hi), prefix="/api")


@app.get("/hello/{name}")
async def hello(name: str) -> dict[str, str]:
    return {"greeting": await say_hi(name)}


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"azure-hello on http://127.0.0.1:{port} with {MODEL_DESCRIPTION}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
