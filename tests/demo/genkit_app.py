"""The small Genkit app `make demo` runs: a flow that asks a (fake) model, which
calls a tool, and a flow that fails — exported through genkit_azure_rs.

The connection string comes from APPLICATIONINSIGHTS_CONNECTION_STRING, which
`run_demo.py` points at the local emulator.
"""

from __future__ import annotations

import logging

import structlog
from genkit import Genkit, Message, ModelResponse, Part, Role, ToolRequest
from genkit.model import ModelRequest, ModelUsage

from genkit_azure_rs import AzureTelemetry

telemetry = AzureTelemetry(service_name="menu-demo", service_version="1.0.0")
telemetry.initialize()

ai = Genkit()
log = logging.getLogger("menu.demo")
slog = structlog.get_logger("menu.tools")


async def chef_model(request: ModelRequest, ctx: object) -> ModelResponse:
    """Asks for today's specials once, then answers with token usage like a real model."""
    has_specials = any(p.tool_response for m in request.messages for p in m.content)
    if not has_specials:
        call = ToolRequest(name="todays_specials", input="pirate", ref="call-1")
        return ModelResponse(
            message=Message(role=Role.MODEL, content=[Part(tool_request=call)]),
            usage=ModelUsage(input_tokens=18, output_tokens=6),
            finish_reason="stop",
        )
    return ModelResponse(
        message=Message(role=Role.MODEL, content=[Part(text="Arr: fish and chips, and grog.")]),
        usage=ModelUsage(input_tokens=42, output_tokens=9),
        finish_reason="stop",
    )


ai.define_model(name="demo/chef", fn=chef_model)


@ai.tool()
async def todays_specials(theme: str) -> str:
    """The kitchen's specials for a theme."""
    slog.info("looking up specials", theme=theme)
    return "fish and chips; grog"


@ai.flow()
async def suggest_menu(theme: str) -> str:
    log.info("suggesting a %s menu", theme)
    response = await ai.generate(model="demo/chef", prompt=f"A {theme} menu?", tools=["todays_specials"])
    return response.text


@ai.flow()
async def order_dessert(item: str) -> str:
    raise ValueError(f"the kitchen is out of {item}")


async def main() -> None:
    print("suggest_menu ->", await suggest_menu("pirate"))
    try:
        await order_dessert("pudding")
    except Exception as e:  # Genkit wraps the flow's error in a GenkitError
        print("order_dessert failed as planned:", e)


ai.run_main(main())
delivered = telemetry.shutdown(timeout_s=10)
print("telemetry delivered:", delivered, {k: v for k, v in telemetry.stats().items() if v})
