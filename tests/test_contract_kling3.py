"""Kling 3 on the wire: durations per model, multi-shot, watermark_info, refused official
fields and /account/costs query parsing, each rule checked at the parser."""

from __future__ import annotations

import pytest

from openkling.contract.kling import (
    CostsQuery,
    costs_data,
    parse_costs_query,
    parse_text2video,
)
from openkling.contract.kling.costs import PACK_LIFETIME_MS
from openkling.contract.kling.multishot import split_prompt
from openkling.domain.catalog import default_catalog
from openkling.domain.request import Shot
from openkling.errors import InvalidParameter

CATALOG = default_catalog()
V3 = {"model_name": "kling-v3"}


def parse(**fields):
    return parse_text2video({"prompt": "a red fox in the snow", **fields}, CATALOG)


def refused(**fields) -> str:
    body = {"prompt": "a red fox in the snow", **fields}
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(body, CATALOG)
    assert info.value.code == 1201
    return info.value.message


def shots(*pairs, **fields):
    """A v3 customize body of ``(seconds, prompt)`` pairs; duration defaults to their sum."""
    multi = [{"index": i + 1, "prompt": p, "duration": str(s)} for i, (s, p) in enumerate(pairs)]
    body = {
        **V3,
        "multi_shot": True,
        "shot_type": "customize",
        "multi_prompt": multi,
        "duration": str(sum(s for s, _ in pairs)),
    }
    return {**body, **fields}


# ---- durations from the catalog ----------------------------------------------------------


@pytest.mark.parametrize("seconds", range(3, 16))
def test_v3_takes_3_to_15_seconds(seconds):
    assert parse(duration=str(seconds), **V3).duration == seconds


def test_v3_defaults_to_5_seconds():
    assert parse(**V3).duration == 5


def test_duration_16_on_v3_is_refused():
    message = refused(duration="16", **V3)
    assert message.startswith("duration: ")
    assert '"3" to "15"' in message and "kling-v3" in message and "'16'" in message


@pytest.mark.parametrize("model", ["kling-v1", "kling-v2-6", "kling-v2-5-turbo"])
def test_classic_models_keep_5_and_10(model):
    assert parse(model_name=model, duration="10").duration == 10
    message = refused(model_name=model, duration="7")
    assert '"5" or "10"' in message and model in message
    assert "models with 7-second videos: kling-v3" in message  # who can serve it


# ---- multi-shot: customize ---------------------------------------------------------------


def test_customize_shots_become_the_requests_shots():
    req = parse_text2video(shots((3, "a quiet village"), (4, "a red car")), CATALOG)
    assert req.duration == 7
    assert req.shots == [
        Shot(prompt="a quiet village", duration=3),
        Shot(prompt="a red car", duration=4),
    ]
    assert req.prompt  # Kling ignores prompt here; the shots' prompts stand in for it


def test_shots_are_ordered_by_index_and_take_numbers_too():
    body = shots((3, "a"), (4, "b"))
    body["multi_prompt"] = [
        {"index": 2, "prompt": "second", "duration": 4},
        {"index": 1, "prompt": "first", "duration": 3},
    ]
    req = parse_text2video(body, CATALOG)
    assert [(s.prompt, s.duration) for s in req.shots] == [("first", 3), ("second", 4)]


def test_shots_that_do_not_add_up_are_refused():
    body = shots((3, "a quiet village"), (4, "a red car"), duration="8")
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(body, CATALOG)
    assert info.value.message.startswith("multi_prompt: ")
    assert "7 s" in info.value.message and "8 s" in info.value.message


def test_six_shots_are_fine_a_seventh_is_refused():
    six = parse_text2video(shots(*[(2, f"shot {i}") for i in range(6)]), CATALOG)
    assert len(six.shots) == 6 and six.duration == 12
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(shots(*[(2, f"shot {i}") for i in range(7)]), CATALOG)
    assert info.value.message == "multi_prompt: must hold 1 to 6 shots, got 7"


def test_a_shot_prompt_of_512_is_fine_513_is_refused():
    ok = parse_text2video(shots((3, "a" * 512), (2, "b")), CATALOG)
    assert len(ok.shots[0].prompt) == 512
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(shots((3, "a" * 513), (2, "b")), CATALOG)
    assert info.value.message == "multi_prompt[0].prompt: must be at most 512 characters, got 513"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration": "0"}, "multi_prompt[0].duration"),
        ({"duration": "2.5"}, "multi_prompt[0].duration"),
        ({"duration": None}, "multi_prompt[0].duration"),
        ({"prompt": ""}, "multi_prompt[0].prompt"),
        ({"prompt": 7}, "multi_prompt[0].prompt"),
        ({"index": "one"}, "multi_prompt[0].index"),
    ],
)
def test_bad_shot_fields_name_the_shot(change, field):
    body = shots((3, "a"), (2, "b"))
    body["multi_prompt"][0] = {**body["multi_prompt"][0], **change}
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(body, CATALOG)
    assert info.value.message.startswith(field + ": ")


def test_a_shot_longer_than_the_task_is_refused():
    body = shots((3, "a"), duration="3")
    body["multi_prompt"][0]["duration"] = "4"
    assert "from 1 to the task's duration (3)" in refused(**body)


def test_duplicate_indexes_are_refused():
    body = shots((3, "a"), (2, "b"))
    body["multi_prompt"][1]["index"] = 1
    assert "distinct" in refused(**body)


@pytest.mark.parametrize(
    ("fields", "start"),
    [
        ({"shot_type": None}, "shot_type: is required"),
        ({"shot_type": "auto"}, "shot_type: 'auto' is not allowed"),
        ({"multi_prompt": None}, "multi_prompt: is required"),
        ({"multi_prompt": []}, "multi_prompt: must hold 1 to 6 shots, got 0"),
        ({"multi_prompt": "a; b"}, "multi_prompt: must be an array"),
        ({"multi_shot": "yes"}, "multi_shot: must be true or false"),
    ],
)
def test_multi_shot_shape_errors(fields, start):
    assert refused(**{**shots((3, "a"), (2, "b")), **fields}).startswith(start)


@pytest.mark.parametrize("model", [m for m in CATALOG.supporting("text2video") if m != "kling-v3"])
def test_multi_shot_on_a_model_that_is_not_v3_is_refused(model):
    message = refused(**shots((3, "a"), (2, "b"), model_name=model))
    assert message == (
        f"multi_shot: model '{model}' does not offer multi-shot videos; models that do: kling-v3"
    )


def test_multi_shot_false_ignores_the_shot_fields_as_kling_does():
    req = parse(multi_shot=False, shot_type="customize", multi_prompt="anything", **V3)
    assert req.shots == []


# ---- multi-shot: intelligence ------------------------------------------------------------


def test_intelligence_splits_the_prompt_by_the_documented_rule():
    req = parse_text2video(
        {
            **V3,
            "prompt": "A quiet village at dawn. Then a red car drives in, then it stops.",
            "multi_shot": True,
            "shot_type": "intelligence",
            "duration": "9",
        },
        CATALOG,
    )
    assert [s.prompt for s in req.shots] == [
        "A quiet village at dawn.",
        "a red car drives in",
        "it stops.",
    ]
    assert [s.duration for s in req.shots] == [4, 3, 2]  # one second each, the rest by length


def test_intelligence_needs_a_prompt():
    body = {**V3, "multi_shot": True, "shot_type": "intelligence", "prompt": " "}
    with pytest.raises(InvalidParameter) as info:
        parse_text2video(body, CATALOG)
    assert info.value.message.startswith("prompt: is required when shot_type is")


@pytest.mark.parametrize("duration", range(3, 16))
def test_split_gives_whole_seconds_summing_to_the_duration(duration):
    prompt = ". ".join(f"scene {i} with {'many ' * i}words" for i in range(9)) + "."
    split = split_prompt(prompt, duration)
    assert 1 <= len(split) <= min(6, duration)
    assert all(s.duration >= 1 and float(s.duration).is_integer() for s in split)
    assert sum(s.duration for s in split) == duration
    assert " ".join(s.prompt for s in split).count("scene") == 9  # no words lost


def test_split_keeps_one_sentence_as_one_shot():
    assert split_prompt("a fox runs through the snow", 7) == [
        Shot(prompt="a fox runs through the snow", duration=7)
    ]


# ---- watermark_info ----------------------------------------------------------------------


def test_watermark_on_and_off():
    assert parse(watermark_info={"enabled": True}).watermark is True
    assert parse(watermark_info={"enabled": False}).watermark is False
    assert parse().watermark is False


@pytest.mark.parametrize(
    ("value", "start"),
    [
        (True, "watermark_info: must be an object"),
        ({}, "watermark_info.enabled: must be true or false, got null (it is required)"),
        ({"enabled": "yes"}, "watermark_info.enabled: must be true or false, got string"),
    ],
)
def test_bad_watermark_info(value, start):
    assert refused(watermark_info=value).startswith(start)


# ---- official fields not offered, unknown fields ignored ---------------------------------


def test_voice_list_is_refused_not_ignored():
    message = refused(voice_list=[{"voice_id": "829824295735410756"}], sound="on", **V3)
    assert message.startswith("voice_list: this deployment does not offer voice_list")


@pytest.mark.parametrize("empty", [None, [], ""])
def test_an_empty_voice_list_asks_nothing(empty):
    assert parse(voice_list=empty).prompt == "a red fox in the snow"


def test_fields_unknown_to_kling_stay_ignored():
    assert parse(not_a_kling_field={"x": 1}, another=3).prompt == "a red fox in the snow"


# ---- /account/costs query ----------------------------------------------------------------


def test_costs_query_reads_integers_and_the_name():
    q = parse_costs_query({"start_time": "1000", "end_time": "2000", "resource_pack_name": "x"})
    assert q == CostsQuery(1000, 2000, "x")
    assert parse_costs_query({}) == CostsQuery()


@pytest.mark.parametrize("bad", ["abc", "1.5", "1e9", "", "0x10", "١٢"])
def test_a_non_integer_time_is_refused(bad):
    if bad == "":
        assert parse_costs_query({"start_time": bad}) == CostsQuery()  # empty: no bound
        return
    with pytest.raises(InvalidParameter) as info:
        parse_costs_query({"end_time": bad})
    assert info.value.code == 1201
    assert info.value.message.startswith("end_time: must be an integer Unix time in milliseconds")


def test_start_after_end_is_refused():
    with pytest.raises(InvalidParameter, match="start_time: must not be after end_time"):
        parse_costs_query({"start_time": "5", "end_time": "4"})


def pack_count(query: CostsQuery) -> int:
    data = costs_data(granted="100", remaining="60", created_at=1_000_000, query=query)
    return len(data["resource_pack_subscribe_infos"])


def test_costs_filter_by_window_and_name():
    assert pack_count(CostsQuery()) == 1
    assert pack_count(CostsQuery(end_time=999_999)) == 0  # before the pack took effect
    assert pack_count(CostsQuery(start_time=0, end_time=1_000_000)) == 1
    assert pack_count(CostsQuery(start_time=2 * 10**12)) == 1  # still in force in 2033
    assert pack_count(CostsQuery(start_time=1_000_000 + PACK_LIFETIME_MS + 1)) == 0  # lapsed
    assert pack_count(CostsQuery(resource_pack_name="OpenKling")) == 1  # any case, a part
    assert pack_count(CostsQuery(resource_pack_name="video pack")) == 0


def test_invalid_time_is_stable():
    one = costs_data(granted="1", remaining="1", created_at=5000)
    two = costs_data(granted="1", remaining="1", created_at=5000)
    pack = one["resource_pack_subscribe_infos"][0]
    assert pack["invalid_time"] == two["resource_pack_subscribe_infos"][0]["invalid_time"]
    assert pack["invalid_time"] > pack["effective_time"]


def test_a_mode_the_model_does_not_offer_names_the_models_that_do():
    from dataclasses import replace

    from openkling.domain.catalog import Catalog

    narrowed = Catalog(
        {**CATALOG.models, "kling-v1": replace(CATALOG.models["kling-v1"], modes=("std",))}
    )
    with pytest.raises(InvalidParameter) as info:
        parse_text2video({"prompt": "x", "mode": "pro"}, narrowed)
    assert info.value.message.startswith("mode: model 'kling-v1' offers std, not 'pro'")
    assert "kling-v3" in info.value.message and "kling-v1," not in info.value.message
