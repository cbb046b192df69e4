"""Genkit agents in Azure's Agents view (issue 13), end to end: a real ``genkit.exp``
agent (apps/genkit_agent.py: a fake model, a tool, an in-memory session store) driven
through two turns of a chat, exported through genkit_azure_rs. At the emulator, the
Agents workbook's queries (``shared/notes/azure-ai-views.md``) are re-implemented over
the envelopes that arrived, as Log Analytics would run them over the dependencies
table, and checked against what the app itself recorded."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from _helpers import base, by_span_id, of_kind, props
from conftest import AppRun, Emulator, run_scenario

Run = tuple[AppRun, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def chat(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    emulator_session.reset()
    run = run_scenario(emulator_session, "genkit_agent", cwd=tmp_path_factory.mktemp("agent"))
    return run, emulator_session.envelopes()


@pytest.fixture(scope="module")
def genkit_tree(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same chat with re-parenting off."""
    emulator_session.reset()
    run = run_scenario(emulator_session, "genkit_agent", "--no-reparenting", cwd=tmp_path_factory.mktemp("tree"))
    return run, emulator_session.envelopes()


@pytest.fixture(scope="module")
def failing(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A turn whose tool raises."""
    emulator_session.reset()
    run = run_scenario(emulator_session, "genkit_agent", "--failing-tool", cwd=tmp_path_factory.mktemp("failing"))
    return run, emulator_session.envelopes()


@pytest.fixture(scope="module")
def configured(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same chat with a Foundry agent id, a price table and content on, then an
    evaluator run over its first answer."""
    emulator_session.reset()
    run = run_scenario(
        emulator_session, "genkit_agent", "--configured", "--evaluate", cwd=tmp_path_factory.mktemp("configured")
    )
    return run, emulator_session.envelopes()


@pytest.fixture(scope="module")
def flow_agent(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A plain flow with a model and a tool, presented as an agent (agent_flows)."""
    emulator_session.reset()
    run = run_scenario(emulator_session, "genkit_agent", "--flow-agent", cwd=tmp_path_factory.mktemp("flow"))
    return run, emulator_session.envelopes()


def dependencies(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dependencies table: what the workbook reads (requests never)."""
    return of_kind(envelopes, "RemoteDependency")


def operation(d: dict[str, Any]) -> str:
    return props(d).get("gen_ai.operation.name", "")


def parent(d: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    return by_id.get(d["tags"].get("ai.operation.parentId", ""))


def test_the_app_chatted_two_turns_in_one_session(chat: Run) -> None:
    run, _ = chat
    assert run.result["replies"] == ["It is sunny in Paris.", "You're welcome."]
    assert run.result["flushed"] is True
    agents = [s for s in run.result["spans"] if s["attributes"].get("genkit:metadata:subtype") == "agent"]
    assert len(agents) == 2, "one agent span per turn"
    assert {a["attributes"]["genkit:metadata:agent:sessionId"] for a in agents} == {run.result["session_id"]}


def test_the_view_has_data_and_lists_the_agent(chat: Run) -> None:
    run, envelopes = chat
    deps = dependencies(envelopes)
    # "Is there data": dependencies with a gen_ai.operation.name.
    assert any(operation(d) for d in deps)
    assert not [r for r in of_kind(envelopes, "Request") if operation(r)], "agents are never requests"
    # The agent list: invoke_agent dependencies, named by gen_ai.agent.name.
    invocations = [d for d in deps if operation(d) == "invoke_agent"]
    assert len(invocations) == 2
    for d in invocations:
        p = props(d)
        assert base(d)["name"] == "invoke_agent weatherAgent"
        assert p["gen_ai.agent.name"] == p["gen_ai.agent.id"] == "weatherAgent"
        # The "Platform" column: gen_ai.provider.name, else gen_ai.system.
        assert p["gen_ai.provider.name"] == p["gen_ai.system"] == "genkit"
        # "Only main agents".
        assert p["microsoft.gen_ai.main_agent.name"] == p["gen_ai.agent.name"]
        # Its init (a client-managed session's state, when there is one) is content.
        assert p["genkit:init"] == "<redacted>"


def test_both_turns_share_one_conversation(chat: Run) -> None:
    run, envelopes = chat
    invocations = [d for d in dependencies(envelopes) if operation(d) == "invoke_agent"]
    conversations = {props(d)["gen_ai.conversation.id"] for d in invocations}
    assert conversations == {run.result["session_id"]}
    assert {d["tags"]["ai.session.id"] for d in invocations} == conversations
    assert len({d["tags"]["ai.operation.id"] for d in invocations}) == 2, "each turn is its own operation"


def test_tokens_per_model_sum_to_the_models_usage(chat: Run) -> None:
    """The workbook's token query: each model call is walked up through GenAI spans to its
    nearest invoke_agent ancestor (16 levels at most); where a span without
    gen_ai.operation.name breaks the walk (Genkit's turn and generate steps), the call's
    own gen_ai.agent.name names the agent."""
    run, envelopes = chat
    deps = dependencies(envelopes)
    by_id = {base(d)["id"]: d for d in deps}
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d in deps:
        p = props(d)
        if "gen_ai.request.model" not in p:
            continue
        agent, up = None, parent(d, by_id)
        for _ in range(16):
            if up is None or not operation(up):
                break
            if operation(up) == "invoke_agent":
                agent = props(up)["gen_ai.agent.name"]
                break
            up = parent(up, by_id)
        agent = agent or p.get("gen_ai.agent.name")
        t = totals[(agent, p["gen_ai.request.model"])]
        t[0] += int(p["gen_ai.usage.input_tokens"])
        t[1] += int(p["gen_ai.usage.output_tokens"])
    usage = run.result["usage"]
    assert dict(totals) == {
        ("weatherAgent", "agent-model"): [
            sum(u["input_tokens"] for u in usage),
            sum(u["output_tokens"] for u in usage),
        ]
    }


def test_every_span_of_the_agent_names_it(chat: Run) -> None:
    run, envelopes = chat
    arrived = by_span_id(envelopes)
    names = {"fake/agent-model": "chat agent-model", "get_weather": "execute_tool get_weather"}
    for span in run.result["spans"]:
        (d,) = arrived[span["span_id"]]
        p = props(d)
        assert p["gen_ai.agent.name"] == p["microsoft.gen_ai.main_agent.name"] == "weatherAgent", span["name"]
        assert p["gen_ai.agent.id"] == p["microsoft.gen_ai.main_agent.id"] == "weatherAgent", span["name"]
        if span["name"] in names:
            assert base(d)["name"] == names[span["name"]]
            assert p["genkit:name"] == span["name"]


def http_calls(run: AppRun) -> list[dict[str, Any]]:
    """The spans Genkit did not make: the tool's HTTP calls (urllib's instrumentation)."""
    return [s for s in run.result["spans"] if "genkit:path" not in s["attributes"]]


@pytest.mark.parametrize("tree", ["chat", "genkit_tree"])
def test_the_tool_s_http_call_names_the_agent_it_runs_in(tree: str, request: pytest.FixtureRequest) -> None:
    """A span Genkit did not make has no genkit:path, yet it runs inside the agent: its
    dependency names the agent and the main agent and carries the conversation, stays
    under the tool that made it, and is still an HTTP dependency."""
    run, envelopes = request.getfixturevalue(tree)
    arrived = by_span_id(envelopes)
    tools = {s["span_id"] for s in run.result["spans"] if s["name"] == "get_weather"}
    (call,) = http_calls(run)
    (d,) = arrived[call["span_id"]]
    p = props(d)
    assert base(d)["type"] == "HTTP" and base(d)["target"].startswith("127.0.0.1:")
    assert p["gen_ai.agent.name"] == p["microsoft.gen_ai.main_agent.name"] == "weatherAgent"
    assert p["gen_ai.agent.id"] == p["microsoft.gen_ai.main_agent.id"] == "weatherAgent"
    assert p["microsoft.gen_ai.main_agent.conversation_id"] == run.result["session_id"]
    assert d["tags"]["ai.operation.parentId"] == call["parent_id"] and call["parent_id"] in tools
    assert "gen_ai.operation.name" not in p, "not a GenAI operation"


def test_the_tools_and_models_tiles_find_the_tool_and_the_model(chat: Run) -> None:
    _, envelopes = chat
    deps = dependencies(envelopes)
    by_id = {base(d)["id"]: d for d in deps}

    def under_an_agent(d: dict[str, Any]) -> bool:
        up = parent(d, by_id)
        return up is not None and operation(up) == "invoke_agent"

    tools = {props(d)["gen_ai.tool.name"] for d in deps if operation(d) == "execute_tool" and under_an_agent(d)}
    models = {props(d)["gen_ai.request.model"] for d in deps if "gen_ai.request.model" in props(d) and under_an_agent(d)}
    assert (tools, models) == ({"get_weather"}, {"agent-model"})


def agent_ids(run: AppRun) -> dict[str, str]:
    """The agent span of each trace, as the app recorded it."""
    return {
        s["trace_id"]: s["span_id"]
        for s in run.result["spans"]
        if s["attributes"].get("genkit:metadata:subtype") == "agent"
    }


def test_calls_go_under_their_agent_and_keep_their_genkit_parent(chat: Run) -> None:
    run, envelopes = chat
    arrived = by_span_id(envelopes)
    agents = agent_ids(run)
    calls = 0
    for span in run.result["spans"]:
        (d,) = arrived[span["span_id"]]
        subtype = span["attributes"].get("genkit:metadata:subtype")
        if subtype in ("model", "tool.v2"):
            calls += 1
            assert d["tags"]["ai.operation.parentId"] == agents[span["trace_id"]], span["name"]
            assert props(d)["genkit_azure.genkit_parent_id"] == span["parent_id"], span["name"]
        else:
            # The turn and generate steps are still there, where Genkit put them.
            assert d["tags"].get("ai.operation.parentId") == span["parent_id"], span["name"]
            assert "genkit_azure.genkit_parent_id" not in props(d), span["name"]
    assert calls == 4, "three model calls and a tool call"


def test_the_agent_span_carries_its_model_calls_token_totals(chat: Run) -> None:
    run, envelopes = chat
    deps = dependencies(envelopes)
    for agent in [d for d in deps if operation(d) == "invoke_agent"]:
        op = agent["tags"]["ai.operation.id"]
        models = [d for d in deps if d["tags"]["ai.operation.id"] == op and operation(d) == "chat"]
        assert models
        for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
            assert int(props(agent)[key]) == sum(int(props(m)[key]) for m in models), key
    usage = run.result["usage"]
    totals = [props(d) for d in deps if operation(d) == "invoke_agent"]
    assert sum(int(p["gen_ai.usage.input_tokens"]) for p in totals) == sum(u["input_tokens"] for u in usage)
    assert sum(int(p["gen_ai.usage.output_tokens"]) for p in totals) == sum(u["output_tokens"] for u in usage)


def test_reparenting_off_exports_the_tree_as_genkit_made_it(genkit_tree: Run) -> None:
    run, envelopes = genkit_tree
    arrived = by_span_id(envelopes)
    assert len(run.result["spans"]) == 11, "two turns: agent, turn, generate, their calls, the tool's HTTP call"
    for span in run.result["spans"]:
        (d,) = arrived[span["span_id"]]
        assert d["tags"].get("ai.operation.parentId") == span["parent_id"], span["name"]
        assert "genkit_azure.genkit_parent_id" not in props(d), span["name"]
    # The agent still carries its totals.
    invocations = [d for d in dependencies(envelopes) if operation(d) == "invoke_agent"]
    assert sum(int(props(d)["gen_ai.usage.input_tokens"]) for d in invocations) == sum(
        u["input_tokens"] for u in run.result["usage"]
    )


def test_errors_count_a_failing_tool_with_its_error_type(failing: Run) -> None:
    """The workbook's errors: the agent span and its direct children that failed, by
    error.type, else "Other"."""
    run, envelopes = failing
    assert run.result["replies"] == ["failed: AgentError"]
    deps = dependencies(envelopes)
    agents = {base(d)["id"] for d in deps if operation(d) == "invoke_agent"}
    errors: dict[str, int] = defaultdict(int)
    for d in deps:
        mine = base(d)["id"] in agents or d["tags"].get("ai.operation.parentId") in agents
        if mine and not base(d)["success"]:
            errors[props(d).get("error.type", "Other")] += 1
    failed_tools = [
        d for d in deps if operation(d) == "execute_tool" and not base(d)["success"]
    ]
    assert [props(d)["gen_ai.tool.name"] for d in failed_tools] == ["get_forecast"]
    # The tool's own exception (OpenTelemetry names it with its module), and the turn,
    # another direct child of the agent, failing with Genkit's error because of it.
    assert dict(errors) == {"__main__.ForecastUnavailable": 1, "genkit._core._error.GenkitError": 1}


def test_cost_appears_with_a_price_table_and_only_then(chat: Run, configured: Run) -> None:
    """The workbook's cost: each span's microsoft.gen_ai.cost.input / .output, in USD,
    given to the nearest ancestor with gen_ai.agent.name (any dependency, 10 levels)."""
    _, plain = chat
    assert not [d for d in dependencies(plain) if "microsoft.gen_ai.cost.input" in props(d)]
    run, envelopes = configured
    deps = dependencies(envelopes)
    by_id = {base(d)["id"]: d for d in deps}
    cost: dict[str, float] = defaultdict(float)
    for d in deps:
        p = props(d)
        if "microsoft.gen_ai.cost.input" not in p:
            continue
        assert operation(d) == "chat"
        up, agent = parent(d, by_id), None
        for _ in range(10):
            if up is None:
                break
            if "gen_ai.agent.name" in props(up):
                agent = props(up)["gen_ai.agent.name"]
                break
            up = parent(up, by_id)
        assert agent is not None
        cost[agent] += float(p["microsoft.gen_ai.cost.input"]) + float(p["microsoft.gen_ai.cost.output"])
    input_price, output_price = run.result["prices"]["fake/agent-model"]
    wanted = sum(u["input_tokens"] * input_price + u["output_tokens"] * output_price for u in run.result["usage"]) / 1e6
    assert list(cost) == ["weatherAgent"]
    assert cost["weatherAgent"] == pytest.approx(wanted)


def test_an_agent_id_mapping_gives_the_foundry_id(configured: Run) -> None:
    run, envelopes = configured
    arrived = by_span_id(envelopes)
    for span in run.result["spans"]:
        if "s:agent" not in span["attributes"].get("genkit:path", ""):
            continue  # the evaluator's run, after the chat
        (d,) = arrived[span["span_id"]]
        p = props(d)
        assert p["gen_ai.agent.name"] == p["microsoft.gen_ai.main_agent.name"] == "weatherAgent"
        assert p["gen_ai.agent.id"] == p["microsoft.gen_ai.main_agent.id"] == "asst_weather"


def test_a_tool_call_carries_the_id_of_the_request_it_answers(chat: Run) -> None:
    """The fake model asks for get_weather with ref "call-1" (apps/genkit_agent.py)."""
    _, envelopes = chat
    tools = [d for d in dependencies(envelopes) if operation(d) == "execute_tool"]
    assert [props(d).get("gen_ai.tool.call.id") for d in tools] == ["call-1"]


CONTENT = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


def test_content_is_in_the_genai_schema_only_when_asked_for(chat: Run, configured: Run) -> None:
    _, plain = chat
    assert not [d for d in plain if any(k in props(d) for k in CONTENT)], "none by default"
    _, envelopes = configured
    calls = [d for d in dependencies(envelopes) if operation(d) == "chat"]
    assert len(calls) == 3
    first = min(calls, key=lambda d: d["time"])
    p = props(first)
    assert json.loads(p["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "You are a weather assistant."}
    ]
    assert json.loads(p["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris?"}]}
    ]
    assert json.loads(p["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "finish_reason": "tool_calls",
            "parts": [{"type": "tool_call", "id": "call-1", "name": "get_weather", "arguments": "Paris"}],
        }
    ]
    # The answer after the tool: the tool's response went back to the model as a tool message.
    roles = [[m["role"] for m in json.loads(props(d)["gen_ai.input.messages"])] for d in calls]
    assert ["user", "assistant", "tool"] in roles
    for d in calls:
        for m in json.loads(props(d)["gen_ai.input.messages"]):
            if m["role"] == "tool":
                assert m["parts"] == [{"type": "tool_call_response", "id": "call-1", "response": "sunny in Paris"}]


def test_a_flow_in_agent_flows_is_listed_with_its_tool_and_model(flow_agent: Run) -> None:
    run, envelopes = flow_agent
    assert run.result["replies"] == ["It is sunny in Paris."]
    deps = dependencies(envelopes)
    assert not of_kind(envelopes, "Request"), "an agent is a dependency, even at the root"
    (agent,) = [d for d in deps if operation(d) == "invoke_agent"]
    assert base(agent)["name"] == "invoke_agent support_flow"
    assert props(agent)["gen_ai.agent.name"] == "support_flow"
    by_id = {base(d)["id"]: d for d in deps}
    under = [d for d in deps if parent(d, by_id) is agent]
    assert {props(d).get("gen_ai.tool.name") for d in under if operation(d) == "execute_tool"} == {"get_weather"}
    assert {props(d).get("gen_ai.request.model") for d in under if operation(d) == "chat"} == {"agent-model"}
    usage = run.result["usage"]
    assert int(props(agent)["gen_ai.usage.input_tokens"]) == sum(u["input_tokens"] for u in usage)
    # The tool's HTTP call, inside the flow presented as an agent, names it.
    (call,) = http_calls(run)
    (d,) = by_span_id(envelopes)[call["span_id"]]
    assert props(d)["gen_ai.agent.name"] == props(d)["microsoft.gen_ai.main_agent.name"] == "support_flow"


def test_calls_and_main_agents_carry_the_conversation(chat: Run) -> None:
    """microsoft.gen_ai.main_agent.conversation_id: the main agent's session, on the
    agent span and on its model and tool calls."""
    run, envelopes = chat
    arrived = by_span_id(envelopes)
    for span in run.result["spans"]:
        (d,) = arrived[span["span_id"]]
        if span["attributes"].get("genkit:metadata:subtype") in ("agent", "model", "tool.v2"):
            assert props(d)["microsoft.gen_ai.main_agent.conversation_id"] == run.result["session_id"], span["name"]


@pytest.mark.parametrize("tree", ["chat", "genkit_tree"])
def test_every_span_inside_the_agent_carries_the_main_agent_s_conversation(
    tree: str, request: pytest.FixtureRequest
) -> None:
    """Every span of the two-turn chat (agent, turns, generate, model and tool calls, the
    tool's HTTP call) is inside the agent and carries the session the app chatted in, the
    one the session store holds, as microsoft.gen_ai.main_agent.conversation_id, with
    re-parenting on and off."""
    run, envelopes = request.getfixturevalue(tree)
    assert run.result["stored_sessions"] == [run.result["session_id"]]
    arrived = by_span_id(envelopes)
    names = {s["name"] for s in run.result["spans"]}
    assert {"weatherAgent", "runTurn-1", "generate", "fake/agent-model", "get_weather"} <= names
    assert len(run.result["spans"]) == 11, "two turns: agent, turn, generate, their calls, the tool's HTTP call"
    for span in run.result["spans"]:
        (d,) = arrived[span["span_id"]]
        assert props(d)["microsoft.gen_ai.main_agent.conversation_id"] == run.result["session_id"], span["name"]


def test_an_evaluator_s_score_is_an_evaluation_result(chat: Run, configured: Run) -> None:
    """The workbook's evaluations: customEvents named gen_ai.evaluation.result."""
    _, plain = chat
    assert not [e for e in of_kind(plain, "Event") if base(e)["name"] == "gen_ai.evaluation.result"]
    _, envelopes = configured
    (result,) = [e for e in of_kind(envelopes, "Event") if base(e)["name"] == "gen_ai.evaluation.result"]
    p = props(result)
    assert p["gen_ai.evaluation.name"] == "myeval/relevance"
    assert float(p["gen_ai.evaluation.score.value"]) == 0.8
    assert p["gen_ai.evaluation.score.label"] == "pass"
    assert p["gen_ai.evaluation.explanation"] == "on topic"
    # Run outside the agent, over a data point that names the first turn's trace: joined to the
    # agent that ran there, by the id the app mapped it to.
    assert p["gen_ai.agent.id"] == "asst_weather"
