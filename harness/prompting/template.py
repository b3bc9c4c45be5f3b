"""The unified template of Qian et al. (2023), Table 7 and s.3.2-3.3, and its renderings.

    Task Definition + Guideline Instruction + Exemplars (optional) + Dialogue Context [+ Others]

The sentences in quotes below are the paper's, verbatim (Table 7; the two-stage prompts
of s.3.3.2). What the paper leaves open, chosen here (docs/PROMPTING.md):

- the prompt is ONE user message (no system message of ours; `--system_instruction`, if
  given, becomes a system message before it); parts are separated by a blank line, the
  lines inside a part by a newline;
- the two guideline sentences are two lines of the guideline part;
- exemplars come before the dialogue context, each as "Instance i:" and the complete
  training dialogue in the same "Speaker: " / "Listener: " lines; Table 7's line "The
  following is the existing dialogue context:" introduces the test dialogue (its words
  name the context the guideline refers to), so it sits right above it;
- knowledge (the "Others" row) follows the dialogue context as one line per relation,
  under a header of ours;
- two-stage: the first-stage question is appended to the same user message after a blank
  line; the second stage is the model's (or the gold) first-stage answer as the
  assistant's turn, then the second-stage prompt as a new user message;
- without a chat template the user message is followed by a newline and an open
  "Listener:" line for the model to complete.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Mapping, Sequence

TASK_DEFINITION = (
    "This is an empathetic dialogue task: The first worker (Speaker) is given an emotion label and writes his own "
    "description of a situation when he has felt that way. Then, Speaker tells his story in a conversation with a "
    "second worker (Listener). The emotion label and situation of Speaker are invisible to Listener. Listener should "
    "recognize and acknowledge others' feelings in a conversation as much as possible."
)
GUIDELINE = (
    "Now you play the role of Listener, please give the corresponding response according to the existing context.",
    "You only need to provide the next round of response of Listener.",
)
CONTEXT_HEADER = "The following is the existing dialogue context:"
INSTANCE_HEADER = "Instance {i}:"
SPEAKER, LISTENER = "Speaker", "Listener"
STAGE1_PROMPT = (
    "Don't rush to reply yet, let's think step by step. Based on the existing dialogue, what may be the user's "
    "emotion, and according to his description, what may be the situation when he feels this way?"
)
STAGE2_PROMPT = "Now combine your thoughts with the existing dialogue context and give your response."
# The gold first-stage answers of the paper's ablations, in the words of the first-stage question (ours).
GOLD_EMOTION = "The user's emotion may be: {emotion}."
GOLD_SITUATION = "The situation when he feels this way may be: {situation}"
KNOWLEDGE_HEADER = "The following is the commonsense knowledge about Speaker in this dialogue:"

Messages = list[dict[str, str]]


def template_sha256() -> str:
    """A digest of every fixed text above: equal digests, same template."""
    parts = [TASK_DEFINITION, *GUIDELINE, CONTEXT_HEADER, INSTANCE_HEADER, SPEAKER, LISTENER, STAGE1_PROMPT,
             STAGE2_PROMPT, GOLD_EMOTION, GOLD_SITUATION, KNOWLEDGE_HEADER]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def dialogue_lines(turns: Sequence[str]) -> str:
    """Turns as "Speaker: ..." / "Listener: ..." lines, the speaker first."""
    return "\n".join(f"{SPEAKER if i % 2 == 0 else LISTENER}: {t}" for i, t in enumerate(turns))


def knowledge_lines(knowledge: Mapping[str, str]) -> str:
    return "\n".join([KNOWLEDGE_HEADER] + [f"{rel}: {text}" for rel, text in knowledge.items()])


def user_prompt(context: Sequence[str], exemplars: Sequence[Sequence[str]] = (),
                knowledge: Mapping[str, str] | None = None) -> str:
    """The template's text: definition, guideline, exemplars (complete dialogues), the
    dialogue context, and optionally the knowledge part."""
    parts = [TASK_DEFINITION, "\n".join(GUIDELINE)]
    parts += [INSTANCE_HEADER.format(i=i) + "\n" + dialogue_lines(d) for i, d in enumerate(exemplars, 1)]
    parts.append(CONTEXT_HEADER + "\n" + dialogue_lines(context))
    if knowledge:
        parts.append(knowledge_lines(knowledge))
    return "\n\n".join(parts)


def stage1_messages(prompt: str, system: str | None = None) -> Messages:
    return _system(system) + [{"role": "user", "content": prompt + "\n\n" + STAGE1_PROMPT}]


def stage2_messages(prompt: str, stage1_text: str, system: str | None = None) -> Messages:
    return stage1_messages(prompt, system) + [{"role": "assistant", "content": stage1_text},
                                              {"role": "user", "content": STAGE2_PROMPT}]


def response_messages(prompt: str, system: str | None = None) -> Messages:
    return _system(system) + [{"role": "user", "content": prompt}]


def render(messages: Messages, chat_template: Callable[..., str] | None, answer_tag: str | None = LISTENER) -> str:
    """With a chat template (lm-eval's `lm.apply_chat_template`): the messages and an open
    assistant turn. Without: the messages' texts, one per paragraph, then an open
    "Listener:" line (or, for a free-form first-stage answer, nothing)."""
    if chat_template is not None:
        return chat_template(messages, add_generation_prompt=True)
    text = "\n\n".join(m["content"] for m in messages)
    return text + "\n" + (f"{answer_tag}:" if answer_tag else "")


def _system(system: str | None) -> Messages:
    return [{"role": "system", "content": system}] if system else []
