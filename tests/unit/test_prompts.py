from harness.data.prompts import BASELINE_PROMPT, SHORT_PROMPT, SYSTEM_PROMPTS, chat_messages


def test_prompts_are_empos():
    assert BASELINE_PROMPT.startswith("You are a friendly assistant, who provides empathetic responses to the user.")
    assert BASELINE_PROMPT.endswith("Avoid repeating the prompt.")
    assert SHORT_PROMPT.startswith("You are a friendly assistant, who provides short empathetic responses to the user.")
    assert SHORT_PROMPT.endswith("Avoid repeating the prompt and giving unsolicited advice. Make the responses short.")
    assert set(SYSTEM_PROMPTS) == {"baseline", "short"}


def test_chat_messages_alternate_from_the_speaker():
    messages = chat_messages(["I failed.", "Oh no.", "Yes, again."], system_prompt="SYS")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in messages] == ["SYS", "I failed.", "Oh no.", "Yes, again."]
    assert chat_messages(["hi"], system_prompt=None) == [{"role": "user", "content": "hi"}]
