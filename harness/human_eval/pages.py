"""The survey's HTML: the introduction (instructions and a solved example) and one page per
batch laid out as EmPO's Figure 11 (the dialogue, the listener's response, the questions).

Every text from a study is escaped. The page script sends each answer the moment it is
given (a slider released, a box ticked, a choice clicked) and shows whether it was kept;
`window.pendingSaves` counts answers still on their way (the browser test waits on it).
"""

from __future__ import annotations

import json
import re
from html import escape

from harness.human_eval.designs import CHECKBOX, CHOICE, CONTINUOUS, LIKERT, Design

# Figure 11's dialogue, used as the solved example of every design.
EXAMPLE_CONTEXT = ("Do you remember the old video games you used to play?",
                   "I do, as if it were yesterday. I remember most of my childhood through video games.",
                   "The nostalgic moments when you play them again is brilliant. You should try it.")
EXAMPLE_RESPONSE = ("I don't have the capability to play video games, but I understand what you mean. There's "
                    "something special about revisiting old games and reliving those memories.")
EXAMPLE_OTHER = "Ok."
_EXAMPLE_VALUES = {CONTINUOUS: 70.0, LIKERT: 4.0, CHECKBOX: 1.0, CHOICE: "A"}
_WHY = {
    CONTINUOUS: "The response picks up the speaker's nostalgia and fits the conversation, but it starts by talking "
                "about itself as a program, which few people would say: a rating well above the middle, not at the top.",
    LIKERT: "The response picks up the speaker's nostalgia and fits the conversation, but its first clause is "
            "odd for a person to say: good (4), not excellent.",
    CHOICE: "Response A acknowledges the speaker's nostalgia; B ignores it. A is better. Choose Tie only when "
            "you really cannot tell them apart.",
}

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
.sample{border:1px solid #ccc;border-radius:6px;padding:1rem 1.2rem;margin:1.5rem 0}
.turn{margin:.4rem 0}.who{font-weight:600}.response{background:#f3f6fb;padding:.5rem .7rem;border-radius:4px}
.q{margin:1rem 0 .3rem}.scale{display:flex;align-items:center;gap:.6rem}.scale input[type=range]{flex:1}
.unset input[type=range]{opacity:.35}.state{font-size:.85rem;color:#777;min-width:5rem}
.saved{color:#27632a}.error{color:#b00020}.likert label,.choice label{margin-right:1rem}
button{font-size:1rem;padding:.5rem 1.4rem}#status{margin:1rem 0;font-weight:600}
"""

_SCRIPT = """
const study = JSON.parse(document.getElementById('meta').textContent);
window.pendingSaves = 0;
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({error: 'the server gave no answer'}));
  if (!r.ok) throw new Error(data.error || ('HTTP ' + r.status));
  return data;
}
async function save(input) {
  const box = input.closest('[data-dimension]');
  const state = box.querySelector('.state');
  let value = input.type === 'checkbox' ? (input.checked ? 1 : 0) : input.value;
  if (input.type === 'range' || input.dataset.numeric) value = Number(value);
  box.classList.remove('unset');
  window.pendingSaves++;
  state.textContent = 'saving...'; state.className = 'state';
  try {
    await post('/api/answer', {annotator: study.annotator, batch: study.batch, item: box.dataset.item,
                               dimension: box.dataset.dimension, value: value});
    state.textContent = 'saved'; state.className = 'state saved';
  } catch (e) {
    state.textContent = 'not saved: ' + e.message; state.className = 'state error';
  } finally { window.pendingSaves--; }
}
document.querySelectorAll('[data-dimension] input').forEach(input => {
  input.addEventListener('change', () => save(input));
  // a click on an unrated slider at its resting value changes nothing, so no 'change' comes: save it anyway
  if (input.type === 'range') input.addEventListener('pointerup', () => {
    if (input.closest('[data-dimension]').classList.contains('unset')) save(input);
  });
});
document.getElementById('submit').addEventListener('click', async () => {
  const status = document.getElementById('status');
  try {
    await post('/api/submit', {annotator: study.annotator, batch: study.batch});
    window.location.href = '/done?annotator=' + encodeURIComponent(study.annotator) + '&batch=' + study.batch;
  } catch (e) { status.textContent = e.message; status.className = 'error'; }
});
"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


_ROLES = re.compile(r"\b(listener&#x27;s responses?|speaker&#x27;s|listener(?!&#x27;))\b")


def _bold_roles(text: str) -> str:
    """Escaped text with the listener's response, the speaker's and the listener in bold, as Figure 11."""
    return _ROLES.sub(r"<b>\1</b>", escape(text))


def _dialogue(context, responses: list[str]) -> str:
    turns = []
    for i, turn in enumerate(context):
        who = "Speaker" if i % 2 == 0 else "Listener"
        turns.append(f"<p class=turn><span class=who>{who}:</span> {escape(turn)}</p>")
    if len(responses) == 1:
        turns.append(f"<p class='turn response'><span class=who>Listener (Response):</span> {escape(responses[0])}</p>")
    else:
        for label, text in zip("AB", responses):
            turns.append(f"<p class='turn response'><span class=who>Listener (Response {label}):</span> {escape(text)}</p>")
    return "".join(turns)


def _question(design: Design, criterion, item: str, value, disabled: bool = False) -> str:
    off = " disabled" if disabled else ""
    answered = value is not None
    state = "saved" if answered and not disabled else ""
    name = f"{item}-{criterion.name}"
    head = f"<div class='q{'' if answered else ' unset'}' data-item='{escape(item)}' data-dimension='{escape(criterion.name)}'>"
    text = f"<div>{_bold_roles(criterion.statement)}</div>"
    if criterion.scale == CONTINUOUS:
        low, high = criterion.labels or ("0", "100")
        shown = value if answered else 50
        control = (f"<div class=scale><span>{escape(low)}</span><input type=range min=0 max=100 step=1 "
                   f"value='{shown:g}' aria-label='{escape(criterion.name)}' name='{escape(name)}'{off}>"
                   f"<span>{escape(high)}</span><span class='state {state}'>{'saved' if state else ''}</span></div>")
    elif criterion.scale == CHECKBOX:
        checked = " checked" if value in (1, 1.0) else ""
        control = (f"<div class=scale><input type=checkbox name='{escape(name)}'{checked}{off}>"
                   f"<span class='state {state}'>{'saved' if state else ''}</span></div>")
        text = f"<div>{_bold_roles(criterion.statement)} (tick if yes)</div>"
    else:
        options = [(str(i), label) for i, label in zip(range(1, 6), criterion.labels)] if criterion.scale == LIKERT \
            else [("A", "Response A"), ("B", "Response B"), ("tie", "Tie")]
        numeric = " data-numeric=1" if criterion.scale == LIKERT else ""
        current = None if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
        boxes = "".join(
            f"<label><input type=radio name='{escape(name)}' value='{v}'{numeric}{' checked' if current == v else ''}{off}> "
            f"{escape(label)}</label>" for v, label in options)
        kind = "likert" if criterion.scale == LIKERT else "choice"
        control = f"<div class='scale {kind}'>{boxes}<span class='state {state}'>{'saved' if state else ''}</span></div>"
    return head + text + control + "</div>"


def intro_page(design: Design, message: str = "") -> str:
    steps = "".join(f"<li>{escape(s)}</li>" for s in design.instructions)
    example_item = "example"
    responses = [EXAMPLE_RESPONSE] if design.kind == "rating" else [EXAMPLE_RESPONSE, EXAMPLE_OTHER]
    questions = "".join(_question(design, c, example_item, _EXAMPLE_VALUES[c.scale], disabled=True) for c in design.criteria)
    why = _WHY[CHOICE if design.kind == "ab" else (LIKERT if any(c.scale == LIKERT for c in design.criteria) else CONTINUOUS)]
    warn = f"<p id=status class=error>{escape(message)}</p>" if message else ""
    body = (
        "<h1>Rating listeners' responses</h1><p>Hello and thank you for participating in this experiment.</p>"
        f"<ol>{steps}</ol><p>Your answers are saved as you give them: if the page closes, open it again with the "
        "same annotator id and continue where you were. A batch can be submitted once.</p>"
        f"<h2>A solved example</h2><div class=sample>{_dialogue(EXAMPLE_CONTEXT, responses)}{questions}"
        f"<p><i>Why:</i> {escape(why)}</p></div>"
        f"<h2>Start</h2>{warn}<form method=get action='/start'><label>Your annotator id: "
        "<input name=annotator required maxlength=64 pattern='[A-Za-z0-9_.@-]+' autocomplete=off></label> "
        "<button type=submit>Start</button></form>")
    return _page("Instructions", body)


def batch_page(design: Design, annotator: str, batch: dict, answers: dict[str, dict]) -> str:
    samples = []
    for number, item in enumerate(batch["items"], start=1):
        given = answers.get(item["item"], {})
        questions = "".join(_question(design, c, item["item"], given.get(c.name)) for c in design.criteria)
        samples.append(f"<div class=sample><h3>Sample {number}</h3>{_dialogue(item['context'], item['responses'])}"
                       f"{questions}</div>")
    meta = json.dumps({"annotator": annotator, "batch": batch["id"]}).replace("</", "<\\/")
    steps = "".join(f"<li>{escape(s)}</li>" for s in design.instructions)
    body = (f"<p>Annotator <b>{escape(annotator)}</b>, {len(batch['items'])} samples. Each answer is saved as "
            f"you give it.</p><ol>{steps}</ol>{''.join(samples)}<div id=status></div>"
            f"<button id=submit type=button>Submit</button>"
            f"<script type=application/json id=meta>{meta}</script><script>{_SCRIPT}</script>")
    return _page(f"Batch {batch['id']}", body)


def message_page(title: str, text: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p><p><a href='/'>Back to the first page</a></p>")
